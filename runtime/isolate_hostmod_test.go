//go:build linux

package runtime

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
)

// crmLoader is a host module as an embedder writes one: data fields,
// functions taking and returning tables, errors and a Go panic.
func crmLoader(loads *atomic.Int64) lua.LGFunction {
	return func(L *lua.LState) int {
		loads.Add(1)
		mod := L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
			"lookup": func(L *lua.LState) int {
				in := L.CheckTable(1)
				out := L.NewTable()
				out.RawSetString("id", lua.LNumber(7))
				out.RawSetString("name", lua.LString(strings.ToUpper(in.RawGetString("name").String())))
				tags := L.NewTable()
				in.RawGetString("tags").(*lua.LTable).ForEach(func(_, v lua.LValue) { tags.Append(lua.LString(v.String() + "!")) })
				out.RawSetString("tags", tags)
				out.RawSetString("vip", in.RawGetString("vip"))
				out.RawSetString("score", in.RawGetString("score"))
				L.Push(out)
				L.Push(lua.LNil)
				L.Push(lua.LNumber(3))
				return 3
			},
			"fail": func(L *lua.LState) int { L.RaiseError("no such customer %s", L.CheckString(1)); return 0 },
			"failTable": func(L *lua.LState) int {
				t := L.NewTable()
				t.RawSetString("code", lua.LNumber(42))
				L.Error(t, 0)
				return 0
			},
			"boom": func(L *lua.LState) int { var m map[string]int; m["x"] = 1; return 0 },
			"fn":   func(L *lua.LState) int { L.Push(L.NewFunction(func(*lua.LState) int { return 0 })); return 1 },
			"cyclic": func(L *lua.LState) int {
				t := L.NewTable()
				t.RawSetString("self", t)
				L.Push(t)
				return 1
			},
			"secret": func(L *lua.LState) int {
				L.Push(bindings.NewSecret(L, &bindings.Secret{Label: "host", Value: func(_, _ string) (string, error) { return "hunter2", nil }}))
				return 1
			},
			"echo": func(L *lua.LState) int { return L.GetTop() },
			"count": func(L *lua.LState) int { // in the state the loader ran in
				n := L.GetGlobal("calls").(lua.LNumber) + 1
				L.SetGlobal("calls", n)
				L.Push(n)
				return 1
			},
		})
		L.SetGlobal("calls", lua.LNumber(0))
		mod.RawSetString("version", lua.LString("1.2"))
		limits := L.NewTable()
		limits.RawSetString("max", lua.LNumber(10))
		mod.RawSetString("limits", limits)
		sub := L.NewTable()
		sub.RawSetString("double", L.NewFunction(func(L *lua.LState) int { L.Push(L.CheckNumber(1) * 2); return 1 }))
		mod.RawSetString("sub", sub)
		L.Push(mod)
		return 1
	}
}

// both runs src in process and isolated with the same setup and
// returns their outputs and errors.
func both(t *testing.T, setup func(*Runtime), src string) (in, iso string, inErr, isoErr error) {
	t.Helper()
	run := func(isolate bool) (string, error) {
		var out bytes.Buffer
		rt := New(Options{Sandbox: true, Isolate: isolate, Stdout: &out, Stderr: &out})
		setup(rt)
		_, err := rt.RunString(context.Background(), "test.lua", src)
		return out.String(), err
	}
	in, inErr = run(false)
	iso, isoErr = run(true)
	return in, iso, inErr, isoErr
}

func withCRM(rt *Runtime) { rt.Register("crm", crmLoader(new(atomic.Int64))) }

