//go:build linux

package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"golang.org/x/sys/unix"

	"github.com/mailscript/mailscript/internal/limit"
	"github.com/mailscript/mailscript/stdlib"
)

// The test binary is the child too: its probes are a module "probe" in
// the child's runtime (set before init runs the child), doing in Go
// what no script can.
var _ = func() bool {
	childHook = func(rt *Runtime) {
		rt.Register("probe", func(L *lua.LState) int {
			L.Push(L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
				"seccomp": func(L *lua.LState) int {
					b, _ := os.ReadFile("/proc/self/status")
					for _, line := range strings.Split(string(b), "\n") {
						if v, ok := strings.CutPrefix(line, "Seccomp:"); ok {
							L.Push(lua.LString(strings.TrimSpace(v)))
							return 1
						}
					}
					return 0
				},
				"fork": func(L *lua.LState) int {
					_, _, errno := unix.RawSyscall(unix.SYS_FORK, 0, 0, 0)
					L.Push(lua.LString(errno.Error()))
					return 1
				},
				"socket": func(L *lua.LState) int {
					fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
					if err == nil {
						unix.Close(fd)
						L.Push(lua.LString("ok"))
					} else {
						L.Push(lua.LString(err.Error()))
					}
					return 1
				},
				"sleep": func(L *lua.LState) int { // deaf to the context
					time.Sleep(time.Duration(L.CheckNumber(1) * lua.LNumber(time.Second)))
					return 0
				},
				"gopanic": func(L *lua.LState) int {
					go panic("probe panics")
					time.Sleep(time.Second)
					return 0
				},
				"recurse": func(L *lua.LState) int {
					var f func(int) int
					f = func(n int) int { var pad [64]byte; pad[n%64] = 1; return f(n+1) + int(pad[0]) }
					return f(0)
				},
				"dial": func(L *lua.LState) int { // the broker, past the child's own count
					c, err := rt.opts.Dial(L.Context(), "tcp", L.CheckString(1))
					if err != nil {
						L.Push(lua.LString(err.Error()))
						return 1
					}
					c.Close()
					L.Push(lua.LString("ok"))
					return 1
				},
			}))
			return 1
		})
	}
	return true
}()

// isolated runs src in a child process and returns its output.
func isolated(t *testing.T, opts Options, src string) (*Result, error, string) {
	t.Helper()
	var out bytes.Buffer
	opts.Stdout, opts.Stderr, opts.Isolate = &out, &out, true
	res, err := New(opts).RunString(context.Background(), "test.lua", src)
	return res, err, out.String()
}

func limitOf(err error) string {
	var le *limit.Error
	if errors.As(err, &le) {
		return le.Limit
	}
	return ""
}

func TestIsolatedRunPrintsAndPlans(t *testing.T) {
	r := newRecorder(t)
	host, port := r.HostPort()
	var events []string
	res, err, out := isolated(t, Options{Sandbox: true, DryRun: true, AllowHosts: []string{r.Addr},
		Audit: func(ev string, args ...any) {
			events = append(events, fmt.Sprintf("%s %v %T", ev, args, args[len(args)-1]))
		}}, fmt.Sprintf(`
local M = require("imap").IMAP4(%q, %s)
M:login("u", "p")
M:select("INBOX")
assert(M:store("1:3", "+FLAGS", "\\Deleted") == "OK")
M:logout()
print("hello", 1 + 1)`, host, port))
	if err != nil || out != "hello\t2\n" {
		t.Fatalf("%v %q", err, out)
	}
	if res == nil || len(res.Plan) != 1 || res.Plan[0].Command != "STORE" || res.Plan[0].Set != "1:3" {
		t.Fatalf("plan %+v", res)
	}
	if len(events) == 0 || events[0] != "imaplib.open [127.0.0.1 "+port+"] string" || !strings.Contains(strings.Join(events, "\n"), "LOGIN u ***") {
		t.Fatalf("audit %q", events)
	}
	if sent := strings.Join(r.Sent(), "\n"); !strings.Contains(sent, "LOGIN") || strings.Contains(sent, "STORE") {
		t.Fatalf("sent %q", sent)
	}
}

