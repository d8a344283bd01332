package runtime

import (
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/internal/luapat"
)

// patternFuncs replaces string.find, match, gmatch and gsub with ones on
// internal/luapat, with Lua 5.1's semantics and its shortcut for find
// without special characters. gopher-lua's matcher compiles the pattern
// and allocates at every starting position: s:match("Subject:(.-)\r\n")
// over a header was most of a triage script's CPU.
func patternFuncs(L *lua.LState) {
	str, ok := L.GetGlobal("string").(*lua.LTable)
	if !ok {
		return
	}
	for name, fn := range map[string]lua.LGFunction{
		"find":   func(L *lua.LState) int { return strFind(L, true) },
		"match":  func(L *lua.LState) int { return strFind(L, false) },
		"gmatch": strGmatch,
		"gsub":   strGsub,
	} {
		str.RawSetString(name, L.NewFunction(fn))
	}
}

func newMatcher(L *lua.LState, s, p string) *luapat.Matcher {
	m := luapat.New(s, p)
	if ctx := L.Context(); ctx != nil {
		m.Check = ctx.Err // a runaway pattern stops with the script
	}
	return m
}

// startAt is Lua 5.1's handling of find's init: 1-based, negative from
// the end, clamped to the string.
func startAt(L *lua.LState, n int) int {
	init := L.OptInt(3, 1)
	if init < 0 {
		init += n + 1
	}
	init--
	return max(0, min(init, n))
}

func pushCaptures(L *lua.LState, caps []luapat.Capture) int {
	for _, c := range caps {
		L.Push(captureValue(c))
	}
	return len(caps)
}

func captureValue(c luapat.Capture) lua.LValue {
	if c.IsPos {
		return lua.LNumber(c.Position)
	}
	return lua.LString(c.Text)
}

// strFind is string.find (find) and string.match.
func strFind(L *lua.LState, find bool) int {
	s, p := L.CheckString(1), L.CheckString(2)
	init := startAt(L, len(s))
	if find && (L.ToBool(4) || !luapat.HasSpecials(p)) {
		i := strings.Index(s[init:], p)
		if i < 0 {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LNumber(init + i + 1))
		L.Push(lua.LNumber(init + i + len(p)))
		return 2
	}
	m := newMatcher(L, s, p)
	start, end, err := luapat.Find(m, init)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	if start < 0 {
		L.Push(lua.LNil)
		return 1
	}
	caps, err := m.Captures(start, end, !find)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	if find {
		L.Push(lua.LNumber(start + 1))
		L.Push(lua.LNumber(end))
		return 2 + pushCaptures(L, caps)
	}
	return pushCaptures(L, caps)
}

func strGmatch(L *lua.LState) int {
	s, p := L.CheckString(1), L.CheckString(2)
	m := newMatcher(L, s, p)
	pos := 0
	L.Push(L.NewFunction(func(L *lua.LState) int {
		for src := pos; src <= len(s); src++ {
			e, err := m.MatchAt(src, 0)
			if err != nil {
				L.RaiseError("%s", err.Error())
			}
			if e < 0 {
				continue
			}
			pos = e
			if e == src {
				pos++ // an empty match: go on from the next character
			}
			caps, err := m.Captures(src, e, true)
			if err != nil {
				L.RaiseError("%s", err.Error())
			}
			return pushCaptures(L, caps)
		}
		pos = len(s) + 1
		return 0
	}))
	return 1
}

func strGsub(L *lua.LState) int {
	src, p := L.CheckString(1), L.CheckString(2)
	repl := L.Get(3)
	switch repl.(type) {
	case lua.LString, lua.LNumber, *lua.LTable, *lua.LFunction:
	default:
		L.ArgError(3, "string/function/table expected")
	}
	maxN := L.OptInt(4, len(src)+1)
	pi := 0
	anchor := strings.HasPrefix(p, "^")
	if anchor {
		pi = 1
	}
	m := newMatcher(L, src, p)
	var b strings.Builder
	s, n, charged := 0, 0, 0
	for n < maxN {
		e, err := m.MatchAt(s, pi)
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		if e >= 0 {
			n++
			replace(L, m, &b, s, e, repl)
			if b.Len()-charged > 1<<16 { // the result, charged as it grows
				charge(L, int64(b.Len()-charged))
				charged = b.Len()
			}
		}
		if e >= 0 && e > s {
			s = e
		} else if s < len(src) {
			b.WriteByte(src[s])
			s++
		} else {
			break
		}
		if anchor {
			break
		}
	}
	b.WriteString(src[s:])
	L.Push(lua.LString(b.String()))
	L.Push(lua.LNumber(n))
	return 2
}

// replace appends what gsub puts for the match src[s:e]: repl with %0-%9
// expanded, a table's value for the first capture, or a function's
// result; false or nil keeps the match.
func replace(L *lua.LState, m *luapat.Matcher, b *strings.Builder, s, e int, repl lua.LValue) {
	var v lua.LValue
	switch r := repl.(type) {
	case *lua.LTable:
		c, err := m.Capture(0, s, e)
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		v = L.GetTable(r, captureValue(c))
	case *lua.LFunction:
		caps, err := m.Captures(s, e, true)
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		L.Push(r)
		pushCaptures(L, caps)
		L.Call(len(caps), 1)
		v = L.Get(-1)
		L.Pop(1)
	default:
		rs := lua.LVAsString(r)
		for i := 0; i < len(rs); i++ {
			c := rs[i]
			if c != '%' {
				b.WriteByte(c)
				continue
			}
			i++
			switch {
			case i == len(rs):
				b.WriteByte(0) // what Lua 5.1 reads past a trailing %
			case rs[i] == '0':
				b.WriteString(m.Subject()[s:e])
			case rs[i] >= '1' && rs[i] <= '9':
				c, err := m.Capture(int(rs[i]-'1'), s, e)
				if err != nil {
					L.RaiseError("%s", err.Error())
				}
				b.WriteString(c.String())
			default:
				b.WriteByte(rs[i])
			}
		}
		return
	}
	switch v.(type) {
	case lua.LString, lua.LNumber:
		b.WriteString(lua.LVAsString(v))
	default:
		if !lua.LVAsBool(v) {
			b.WriteString(m.Subject()[s:e])
			return
		}
		L.RaiseError("invalid replacement value (a %s)", v.Type().String())
	}
}
