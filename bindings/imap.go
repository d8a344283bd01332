package bindings

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/internal/tlsopt"
	"github.com/mailscript/mailscript/protocol/imap"
	"github.com/mailscript/mailscript/protocol/sasl"
)

const imapConnType = "imap.IMAP4"

// imapConn is the Lua object behind IMAP4(), IMAP4_SSL() and IMAP4_stream().
type imapConn struct {
	c       *imap.Client
	env     *Env
	host    string
	port    int
	mailbox string                                                                      // selected, for the dry-run plan
	redial  func(L *lua.LState, host string, port int, timeout time.Duration) *imapConn // open(): the same transport; port -1 for the default
}

type imapMethod func(L *lua.LState, m *imapConn) int

var imapMethods map[string]imapMethod

func init() {
	imapMethods = map[string]imapMethod{
		"append": imapAppend, "authenticate": imapAuthenticate, "authenticate_oauth": imapAuthenticateOAuth, "capability": imapCapability,
		"check": simpleCmd("CHECK"), "close": imapCloseMailbox, "copy": imapCopyMove("COPY"),
		"create": mailboxCmd("CREATE"), "delete": mailboxCmd("DELETE"), "deleteacl": imapDeleteACL,
		"enable": imapEnable, "expunge": imapExpunge, "fetch": imapFetch, "getacl": imapGetACL,
		"getannotation": imapGetAnnotation, "getquota": imapGetQuota, "getquotaroot": imapGetQuotaRoot,
		"id": imapID, "idle": imapIdle, "list": imapList("LIST"), "login": imapLogin,
		"login_cram_md5": imapLoginCramMD5, "login_plain": imapLoginPlain, "logout": imapLogout, "lsub": imapList("LSUB"),
		"move": imapCopyMove("MOVE"), "myrights": imapMyRights, "namespace": imapNamespace,
		"noop": simpleCmd("NOOP"), "open": imapOpen, "partial": imapPartial, "proxyauth": imapProxyAuth,
		"read": imapRead, "readline": imapReadline, "recent": imapRecent, "rename": imapRename,
		"response": imapResponse, "search": imapSearch, "select": imapSelect, "send": imapSend,
		"setacl": imapSetACL, "setannotation": imapSetAnnotation, "setquota": imapSetQuota,
		"shutdown": imapShutdown, "socket": imapSocket, "sort": imapSort, "starttls": imapStartTLS,
		"status": imapStatus, "store": imapStore, "subscribe": mailboxCmd("SUBSCRIBE"),
		"thread": imapThread, "uid": imapUID, "unsubscribe": mailboxCmd("UNSUBSCRIBE"),
		"unselect": imapUnselect, "xatom": imapXatom,
	}
}

func openIMAP(L *lua.LState, env *Env) int {
	mod := L.NewTable()
	mod.RawSetString("IMAP4_PORT", lua.LNumber(imap.Port))
	mod.RawSetString("IMAP4_SSL_PORT", lua.LNumber(imap.TLSPort))
	for _, k := range []string{"error", "abort", "readonly"} {
		mod.RawSetString(k, class(L, "imap", k))
	}
	mod.RawSetString("IMAP4", L.NewFunction(func(L *lua.LState) int { return imapConnect(L, env, "plain") }))
	mod.RawSetString("IMAP4_SSL", L.NewFunction(func(L *lua.LState) int { return imapConnect(L, env, "ssl") }))
	mod.RawSetString("IMAP4_stream", L.NewFunction(func(L *lua.LState) int { return imapConnect(L, env, "stream") }))
	mod.RawSetString("Int2AP", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(imap.Int2AP(L.CheckInt(1))))
		return 1
	}))
	mod.RawSetString("ParseFlags", L.NewFunction(func(L *lua.LState) int {
		L.Push(strList(imap.ParseFlags(L.CheckString(1))))
		return 1
	}))
	mod.RawSetString("Internaldate2tuple", L.NewFunction(func(L *lua.LState) int {
		t, ok := imap.Internaldate2Time(L.CheckString(1))
		if !ok {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(timeTable(L, t.Local()))
		return 1
	}))
	mod.RawSetString("Time2Internaldate", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(time2Internaldate(L, L.Get(1))))
		return 1
	}))

	// Method functions are made once per Lua state, lowercase and UPPERCASE.
	methods := L.CreateTable(0, 2*len(imapMethods))
	for name, f := range imapMethods {
		fn := L.NewFunction(func(L *lua.LState) int { return f(L, checkIMAP(L)) })
		methods.RawSetString(name, fn)
		methods.RawSetString(strings.ToUpper(name), fn)
	}
	mt := L.NewTypeMetatable(imapConnType)
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		if fn := methods.RawGetString(L.CheckString(2)); fn != lua.LNil {
			L.Push(fn)
			return 1
		}
		return imapAttr(L, mod)
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		m := checkIMAP(L)
		if key := L.CheckString(2); key == "debug" {
			m.c.SetDebug(L.CheckInt(3))
			return 0
		}
		L.ArgError(2, "cannot set "+L.CheckString(2))
		return 0
	}))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		m := checkIMAP(L)
		L.Push(lua.LString(fmt.Sprintf("<imap.IMAP4 %s:%d %s>", m.host, m.port, m.c.State())))
		return 1
	}))
	L.Push(mod)
	return 1
}

