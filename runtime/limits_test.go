package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/internal/limit"
)

// small are the limits most probes run under: a memory limit reached
// quickly; the time limit is only a backstop (under -race, allocating
// 64 MiB through string.rep takes seconds).
var small = Options{MaxMemory: 64 << 20, WallTime: 20 * time.Second}

// probe runs src and wants a *ScriptError of kind with message msg (a
// part of it when kind is not a limit).
func probe(t *testing.T, opts Options, src, kind, msg string) *ScriptError {
	t.Helper()
	_, err, _ := run(t, opts, src)
	var se *ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("%.60q: %v, want a *ScriptError", src, err)
	}
	if se.Kind != kind || !strings.Contains(se.Message, msg) || strings.HasPrefix(kind, "limit.") && se.Message != msg {
		t.Fatalf("%.60q: kind %q message %q, want %q %q", src, se.Kind, se.Message, kind, msg)
	}
	if strings.HasPrefix(kind, "limit.") {
		var le *LimitError
		if !errors.As(err, &le) || "limit."+le.Limit != kind || le.Error() != msg {
			t.Fatalf("%.60q: errors.As gives %v", src, le)
		}
	}
	return se
}

func TestLimitProbes(t *testing.T) {
	sandbox := Options{Sandbox: true}
	noMemory := Options{MaxMemory: -1, WallTime: 200 * time.Millisecond}
	for _, c := range []struct {
		name      string
		opts      Options
		src       string
		kind, msg string
	}{
		{"find", small, `string.find(("a"):rep(1e7), ("a?"):rep(1e7))`, "", "pattern too complex"},
		{"find sandbox", sandbox, `string.find(("a"):rep(1e7), ("a?"):rep(1e7))`, "", "pattern too complex"},
		{"coroutine recursion", small, `local function f() coroutine.resume(coroutine.create(f)) end f()`,
			"limit.stack", "stack limit of 200 nested resumes exceeded"},
		{"coroutine recursion sandbox", sandbox, `local function f() coroutine.resume(coroutine.create(f)) end f()`,
			"limit.stack", "stack limit of 200 nested resumes exceeded"},
		{"wrap recursion", small, `local function f() coroutine.wrap(f)() end f()`,
			"limit.stack", "stack limit of 200 nested resumes exceeded"},
		{"rep 2^34", small, `string.rep("x", 2^34)`, "limit.memory", "memory limit of 64 MiB exceeded"},
		{"rep 2^34 sandbox", sandbox, `string.rep("x", 2^34)`, "limit.memory", "memory limit of 256 MiB exceeded"},
		{"rep 2^31", small, `string.rep("x", 2^31)`, "limit.memory", "memory limit of 64 MiB exceeded"},
		{"rep 2^31 in time", noMemory, `string.rep("x", 2^31)`, "limit.time", "time limit of 200ms exceeded"},
		{"rep caught by pcall", small, `pcall(string.rep, "x", 2^34) print("went on")`, "limit.memory", "memory limit of 64 MiB exceeded"},
		{"table grown", small, `local t = {} while true do t[#t+1] = ("x"):rep(1000) end`,
			"limit.memory", "memory limit of 64 MiB exceeded"},
		{"table grown sandbox", sandbox, `local t = {} while true do t[#t+1] = ("x"):rep(1000) end`,
			"limit.memory", "memory limit of 256 MiB exceeded"},
		{"doubling", small, `local s = "x" while true do s = s .. s end`, "limit.memory", "memory limit of 64 MiB exceeded"},
		{"doubling sandbox", sandbox, `local s = "x" while true do s = s .. s end`, "limit.memory", "memory limit of 256 MiB exceeded"},
		{"json shared", small, `local t = {} for i = 1, 60 do t = {t, t} end require("json").encode(t)`,
			"limit.memory", "memory limit of 64 MiB exceeded"},
		{"json shared sandbox", sandbox, `local t = {} for i = 1, 60 do t = {t, t} end require("json").encode(t)`,
			"limit.memory", "memory limit of 256 MiB exceeded"},
		{"json shared in time", noMemory, `local t = {} for i = 1, 60 do t = {t, t} end require("json").encode(t)`,
			"limit.time", "time limit of 200ms exceeded"},
		{"unpack", small, `unpack({}, 1, 8e6)`, "", "too many results to unpack"},
		{"unpack sandbox", sandbox, `unpack({}, 1, 8e6)`, "", "too many results to unpack"},
		{"byte", small, `local s = ("x"):rep(20e6) s:byte(1, -1)`, "", "string slice too long"},
		{"byte sandbox", sandbox, `local s = ("x"):rep(20e6) s:byte(1, -1)`, "", "string slice too long"},
		{"upper", Options{MaxMemory: 16 << 20}, `local s = ("x"):rep(10e6) s:upper()`, "limit.memory", "memory limit of 16 MiB exceeded"},
		{"concat", Options{MaxMemory: 16 << 20}, `local t = {} for i = 1, 1000 do t[i] = ("x"):rep(10000) end table.concat(t, ("y"):rep(10000))`,
			"limit.memory", "memory limit of 16 MiB exceeded"},
		{"gsub", Options{MaxMemory: 16 << 20}, `local s = ("x"):rep(1000) s:gsub("", ("y"):rep(20000))`,
			"limit.memory", "memory limit of 16 MiB exceeded"},
		{"format", Options{MaxMemory: 16 << 20}, `string.format(("%99d"):rep(2e5), 1)`, "limit.memory", "memory limit of 16 MiB exceeded"},
		{"format width", small, `string.format("%999999d", 1)`, "", "invalid format (width or precision too long)"},
		{"coroutines alive", Options{WallTime: 2 * time.Second}, `local t = {} for i = 1, 2000 do t[i] = coroutine.create(function() coroutine.yield() end) coroutine.resume(t[i]) end`,
			"limit.coroutine", "coroutine limit of 1000 alive exceeded"},
		{"busy loop", Options{WallTime: 100 * time.Millisecond}, `while true do end`, "limit.time", "time limit of 100ms exceeded"},
		{"concat chain", small, "return 'a'" + strings.Repeat("..'a'", 100000), "limit.nesting", "nesting limit of 200 levels exceeded"},
		{"concat chain sandbox", sandbox, "return 'a'" + strings.Repeat("..'a'", 100000), "limit.nesting", "nesting limit of 200 levels exceeded"},
		{"constructors", small, "return " + strings.Repeat("{", 1e6) + strings.Repeat("}", 1e6), "limit.nesting", "nesting limit of 200 levels exceeded"},
		{"constructors sandbox", sandbox, "return " + strings.Repeat("{", 1e6) + strings.Repeat("}", 1e6), "limit.script size", "script size limit of 1 MiB exceeded"},
	} {
		t.Run(c.name, func(t *testing.T) { probe(t, c.opts, c.src, c.kind, c.msg) })
	}
}

