package bindings

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/protocol/pop3"
)

const pop3ConnType = "pop3.POP3"

// luaItemOverhead is what one parsed LIST or UIDL entry ({num=, size=})
// costs in Lua, measured: a table with its string-keyed map and key index.
const luaItemOverhead = 768

type pop3Conn struct {
	c    *pop3.Client
	env  *Env
	host string
	port int
}

type pop3Method func(L *lua.LState, p *pop3Conn) int

var pop3Methods map[string]pop3Method

func init() {
	short := func(f func(p *pop3Conn, L *lua.LState) (string, error)) pop3Method {
		return func(L *lua.LState, p *pop3Conn) int {
			r, err := f(p, L)
			if err != nil {
				Raise(L, err)
			}
			L.Push(lua.LString(r))
			return 1
		}
	}
	pop3Methods = map[string]pop3Method{
		"set_debuglevel": func(L *lua.LState, p *pop3Conn) int { p.c.SetDebugLevel(L.CheckInt(2)); return 0 },
		"getwelcome":     func(L *lua.LState, p *pop3Conn) int { L.Push(lua.LString(p.c.Welcome())); return 1 },
		"capa":           pop3Capa,
		"user":           short(func(p *pop3Conn, L *lua.LState) (string, error) { return p.c.User(ctxOf(L), str(L, 2, "")) }),
		"pass_": short(func(p *pop3Conn, L *lua.LState) (string, error) {
			return p.c.Pass(ctxOf(L), secretArg(L, 2, p.host, ""))
		}),
		"apop": short(func(p *pop3Conn, L *lua.LState) (string, error) {
			return p.c.Apop(ctxOf(L), str(L, 2, ""), secretArg(L, 3, p.host, str(L, 2, "")))
		}),
		"rpop": short(func(p *pop3Conn, L *lua.LState) (string, error) { return p.c.Rpop(ctxOf(L), str(L, 2, "")) }),
		"stat": pop3Stat,
		"list": pop3List,
		"uidl": pop3Uidl,
		"retr": func(L *lua.LState, p *pop3Conn) int {
			m, err := p.c.Retr(ctxOf(L), which(L, 2))
			return pushMulti(L, m, err)
		},
		"top": func(L *lua.LState, p *pop3Conn) int {
			m, err := p.c.Top(ctxOf(L), which(L, 2), which(L, 3))
			return pushMulti(L, m, err)
		},
		"dele": func(L *lua.LState, p *pop3Conn) int {
			n := which(L, 2)
			if p.env.DryRun {
				p.env.Record(Action{Command: "DELE", Set: n})
				L.Push(lua.LString("+OK dry run: DELE not sent"))
				return 1
			}
			r, err := p.c.Dele(ctxOf(L), n)
			if err != nil {
				Raise(L, err)
			}
			L.Push(lua.LString(r))
			return 1
		},
		"rset":  short(func(p *pop3Conn, L *lua.LState) (string, error) { return p.c.Rset(ctxOf(L)) }),
		"noop":  short(func(p *pop3Conn, L *lua.LState) (string, error) { return p.c.Noop(ctxOf(L)) }),
		"quit":  short(func(p *pop3Conn, L *lua.LState) (string, error) { return p.c.Quit(ctxOf(L)) }),
		"close": func(L *lua.LState, p *pop3Conn) int { p.c.Close(); return 0 },
		"utf8":  short(func(p *pop3Conn, L *lua.LState) (string, error) { return p.c.UTF8(ctxOf(L)) }),
		"stls": short(func(p *pop3Conn, L *lua.LState) (string, error) {
			cfg, err := p.env.TLSConfigFor(SSLContext(L, L.Get(2)), p.host)
			if err != nil {
				return "", &pop3.Error{Command: "STLS", Text: err.Error()}
			}
			return p.c.Stls(ctxOf(L), cfg)
		}),
		"auth": short(func(p *pop3Conn, L *lua.LState) (string, error) {
			return p.c.Auth(ctxOf(L), authObject(L, L.CheckString(2), L.Get(3), p.host, p.port))
		}),
	}
	pop3Methods["auth_oauth"] = pop3AuthOAuth
	pop3Methods["pass"] = pop3Methods["pass_"]
}

func openPOP3(L *lua.LState, env *Env) int {
	mod := L.NewTable()
	mod.RawSetString("POP3_PORT", lua.LNumber(pop3.Port))
	mod.RawSetString("POP3_SSL_PORT", lua.LNumber(pop3.TLSPort))
	mod.RawSetString("error_proto", class(L, "pop3", "error_proto"))
	mod.RawSetString("POP3", L.NewFunction(func(L *lua.LState) int { return pop3Connect(L, env, false) }))
	mod.RawSetString("POP3_SSL", L.NewFunction(func(L *lua.LState) int { return pop3Connect(L, env, true) }))
	methods := L.CreateTable(0, 2*len(pop3Methods)+1)
	for name, f := range pop3Methods {
		fn := L.NewFunction(func(L *lua.LState) int { return f(L, checkPOP3(L)) })
		methods.RawSetString(name, fn)
		methods.RawSetString(strings.ToUpper(name), fn)
	}
	methods.RawSetString("error_proto", mod.RawGetString("error_proto"))
	mt := L.NewTypeMetatable(pop3ConnType)
	mt.RawSetString("__index", methods)
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		p := checkPOP3(L)
		L.Push(lua.LString(fmt.Sprintf("<pop3.POP3 %s:%d>", p.host, p.port)))
		return 1
	}))
	L.Push(mod)
	return 1
}