func timeTable(L *lua.LState, t time.Time) *lua.LTable {
	tt := L.NewTable()
	for k, v := range map[string]int{"year": t.Year(), "month": int(t.Month()), "day": t.Day(), "hour": t.Hour(),
		"min": t.Minute(), "sec": t.Second(), "wday": int(t.Weekday()) + 1, "yday": t.YearDay()} {
		tt.RawSetString(k, lua.LNumber(v))
	}
	tt.RawSetString("isdst", lua.LFalse)
	return tt
}

// time2Internaldate accepts an epoch number, an os.date("*t") table or an
// already quoted string, as imaplib's Time2Internaldate does.
func time2Internaldate(L *lua.LState, v lua.LValue) string {
	switch x := v.(type) {
	case lua.LNumber:
		return imap.Time2Internaldate(time.Unix(int64(x), 0).Local())
	case *lua.LTable:
		get := func(k string, def int) int {
			if n, ok := x.RawGetString(k).(lua.LNumber); ok {
				return int(n)
			}
			return def
		}
		t := time.Date(get("year", 1970), time.Month(get("month", 1)), get("day", 1), get("hour", 12), get("min", 0), get("sec", 0), 0, time.Local)
		return imap.Time2Internaldate(t)
	case lua.LString:
		s := string(x)
		if len(s) > 1 && s[0] == '"' && s[len(s)-1] == '"' {
			return s
		}
	}
	L.ArgError(1, "date_time not of a known type")
	return ""
}

func checkIMAP(L *lua.LState) *imapConn {
	ud := L.CheckUserData(1)
	m, ok := ud.Value.(*imapConn)
	if !ok {
		L.ArgError(1, "imap.IMAP4 expected")
	}
	return m
}

// imapAttr answers the attributes of a connection.
func imapAttr(L *lua.LState, mod *lua.LTable) int {
	m := checkIMAP(L)
	key := L.CheckString(2)
	switch key {
	case "capabilities":
		L.Push(strList(m.c.Capabilities()))
	case "state":
		L.Push(lua.LString(m.c.State()))
	case "welcome":
		L.Push(lua.LString(m.c.Welcome()))
	case "utf8_enabled":
		L.Push(lua.LBool(m.c.UTF8Enabled()))
	case "PROTOCOL_VERSION":
		L.Push(lua.LString(m.c.ProtocolVersion()))
	case "debug":
		L.Push(lua.LNumber(m.c.Debug()))
	case "host":
		L.Push(lua.LString(m.host))
	case "port":
		L.Push(lua.LNumber(m.port))
	case "is_readonly":
		L.Push(lua.LBool(m.c.IsReadOnly()))
	case "error", "abort", "readonly":
		L.Push(mod.RawGetString(key))
	default:
		L.Push(lua.LNil)
	}
	return 1
}

// SSLContext reads an ssl_context table into TLS options.
func SSLContext(L *lua.LState, v lua.LValue) tlsopt.Options {
	var o tlsopt.Options
	t, ok := v.(*lua.LTable)
	if !ok {
		return o
	}
	s := func(k string) string { return lua.LVAsString(t.RawGetString(k)) }
	o.CAFile, o.CertFile, o.KeyFile, o.ServerName, o.MinVersion = s("ca_file"), s("cert_file"), s("key_file"), s("server_name"), s("min_version")
	o.CAPEM, o.CertPEM, o.KeyPEM = s("ca_pem"), s("cert_pem"), s("key_pem")
	if vv := t.RawGetString("verify"); vv == lua.LFalse {
		o.Insecure = true
	}
	return o
}

func (e *Env) imapOptions(L *lua.LState, timeout time.Duration, tlso tlsopt.Options, host string) *imap.Options {
	cfg, err := e.TLSConfigFor(tlso, host)
	if err != nil {
		raiseIMAP(L, "error", err.Error(), "")
	}
	return &imap.Options{Timeout: timeout, TLSConfig: cfg, Dial: e.Dial, Audit: e.Audit, Debug: e.Debug, DebugWriter: e.stderr()}
}