// Deep syntax of every kind fails at compile time, naming the line, before
// gopher-lua's parser or compiler can recurse.
func TestNestingAtCompile(t *testing.T) {
	const n = 100000
	for name, src := range map[string]string{
		"constructors": "return " + strings.Repeat("{", n) + strings.Repeat("}", n),
		"parentheses":  "return " + strings.Repeat("(", n) + "1" + strings.Repeat(")", n),
		"functions":    strings.Repeat("function f() ", n) + strings.Repeat("end ", n),
		"blocks":       strings.Repeat("do ", n) + strings.Repeat("end ", n),
		"ifs":          strings.Repeat("if x then ", n) + strings.Repeat("end ", n),
		"concat":       "return 'a'" + strings.Repeat("..'a'", n),
		"power":        "return 2" + strings.Repeat("^2", n),
		"minus":        "return " + strings.Repeat("- ", n) + "x",
		"not":          "return " + strings.Repeat("not ", n) + "x",
		"length":       "return " + strings.Repeat("#", n) + "x",
		"indexes":      "return x" + strings.Repeat("[x", n) + strings.Repeat("]", n),
	} {
		_, err := New(Options{}).Compile("deep.lua", "local x\n\n"+src)
		var se *ScriptError
		if !errors.As(err, &se) || se.Kind != "limit.nesting" || se.Line != 3 ||
			se.Error() != "deep.lua:3: nesting limit of 200 levels exceeded" {
			t.Errorf("%s: %v", name, err)
		}
	}
	// what real scripts nest stays far below
	ok := []string{
		"return 'a'" + strings.Repeat("..'a'", 150),
		"return " + strings.Repeat("{", 150) + strings.Repeat("}", 150),
		"local t = {" + strings.Repeat("-1, ", 1000) + "}",
		strings.Repeat("x = 'a' .. 'b' .. 'c'\n", 1000),
		strings.Repeat("print(-x - -y, not a == not b)\n", 1000),
		"return 1" + strings.Repeat(" + 1", 10000),
		"x = [[" + strings.Repeat("{(", 1000) + "]] -- " + strings.Repeat("{", 1000) + "\n" +
			"--[==[" + strings.Repeat("((", 1000) + "]==] y = '((((\\'" + strings.Repeat("(", 300) + "'",
		"local n = 1e-5 - 2 - 0x10 - 1.5e+3",
	}
	for _, src := range ok {
		if _, err := New(Options{}).Compile("ok.lua", src); err != nil {
			t.Errorf("%.60q: %v", src, err)
		}
	}
}

