package stdlib

import (
	"context"
	"regexp"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/internal/limit"
)

// charge asks the run's memory budget for n bytes before Go copies them
// into a Lua string (a refused charge stops the run), and raises the
// limit's error when refused.
func charge(L *lua.LState, n int64) {
	if err := limit.FromContext(L.Context()).Charge(n); err != nil {
		L.RaiseError("%s", err.Error())
	}
}

// reReplace is re.replace within the run's memory budget: one repl can
// expand to many copies of its match ($1$1$1...), and an empty pattern
// matches between every two bytes, so the result is charged before it
// is built, from a first pass that measures each match.
func reReplace(L *lua.LState, r *regexp.Regexp, s, repl string) string {
	refs := int64(strings.Count(repl, "$"))
	size := int64(len(s))
	matches := 0
	// each match becomes at most repl with every $ reference expanded to
	// a group, and a group is no longer than the match
	r.ReplaceAllStringFunc(s, func(m string) string {
		size += int64(len(repl)) + refs*int64(len(m))
		if matches++; matches%4096 == 0 {
			if ctx := L.Context(); ctx != nil && ctx.Err() != nil {
				L.RaiseError("%s", context.Cause(ctx).Error())
			}
		}
		return ""
	})
	charge(L, size)
	return r.ReplaceAllString(s, repl)
}
