package runtime

import (
	"context"
	"io"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// Per-call cost of a binding method that does no I/O, against gopher-lua
// calling an empty Go function: the target is at most 2x.

func benchLoop(b *testing.B, setup func(rt *Runtime), src string) {
	rt := New(Options{Stdout: io.Discard})
	if setup != nil {
		setup(rt)
	}
	b.ResetTimer()
	if _, err := rt.RunString(context.Background(), "bench.lua", src); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkEmptyGoFunction(b *testing.B) {
	benchLoop(b, func(rt *Runtime) {
		rt.Register("empty", func(L *lua.LState) int {
			t := L.NewTable()
			t.RawSetString("f", L.NewFunction(func(L *lua.LState) int { L.Push(lua.LString("")); return 1 }))
			L.Push(t)
			return 1
		})
	}, `local f = require("empty").f; for i = 1, `+itoa(b.N)+` do f(4096) end`)
}

func BenchmarkBindingCall(b *testing.B) {
	benchLoop(b, nil, `local f = require("imap").Int2AP; for i = 1, `+itoa(b.N)+` do f(4096) end`)
}

func itoa(n int) string {
	return lua.LNumber(n).String()
}
