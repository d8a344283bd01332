package stdlib

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/oauth"
)

// oauthAccount reads connect's auth = "oauth2", oauth = "NAME": the
// stored account's token source, its user, and its provider's IMAP host
// and port where the script gives none; nil for password logins.
func oauthAccount(L *lua.LState, env *bindings.Env, o *lua.LTable, host, user *string, port *int) *oauth.Source {
	name, auth := lua.LVAsString(o.RawGetString("oauth")), lua.LVAsString(o.RawGetString("auth"))
	switch {
	case auth == "" && name == "", auth == "password":
		return nil
	case auth != "" && auth != "oauth2":
		fail(L, "account.connect: auth must be \"password\" or \"oauth2\"")
	case name == "":
		fail(L, "account.connect: auth = \"oauth2\" needs oauth = \"NAME\", the name given to mailscript login")
	}
	if o.RawGetString("password") != lua.LNil {
		fail(L, "account.connect: give password or oauth, not both")
	}
	src := env.OAuthSource(L, name)
	a := src.Account()
	if *host == "" && a.IMAPHost != "" {
		*host = a.IMAPHost
		if *port == 0 {
			*port = a.IMAPPort
		}
	}
	if *user == "" {
		*user = a.User
	}
	return src
}
