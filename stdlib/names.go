package stdlib

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// mustServerName is serverName for a name a script gave, refusing one the
// server would read differently: on a server whose hierarchy separator is
// not "/", a part of the name holding the separator would silently become
// nested folders (on Courier "Dotted/dovecot.example.org" makes four). A
// name already in the server's form (its prefix, no "/") goes as it is.
func (a *account) mustServerName(L *lua.LState, name string) string {
	if a.sep != "/" && a.sep != "" && strings.Contains(name, a.sep) &&
		!(a.prefix != "" && strings.HasPrefix(name, a.prefix) && !strings.Contains(name, "/")) {
		fail(L, "mailbox %q: %q is this server's hierarchy separator, so the name would make nested folders; write folders with \"/\" and leave %q out of their names",
			name, a.sep, a.sep)
	}
	return a.serverName(name)
}
