//go:build linux

package runtime

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
)

// The cost of isolation per run (the target: at most 15 ms) and
// per brokered dial, beside the same work in process.

func benchRun(b *testing.B, isolate bool) {
	rt := New(Options{Sandbox: true, Isolate: isolate, Stdout: io.Discard})
	ctx := context.Background()
	for b.Loop() {
		if _, err := rt.RunString(ctx, "bench.lua", `local x = 1 + 1`); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRunInProcess(b *testing.B) { benchRun(b, false) }
func BenchmarkRunIsolated(b *testing.B)  { benchRun(b, true) }

// acceptor accepts connections and closes them.
func acceptor(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().String()
}

func BenchmarkDialInProcess(b *testing.B) {
	addr := acceptor(b)
	for b.Loop() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkDialBrokered is b.N dials in one isolated run: the run's start
// spread over them, the rest the broker's round trip and SCM_RIGHTS.
func BenchmarkDialBrokered(b *testing.B) {
	addr := acceptor(b)
	rt := New(Options{Sandbox: true, Isolate: true, AllowHosts: []string{addr}, MaxConnections: -1, Stdout: io.Discard})
	b.ResetTimer()
	_, err := rt.RunString(context.Background(), "bench.lua", fmt.Sprintf(`
local p = require("probe")
for i = 1, %d do local r = p.dial(%q) if r ~= "ok" then error(r) end end`, b.N, addr))
	if err != nil {
		b.Fatal(err)
	}
}
