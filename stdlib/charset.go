package stdlib

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/protocol/imap"
)

// withCharset puts CHARSET UTF-8 before search criteria holding 8-bit
// text: without it Cyrus finds nothing for such terms (RFC 3501 leaves
// the default charset US-ASCII).
func withCharset(t *lua.LTable, args []imap.Arg) []imap.Arg {
	if !has8bit(t, 0) {
		return args
	}
	return append([]imap.Arg{imap.Atom("CHARSET"), imap.Atom("UTF-8")}, args...)
}

// has8bit reports whether a key or string value of t, or of the tables
// in it (any, all, none, header), holds a byte above 0x7f.
func has8bit(t *lua.LTable, depth int) bool {
	if depth > 50 { // criteria nest far less; a cycle ends here
		return false
	}
	found := false
	t.ForEach(func(k, v lua.LValue) {
		if found {
			return
		}
		for _, x := range []lua.LValue{k, v} {
			switch x := x.(type) {
			case lua.LString:
				for i := 0; i < len(x); i++ {
					if x[i] >= 0x80 {
						found = true
					}
				}
			case *lua.LTable:
				found = found || has8bit(x, depth+1)
			}
		}
	})
	return found
}