func TestScriptSize(t *testing.T) {
	src := "return 1" + strings.Repeat(" ", 2<<20)
	if _, err := New(Options{}).Compile("big.lua", src); err != nil {
		t.Fatalf("2 MiB outside the sandbox: %v", err)
	}
	_, err := New(Options{Sandbox: true}).Compile("big.lua", src)
	var le *LimitError
	if !errors.As(err, &le) || err.Error() != "big.lua: script size limit of 1 MiB exceeded" {
		t.Fatalf("2 MiB in the sandbox: %v", err)
	}
	if _, err := New(Options{Sandbox: true, MaxScriptSize: -1}).Compile("big.lua", src); err != nil {
		t.Fatalf("no size limit: %v", err)
	}
}

// A 20 MB message built with table.concat fits the sandbox's defaults.
func TestBigConcatSandbox(t *testing.T) {
	_, err, out := run(t, Options{Sandbox: true}, `
local t = {}
for i = 1, 300000 do t[#t + 1] = string.rep("x", 68) .. "\r\n" end
local msg = "Subject: big\r\n\r\n" .. table.concat(t)
print(#msg > 20000000, #msg:upper(), #msg:gsub("x", "y"))`)
	if err != nil || out != "true\t21000016\t21000016\n" {
		t.Fatal(err, out)
	}
}

func TestSandboxDefaults(t *testing.T) {
	o := New(Options{Sandbox: true, MaxOutput: -1}).opts
	if o.WallTime != 60*time.Second || o.MaxConnections != 8 || o.MaxOutput != -1 || o.MaxMemory != 256<<20 || o.MaxScriptSize != 1<<20 {
		t.Fatalf("%+v", o)
	}
	o = New(Options{}).opts
	if o.WallTime != 0 || o.MaxConnections != 0 || o.MaxOutput != 0 || o.MaxMemory != 0 || o.MaxScriptSize != 8<<20 {
		t.Fatalf("%+v", o)
	}
}

// The replaced functions keep Lua's results.
func TestLimitFuncsSemantics(t *testing.T) {
	_, err, out := run(t, Options{MaxMemory: 64 << 20}, `
print(("ab"):rep(3), ("x"):rep(0), ("x"):rep(-1), ("AbC"):upper(), ("AbC"):lower(), ("abc"):reverse())
print(("abc"):byte(), ("abc"):byte(2, -1), ("abc"):byte(-1), ("abc"):byte(5), select("#", ("abc"):byte(3, 1)))
print(("abc"):byte(2, -1))
print(table.concat({1, "b", 2.5}, ", "), table.concat({}, "x"), table.concat({"a", "b", "c"}, "-", 2, 3))
print(unpack({1, 2, 3})) print(unpack({1, 2, 3}, 2)) print(select("#", unpack({}, 1, 3)))
print(pcall(table.concat, {1, {}}))
print(string.format("%5.2f|%-3s|%d", 3.14159, "a", 7))
local g = coroutine.wrap(function(a) local b = coroutine.yield(a + 1) return b * 2 end)
print(g(1), g(5))
print(pcall(coroutine.wrap(function() error("boom", 0) end)))
local co = coroutine.create(function() coroutine.yield(1) end)
print(coroutine.resume(co)) print(coroutine.resume(co)) print(coroutine.resume(co))
for i = 1, 3000 do coroutine.wrap(function() end)() end`)
	want := "ababab\t\t\tABC\tabc\tcba\n97\t98\t99\tnil\t0\n98\t99\n1, b, 2.5\t\tb-c\n1\t2\t3\n2\t3\n3\n" +
		"false\ttest.lua:7: invalid value (at index 2) in table for 'concat'\n" +
		" 3.14|a  |7\n2\t10\nfalse\tboom\ntrue\t1\ntrue\nfalse\tcan not resume a dead thread\n"
	if err != nil || out != want {
		t.Fatalf("%v\n%s\nwant\n%s", err, out, want)
	}
}

