package bindings

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/internal/limit"
)

// charge asks the run's memory budget for n bytes before Go allocates
// them on the script's behalf (a refused charge stops the run), and
// raises the limit's error when refused.
func charge(L *lua.LState, n int64) {
	if err := limit.FromContext(L.Context()).Charge(n); err != nil {
		L.RaiseError("%s", err.Error())
	}
}

// bytesSize is what the byte slices of m take as Lua strings.
func bytesSize(m map[string][]byte) int64 {
	var n int64
	for k, v := range m {
		n += int64(len(k) + len(v))
	}
	return n
}
