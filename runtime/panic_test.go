package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

type panicky struct{ inner *struct{ n int } }

// N dereferences a nil pointer: a host bug reached through gopher-luar.
func (p *panicky) N() int { return p.inner.n }

// A Go panic under the script (a host's bug) is a ScriptError of Kind
// "internal" with the panic's message, in and out of the sandbox; a
// Lua error stays a script error.
func TestGoPanicIsInternal(t *testing.T) {
	for _, sandbox := range []bool{false, true} {
		rt := New(Options{Sandbox: sandbox})
		rt.Register("host", func(L *lua.LState) int {
			L.Push(L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
				"boom": func(L *lua.LState) int { panic("host bug: boom") },
				"fail": func(L *lua.LState) int { L.RaiseError("a plain error"); return 0 },
			}))
			return 1
		})
		rt.Expose("obj", &panicky{})
		for _, c := range []struct{ src, kind, msg string }{
			{`require("host").boom()`, "internal", "host bug: boom"},
			{`local x = obj:N()`, "internal", "nil pointer dereference"},
			{`print(pcall(require("host").boom)) error("went on")`, "internal", "host bug: boom"},
			{`print(xpcall(function() return obj:N() end, debug.traceback)) error("went on")`, "internal", "nil pointer dereference"},
			{`local ok, e = pcall(require("host").fail); assert(not ok); error("caught: " .. e)`, "", "caught: "},
			{`local ok, e = xpcall(function() error("x") end, function(m) return "handled " .. m end); error(e)`, "", "handled "},
			{`require("host").fail()`, "", "a plain error"},
			{`error("by the script")`, "", "by the script"},
			{`local t = nil; print(t.x)`, "", "attempt to index"},
		} {
			_, err := rt.RunString(context.Background(), "p.lua", c.src)
			var se *ScriptError
			if !errors.As(err, &se) {
				t.Fatalf("sandbox=%v %s: got %v, want a *ScriptError", sandbox, c.src, err)
			}
			if se.Kind != c.kind || !strings.Contains(se.Message, c.msg) {
				t.Errorf("sandbox=%v %s: kind %q message %q, want kind %q with %q", sandbox, c.src, se.Kind, se.Message, c.kind, c.msg)
			}
		}
	}
}