func TestIsolatedHostModuleSameAsInProcess(t *testing.T) {
	in, iso, inErr, isoErr := both(t, withCRM, `
local crm = require("crm")
print(crm.version, crm.limits.max, type(crm.lookup), type(crm.sub.double))
local r, none, n = crm.lookup({name = "ada", tags = {"a", "b", "c"}, vip = true, score = 1.5})
print(r.id, r.name, #r.tags, r.tags[1], r.tags[3], r.vip, r.score, none, n)
print(crm.sub.double(21), select("#", crm.lookup({name = "x", tags = {}})))
print(select("#", crm.echo(nil, "\0\255", nil)), 1/crm.echo(-1/(1/0)), crm.echo("\255") == "\255", crm.echo(1/0, -1/0, 2^53, "a\0b"))
local ok, e = pcall(crm.fail, "bob")
print(ok, e)
local ok, e = pcall(crm.failTable)
print(ok, type(e), e.code)
print(pcall(function() crm.fail() end))
crm.fail("carol")`)
	want := "1.2\t10\tfunction\tfunction\n" +
		"7\tADA\t3\ta!\tc!\ttrue\t1.5\tnil\t3\n" +
		"42\t3\n" +
		"3\t-Inf\ttrue\t+Inf\t-Inf\t9007199254740992\ta\x00b\n" +
		"false\ttest.lua:8: no such customer bob\n" +
		"false\ttable\t42\n" +
		"false\ttest.lua:12: bad argument #1 to fail (string expected, got nil)\n"
	if in != want {
		t.Fatalf("in process printed %q, want %q", in, want)
	}
	if iso != in {
		t.Fatalf("isolated printed %q, in process %q", iso, in)
	}
	var a, b *ScriptError
	if !errors.As(inErr, &a) || !errors.As(isoErr, &b) {
		t.Fatalf("errors %v, %v", inErr, isoErr)
	}
	if a.Message != b.Message || a.Line != b.Line || !strings.Contains(b.Message, "no such customer carol") || b.Line != 13 {
		t.Fatalf("in process %q at %d, isolated %q at %d", a.Message, a.Line, b.Message, b.Line)
	}
}

// A Go panic in a host function ends the run as in process (pcall does
// not catch a host's bug); the parent goes on to the next run.
func TestIsolatedHostModulePanic(t *testing.T) {
	var loads atomic.Int64
	var out bytes.Buffer
	rt := New(Options{Sandbox: true, Isolate: true, Stdout: &out})
	rt.Register("crm", crmLoader(&loads))
	_, err := rt.RunString(context.Background(), "test.lua", `print(pcall(require("crm").boom)) print("went on")`)
	var se *ScriptError
	if !errors.As(err, &se) || se.Kind != "internal" || !strings.Contains(se.Message, "assignment to entry in nil map") || out.Len() != 0 {
		t.Fatalf("%v, printed %q", err, out.String())
	}
	_, err = rt.RunString(context.Background(), "test.lua", `local crm = require("crm"); package.loaded.crm = nil; print(require("crm").sub.double(2))`)
	if err != nil || out.String() != "4\n" {
		t.Fatalf("%v, printed %q", err, out.String())
	}
	// one loader call a run, however often the script requires it
	if n := loads.Load(); n != 2 {
		t.Fatalf("loader called %d times in two runs", n)
	}
}

// What is not plain data is refused with an error naming the module and
// the function, as a Lua error the script can catch.
func TestIsolatedHostModuleRefusals(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`return crm.fn()`, `host module "crm": result 1 of crm.fn is a function`},
		{`return crm.echo(print)`, `host module "crm": argument 1 of crm.echo is a function`},
		{`return crm.cyclic()`, `result 1 of crm.cyclic is a table that contains itself`},
		{`local t = {}; t.x = {t}; return crm.echo(1, t)`, `argument 2 of crm.echo is a table that contains itself`},
		{`return crm.echo(string.rep("x", 5 * 2^20))`, `argument 1 of crm.echo is larger than the 4 MiB`},
		{`local t = {}; for i = 1, 2e5 do t[i] = i end; return crm.echo(t)`, `argument 1 of crm.echo is larger than the 4 MiB`},
		{`local t = {}; for i = 1, 100 do t = {t} end; return crm.echo(t)`, `nests tables deeper than 64 levels`},
		{`return crm.secret()`, `result 1 of crm.secret is a secret, which never crosses`},
		{`return crm.echo(coroutine.create(print))`, `argument 1 of crm.echo is a thread`},
		{`return crm.echo({[{}] = 1})`, `has a table key`},
	} {
		var buf bytes.Buffer
		rt := New(Options{Sandbox: true, Isolate: true, Stdout: &buf})
		rt.Register("crm", crmLoader(new(atomic.Int64)))
		if _, err := rt.RunString(context.Background(), "test.lua", `crm = require("crm")
local ok, e = pcall(function() `+c.src+` end)
assert(not ok, "no error")
print(e)`); err != nil || !strings.Contains(buf.String(), c.want) {
			t.Errorf("%s: %v, printed %q, want %q", c.src, err, buf.String(), c.want)
		}
	}
}