func TestSessionLimits(t *testing.T) {
	s := New(Options{MaxMemory: 64 << 20}).NewSession()
	defer s.Close()
	err := s.Eval(context.Background(), "repl", `string.rep("x", 2^34)`)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "memory" {
		t.Fatalf("%v", err)
	}
	// the next evaluation has a budget of its own
	if err := s.Eval(context.Background(), "repl", `x = ("x"):rep(1000)`); err != nil {
		t.Fatal(err)
	}
}

func TestHostCancelIsNoLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := New(Options{MaxMemory: 64 << 20}).RunString(ctx, "loop.lua", "while true do end")
	var se *ScriptError
	if !errors.As(err, &se) || se.Kind != "" || !strings.HasPrefix(se.Message, "script stopped: context deadline exceeded") ||
		errors.As(err, new(*LimitError)) {
		t.Fatalf("%#v", err)
	}
}

func TestPanicIsInternal(t *testing.T) {
	rt := New(Options{})
	rt.Register("boom", func(L *lua.LState) int {
		var m map[string]int
		m["x"] = 1 // a Go bug under the script
		return 0
	})
	// under the VM's pcall a Go panic is an error of the script's
	_, err := rt.RunString(context.Background(), "p.lua", `require("boom")`)
	var se *ScriptError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "assignment to entry in nil map") {
		t.Fatalf("%#v", err)
	}
	err = func() (err error) {
		defer recoverRun("p.lua", &err)
		panic("outside the VM")
	}()
	if !errors.As(err, &se) || se.Kind != "internal" || se.Message != "internal error: outside the VM" {
		t.Fatalf("%#v", err)
	}
}

func TestCompileCacheBounded(t *testing.T) {
	rt := New(Options{})
	for i := range cacheEntries + 100 {
		if _, err := rt.Compile("c.lua", fmt.Sprintf("return %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := rt.cache.len(); n != cacheEntries {
		t.Fatalf("%d cached, want %d", n, cacheEntries)
	}
	// the most recent stay
	p, _ := rt.Compile("c.lua", fmt.Sprintf("return %d", cacheEntries+99))
	if rt.cache.get(cacheKey("c.lua", fmt.Sprintf("return %d", cacheEntries+99))) != p {
		t.Fatal("the newest chunk was evicted")
	}
	if rt.cache.get(cacheKey("c.lua", "return 0")) != nil {
		t.Fatal("the oldest chunk stayed")
	}
}

func TestBudget(t *testing.T) {
	var stopped error
	b := limit.NewBudget(100, func(err error) { stopped = err }, nil)
	if b.Charge(60) != nil || b.Charge(40) != nil || stopped != nil {
		t.Fatal("within the budget")
	}
	if err := b.Charge(1); err == nil || stopped == nil || err.Error() != "memory limit of 100 bytes exceeded" {
		t.Fatal(err, stopped)
	}
	stopped = nil
	b = limit.NewBudget(100, func(err error) { stopped = err }, nil)
	b.Charge(50)
	b.Observe(20, 30) // 30 of the 50 allocated: 20 live, 20 to come
	if b.Charge(60) != nil || b.Charge(1) == nil {
		t.Fatal("after Observe")
	}
	var nilBudget *limit.Budget
	if nilBudget.Charge(1<<62) != nil {
		t.Fatal("a nil budget refused")
	}
}
