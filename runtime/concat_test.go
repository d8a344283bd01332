package runtime

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/internal/limit"
)

// Under a memory budget .. is a call of budgetedConcat: the same results
// and errors as the VM's own, whatever the operands.
func TestConcatSameAsVM(t *testing.T) {
	const src = `
local mt = {__concat = function(a, b)
  local x = type(a) == "table" and a.v or a
  local y = type(b) == "table" and b.v or b
  return "<" .. x .. "|" .. y .. ">"
end}
local o = setmetatable({v = "o"}, mt)
local function two() return "f1", "f2" end
local function va(...) return "[" .. ... .. "]" end
print("a" .. "b" .. 1 .. 2.5 .. -3)
print(o .. "s", "s" .. o, 1 .. o .. 2, "x" .. ("y" .. o) .. "z")
print("a" .. two(), two() .. "b", va("p", "q"))
print((("a" .. "b") .. "c") .. "d", #("x" .. string.rep("y", 3000)))
local t = {k = "v" .. 1}
t["k" .. 2] = t.k .. "!"
print(t.k2, ("%s"):format("f" .. "g"))
for _, v in ipairs({"a" .. "b", "c"}) do io.write(v .. ";") end print()
print(("a" .. "b"):upper(), ({["k" .. 1] = "v"})["k1"], #("ab" .. "c"))
if "a" .. "b" == "ab" then repeat local x = 1 until ("x" .. x) == "x1" end
local function first(...) return ... .. "!" end
print(first("p", "q"), select("#", "a" .. "b"), coroutine.wrap(function(a) return a .. coroutine.yield() end)("c"))
print(pcall(function() return "a" .. nil end))
print(pcall(function() return {} .. "a" end))
print(pcall(function() return "a" .. true end))
`
	run := func(budget int64) string {
		var out bytes.Buffer
		rt := New(Options{Stdout: &out, MaxMemory: budget})
		if _, err := rt.RunString(context.Background(), "concat.lua", src); err != nil {
			t.Fatalf("budget %d: %v", budget, err)
		}
		return out.String()
	}
	vm, budgeted := run(0), run(64<<20)
	if vm != budgeted {
		t.Errorf("with a budget:\n%s\nthe VM's:\n%s", budgeted, vm)
	}
	if !strings.Contains(budgeted, "concat.lua:22: cannot perform concat operation between string and nil") {
		t.Errorf("the error lacks its position: %s", budgeted)
	}
}

// A concatenation past the budget is refused before it allocates: a
// budget with no watchdog sees only charges.
func TestConcatCharged(t *testing.T) {
	rt := New(Options{MaxMemory: 1 << 20})
	p, err := rt.Compile("grow.lua", `
local s = string.rep("x", 300000)
local t = s .. s
local ok, err = pcall(function() return t .. s .. t end)
return #t, err`)
	if err != nil {
		t.Fatal(err)
	}
	L := lua.NewState()
	defer L.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	L.SetContext(limit.NewContext(ctx, limit.NewBudget(1<<20, nil, nil)))
	L.Push(L.NewFunctionFromProto(p))
	if err := L.PCall(0, 2, nil); err != nil {
		t.Fatal(err)
	}
	if n := L.Get(1); n.String() != "600000" {
		t.Errorf("#t = %v, want 600000", n)
	}
	if msg := L.Get(2).String(); !strings.Contains(msg, "memory limit of 1 MiB exceeded") {
		t.Errorf("got %q (%d bytes), want the memory limit", msg[:min(len(msg), 80)], len(msg))
	}
}

// No budget, no rewrite: the VM's CONCAT as it is.
func TestConcatUnbudgetedUntouched(t *testing.T) {
	p, err := New(Options{}).Compile("plain.lua", `return "a" .. "b"`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Constants {
		if c == lua.LValue(budgetedConcat) {
			t.Fatal("an unbudgeted chunk calls budgetedConcat")
		}
	}
}

// The cost of budgeted .., against the VM's CONCAT: the same loop
// compiled with and without a budget, run under one budget.
func BenchmarkConcat(b *testing.B) {
	for _, c := range []struct{ name, body string }{
		{"short", `local s = "k" .. i .. ":" .. name`},
		{"pair", `local s = name .. suffix`},
		{"long", `local s = long .. i`},
		{"mixed", `local s = name .. i; local t = {s, i * 2, #s}; n = n + #t`},
	} {
		src := `local name, suffix, long, n = "mailbox", "@example.org", string.rep("x", 2000), 0
for i = 1, N do ` + c.body + ` end`
		for _, budget := range []int64{0, 1 << 30} {
			mode := "vm"
			if budget > 0 {
				mode = "budgeted"
			}
			b.Run(c.name+"/"+mode, func(b *testing.B) {
				p, err := New(Options{MaxMemory: budget}).Compile("bench.lua", src)
				if err != nil {
					b.Fatal(err)
				}
				L := lua.NewState()
				defer L.Close()
				L.SetContext(limit.NewContext(context.Background(), limit.NewBudget(1<<40, nil, nil)))
				L.SetGlobal("N", lua.LNumber(b.N))
				b.ResetTimer()
				L.Push(L.NewFunctionFromProto(p))
				if err := L.PCall(0, 0, nil); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