// A secret in a module's table stops its require: it never crosses.
func TestIsolatedHostModuleSecretRefused(t *testing.T) {
	rt := New(Options{Sandbox: true, Isolate: true})
	rt.Register("vault", func(L *lua.LState) int {
		t := L.NewTable()
		t.RawSetString("pw", bindings.NewSecret(L, &bindings.Secret{Label: "vault", Value: func(_, _ string) (string, error) { return "hunter2", nil }}))
		L.Push(t)
		return 1
	})
	_, err := rt.RunString(context.Background(), "test.lua", `local v = require("vault")`)
	if err == nil || !strings.Contains(err.Error(), `host module "vault": its module value is a secret`) || strings.Contains(err.Error(), "hunter2") {
		t.Fatal(err)
	}
}

type exposedConfig struct {
	Name   string
	Port   int
	Hosts  []string
	Limits map[string]int
	Inner  struct{ Debug bool }
	Sub    *exposedSub
	Hidden string `luar:"-"`
	secret string
}

type exposedSub struct{ Ratio float64 }

type withMethod struct{ N int }

// Hello is what a script could call on the value in process.
func (withMethod) Hello() string { return "hi" }

func TestIsolatedExposedPlainData(t *testing.T) {
	cfg := &exposedConfig{Name: "prod", Port: 993, Hosts: []string{"a", "b"}, Limits: map[string]int{"max": 5}, Sub: &exposedSub{Ratio: 0.25}, Hidden: "h", secret: "s"}
	cfg.Inner.Debug = true
	in, iso, inErr, isoErr := both(t, func(rt *Runtime) {
		rt.Expose("cfg", cfg)
		rt.Expose("tags", map[string]any{"x": []int{1, 2, 3}, "y": "z"})
		rt.Expose("n", 42)
	}, `
print(cfg.Name, cfg.name, cfg.Port, #cfg.Hosts, cfg.Hosts[1], cfg.Hosts[2], cfg.Limits.max, cfg.Limits.none)
print(cfg.Inner.Debug, cfg.Sub.Ratio, cfg.sub.ratio, cfg.Hidden, cfg.secret)
print(tags.x[3], #tags.x, tags.y, n)`)
	want := "prod\tprod\t993\t2\ta\tb\t5\tnil\ntrue\t0.25\t0.25\tnil\tnil\n3\t3\tz\t42\n"
	if inErr != nil || isoErr != nil || in != want || iso != in {
		t.Fatalf("in process %v %q, isolated %v %q, want %q", inErr, in, isoErr, iso, want)
	}
}