// imapConnect is IMAP4([host [, port [, timeout]]]), IMAP4_SSL(host, port,
// opts), IMAP4_stream(command), or any of them with one table argument.
func imapConnect(L *lua.LState, env *Env, kind string) int {
	host, port := "localhost", imap.Port
	if kind == "ssl" {
		port = imap.TLSPort
	}
	timeout := env.timeout()
	var tlso tlsopt.Options
	command := ""
	if t, ok := L.Get(1).(*lua.LTable); ok {
		if h := lua.LVAsString(t.RawGetString("host")); h != "" {
			host = h
		}
		if p, ok := t.RawGetString("port").(lua.LNumber); ok {
			port = int(p)
		}
		timeout = timeoutArg(L, t.RawGetString("timeout"), timeout)
		tlso = SSLContext(L, t.RawGetString("ssl_context"))
		command = lua.LVAsString(t.RawGetString("command"))
	} else if kind == "stream" {
		command = L.CheckString(1)
	} else {
		host = str(L, 1, "localhost")
		if host == "" {
			host = "localhost"
		}
		if p, ok := L.Get(2).(lua.LNumber); ok {
			port = int(p)
		}
		if kind == "ssl" {
			if o, ok := L.Get(3).(*lua.LTable); ok {
				timeout = timeoutArg(L, o.RawGetString("timeout"), timeout)
				tlso = SSLContext(L, o.RawGetString("ssl_context"))
			}
		} else {
			timeout = timeoutArg(L, L.Get(3), timeout)
		}
	}
	L.Push(dialIMAP(L, env, kind, host, port, command, timeout, tlso))
	return 1
}

// Results: typ, data, parsed.

func dataTable(L *lua.LState, items []imap.Item) *lua.LTable {
	var size int64
	for _, it := range items {
		size += int64(len(it.Literal))
	}
	charge(L, size) // literals are copied into Lua strings
	t := L.CreateTable(len(items), 0)
	for _, it := range items {
		if it.HasLiteral {
			pair := L.CreateTable(2, 0)
			pair.Append(lua.LString(it.Text))
			pair.Append(lua.LString(it.Literal))
			t.Append(pair)
		} else {
			t.Append(lua.LString(it.Text))
		}
	}
	return t
}

func push(L *lua.LState, res *imap.Result, err error, parsed lua.LValue) int {
	if err != nil {
		Raise(L, err)
	}
	L.Push(lua.LString(res.Type))
	L.Push(dataTable(L, res.Data))
	if parsed == nil {
		parsed = lua.LNil
	}
	L.Push(parsed)
	return 3
}

// opts reads a trailing options table ({uid=true}) at n.
func uidOpt(L *lua.LState, n int) bool {
	if t, ok := L.Get(n).(*lua.LTable); ok {
		return lua.LVAsBool(t.RawGetString("uid"))
	}
	return false
}

// dry records a changing command instead of sending it.
func (m *imapConn) dry(L *lua.LState, a Action) bool {
	if !m.env.DryRun {
		return false
	}
	if a.Mailbox == "" {
		a.Mailbox = m.mailbox
	}
	m.env.Record(a)
	L.Push(lua.LString("OK"))
	L.Push(strList([]string{"dry run: " + a.Command + " not sent"}))
	L.Push(lua.LNil)
	return true
}

func simpleCmd(name string) imapMethod {
	return func(L *lua.LState, m *imapConn) int {
		ctx := ctxOf(L)
		var res *imap.Result
		var err error
		switch name {
		case "CHECK":
			res, err = m.c.Check(ctx)
		case "NOOP":
			res, err = m.c.Noop(ctx)
		}
		return push(L, res, err, nil)
	}
}

func mailboxCmd(name string) imapMethod {
	return func(L *lua.LState, m *imapConn) int {
		mb := str(L, 2, "")
		if m.dry(L, Action{Command: name, Mailbox: mb}) {
			return 3
		}
		ctx := ctxOf(L)
		var res *imap.Result
		var err error
		switch name {
		case "CREATE":
			res, err = m.c.Create(ctx, mb)
		case "DELETE":
			res, err = m.c.Delete(ctx, mb)
		case "SUBSCRIBE":
			res, err = m.c.Subscribe(ctx, mb)
		case "UNSUBSCRIBE":
			res, err = m.c.Unsubscribe(ctx, mb)
		}
		return push(L, res, err, nil)
	}
}

