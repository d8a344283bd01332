package stdlib

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/oauth"
)

// oauthAccount reads connect's auth = "oauth2", oauth = "NAME": the
// stored account's token source, its user, and its provider's IMAP (or,
// with pop, POP3) host and port where the script gives none; nil for
// password logins. raise reports a bad option.
func oauthAccount(L *lua.LState, env *bindings.Env, o *lua.LTable, host, user *string, port *int, pop bool, raise func(format string, args ...any)) *oauth.Source {
	name, auth := lua.LVAsString(o.RawGetString("oauth")), lua.LVAsString(o.RawGetString("auth"))
	switch {
	case auth == "" && name == "", auth == "password":
		return nil
	case auth != "" && auth != "oauth2":
		raise("auth must be \"password\" or \"oauth2\"")
	case name == "":
		raise("auth = \"oauth2\" needs oauth = \"NAME\", the name given to mailscript login")
	}
	if o.RawGetString("password") != lua.LNil {
		raise("give password or oauth, not both")
	}
	src := env.OAuthSource(L, name)
	a := src.Account()
	presetHost, presetPort := a.IMAPHost, a.IMAPPort
	if pop {
		presetHost, presetPort = a.POP3Host, a.POP3Port
	}
	if *host == "" && presetHost != "" {
		*host = presetHost
		if *port == 0 {
			*port = presetPort
		}
	}
	if *user == "" {
		*user = a.User
	}
	return src
}
