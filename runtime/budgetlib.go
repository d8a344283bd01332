package runtime

import (
	"strconv"
	"strings"
	"weak"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/internal/limit"
)

// chunk is how many bytes (or values) the Go functions below make
// between two looks at the run's context.
const chunk = 1 << 20

// valueSize is what one Lua value costs on the stack or in a table.
const valueSize = 16

// limitFuncs replaces the library functions that can allocate much or
// run long in Go with ones that charge the run's memory budget before
// allocating and check its context as they go.
func limitFuncs(L *lua.LState) {
	if str, ok := L.GetGlobal("string").(*lua.LTable); ok {
		for name, fn := range map[string]lua.LGFunction{
			"rep": strRep, "byte": strByte, "reverse": strReverse,
			"upper": func(L *lua.LState) int { return mapBytes(L, upper) },
			"lower": func(L *lua.LState) int { return mapBytes(L, lower) },
		} {
			str.RawSetString(name, L.NewFunction(fn))
		}
		if f, ok := str.RawGetString("format").(*lua.LFunction); ok && f.IsG {
			str.RawSetString("format", L.NewFunction(strFormat(f.GFunction)))
		}
	}
	if tab, ok := L.GetGlobal("table").(*lua.LTable); ok {
		tab.RawSetString("concat", L.NewFunction(tableConcat))
	}
	if _, ok := L.GetGlobal("unpack").(*lua.LFunction); ok {
		L.SetGlobal("unpack", L.NewFunction(unpack))
	}
	if co, ok := L.GetGlobal("coroutine").(*lua.LTable); ok {
		(&coroutines{}).install(L, co)
	}
}

func strRep(L *lua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt(2)
	if n <= 0 || s == "" {
		L.Push(lua.LString(""))
		return 1
	}
	if int64(n) > (1<<62)/int64(len(s)) {
		L.RaiseError("resulting string too large")
	}
	total := int64(n) * int64(len(s))
	charge(L, total)
	if total <= chunk {
		L.Push(lua.LString(strings.Repeat(s, n)))
		return 1
	}
	// whole pieces of about a chunk each, so a short s is not copied one
	// at a time, and a stopped run is seen between pieces
	per := min(n, max(1, chunk/len(s)))
	piece := strings.Repeat(s, per)
	var b strings.Builder
	b.Grow(int(min(total, chunk)))
	for left := n; left > 0; left -= per {
		if left < per {
			piece = piece[:left*len(s)]
		}
		b.WriteString(piece)
		checkStopped(L)
	}
	L.Push(lua.LString(b.String()))
	return 1
}

func strByte(L *lua.LState) int {
	s := L.CheckString(1)
	i, j := L.OptInt(2, 1), L.OptInt(3, L.OptInt(2, 1))
	if i < 0 {
		i += len(s) + 1
	}
	if j < 0 {
		j += len(s) + 1
	}
	i, j = max(i, 1), min(j, len(s))
	if i > j {
		return 0
	}
	n := j - i + 1
	if n > maxResults {
		L.RaiseError("string slice too long")
	}
	charge(L, int64(n)*valueSize)
	for k := i - 1; k < j; k++ {
		L.Push(lua.LNumber(s[k]))
	}
	return n
}

func strReverse(L *lua.LState) int {
	s := L.CheckString(1)
	charge(L, int64(len(s)))
	out := make([]byte, len(s))
	for i := range len(s) {
		out[len(s)-1-i] = s[i]
		if i%chunk == chunk-1 {
			checkStopped(L)
		}
	}
	L.Push(lua.LString(out))
	return 1
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c - 'A' + 'a'
	}
	return c
}

// mapBytes is upper and lower: f on every byte (the C locale's).
func mapBytes(L *lua.LState, f func(byte) byte) int {
	s := L.CheckString(1)
	charge(L, int64(len(s)))
	out := make([]byte, len(s))
	for i := range len(s) {
		out[i] = f(s[i])
		if i%chunk == chunk-1 {
			checkStopped(L)
		}
	}
	L.Push(lua.LString(out))
	return 1
}

// strFormat charges what format's result can take (the format, the
// arguments as strings, and every field's width and precision) before
// calling gopher-lua's.
func strFormat(format lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		f := L.CheckString(1)
		size := int64(len(f))
		for i := 2; i <= L.GetTop(); i++ {
			if s, ok := L.Get(i).(lua.LString); ok {
				size += int64(len(s))
			}
		}
		for i := 0; i < len(f); i++ {
			if f[i] != '%' {
				continue
			}
			j := i + 1
			for j < len(f) && strings.IndexByte("-+ #0", f[j]) >= 0 {
				j++
			}
			for _, field := range []bool{true, false} {
				if !field {
					if j >= len(f) || f[j] != '.' {
						break
					}
					j++
				}
				k := j
				for k < len(f) && isDigit(f[k]) {
					k++
				}
				if k-j > 2 { // Lua allows two digits of width and of precision
					L.RaiseError("invalid format (width or precision too long)")
				}
				if w, err := strconv.Atoi(f[j:k]); err == nil {
					size += int64(w)
				}
				j = k
			}
			size += 32 // a number's digits
			i = j
		}
		charge(L, size)
		return format(L)
	}
}