func imapAppend(L *lua.LState, m *imapConn) int {
	mb := str(L, 2, "INBOX")
	flags := str(L, 3, "")
	date := ""
	if v := L.Get(4); v != lua.LNil {
		date = time2Internaldate(L, v)
	}
	msg := L.CheckString(5)
	if m.dry(L, Action{Command: "APPEND", Mailbox: mb, Args: []string{flags, date, strconv.Itoa(len(msg)) + " bytes"}}) {
		return 3
	}
	res, au, err := m.c.Append(ctxOf(L), mb, flags, date, []byte(msg))
	var parsed lua.LValue
	if au != nil {
		t := L.NewTable()
		t.RawSetString("uidvalidity", lua.LNumber(au.UIDValidity))
		t.RawSetString("uid", lua.LNumber(au.UID))
		parsed = t
	}
	return push(L, res, err, parsed)
}

// authObject turns the authenticate argument into a mechanism: imaplib's
// callback, or {user=, password=} / {user=, token=} for the built-ins.
func authObject(L *lua.LState, mech string, v lua.LValue, host string, port int) sasl.Mechanism {
	switch a := v.(type) {
	case *lua.LFunction:
		return sasl.Mechanism{Name: mech, Step: func(ch []byte) ([]byte, bool) {
			L.Push(a)
			L.Push(lua.LString(ch))
			L.Call(1, 1)
			r := L.Get(-1)
			L.Pop(1)
			if r == lua.LNil {
				return nil, false
			}
			return []byte(lua.LVAsString(r)), true
		}}
	case *lua.LTable:
		user := lua.LVAsString(a.RawGetString("user"))
		pw := secretField(L, a, "password", host, user)
		tok := secretField(L, a, "token", host, user)
		switch strings.ToUpper(mech) {
		case "PLAIN":
			return sasl.Plain(lua.LVAsString(a.RawGetString("authzid")), user, pw)
		case "LOGIN":
			return sasl.Login(user, pw)
		case "CRAM-MD5":
			return sasl.CramMD5(user, pw)
		case "XOAUTH2":
			return sasl.XOAuth2(user, tok)
		case "OAUTHBEARER":
			return sasl.OAuthBearer(user, tok, host, port)
		}
		L.ArgError(2, "no built-in mechanism "+mech+" (PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER)")
	}
	L.ArgError(3, "authobject must be a function or a table")
	return sasl.Mechanism{}
}

func imapAuthenticate(L *lua.LState, m *imapConn) int {
	mech := L.CheckString(2)
	res, err := m.c.AuthenticateSASL(ctxOf(L), authObject(L, mech, L.Get(3), m.host, m.port))
	return push(L, res, err, nil)
}

func imapCapability(L *lua.LState, m *imapConn) int {
	res, caps, err := m.c.Capability(ctxOf(L))
	return push(L, res, err, strList(caps))
}

// imapCloseMailbox is imaplib's close(). In a dry run the mailbox was
// opened with EXAMINE, so CLOSE expunges nothing and may be sent.
func imapCloseMailbox(L *lua.LState, m *imapConn) int {
	res, err := m.c.CloseMailbox(ctxOf(L))
	m.mailbox = ""
	return push(L, res, err, nil)
}

func imapUnselect(L *lua.LState, m *imapConn) int {
	res, err := m.c.Unselect(ctxOf(L))
	m.mailbox = ""
	return push(L, res, err, nil)
}

func copyUIDTable(L *lua.LState, cu *imap.CopyUID) lua.LValue {
	if cu == nil {
		return lua.LNil
	}
	t := L.NewTable()
	t.RawSetString("uidvalidity", lua.LNumber(cu.UIDValidity))
	t.RawSetString("source", numList(cu.Source))
	t.RawSetString("dest", numList(cu.Dest))
	return t
}

func imapCopyMove(verb string) imapMethod {
	return func(L *lua.LState, m *imapConn) int {
		set, mb, uid := str(L, 2, ""), str(L, 3, ""), uidOpt(L, 4)
		return m.copyMove(L, verb, set, mb, uid)
	}
}

func (m *imapConn) copyMove(L *lua.LState, verb, set, mb string, uid bool) int {
	if m.dry(L, Action{Command: verb, Set: set, UID: uid, Args: []string{mb}}) {
		return 3
	}
	var res *imap.Result
	var cu *imap.CopyUID
	var err error
	if verb == "COPY" {
		res, cu, err = m.c.Copy(ctxOf(L), set, mb, uid)
	} else {
		res, cu, err = m.c.Move(ctxOf(L), set, mb, uid)
	}
	return push(L, res, err, copyUIDTable(L, cu))
}