func TestIsolatedScriptError(t *testing.T) {
	_, err, _ := isolated(t, Options{Sandbox: true}, "local x = 1\nerror('boom')")
	var se *ScriptError
	if !errors.As(err, &se) || se.Line != 2 || !strings.Contains(se.Message, "boom") || se.Traceback == "" {
		t.Fatalf("%#v", err)
	}
}

func heapAlloc() uint64 {
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func TestIsolatedMemoryLimit(t *testing.T) {
	for name, src := range map[string]string{
		"table":  `local t, i = {}, 0 while true do i = i + 1 t[i] = string.rep("x", 1000) .. i end`,
		"string": `local s = string.rep("x", 2^31) print(#s)`,
	} {
		t.Run(name, func(t *testing.T) {
			before := heapAlloc()
			_, err, _ := isolated(t, Options{Sandbox: true, MaxMemory: 64 << 20}, src)
			var se *ScriptError
			if !errors.As(err, &se) || se.Kind != "limit.memory" || limitOf(err) != "memory" || !strings.Contains(err.Error(), "memory limit of 64 MiB exceeded") {
				t.Fatalf("%#v", err)
			}
			if after := heapAlloc(); after > before+8<<20 {
				t.Fatalf("parent heap grew from %d to %d", before, after)
			}
		})
	}
}

func TestIsolatedWallTime(t *testing.T) {
	start := time.Now()
	_, err, _ := isolated(t, Options{Sandbox: true, WallTime: 300 * time.Millisecond}, `while true do end`)
	if err == nil || !strings.Contains(err.Error(), "deadline") && limitOf(err) != "time" || time.Since(start) > 10*time.Second {
		t.Fatal(err)
	}
	// a Go call deaf to the context: the parent kills the child
	_, err, _ = isolated(t, Options{Sandbox: true, WallTime: 300 * time.Millisecond}, `require("probe").sleep(30)`)
	if limitOf(err) != "time" || err.Error() != "time limit of 300ms exceeded" {
		t.Fatal(err)
	}
}

func TestIsolatedCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := New(Options{Sandbox: true, Isolate: true, Stdout: io.Discard}).RunString(ctx, "t.lua", `require("probe").sleep(30)`)
	if err == nil || !strings.Contains(err.Error(), "script stopped") {
		t.Fatal(err)
	}
}

func TestIsolatedChildDeaths(t *testing.T) {
	for _, c := range []struct{ src, want, kind string }{
		{`os.exit(3)`, "script process died: exit status 3", ""},
		{`require("probe").gopanic()`, "panic: probe panics", ""},
		{`require("probe").recurse()`, "stack limit of", "limit.stack"},
	} {
		_, err, _ := isolated(t, Options{MaxMemory: 256 << 20}, c.src)
		var se *ScriptError
		if !errors.As(err, &se) || !strings.Contains(se.Message, c.want) || se.Kind != c.kind {
			t.Errorf("%s: %#v", c.src, err)
		}
	}
	// and the host goes on
	if _, err, out := isolated(t, Options{}, `print("alive")`); err != nil || out != "alive\n" {
		t.Fatal(err, out)
	}
}

func TestIsolatedSeccomp(t *testing.T) {
	_, err, out := isolated(t, Options{}, `
local p = require("probe")
print(p.seccomp(), p.fork(), p.socket(), os.execute("/bin/true"))`)
	if err != nil || !strings.HasPrefix(out, "2\toperation not permitted\toperation not permitted\t") || strings.HasSuffix(out, "\t0\n") {
		t.Fatalf("%v %q", err, out)
	}
}