func tableConcat(L *lua.LState) int {
	t := L.CheckTable(1)
	sep := L.OptString(2, "")
	i := L.OptInt(3, 1)
	j := L.OptInt(4, t.Len())
	if i > j {
		L.Push(lua.LString(""))
		return 1
	}
	var total int64
	for k := i; k <= j; k++ {
		switch v := t.RawGetInt(k).(type) {
		case lua.LString:
			total += int64(len(v))
		case lua.LNumber:
			total += int64(len(v.String()))
		default:
			L.RaiseError("invalid value (at index %d) in table for 'concat'", k)
		}
		if k < j {
			total += int64(len(sep))
		}
		if (k-i)%chunk == chunk-1 {
			checkStopped(L)
		}
	}
	charge(L, total)
	var b strings.Builder
	b.Grow(int(total))
	for k := i; k <= j; k++ {
		b.WriteString(lua.LVAsString(t.RawGetInt(k)))
		if k < j {
			b.WriteString(sep)
		}
		if (k-i)%chunk == chunk-1 {
			checkStopped(L)
		}
	}
	L.Push(lua.LString(b.String()))
	return 1
}

func unpack(L *lua.LState) int {
	t := L.CheckTable(1)
	i := L.OptInt(2, 1)
	j := L.OptInt(3, t.Len())
	if i > j {
		return 0
	}
	n := int64(j) - int64(i) + 1
	if n > maxResults {
		L.RaiseError("too many results to unpack")
	}
	charge(L, n*valueSize)
	for k := i; k <= j; k++ {
		L.Push(t.RawGetInt(k))
	}
	return int(n)
}

// coroutines caps one run's coroutines: how deep resumes nest (each is
// a Go call; Lua's "C stack overflow") and how many are alive at once.
type coroutines struct {
	depth int
	live  []weak.Pointer[lua.LState]
}

// coroutineSize is what a new coroutine's Lua state costs at least.
const coroutineSize = 256*20*valueSize + 8<<10 // gopher-lua's RegistrySize values, and a call stack

func (c *coroutines) install(L *lua.LState, co *lua.LTable) {
	create, ok1 := co.RawGetString("create").(*lua.LFunction)
	resume, ok2 := co.RawGetString("resume").(*lua.LFunction)
	if !ok1 || !ok2 || !create.IsG || !resume.IsG {
		return
	}
	newCo := func(L *lua.LState) *lua.LState {
		c.admit(L)
		charge(L, coroutineSize)
		create.GFunction(L)
		th := L.CheckThread(-1)
		c.live = append(c.live, weak.Make(th))
		return th
	}
	res := func(L *lua.LState) int {
		if c.depth >= maxNesting {
			stopLimit(L, &limit.Error{Limit: "stack", Max: strconv.Itoa(maxNesting) + " nested resumes"})
		}
		c.depth++
		defer func() { c.depth-- }()
		return resume.GFunction(L)
	}
	co.RawSetString("create", L.NewFunction(func(L *lua.LState) int {
		newCo(L)
		return 1
	}))
	co.RawSetString("resume", L.NewFunction(res))
	co.RawSetString("wrap", L.NewFunction(func(L *lua.LState) int {
		th := newCo(L)
		L.Pop(1)
		L.Push(L.NewFunction(func(L *lua.LState) int {
			L.Insert(th, 1)
			n := res(L)
			first := L.GetTop() - n + 1
			if !lua.LVAsBool(L.Get(first)) {
				L.Error(L.Get(first+1), 0) // the coroutine's error, as it is
			}
			L.Remove(first)
			return n - 1
		}))
		return 1
	}))
}

// admit refuses a coroutine past maxCoroutines alive; dead or collected
// ones no longer count.
func (c *coroutines) admit(L *lua.LState) {
	if len(c.live) < maxCoroutines {
		return
	}
	keep := c.live[:0]
	for _, w := range c.live {
		if th := w.Value(); th != nil && L.Status(th) != "dead" {
			keep = append(keep, w)
		}
	}
	clear(c.live[len(keep):])
	c.live = keep
	if len(c.live) >= maxCoroutines {
		stopLimit(L, &limit.Error{Limit: "coroutine", Max: strconv.Itoa(maxCoroutines) + " alive"})
	}
}