func imapDeleteACL(L *lua.LState, m *imapConn) int {
	mb, who := str(L, 2, ""), str(L, 3, "")
	if m.dry(L, Action{Command: "DELETEACL", Mailbox: mb, Args: []string{who}}) {
		return 3
	}
	res, err := m.c.DeleteACL(ctxOf(L), mb, who)
	return push(L, res, err, nil)
}

func imapSetACL(L *lua.LState, m *imapConn) int {
	mb, who, what := str(L, 2, ""), str(L, 3, ""), str(L, 4, "")
	if m.dry(L, Action{Command: "SETACL", Mailbox: mb, Args: []string{who, what}}) {
		return 3
	}
	res, err := m.c.SetACL(ctxOf(L), mb, who, what)
	return push(L, res, err, nil)
}

func imapEnable(L *lua.LState, m *imapConn) int {
	res, enabled, err := m.c.Enable(ctxOf(L), L.CheckString(2))
	return push(L, res, err, strList(enabled))
}

func imapExpunge(L *lua.LState, m *imapConn) int {
	set, uid := "", uidOpt(L, 3)
	if _, ok := L.Get(2).(*lua.LTable); ok {
		uid = uidOpt(L, 2)
	} else {
		set = str(L, 2, "")
	}
	if uid && set == "" {
		L.ArgError(2, "expunge with uid=true needs a UID set")
	}
	if m.dry(L, Action{Command: "EXPUNGE", Set: set, UID: uid}) {
		return 3
	}
	var res *imap.Result
	var nums []uint32
	var err error
	if uid {
		res, nums, err = m.c.UIDExpunge(ctxOf(L), set)
	} else {
		res, nums, err = m.c.Expunge(ctxOf(L))
	}
	return push(L, res, err, numList(nums))
}

func imapFetch(L *lua.LState, m *imapConn) int {
	res, msgs, err := m.c.Fetch(ctxOf(L), str(L, 2, ""), str(L, 3, ""), uidOpt(L, 4))
	return push(L, res, err, fetchList(L, msgs))
}

func imapPartial(L *lua.LState, m *imapConn) int {
	res, msgs, err := m.c.Partial(ctxOf(L), str(L, 2, ""), str(L, 3, ""), int64(L.CheckInt(4)), int64(L.CheckInt(5)))
	return push(L, res, err, fetchList(L, msgs))
}

func imapStore(L *lua.LState, m *imapConn) int {
	set, cmd, flags, uid := str(L, 2, ""), str(L, 3, ""), str(L, 4, ""), uidOpt(L, 5)
	return m.store(L, set, cmd, flags, uid)
}

func (m *imapConn) store(L *lua.LState, set, cmd, flags string, uid bool) int {
	if m.dry(L, Action{Command: "STORE", Set: set, UID: uid, Args: []string{cmd, flags}}) {
		return 3
	}
	res, msgs, err := m.c.Store(ctxOf(L), set, cmd, flags, uid)
	return push(L, res, err, fetchList(L, msgs))
}

func imapGetACL(L *lua.LState, m *imapConn) int {
	res, acl, err := m.c.GetACL(ctxOf(L), str(L, 2, ""))
	var parsed lua.LValue
	if acl != nil {
		t := L.NewTable()
		t.RawSetString("mailbox", lua.LString(acl.Mailbox))
		rights := L.NewTable()
		for _, e := range acl.Entries {
			rights.RawSetString(e.Identifier, lua.LString(e.Rights))
		}
		t.RawSetString("rights", rights)
		parsed = t
	}
	return push(L, res, err, parsed)
}

func imapGetAnnotation(L *lua.LState, m *imapConn) int {
	res, err := m.c.GetAnnotation(ctxOf(L), str(L, 2, ""), str(L, 3, ""), str(L, 4, ""))
	return push(L, res, err, nil)
}

func imapSetAnnotation(L *lua.LState, m *imapConn) int {
	var args []string
	for i := 2; i <= L.GetTop(); i++ {
		args = append(args, str(L, i, ""))
	}
	if m.dry(L, Action{Command: "SETANNOTATION", Args: args}) {
		return 3
	}
	res, err := m.c.SetAnnotation(ctxOf(L), args...)
	return push(L, res, err, nil)
}

