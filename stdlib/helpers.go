package stdlib

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/internal/limit"
	"github.com/mailscript/mailscript/protocol/imap"
)

// preloadHelpers registers re, json, log, time and pipe.
func preloadHelpers(L *lua.LState, env *bindings.Env) {
	L.PreloadModule("re", openRe)
	L.PreloadModule("json", openJSON)
	L.PreloadModule("log", func(L *lua.LState) int { return openLog(L, env) })
	L.PreloadModule("time", openTime)
	L.PreloadModule("pipe", func(L *lua.LState) int { return openPipe(L, env) })
	L.SetGlobal("sleep", L.NewFunction(luaSleep))
}

// re: Go's regexp (RE2: linear time, safe on untrusted patterns).

func openRe(L *lua.LState) int {
	cache := newReCache()
	compileRe := func(L *lua.LState, n int) *regexp.Regexp {
		r, err := cache.get(L.CheckString(n))
		if err != nil {
			L.ArgError(n, err.Error())
		}
		return r
	}
	mod := L.NewTable()
	L.SetFuncs(mod, map[string]lua.LGFunction{
		// re.match(pattern, s) -> true if s contains a match
		"match": func(L *lua.LState) int {
			L.Push(lua.LBool(compileRe(L, 1).MatchString(L.CheckString(2))))
			return 1
		},
		// re.find(pattern, s) -> the match and its groups, or nil
		"find": func(L *lua.LState) int {
			m := compileRe(L, 1).FindStringSubmatch(L.CheckString(2))
			if m == nil {
				L.Push(lua.LNil)
				return 1
			}
			for _, g := range m {
				L.Push(lua.LString(g))
			}
			return len(m)
		},
		// re.find_all(pattern, s [, n]) -> array of matches
		"find_all": func(L *lua.LState) int {
			t := L.NewTable()
			for _, m := range compileRe(L, 1).FindAllString(L.CheckString(2), L.OptInt(3, -1)) {
				t.Append(lua.LString(m))
			}
			L.Push(t)
			return 1
		},
		// re.replace(pattern, s, repl) -> s with every match replaced ($1 expands)
		"replace": func(L *lua.LState) int {
			L.Push(lua.LString(reReplace(L, compileRe(L, 1), L.CheckString(2), L.CheckString(3))))
			return 1
		},
		// re.split(pattern, s) -> array
		"split": func(L *lua.LState) int {
			t := L.NewTable()
			for _, p := range compileRe(L, 1).Split(L.CheckString(2), -1) {
				t.Append(lua.LString(p))
			}
			L.Push(t)
			return 1
		},
		"quote": func(L *lua.LState) int { L.Push(lua.LString(regexp.QuoteMeta(L.CheckString(1)))); return 1 },
	})
	L.Push(mod)
	return 1
}

// json: tables with keys 1..n are arrays, others objects (keys sorted);
// null decodes to nil.

func openJSON(L *lua.LState) int {
	mod := L.NewTable()
	L.SetFuncs(mod, map[string]lua.LGFunction{
		"encode": func(L *lua.LState) int {
			v, err := toGo(L.Get(1), 0, &jsonWalk{ctx: L.Context()})
			if err != nil {
				L.ArgError(1, err.Error())
			}
			var b []byte
			if L.OptBool(2, false) {
				b, err = json.MarshalIndent(v, "", "  ")
			} else {
				b, err = json.Marshal(v)
			}
			if err != nil {
				L.ArgError(1, err.Error())
			}
			L.Push(lua.LString(b))
			return 1
		},
		"decode": func(L *lua.LState) int {
			var v any
			if err := limit.FromContext(L.Context()).Charge(8 * int64(len(L.CheckString(1)))); err != nil {
				L.RaiseError("json.decode: %v", err)
			}
			if err := json.Unmarshal([]byte(L.CheckString(1)), &v); err != nil {
				L.Push(lua.LNil)
				L.Push(lua.LString("json.decode: " + err.Error()))
				return 2
			}
			L.Push(toLua(L, v))
			return 1
		},
	})
	L.Push(mod)
	return 1
}

// jsonWalk bounds an encode by the run's memory and time: a table
// shared at every level is small in Lua and exponential in JSON.
type jsonWalk struct {
	ctx   context.Context
	steps int
}

