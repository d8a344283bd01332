package stdlib

import (
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