func quotaTable(L *lua.LState, qs []*imap.Quota) *lua.LTable {
	t := L.NewTable()
	for _, q := range qs {
		e := L.NewTable()
		e.RawSetString("root", lua.LString(q.Root))
		for _, r := range q.Resources {
			rr := L.NewTable()
			rr.RawSetString("usage", lua.LNumber(r.Usage))
			rr.RawSetString("limit", lua.LNumber(r.Limit))
			e.RawSetString(strings.ToLower(r.Name), rr)
		}
		t.Append(e)
	}
	return t
}

func imapGetQuota(L *lua.LState, m *imapConn) int {
	res, q, err := m.c.GetQuota(ctxOf(L), str(L, 2, ""))
	return push(L, res, err, quotaTable(L, q))
}

func imapSetQuota(L *lua.LState, m *imapConn) int {
	root, limits := str(L, 2, ""), str(L, 3, "")
	if m.dry(L, Action{Command: "SETQUOTA", Args: []string{root, limits}}) {
		return 3
	}
	res, q, err := m.c.SetQuota(ctxOf(L), root, limits)
	return push(L, res, err, quotaTable(L, q))
}

func imapGetQuotaRoot(L *lua.LState, m *imapConn) int {
	res, qr, err := m.c.GetQuotaRoot(ctxOf(L), str(L, 2, ""))
	if err != nil {
		Raise(L, err)
	}
	L.Push(lua.LString(res.Type))
	if res.Groups != nil {
		d := L.NewTable()
		d.Append(dataTable(L, res.Groups[0]))
		d.Append(dataTable(L, res.Groups[1]))
		L.Push(d)
	} else {
		L.Push(dataTable(L, res.Data))
	}
	if qr == nil {
		L.Push(lua.LNil)
		return 3
	}
	t := L.NewTable()
	t.RawSetString("mailbox", lua.LString(qr.Mailbox))
	t.RawSetString("roots", strList(qr.Roots))
	t.RawSetString("quotas", quotaTable(L, qr.Quotas))
	L.Push(t)
	return 3
}

func imapID(L *lua.LState, m *imapConn) int {
	var fields []string
	if t, ok := L.Get(2).(*lua.LTable); ok {
		t.ForEach(func(k, v lua.LValue) {
			fields = append(fields, lua.LVAsString(k), lua.LVAsString(v))
		})
	}
	res, id, err := m.c.ID(ctxOf(L), fields)
	var parsed lua.LValue
	if id != nil {
		t := L.NewTable()
		for k, v := range id {
			t.RawSetString(k, lua.LString(v))
		}
		parsed = t
	}
	return push(L, res, err, parsed)
}

func listTable(L *lua.LState, es []*imap.ListEntry) *lua.LTable {
	t := L.CreateTable(len(es), 0)
	for _, e := range es {
		x := L.NewTable()
		x.RawSetString("flags", strList(e.Flags))
		x.RawSetString("delimiter", nstr(e.Delimiter, e.DelimiterNil))
		x.RawSetString("name", lua.LString(e.Name))
		x.RawSetString("raw_name", lua.LString(e.RawName))
		t.Append(x)
	}
	return t
}

func imapList(name string) imapMethod {
	return func(L *lua.LState, m *imapConn) int {
		dir, pat := str(L, 2, `""`), str(L, 3, "*")
		var res *imap.Result
		var es []*imap.ListEntry
		var err error
		if name == "LIST" {
			res, es, err = m.c.List(ctxOf(L), dir, pat)
		} else {
			res, es, err = m.c.Lsub(ctxOf(L), dir, pat)
		}
		return push(L, res, err, listTable(L, es))
	}
}

func imapLogin(L *lua.LState, m *imapConn) int {
	user := str(L, 2, "")
	res, err := m.c.Login(ctxOf(L), user, secretArg(L, 3, m.host, user))
	return push(L, res, err, nil)
}

func imapLoginCramMD5(L *lua.LState, m *imapConn) int {
	user := str(L, 2, "")
	res, err := m.c.LoginCramMD5(ctxOf(L), user, secretArg(L, 3, m.host, user))
	return push(L, res, err, nil)
}

func imapLogout(L *lua.LState, m *imapConn) int {
	res := m.c.Logout(ctxOf(L)) // closes the connection
	m.env.Untrack(m.c)
	return push(L, res, nil, nil)
}

func imapMyRights(L *lua.LState, m *imapConn) int {
	res, r, err := m.c.MyRights(ctxOf(L), str(L, 2, ""))
	var parsed lua.LValue
	if r != nil {
		t := L.NewTable()
		t.RawSetString("mailbox", lua.LString(r.Mailbox))
		t.RawSetString("rights", lua.LString(r.Rights))
		parsed = t
	}
	return push(L, res, err, parsed)
}

