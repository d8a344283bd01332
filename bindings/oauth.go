package bindings

import (
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/oauth"
	"github.com/mailscript/mailscript/protocol/imap"
	"github.com/mailscript/mailscript/protocol/sasl"
)

// OAuthSource is the token source of stored account name, or a Lua
// error saying why there is none.
func (e *Env) OAuthSource(L *lua.LState, name string) *oauth.Source {
	if e.OAuth == nil {
		if e.Sandbox {
			raiseIMAP(L, "error", "oauth "+name+": no OAuth accounts are granted to this sandbox (the host grants names, e.g. mailscript --sandbox --allow-oauth "+name+")", "")
		}
		raiseIMAP(L, "error", "oauth "+name+": OAuth accounts are not available here", "")
	}
	src, err := e.OAuth(name)
	if err != nil {
		raiseIMAP(L, "error", err.Error(), "")
	}
	return src
}

// oauthOpts reads authenticate_oauth's options {user=, mechanism=}.
func oauthOpts(L *lua.LState, n int) (user, mech string) {
	switch t := L.Get(n).(type) {
	case *lua.LTable:
		user, mech = lua.LVAsString(t.RawGetString("user")), strings.ToUpper(lua.LVAsString(t.RawGetString("mechanism")))
	case lua.LString:
		user = string(t)
	case *lua.LNilType:
	default:
		L.ArgError(n, "options must be a table {user=, mechanism=}")
	}
	if mech != "" && mech != "XOAUTH2" && mech != "OAUTHBEARER" {
		L.ArgError(n, "mechanism must be XOAUTH2 or OAUTHBEARER")
	}
	return user, mech
}

// imapAuthenticateOAuth is M:authenticate_oauth(name [, {user=,
// mechanism=}]): AUTHENTICATE with an access token of the account
// `mailscript login NAME` stored, refreshed as needed; OAUTHBEARER when
// the server offers it, else XOAUTH2. Returns typ, data as authenticate.
func imapAuthenticateOAuth(L *lua.LState, m *imapConn) int {
	src := m.env.OAuthSource(L, L.CheckString(2))
	user, mech := oauthOpts(L, 3)
	if mech == "" {
		var offers []string
		for _, c := range m.c.Capabilities() {
			if s, ok := strings.CutPrefix(strings.ToUpper(c), "AUTH="); ok {
				offers = append(offers, s)
			}
		}
		mech = oauth.Mechanism(offers)
	}
	ctx := ctxOf(L)
	var res *imap.Result
	err := src.Authenticate(ctx, user, mech, m.host, m.port, func(sm sasl.Mechanism) error {
		var err error
		res, err = m.c.AuthenticateSASL(ctx, sm)
		return err
	})
	return push(L, res, err, nil)
}

// pop3AuthOAuth is P:auth_oauth(name [, {user=, mechanism=}]): AUTH
// with an access token of the stored account; the mechanism from CAPA.
func pop3AuthOAuth(L *lua.LState, p *pop3Conn) int {
	src := p.env.OAuthSource(L, L.CheckString(2))
	user, mech := oauthOpts(L, 3)
	ctx := ctxOf(L)
	if mech == "" {
		mech = "XOAUTH2"
		if caps, err := p.c.Capa(ctx); err == nil {
			mech = oauth.Mechanism(caps["SASL"])
		}
	}
	var resp string
	err := src.Authenticate(ctx, user, mech, p.host, p.port, func(sm sasl.Mechanism) error {
		var err error
		resp, err = p.c.Auth(ctx, sm)
		return err
	})
	if err != nil {
		Raise(L, err)
	}
	L.Push(lua.LString(resp))
	return 1
}