func (w *jsonWalk) step(size int) error {
	if w.steps++; w.steps%1024 == 0 {
		if err := limit.Stopped(w.ctx); err != nil {
			return err
		}
	}
	return limit.FromContext(w.ctx).Charge(int64(size))
}

func toGo(v lua.LValue, depth int, w *jsonWalk) (any, error) {
	if depth > 100 {
		return nil, fmt.Errorf("nesting too deep (a cycle?)")
	}
	if err := w.step(len(lua.LVAsString(v)) + 32); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(x), nil
	case lua.LNumber:
		f := float64(x)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("%v has no JSON form", f)
		}
		return f, nil
	case lua.LString:
		return string(x), nil
	case *lua.LTable:
		// keys exactly 1..n make an array; anything else (or nothing) an object
		n, count := x.Len(), 0
		x.ForEach(func(lua.LValue, lua.LValue) { count++ })
		if n > 0 && count == n {
			arr := make([]any, 0, n)
			for i := 1; i <= n; i++ {
				e, err := toGo(x.RawGetInt(i), depth+1, w)
				if err != nil {
					return nil, err
				}
				arr = append(arr, e)
			}
			return arr, nil
		}
		obj := map[string]any{}
		var err error
		x.ForEach(func(k, val lua.LValue) {
			if err != nil {
				return
			}
			var e any
			e, err = toGo(val, depth+1, w)
			obj[lua.LVAsString(k)] = e
		})
		return obj, err
	}
	return nil, fmt.Errorf("%s has no JSON form", v.Type())
}

func toLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(x)
	case float64:
		return lua.LNumber(x)
	case string:
		return lua.LString(x)
	case []any:
		t := L.CreateTable(len(x), 0)
		for _, e := range x {
			t.Append(toLua(L, e))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(x))
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.RawSetString(k, toLua(L, x[k]))
		}
		return t
	}
	return lua.LNil
}

// log: log.info("moved", n, "messages") to stderr, with the level.

func openLog(L *lua.LState, env *bindings.Env) int {
	mod := L.NewTable()
	for _, level := range []string{"debug", "info", "warn", "error"} {
		level := level
		mod.RawSetString(level, L.NewFunction(func(L *lua.LState) int {
			if level == "debug" && env.Debug == 0 {
				return 0
			}
			var parts []string
			for i := 1; i <= L.GetTop(); i++ {
				parts = append(parts, L.ToStringMeta(L.Get(i)).String())
			}
			line := fmt.Sprintf("%s %-5s %s\n", time.Now().Format("15:04:05"), strings.ToUpper(level), strings.Join(parts, " "))
			if env.Stderr == nil {
				return 0
			}
			if _, err := io.WriteString(env.Stderr, line); err != nil {
				bindings.RaiseLimit(L, env, err)
			}
			return 0
		}))
	}
	L.Push(mod)
	return 1
}

// time: ages ("90d") and IMAP dates.

func openTime(L *lua.LState) int {
	mod := L.NewTable()
	L.SetFuncs(mod, map[string]lua.LGFunction{
		"sleep": luaSleep, // time.sleep(seconds), the global sleep
		// time.age("90d") -> seconds
		"age": func(L *lua.LState) int {
			d, err := ParseAge(L.CheckString(1))
			if err != nil {
				L.ArgError(1, err.Error())
			}
			L.Push(lua.LNumber(d.Seconds()))
			return 1
		},
		// time.ago("90d") -> the epoch time that long ago
		"ago": func(L *lua.LState) int {
			d, err := ParseAge(L.CheckString(1))
			if err != nil {
				L.ArgError(1, err.Error())
			}
			L.Push(lua.LNumber(time.Now().Add(-d).Unix()))
			return 1
		},
		// time.imap_date(epoch) -> "5-Mar-2024"
		"imap_date": func(L *lua.LState) int {
			L.Push(lua.LString(IMAPDate(time.Unix(int64(L.OptNumber(1, lua.LNumber(time.Now().Unix()))), 0))))
			return 1
		},
		// time.internaldate(epoch) -> "05-Mar-2024 10:00:00 +0000" (quoted)
		"internaldate": func(L *lua.LState) int {
			L.Push(lua.LString(imap.Time2Internaldate(time.Unix(int64(L.CheckNumber(1)), 0))))
			return 1
		},
		"now": func(L *lua.LState) int { L.Push(lua.LNumber(float64(time.Now().UnixNano()) / 1e9)); return 1 },
	})
	L.Push(mod)
	return 1
}