func checkPOP3(L *lua.LState) *pop3Conn {
	p, ok := L.CheckUserData(1).Value.(*pop3Conn)
	if !ok {
		L.ArgError(1, "pop3.POP3 expected")
	}
	return p
}

func pop3Connect(L *lua.LState, env *Env, useTLS bool) int {
	host, port := "", pop3.Port
	if useTLS {
		port = pop3.TLSPort
	}
	timeout := env.timeout()
	var o lua.LValue = lua.LNil
	if t, ok := L.Get(1).(*lua.LTable); ok {
		host = lua.LVAsString(t.RawGetString("host"))
		if p, ok := t.RawGetString("port").(lua.LNumber); ok {
			port = int(p)
		}
		timeout = timeoutArg(L, t.RawGetString("timeout"), timeout)
		o = t.RawGetString("ssl_context")
	} else {
		host = L.CheckString(1)
		if p, ok := L.Get(2).(lua.LNumber); ok {
			port = int(p)
		}
		if useTLS {
			if t, ok := L.Get(3).(*lua.LTable); ok {
				timeout = timeoutArg(L, t.RawGetString("timeout"), timeout)
				o = t.RawGetString("ssl_context")
			}
		} else {
			timeout = timeoutArg(L, L.Get(3), timeout)
		}
	}
	cfg, err := env.TLSConfigFor(SSLContext(L, o), host)
	if err != nil {
		Raise(L, &pop3.Error{Text: err.Error()})
	}
	if err := env.CountConnection(); err != nil {
		Raise(L, &pop3.Error{Text: err.Error()})
	}
	opts := &pop3.Options{Timeout: timeout, TLSConfig: cfg, Dial: env.Dial, Limits: env.POP3Limits, Audit: env.Audit, Debug: env.Debug, DebugWriter: env.stderr()}
	if opts.ItemOverhead == 0 {
		opts.ItemOverhead = luaItemOverhead
	}
	addr := HostPort(host, port)
	var c *pop3.Client
	if useTLS {
		c, err = pop3.DialTLS(ctxOf(L), addr, opts)
	} else {
		c, err = pop3.Dial(ctxOf(L), addr, opts)
	}
	if err != nil {
		Raise(L, err)
	}
	env.Track(c)
	ud := L.NewUserData()
	ud.Value = &pop3Conn{c: c, env: env, host: host, port: port}
	L.SetMetatable(ud, L.GetTypeMetatable(pop3ConnType))
	L.Push(ud)
	return 1
}

// linesTable makes the lines Lua strings cut from one string: one copy
// of the message, not one per line.
func linesTable(L *lua.LState, lines [][]byte) *lua.LTable {
	var b strings.Builder
	n := 0
	for _, l := range lines {
		n += len(l)
	}
	charge(L, int64(n+len(lines)*valueSize))
	b.Grow(n)
	for _, l := range lines {
		b.Write(l)
	}
	all := b.String()
	t := L.CreateTable(len(lines), 0)
	start := 0
	for _, l := range lines {
		t.Append(lua.LString(all[start : start+len(l)]))
		start += len(l)
	}
	return t
}

func pushMulti(L *lua.LState, m *pop3.Multi, err error) int {
	if err != nil {
		Raise(L, err)
	}
	L.Push(lua.LString(m.Resp))
	L.Push(linesTable(L, m.Lines))
	L.Push(lua.LNumber(m.Octets))
	return 3
}

func pop3Stat(L *lua.LState, p *pop3Conn) int {
	n, size, err := p.c.Stat(ctxOf(L))
	if err != nil {
		Raise(L, err)
	}
	L.Push(lua.LNumber(n))
	L.Push(lua.LNumber(size))
	return 2
}

// which reads a message number argument; like poplib, any string goes.
func which(L *lua.LState, n int) string {
	if L.Get(n) == lua.LNil {
		L.ArgError(n, "message number expected")
	}
	return str(L, n, "")
}

// pop3List is list([which]): with which, the status line; without,
// (resp, lines, octets, parsed).
func pop3List(L *lua.LState, p *pop3Conn) int {
	if L.Get(2) != lua.LNil {
		r, _, err := p.c.ListOne(ctxOf(L), which(L, 2))
		if err != nil {
			Raise(L, err)
		}
		L.Push(lua.LString(r))
		return 1
	}
	m, sizes, err := p.c.List(ctxOf(L))
	pushMulti(L, m, err)
	t := L.CreateTable(len(sizes), 0)
	for _, s := range sizes {
		e := L.CreateTable(0, 2)
		e.RawSetString("num", lua.LNumber(s.Num))
		e.RawSetString("size", lua.LNumber(s.Size))
		t.Append(e)
	}
	L.Push(t)
	return 4
}

func pop3Uidl(L *lua.LState, p *pop3Conn) int {
	if L.Get(2) != lua.LNil {
		r, _, err := p.c.UidlOne(ctxOf(L), which(L, 2))
		if err != nil {
			Raise(L, err)
		}
		L.Push(lua.LString(r))
		return 1
	}
	m, uids, err := p.c.Uidl(ctxOf(L))
	pushMulti(L, m, err)
	t := L.CreateTable(len(uids), 0)
	for _, u := range uids {
		e := L.CreateTable(0, 2)
		e.RawSetString("num", lua.LNumber(u.Num))
		e.RawSetString("uid", lua.LString(u.UID))
		t.Append(e)
	}
	L.Push(t)
	return 4
}

func pop3Capa(L *lua.LState, p *pop3Conn) int {
	caps, err := p.c.Capa(ctxOf(L))
	if err != nil {
		Raise(L, err)
	}
	t := L.NewTable()
	for k, v := range caps {
		t.RawSetString(k, strList(v))
	}
	L.Push(t)
	return 1
}