func imapNamespace(L *lua.LState, m *imapConn) int {
	res, ns, err := m.c.Namespace(ctxOf(L))
	var parsed lua.LValue
	if ns != nil {
		t := L.NewTable()
		for k, list := range map[string][]imap.Namespace{"personal": ns.Personal, "other": ns.Other, "shared": ns.Shared} {
			lt := L.NewTable()
			for _, n := range list {
				e := L.NewTable()
				e.RawSetString("prefix", lua.LString(n.Prefix))
				e.RawSetString("delimiter", nstr(n.Delimiter, n.DelimiterNil))
				lt.Append(e)
			}
			t.RawSetString(k, lt)
		}
		parsed = t
	}
	return push(L, res, err, parsed)
}

func imapProxyAuth(L *lua.LState, m *imapConn) int {
	res, err := m.c.ProxyAuth(ctxOf(L), str(L, 2, ""))
	return push(L, res, err, nil)
}

func imapRead(L *lua.LState, m *imapConn) int {
	b, err := m.c.Read(ctxOf(L), int64(L.CheckInt(2)))
	if err != nil {
		Raise(L, err)
	}
	L.Push(lua.LString(b))
	return 1
}

func imapReadline(L *lua.LState, m *imapConn) int {
	b, err := m.c.ReadLine(ctxOf(L))
	if err != nil {
		Raise(L, err)
	}
	L.Push(lua.LString(b))
	return 1
}

func imapSend(L *lua.LState, m *imapConn) int {
	if m.env.DryRun {
		raiseIMAP(L, "error", "send is not allowed in a dry run: its effect cannot be known", "SEND")
	}
	if err := m.c.Send(ctxOf(L), []byte(L.CheckString(2))); err != nil {
		Raise(L, err)
	}
	return 0
}

func imapRecent(L *lua.LState, m *imapConn) int {
	res, err := m.c.Recent(ctxOf(L))
	return push(L, res, err, nil)
}

func imapRename(L *lua.LState, m *imapConn) int {
	o, n := str(L, 2, ""), str(L, 3, "")
	if m.dry(L, Action{Command: "RENAME", Mailbox: o, Args: []string{n}}) {
		return 3
	}
	res, err := m.c.Rename(ctxOf(L), o, n)
	return push(L, res, err, nil)
}

func imapResponse(L *lua.LState, m *imapConn) int {
	code := strings.ToUpper(L.CheckString(2))
	items, _ := m.c.Response(code)
	L.Push(lua.LString(code))
	L.Push(dataTable(L, items))
	return 2
}

// criteria collects the search criteria from n on, dropping a trailing
// options table.
func criteria(L *lua.LState, n int) []string {
	var out []string
	for i := n; i <= L.GetTop(); i++ {
		if _, ok := L.Get(i).(*lua.LTable); ok {
			break
		}
		out = append(out, str(L, i, ""))
	}
	return out
}

func lastUID(L *lua.LState) bool { return uidOpt(L, L.GetTop()) }

func imapSearch(L *lua.LState, m *imapConn) int {
	res, nums, err := m.c.Search(ctxOf(L), str(L, 2, ""), criteria(L, 3), lastUID(L))
	hits := numList(nums)
	if err == nil {
		// ESEARCH's RETURN (MIN MAX COUNT) answers beside the hits
		es, e := res.ESearch()
		if err = e; es != nil {
			for _, f := range []struct {
				key string
				has bool
				n   uint32
			}{{"min", es.HasMin, es.Min}, {"max", es.HasMax, es.Max}, {"count", es.HasCount, es.Count}} {
				if f.has {
					hits.RawSetString(f.key, lua.LNumber(f.n))
				}
			}
		}
	}
	return push(L, res, err, hits)
}

func imapSort(L *lua.LState, m *imapConn) int {
	res, nums, err := m.c.Sort(ctxOf(L), str(L, 2, ""), str(L, 3, ""), criteria(L, 4), lastUID(L))
	return push(L, res, err, numList(nums))
}

func threadTable(L *lua.LState, ts []imap.Thread) *lua.LTable {
	t := L.CreateTable(len(ts), 0)
	for _, x := range ts {
		if x.Num == 0 {
			t.Append(threadTable(L, x.List))
		} else {
			t.Append(lua.LNumber(x.Num))
		}
	}
	return t
}

func imapThread(L *lua.LState, m *imapConn) int {
	res, ts, err := m.c.Thread(ctxOf(L), str(L, 2, ""), str(L, 3, ""), criteria(L, 4), lastUID(L))
	return push(L, res, err, threadTable(L, ts))
}

