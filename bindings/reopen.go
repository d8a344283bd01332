package bindings

import (
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/internal/tlsopt"
	"github.com/mailscript/mailscript/protocol/imap"
	"github.com/mailscript/mailscript/protocol/sasl"
)

// dialIMAP connects as the constructor kind says ("plain", "ssl" or
// "stream") and returns the userdata; the object remembers how, so that
// open() reconnects over the same transport.
func dialIMAP(L *lua.LState, env *Env, kind, host string, port int, command string, timeout time.Duration, tlso tlsopt.Options) *lua.LUserData {
	m := connectIMAP(L, env, kind, host, port, command, timeout, tlso)
	ud := L.NewUserData()
	ud.Value = m
	L.SetMetatable(ud, L.GetTypeMetatable(imapConnType))
	return ud
}

func connectIMAP(L *lua.LState, env *Env, kind, host string, port int, command string, timeout time.Duration, tlso tlsopt.Options) *imapConn {
	if err := env.CountConnection(); err != nil {
		raiseIMAP(L, "error", err.Error(), "")
	}
	opts := env.imapOptions(L, timeout, tlso, host)
	ctx := ctxOf(L)
	var c *imap.Client
	var err error
	addr := HostPort(host, port)
	switch kind {
	case "stream":
		if env.Sandbox {
			raiseIMAP(L, "error", "IMAP4_stream is not allowed in the sandbox", "")
		}
		c, err = imap.DialStream(ctx, command, opts)
		host, port = command, 0
	case "ssl":
		c, err = imap.DialTLS(ctx, addr, opts)
	default:
		c, err = imap.Dial(ctx, addr, opts)
	}
	if err != nil {
		Raise(L, err)
	}
	env.Track(c)
	return &imapConn{c: c, env: env, host: host, port: port,
		redial: func(L *lua.LState, host string, port int, timeout time.Duration) *imapConn {
			if port < 0 {
				port = imap.Port
				if kind == "ssl" {
					port = imap.TLSPort
				}
			}
			return connectIMAP(L, env, kind, host, port, command, timeout, tlso)
		}}
}

// imapOpen is imaplib's open(host, port, timeout): a new connection for
// this object over its constructor's transport, as CPython's subclasses
// override open(): IMAP4_SSL with TLS and its ssl_context (never plain
// TCP, which would send the password in clear), IMAP4_stream by running
// its command again (host and port ignored).
func imapOpen(L *lua.LState, m *imapConn) int {
	port := -1 // the constructor's default
	host := str(L, 2, "localhost")
	if host == "" {
		host = "localhost"
	}
	if p, ok := L.Get(3).(lua.LNumber); ok {
		port = int(p)
	}
	nm := m.redial(L, host, port, timeoutArg(L, L.Get(4), m.env.timeout()))
	m.c.Close()
	m.env.Untrack(m.c)
	*m = *nm
	return 0
}

// imapLoginPlain is the newest imaplib's login_plain(user, password
// [, authzid]): AUTHENTICATE PLAIN (RFC 4616); a non-OK reply raises.
func imapLoginPlain(L *lua.LState, m *imapConn) int {
	res, err := m.c.AuthenticateSASL(ctxOf(L), sasl.Plain(str(L, 4, ""), str(L, 2, ""), secretArg(L, 3, m.host, str(L, 2, ""))))
	return push(L, res, err, nil)
}