// Output the child's own limit does not see (its fd 1) is counted here.
func TestIsolatedOutputLimit(t *testing.T) {
	_, err, out := isolated(t, Options{MaxOutput: 1000}, `io.write(string.rep("x", 600)) io.stdout:flush() io.write(string.rep("y", 600))`)
	if limitOf(err) != "output" || !strings.HasSuffix(err.Error(), "output limit of 1000 bytes exceeded") || len(out) > 1000 || strings.Contains(out, "y") {
		t.Fatalf("%v %q", err, out)
	}
}

// Where this process may make cgroups, the child runs in one of its own,
// removed after the run.
func TestIsolatedCgroup(t *testing.T) {
	cg := newCgroup(64 << 20)
	if cg != nil {
		cg.remove()
	}
	_, err, out := isolated(t, Options{MaxMemory: 64 << 20}, `io.write(io.open("/proc/self/cgroup"):read("*a"))`)
	if err != nil || (cg != nil) != strings.Contains(out, "/mailscript-") {
		t.Fatalf("%v %q (cgroups here: %v)", err, out, cg != nil)
	}
	own := ownCgroups()
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "/mailscript-"); i >= 0 {
			ctrl := strings.Split(line, ":")[1]
			if _, err := os.Stat("/sys/fs/cgroup/" + ctrl + own[ctrl] + line[i:]); !os.IsNotExist(err) {
				t.Fatalf("%s left behind: %v", line, err)
			}
		}
	}
}

func TestIsolatedDials(t *testing.T) {
	r := newRecorder(t)
	host, port := r.HostPort()
	login := fmt.Sprintf(`local M = require("imap").IMAP4(%q, %s) M:login("u", "p") M:logout() print("ok")`, host, port)
	if _, err, out := isolated(t, Options{Sandbox: true, AllowHosts: []string{host}}, login); err != nil || out != "ok\n" {
		t.Fatal(err, out)
	}
	_, err, _ := isolated(t, Options{Sandbox: true, AllowHosts: []string{"imap.example.org"}}, login)
	if err == nil || !strings.Contains(err.Error(), r.Addr+" is not an allowed host: add --allow-host "+r.Addr) {
		t.Fatal(err)
	}
	// a conn without a socket (net.Pipe) is relayed
	pipeDial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		real, err := net.Dial("tcp", r.Addr)
		if err != nil {
			return nil, err
		}
		mine, theirs := net.Pipe()
		go func() { io.Copy(real, theirs); real.Close() }()
		go func() { io.Copy(theirs, real); theirs.Close() }()
		return mine, nil
	}
	if _, err, out := isolated(t, Options{Sandbox: true, AllowHosts: []string{r.Addr}, Dial: pipeDial}, login); err != nil || out != "ok\n" {
		t.Fatal(err, out)
	}
}

func TestIsolatedConnectionLimit(t *testing.T) {
	r := newRecorder(t)
	_, err, out := isolated(t, Options{Sandbox: true, AllowHosts: []string{r.Addr}, MaxConnections: 2}, fmt.Sprintf(`
local p = require("probe")
print(p.dial(%[1]q), p.dial(%[1]q), p.dial(%[1]q))`, r.Addr))
	if err != nil || out != "ok\tok\tconnection limit of 2 exceeded\n" {
		t.Fatal(err, out)
	}
}

func TestIsolatedState(t *testing.T) {
	store := &stdlib.MemStore{}
	_, err, _ := isolated(t, Options{Sandbox: true, State: store}, `
local state = require("state")
local d = state.open("doc") d:set("k", "v") d:save()
assert(state.lock("L"))
require("probe").gopanic()`)
	if err == nil || !strings.Contains(err.Error(), "script process died") {
		t.Fatal(err)
	}
	if b, _ := store.Load("doc"); !strings.Contains(string(b), `"v"`) {
		t.Fatalf("state %q", b)
	}
	unlock, err := store.Lock("L") // released when the child died
	if err != nil {
		t.Fatal(err)
	}
	unlock()
}