func imapSelect(L *lua.LState, m *imapConn) int {
	mb := str(L, 2, "INBOX")
	readonly := lua.LVAsBool(L.Get(3)) || m.env.DryRun // a dry run only ever EXAMINEs
	res, st, err := m.c.Select(ctxOf(L), mb, readonly)
	if err == nil && res.Type == "OK" {
		m.mailbox = mb
	}
	var parsed lua.LValue
	if st != nil {
		t := L.NewTable()
		optNum(t, "exists", st.Exists)
		optNum(t, "recent", st.Recent)
		optNum(t, "uidvalidity", st.UIDValidity)
		optNum(t, "uidnext", st.UIDNext)
		optNum(t, "unseen", st.Unseen)
		t.RawSetString("flags", strList(st.Flags))
		t.RawSetString("permanentflags", strList(st.PermanentFlags))
		t.RawSetString("readonly", lua.LBool(st.ReadOnly))
		if st.HighestModSeq > 0 {
			t.RawSetString("highestmodseq", lua.LString(strconv.FormatUint(st.HighestModSeq, 10)))
		}
		parsed = t
	}
	return push(L, res, err, parsed)
}

func imapShutdown(L *lua.LState, m *imapConn) int {
	m.c.Close()
	m.env.Untrack(m.c)
	return 0
}

func imapSocket(L *lua.LState, m *imapConn) int {
	nc := m.c.Conn()
	if nc == nil {
		L.Push(lua.LNil)
		return 1
	}
	t := L.NewTable()
	t.RawSetString("local", lua.LString(nc.LocalAddr().String()))
	t.RawSetString("remote", lua.LString(nc.RemoteAddr().String()))
	t.RawSetString("tls", lua.LBool(m.c.TLS()))
	L.Push(t)
	return 1
}

func imapStartTLS(L *lua.LState, m *imapConn) int {
	cfg, err := m.env.TLSConfigFor(SSLContext(L, L.Get(2)), m.host)
	if err != nil {
		raiseIMAP(L, "error", err.Error(), "STARTTLS")
	}
	res, err := m.c.StartTLS(ctxOf(L), cfg)
	return push(L, res, err, nil)
}

func imapStatus(L *lua.LState, m *imapConn) int {
	res, st, err := m.c.Status(ctxOf(L), str(L, 2, ""), str(L, 3, ""))
	var parsed lua.LValue
	if st != nil {
		t := L.NewTable()
		optNum(t, "messages", st.Messages)
		optNum(t, "recent", st.Recent)
		optNum(t, "uidnext", st.UIDNext)
		optNum(t, "uidvalidity", st.UIDValidity)
		optNum(t, "unseen", st.Unseen)
		optNum(t, "size", st.Size)
		if st.HighestModSeq > 0 {
			t.RawSetString("highestmodseq", lua.LString(strconv.FormatUint(st.HighestModSeq, 10)))
		}
		parsed = t
	}
	return push(L, res, err, parsed)
}

// imapUID is imaplib's uid(command, ...).
func imapUID(L *lua.LState, m *imapConn) int {
	cmd := strings.ToUpper(L.CheckString(2))
	var args []string
	for i := 3; i <= L.GetTop(); i++ {
		args = append(args, str(L, i, ""))
	}
	switch {
	case cmd == "STORE" && len(args) >= 3:
		return m.store(L, args[0], args[1], args[2], true)
	case (cmd == "COPY" || cmd == "MOVE") && len(args) >= 2:
		return m.copyMove(L, cmd, args[0], args[1], true)
	case cmd == "EXPUNGE" && m.env.DryRun:
		if m.dry(L, Action{Command: "EXPUNGE", Set: strings.Join(args, " "), UID: true}) {
			return 3
		}
	}
	res, v, err := m.c.UID(ctxOf(L), cmd, args...)
	var parsed lua.LValue
	switch x := v.(type) {
	case []*imap.FetchMessage:
		parsed = fetchList(L, x)
	case []uint32:
		parsed = numList(x)
	case []imap.Thread:
		parsed = threadTable(L, x)
	case *imap.CopyUID:
		parsed = copyUIDTable(L, x)
	}
	return push(L, res, err, parsed)
}

func imapXatom(L *lua.LState, m *imapConn) int {
	if m.env.DryRun {
		raiseIMAP(L, "error", "xatom is not allowed in a dry run: its effect cannot be known", "XATOM")
	}
	var args []string
	for i := 3; i <= L.GetTop(); i++ {
		args = append(args, str(L, i, ""))
	}
	res, err := m.c.Xatom(ctxOf(L), L.CheckString(2), args...)
	return push(L, res, err, nil)
}