func TestIsolatedExposedRefused(t *testing.T) {
	for name, v := range map[string]any{
		"obj":  withMethod{N: 1},
		"ptr":  &withMethod{N: 1},
		"fn":   func() {},
		"deep": map[string]any{"w": []any{withMethod{}}},
		"ints": map[int]string{1: "a"},
		"ch":   make(chan int),
	} {
		rt := New(Options{Sandbox: true, Isolate: true})
		rt.Expose(name, v)
		_, err := rt.RunString(context.Background(), "test.lua", `print(1)`)
		if !errors.Is(err, ErrIsolation) || !strings.Contains(err.Error(), `exposed value "`+name+`"`) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TLS settings hold a CertPool, which cannot cross to the child.
func TestIsolatedRefusesTLS(t *testing.T) {
	rt := New(Options{Isolate: true})
	rt.SetNetwork(nil, x509.NewCertPool())
	if _, err := rt.RunString(context.Background(), "t.lua", `print(1)`); !errors.Is(err, ErrIsolation) || !strings.Contains(err.Error(), "Options.TLS") {
		t.Fatal(err)
	}
}

// A hostile child gets an error for a call of what the module does not
// export and for malformed or oversized values, never a panic.
func TestHostModulesRefuseBadCalls(t *testing.T) {
	h := newHostModules(context.Background(), map[string]lua.LGFunction{"crm": crmLoader(new(atomic.Int64))}, &Options{})
	defer h.close()
	if r := h.answer(&wireMsg{Op: "call", Name: "crm", Path: []string{"echo"}}); !strings.Contains(r.Err, "has no function crm.echo") {
		t.Fatalf("a call before require: %+v", r)
	}
	if r := h.answer(&wireMsg{Op: "require", Name: "crm"}); r.Err != "" || len(r.Vals) != 1 {
		t.Fatalf("require: %+v", r)
	}
	num := wireVal{Kind: wireNum, Num: "1"}
	big := wireVal{Kind: wireTable}
	for i := 0; i < 200000; i++ {
		big.Keys, big.Vals = append(big.Keys, wireVal{Kind: wireNum, Num: strconv.Itoa(i + 1)}), append(big.Vals, num)
	}
	deep := num
	for i := 0; i < 100; i++ {
		deep = wireVal{Kind: wireTable, Keys: []wireVal{num}, Vals: []wireVal{deep}}
	}
	for _, c := range []struct {
		m    wireMsg
		want string
	}{
		{wireMsg{Name: "nope"}, `host module "nope": not registered`},
		{wireMsg{Name: "crm", Path: []string{"version"}}, "has no function crm.version"},
		{wireMsg{Name: "crm", Path: []string{"sub"}}, "has no function crm.sub"},
		{wireMsg{Name: "crm", Path: []string{"echo"}, Vals: []wireVal{{Kind: "x"}}}, "argument 1 of crm.echo: isolate: malformed value"},
		{wireMsg{Name: "crm", Path: []string{"echo"}, Vals: []wireVal{{Kind: wireFunc, Path: []string{"fail"}}}}, "malformed value"},
		{wireMsg{Name: "crm", Path: []string{"echo"}, Vals: []wireVal{{Kind: wireTable, Keys: []wireVal{{Kind: wireNil}}, Vals: []wireVal{num}}}}, "malformed value"},
		{wireMsg{Name: "crm", Path: []string{"echo"}, Vals: []wireVal{{Kind: wireTable, Keys: []wireVal{{Kind: wireNum, Num: "NaN"}}, Vals: []wireVal{num}}}}, "malformed value"},
		{wireMsg{Name: "crm", Path: []string{"echo"}, Vals: []wireVal{{Kind: wireTable, Keys: []wireVal{num}}}}, "malformed value"},
		{wireMsg{Name: "crm", Path: []string{"echo"}, Vals: []wireVal{{Kind: wireNum, Num: "x"}}}, "malformed value"},
		{wireMsg{Name: "crm", Path: []string{"echo"}, Vals: []wireVal{deep}}, "malformed value"},
		{wireMsg{Name: "crm", Path: []string{"echo"}, Vals: []wireVal{big}}, "larger than the 4 MiB"},
	} {
		c.m.Op = "call"
		if r := h.answer(&c.m); !strings.Contains(r.Err, c.want) {
			t.Errorf("%s %v: %+v, want %q", c.m.Name, c.m.Path, r.Err, c.want)
		}
	}
	if r := h.answer(&wireMsg{Op: "call", Name: "crm", Path: []string{"sub", "double"}, Vals: []wireVal{{Kind: wireNum, Num: "4"}}}); r.Err != "" || len(r.Vals) != 1 || r.Vals[0].Num != "8" {
		t.Fatalf("after the bad calls: %+v", r)
	}
}

// Audit events of an isolated run reach AuditRun with the run's id,
// the id of its Result, as in process.
func TestIsolatedAuditRun(t *testing.T) {
	r := newRecorder(t)
	host, port := r.HostPort()
	var runs []string
	res, err, _ := isolated(t, Options{Sandbox: true, AllowHosts: []string{r.Addr},
		AuditRun: func(run, event string, args ...any) { runs = append(runs, run+" "+event) }},
		`require("imap").IMAP4("`+host+`", `+port+`):logout()`)
	if err != nil || res == nil || res.Run == "" || len(runs) == 0 || runs[0] != res.Run+" imaplib.open" {
		t.Fatalf("%v %+v %q", err, res, runs)
	}
}

// The host-side state is the run's own: nothing of one run's host
// module calls is seen by the next, as in process.
func TestIsolatedHostStatePerRun(t *testing.T) {
	for _, iso := range []bool{false, true} {
		var out bytes.Buffer
		rt := New(Options{Sandbox: true, Isolate: iso, Stdout: &out})
		withCRM(rt)
		for i := 0; i < 2; i++ {
			if _, err := rt.RunString(context.Background(), "test.lua", `local crm = require("crm"); print(crm.count(), crm.count())`); err != nil {
				t.Fatal(err)
			}
		}
		if out.String() != "1\t2\n1\t2\n" {
			t.Fatalf("isolate=%v: %q", iso, out.String())
		}
	}
}
