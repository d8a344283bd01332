// Package stdlib is the Lua library filter scripts are written in, above
// the imaplib and poplib mirrors: account (connections, mailboxes by name
// or special use, typed search, sets of UIDs and batched, pipelined
// actions that never expunge what they did not mark). It uses
// protocol/imap's Go API; the wire stays there.
package stdlib

import (
	"context"
	_ "embed"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/protocol/imap"
)

//go:embed lua/rules.lua
var rulesSource string

// Preload makes require load the library's modules: account, rules,
// state, re, json, log, time, pipe and sieve. store keeps state (nil: in memory).
func Preload(L *lua.LState, env *bindings.Env, store Store) {
	if store == nil {
		store = &MemStore{}
	}
	L.PreloadModule("account", func(L *lua.LState) int { return openAccount(L, env) })
	L.PreloadModule("state", func(L *lua.LState) int { return openState(L, env, store) })
	L.PreloadModule("rules", func(L *lua.LState) int {
		fn, err := L.Load(strings.NewReader(rulesSource), rulesChunk)
		if err != nil {
			L.RaiseError("rules: %v", err)
		}
		L.Push(fn)
		L.Push(rulesHost(L, env))
		L.Call(1, 1)
		return 1
	})
	L.PreloadModule("sieve", func(L *lua.LState) int { return openSieve(L, env, store) })
	L.PreloadModule("watch", func(L *lua.LState) int { return openWatch(L, env, store) })
	preloadHelpers(L, env)
}

const (
	accountType = "account.Account"
	mailboxType = "account.Mailbox"
	setType     = "account.Set"
)

// account is one logged-in IMAP connection.
type account struct {
	c        *imap.Client
	env      *bindings.Env
	host     string
	user     string
	sep      string // the server's hierarchy separator
	prefix   string // personal namespace prefix ("INBOX." on Courier)
	special  map[string]string
	selected string
	readonly bool
	// stale: mail was appended to the selected mailbox; a NOOP goes before
	// the next command there, as Courier's view grows only on a rescan
	stale    bool
	validity int64     // the selected mailbox's UIDVALIDITY, from its SELECT (-1: not sent)
	inflight *prefetch // a prefetch holding the connection
	queue    []queued  // actions not sent yet
	actions  int       // actions queued so far, numbering them
	report   []Report
	// redial opens and logs in another connection like this one (watch).
	redial func(ctx context.Context) (*imap.Client, error)

	port      int  // in the account's id: two servers on one host keep apart state
	subscribe bool // subscribe_created: folders the account creates are subscribed
}

// Report is one action an account did (or, in a dry run, would do).
type Report struct {
	Action, Mailbox, Dest, UIDs, Note string
	Count                             int
}

func openAccount(L *lua.LState, env *bindings.Env) int {
	mod := L.NewTable()
	L.SetFuncs(mod, map[string]lua.LGFunction{
		"connect": func(L *lua.LState) int { return connect(L, env) },
		"secret":  func(L *lua.LState) int { return secret(L, env) },
		"pop3":    func(L *lua.LState) int { return connectPOP3(L, env) },
	})
	registerPOP3Account(L)
	mod.RawSetString("dry_run", lua.LBool(env.DryRun))
	acctMT := L.NewTypeMetatable(accountType)
	acctMT.RawSetString("__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"mailbox": acctMailbox, "mailboxes": acctMailboxes, "close": acctClose, "report": acctReport, "watch": acctWatch,
		"flush": func(L *lua.LState) int { checkAccount(L, 1).sync(L); return 0 },
		"id": func(L *lua.LState) int {
			a := checkAccount(L, 1)
			L.Push(lua.LString(a.id()))
			return 1
		},
	}))
	addMailboxMethods(L, acctMT.RawGetString("__index").(*lua.LTable))
	mbMT := L.NewTypeMetatable(mailboxType)
	mbMT.RawSetString("__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"search": mbSearch, "messages": mbMessages, "all": mbAll, "status": mbStatus, "append": mbAppend,
		"set":  mbSet,
		"name": func(L *lua.LState) int { L.Push(lua.LString(checkMailbox(L, 1).name)); return 1 },
		"account": func(L *lua.LState) int {
			m := checkMailbox(L, 1)
			ud := L.NewUserData()
			ud.Value = m.a
			L.SetMetatable(ud, L.GetTypeMetatable(accountType))
			L.Push(ud)
			return 1
		},
	}))
	wrapMailboxIndex(L, mbMT)
	mbMT.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("<mailbox " + checkMailbox(L, 1).name + ">"))
		return 1
	}))
	setMT := L.NewTypeMetatable(setType)
	setMT.RawSetString("__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"flag": setFlag, "unflag": setUnflag, "copy": setCopy, "move": setMove, "delete": setDelete,
		"uids": setUIDs, "count": setCount,
	}))
	addSetMethods(L, setMT.RawGetString("__index").(*lua.LTable))
	setMT.RawSetString("__add", L.NewFunction(func(L *lua.LState) int { return setOp(L, union) }))
	setMT.RawSetString("__mul", L.NewFunction(func(L *lua.LState) int { return setOp(L, intersect) }))
	setMT.RawSetString("__sub", L.NewFunction(func(L *lua.LState) int { return setOp(L, difference) }))
	setMT.RawSetString("__len", L.NewFunction(setCount))
	setMT.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		s := checkSet(L, 1)
		L.Push(lua.LString(fmt.Sprintf("<%d messages in %s>", len(s.uids), s.mbox.name)))
		return 1
	}))
	L.Push(mod)
	return 1
}

func fail(L *lua.LState, format string, args ...any) {
	bindings.Raise(L, &imap.Error{Kind: imap.KindError, Text: fmt.Sprintf(format, args...)})
}

// secret is account.secret("env:NAME" | "cmd:COMMAND" | "netrc" |
// "prompt"): a bindings.Secret, resolved at once except netrc, which
// needs the host and user connect knows (cmd: runs again for every later
// use). Only env: works in the sandbox.
func secret(L *lua.LState, env *bindings.Env) int {
	spec := L.CheckString(1)
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "env":
		get := os.Getenv
		if env.Sandbox {
			get = env.Getenv
		}
		v := ""
		if get != nil {
			v = get(arg)
		}
		if v == "" {
			fail(L, "secret %s: environment variable %s is not set", spec, arg)
		}
		L.Push(fixedSecret(L, spec, v))
	case "cmd":
		if env.Sandbox {
			fail(L, "secret cmd: is not allowed in the sandbox")
		}
		run := func(ctx context.Context) (string, error) {
			out, err := exec.CommandContext(ctx, "/bin/sh", "-c", arg).Output()
			if err != nil {
				return "", fmt.Errorf("secret cmd: %v", err) // never the output: it may be the secret
			}
			return strings.TrimRight(string(out), "\r\n"), nil
		}
		first, err := run(bindings.Ctx(L))
		if err != nil {
			fail(L, "%v", err)
		}
		// the first use takes what was read now; later ones (reconnects)
		// run the command again, so a changed password is taken up
		var used atomic.Bool
		L.Push(bindings.NewSecret(L, &bindings.Secret{Label: "cmd", Value: func(string, string) (string, error) {
			if !used.Swap(true) {
				return first, nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			return run(ctx)
		}}))
	case "netrc":
		if env.Sandbox {
			fail(L, "secret netrc is not allowed in the sandbox")
		}
		L.Push(bindings.NewSecret(L, &bindings.Secret{Label: "netrc", Value: netrcPassword}))
	case "prompt":
		if env.Sandbox {
			fail(L, "secret prompt is not allowed in the sandbox")
		}
		pw, err := promptPassword(arg)
		if err != nil {
			fail(L, "secret prompt: %v", err)
		}
		L.Push(fixedSecret(L, "prompt", pw))
	default:
		fail(L, "secret %q: want env:NAME, cmd:COMMAND, netrc or prompt (a plain string is a literal password)", spec)
	}
	return 1
}

func fixedSecret(L *lua.LState, label, v string) lua.LValue {
	return bindings.NewSecret(L, &bindings.Secret{Label: label, Value: func(string, string) (string, error) { return v, nil }})
}

// tlsMode reads a connect table's tls ("implicit", the default,
// "starttls" or "none") and sets *port to the mode's default when it is
// 0. A password or token goes in clear text only to the local host,
// unless allow_plaintext says so.
func tlsMode(o *lua.LTable, host string, port *int, tlsPort, plainPort int, raise func(format string, args ...any)) string {
	mode := lua.LVAsString(o.RawGetString("tls"))
	switch mode {
	case "", "implicit":
		mode = "implicit"
		if *port == 0 {
			*port = tlsPort
		}
	case "starttls", "none":
		if *port == 0 {
			*port = plainPort
		}
		if mode == "none" && !isLoopback(host) && !lua.LVAsBool(o.RawGetString("allow_plaintext")) {
			raise("refusing to send a password in clear text to %s (tls=\"none\"); use tls=\"starttls\" or \"implicit\", or set allow_plaintext=true", host)
		}
	default:
		raise("tls must be \"implicit\", \"starttls\" or \"none\"")
	}
	return mode
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// connect is account.connect{host=, port=, user=, password=, tls=, ...}.
func connect(L *lua.LState, env *bindings.Env) int {
	o := L.CheckTable(1)
	get := func(k string) string { return lua.LVAsString(o.RawGetString(k)) }
	host, user := get("host"), get("user")
	port := 0
	if p, ok := o.RawGetString("port").(lua.LNumber); ok {
		port = int(p)
	}
	raise := func(format string, args ...any) { fail(L, "account.connect: "+format, args...) }
	src := oauthAccount(L, env, o, &host, &user, &port, false, raise)
	if host == "" {
		fail(L, "account.connect: host is required")
	}
	password, secret := "", o.RawGetString("password")
	if src == nil {
		password = connectPassword(L, o, host, user, raise)
	}
	var dialed atomic.Bool // the first dial uses password as read above
	mode := tlsMode(o, host, &port, imap.TLSPort, imap.Port, raise)
	cfg, err := env.TLSConfigFor(bindings.SSLContext(L, o.RawGetString("ssl_context")), host)
	if err != nil {
		fail(L, "account.connect: %v", err)
	}
	timeout := env.NetTimeout()
	if n, ok := o.RawGetString("timeout").(lua.LNumber); ok && n > 0 {
		timeout = time.Duration(float64(n) * float64(time.Second))
	}
	if err := env.CountConnection(); err != nil {
		fail(L, "%v", err)
	}
	opts := &imap.Options{Timeout: timeout, TLSConfig: cfg, Dial: env.Dial, Audit: env.Audit, Debug: env.Debug, DebugWriter: env.Stderr}
	addr := bindings.HostPort(host, port)
	// dial connects and logs in. Nothing is pipelined behind LOGIN: Courier's
	// login process hands the connection to imapd and drops what it had read
	// past LOGIN, so a command sent in the same packet is never answered
	// (issue 12); the round trip is saved after the reply instead, by sending
	// NAMESPACE and LIST together.
	dial := func(ctx context.Context) (*imap.Client, error) {
		var c *imap.Client
		var err error
		if mode == "implicit" {
			c, err = imap.DialTLS(ctx, addr, opts)
		} else {
			c, err = imap.Dial(ctx, addr, opts)
			if err == nil && mode == "starttls" {
				if _, err = c.StartTLS(ctx, nil); err != nil {
					c.Close()
				}
			}
		}
		if err != nil {
			return nil, err
		}
		if c.State() == imap.StateNonAuth && src != nil { // a fresh token on every connection and reconnect
			if err := src.IMAP(ctx, c, user, "", host, port); err != nil {
				c.Close()
				return nil, err
			}
		} else if c.State() == imap.StateNonAuth {
			pw := password
			if dialed.Swap(true) { // a reconnect reads the secret again: a changed password is taken up
				var err error
				if pw, _, err = bindings.SecretValue(secret, host, user); err != nil {
					c.Close()
					return nil, fmt.Errorf("secret: %w", err)
				}
			}
			if _, err := c.Login(ctx, user, pw); err != nil {
				c.Close()
				return nil, err
			}
		}
		return c, nil
	}
	ctx := bindings.Ctx(L)
	a := &account{env: env, host: host, user: user, sep: "/", special: map[string]string{}, port: port,
		subscribe: lua.LVAsBool(o.RawGetString("subscribe_created")),
		redial: func(ctx context.Context) (*imap.Client, error) {
			if err := env.CountConnection(); err != nil { // a reconnect counts too
				return nil, err
			}
			c, err := dial(ctx)
			if err == nil {
				env.Track(c)
			}
			return c, err
		}}
	c, err := dial(ctx)
	if err != nil {
		bindings.Raise(L, err)
	}
	env.Track(c)
	env.OnEnd(a.wait) // a read-ahead still running ends before the run closes c
	ns, list := discoverCommands()
	if err := c.Execute(ctx, ns, list); err != nil {
		c.Close()
		bindings.Raise(L, err)
	}
	a.c = c
	if err := a.discover(ns, list); err != nil {
		c.Close()
		bindings.Raise(L, err)
	}
	ud := L.NewUserData()
	ud.Value = a
	L.SetMetatable(ud, L.GetTypeMetatable(accountType))
	L.Push(ud)
	return 1
}

// discoverCommands are NAMESPACE and LIST, sent together after LOGIN:
// NAMESPACE goes whatever the capabilities; a server without it answers
// BAD and the LIST replies suffice.
func discoverCommands() (ns, list *imap.Command) {
	return imap.ListNamespaces(), imap.ListMailboxes("", "*")
}

// discover learns the separator, the personal namespace and the
// special-use mailboxes from the replies to discoverCommands.
func (a *account) discover(ns, listCmd *imap.Command) error {
	if n, err := ns.Namespaces(); err == nil && n != nil && len(n.Personal) > 0 {
		a.prefix, a.sep = n.Personal[0].Prefix, n.Personal[0].Delimiter
	}
	if err := listCmd.Err(); err != nil {
		return err
	}
	// a malformed LIST line costs its mailbox, not the account
	list, _ := listCmd.Mailboxes()
	for _, e := range list {
		if a.sep == "" && e.Delimiter != "" {
			a.sep = e.Delimiter
		}
		for _, f := range e.Flags {
			switch strings.ToLower(f) {
			case `\all`, `\archive`, `\drafts`, `\flagged`, `\junk`, `\sent`, `\trash`:
				if _, ok := a.special[strings.ToLower(f)]; !ok {
					a.special[strings.ToLower(f)] = e.Name
				}
			}
		}
	}
	if a.sep == "" {
		a.sep = "/"
	}
	// servers that list special uses only when asked: the usual names
	for use, names := range commonNames {
		if _, ok := a.special[use]; ok {
			continue
		}
		for _, e := range list {
			for _, n := range names {
				if strings.EqualFold(a.userName(e.Name), n) {
					a.special[use] = e.Name
				}
			}
		}
	}
	return nil
}

var commonNames = map[string][]string{
	`\junk`: {"Junk", "Spam", "Junk E-mail"}, `\trash`: {"Trash", "Deleted Items", "Deleted Messages"},
	`\sent`: {"Sent", "Sent Items", "Sent Messages"}, `\drafts`: {"Drafts"}, `\archive`: {"Archive"},
}

// serverName maps a "/"-separated name to the server's.
func (a *account) serverName(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	n := strings.ReplaceAll(name, "/", a.sep)
	if a.prefix != "" && !strings.HasPrefix(n, a.prefix) {
		n = a.prefix + n
	}
	return n
}

// userName maps a server name back to "/"-separated, without the prefix.
func (a *account) userName(server string) string {
	n := strings.TrimPrefix(server, a.prefix)
	if a.sep != "/" {
		n = strings.ReplaceAll(n, a.sep, "/")
	}
	return n
}

func checkAccount(L *lua.LState, n int) *account {
	a, ok := L.CheckUserData(n).Value.(*account)
	if !ok {
		L.ArgError(n, "account expected")
	}
	return a
}

// wait joins a prefetch in flight before the connection is used again.
func (a *account) wait() {
	if a.inflight != nil {
		a.inflight.stop()
		a.inflight = nil
	}
}

type mailbox struct {
	a      *account
	name   string // as the user wrote it, "/"-separated
	server string
}

func checkMailbox(L *lua.LState, n int) *mailbox {
	m, ok := L.CheckUserData(n).Value.(*mailbox)
	if !ok {
		L.ArgError(n, "mailbox expected")
	}
	return m
}

func pushMailbox(L *lua.LState, a *account, name, server string) {
	ud := L.NewUserData()
	ud.Value = &mailbox{a: a, name: name, server: server}
	L.SetMetatable(ud, L.GetTypeMetatable(mailboxType))
	L.Push(ud)
}

// acctMailbox is acct:mailbox("Lists/golang") or acct:mailbox{special="\\Junk"}.
func acctMailbox(L *lua.LState) int {
	a := checkAccount(L, 1)
	if t, ok := L.Get(2).(*lua.LTable); ok {
		use := strings.ToLower(lua.LVAsString(t.RawGetString("special")))
		if !strings.HasPrefix(use, `\`) {
			use = `\` + use
		}
		server, ok := a.special[use]
		if !ok {
			fail(L, "no mailbox with special use %s on this server", use)
		}
		pushMailbox(L, a, a.userName(server), server)
		return 1
	}
	name := L.CheckString(2)
	pushMailbox(L, a, name, a.mustServerName(L, name))
	return 1
}

func acctMailboxes(L *lua.LState) int {
	a := checkAccount(L, 1)
	a.sync(L)
	_, list, err := a.c.List(bindings.Ctx(L), "", "*")
	if err != nil {
		bindings.Raise(L, err)
	}
	t := L.NewTable()
	for _, e := range list {
		t.Append(lua.LString(a.userName(e.Name)))
	}
	L.Push(t)
	return 1
}

// acctClose sends what is queued and LOGOUT together, then closes.
func acctClose(L *lua.LState) int {
	a := checkAccount(L, 1)
	if len(a.queue) == 0 {
		// nothing left to confirm: LOGOUT goes, and no round trip is
		// spent waiting for the server's goodbye
		a.wait()
		a.c.Start(bindings.Ctx(L), &imap.Command{Name: "LOGOUT"})
		a.c.Close()
		a.env.Untrack(a.c)
		return 0
	}
	defer a.env.Untrack(a.c)
	defer a.c.Close()
	a.sync(L, &imap.Command{Name: "LOGOUT"})
	return 0
}

func acctReport(L *lua.LState) int {
	a := checkAccount(L, 1)
	a.sync(L) // what is reported has been done
	t := L.NewTable()
	for _, r := range a.report {
		e := L.NewTable()
		e.RawSetString("action", lua.LString(r.Action))
		e.RawSetString("mailbox", lua.LString(r.Mailbox))
		e.RawSetString("dest", lua.LString(r.Dest))
		e.RawSetString("uids", lua.LString(r.UIDs))
		e.RawSetString("count", lua.LNumber(r.Count))
		e.RawSetString("note", lua.LString(r.Note))
		t.Append(e)
	}
	L.Push(t)
	return 1
}

// selected says m is the selected mailbox, read-write unless in a dry
// run (a later action would need it so, and a second SELECT costs a round
// trip); a dry run uses EXAMINE.
func (m *mailbox) selected() bool {
	a := m.a
	return a.selected == m.server && (!a.readonly || a.env.DryRun)
}

// ready selects m for actions to be queued on it; with m selected it
// sends nothing, so the actions of a script go out together.
func (m *mailbox) ready(L *lua.LState) {
	if !m.selected() {
		m.use(L)
	}
}

// use sends the queued actions and waits for them (servers may run
// pipelined commands at once, so a query behind them could miss their
// effect), selects m unless it is selected, and sends then pipelined
// behind the SELECT; the connection is the caller's afterwards.
func (m *mailbox) use(L *lua.LState, then ...*imap.Command) {
	a := m.a
	a.sync(L)
	if m.selected() {
		if a.stale {
			then = append([]*imap.Command{{Name: "NOOP"}}, then...)
			a.stale = false
		}
		a.execute(L, then...)
		return
	}
	readonly := a.env.DryRun
	res, st, err := a.c.SelectThen(bindings.Ctx(L), m.server, readonly, then...)
	if err != nil {
		bindings.Raise(L, err)
	}
	if res.Type != "OK" {
		bindings.Raise(L, &imap.Error{Kind: imap.KindError, Command: "SELECT", Code: res.Status.Code, Text: m.name + ": " + res.Status.Text})
	}
	a.noteSelected(m.server, readonly, st)
}

// noteSelected records a SELECT or EXAMINE of server that succeeded.
func (a *account) noteSelected(server string, readonly bool, st *imap.MailboxStatus) {
	a.selected, a.readonly, a.stale, a.validity = server, readonly, false, -1
	if st != nil {
		a.validity = st.UIDValidity
	}
}

func mbSearch(L *lua.LState) int {
	m := checkMailbox(L, 1)
	t := L.OptTable(2, L.NewTable())
	args, err := criteria(t, time.Now())
	if err != nil {
		fail(L, "search: %v", err)
	}
	cmd := imap.Search(true, withCharset(t, args)...)
	m.use(L, cmd)
	if err := cmd.Err(); err != nil {
		bindings.Raise(L, err)
	}
	uids, err := cmd.Numbers(imap.DefaultMaxExpand)
	if err != nil {
		bindings.Raise(L, err)
	}
	pushSet(L, m, normalize(uids))
	return 1
}

// mbSet is mbox:set({uid, ...}): a set from UIDs the script holds.
func mbSet(L *lua.LState) int {
	m := checkMailbox(L, 1)
	t := L.CheckTable(2)
	var uids []uint32
	t.ForEach(func(_, v lua.LValue) {
		n, ok := v.(lua.LNumber)
		if !ok || n < 1 || n > 0xffffffff {
			L.ArgError(2, "UIDs must be numbers from 1 to 4294967295")
		}
		uids = append(uids, uint32(n))
	})
	pushSet(L, m, normalize(uids))
	return 1
}

func mbAll(L *lua.LState) int {
	L.SetTop(1)
	return mbSearch(L)
}

func mbStatus(L *lua.LState) int {
	m := checkMailbox(L, 1)
	m.a.sync(L)
	res, st, err := m.a.c.Status(bindings.Ctx(L), m.server, "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY)")
	if err != nil {
		bindings.Raise(L, err)
	}
	if res != nil && res.Type != "OK" { // NO for a mailbox that is not there: not an empty status
		bindings.Raise(L, &imap.Error{Kind: imap.KindError, Command: "STATUS", Code: res.Status.Code, Text: "status of " + m.name + ": " + res.Status.Text})
	}
	t := L.NewTable()
	if st != nil {
		t.RawSetString("messages", lua.LNumber(st.Messages))
		t.RawSetString("unseen", lua.LNumber(st.Unseen))
		t.RawSetString("uidnext", lua.LNumber(m.uidNextOf(L, bindings.Ctx(L), st)))
		t.RawSetString("uidvalidity", lua.LNumber(st.UIDValidity))
	}
	L.Push(t)
	return 1
}

// mbAppend is mbox:append(raw [, {flags={...}, date=epoch}]).
func mbAppend(L *lua.LState) int {
	m := checkMailbox(L, 1)
	raw := L.CheckString(2)
	flags, date := "", ""
	if o, ok := L.Get(3).(*lua.LTable); ok {
		var fs []string
		if ft, ok := o.RawGetString("flags").(*lua.LTable); ok {
			ft.ForEach(func(_, v lua.LValue) { fs = append(fs, lua.LVAsString(v)) })
		}
		flags = strings.Join(fs, " ")
		if n, ok := o.RawGetString("date").(lua.LNumber); ok {
			date = imap.Time2Internaldate(time.Unix(int64(n), 0))
		}
	}
	a := m.a
	a.sync(L)
	if a.env.DryRun {
		a.env.Record(bindings.Action{Command: "APPEND", Mailbox: m.name, Args: []string{fmt.Sprintf("%d bytes", len(raw))}})
		a.report = append(a.report, Report{Action: "append", Mailbox: m.name, Count: 1, Note: "dry run"})
		L.Push(lua.LNil)
		return 1
	}
	res, au, err := a.c.Append(bindings.Ctx(L), m.server, flags, date, []byte(raw))
	if err != nil {
		bindings.Raise(L, err)
	}
	if res.Type != "OK" {
		bindings.Raise(L, &imap.Error{Kind: imap.KindError, Command: "APPEND", Code: res.Status.Code, Text: m.name + ": " + res.Status.Text})
	}
	a.report = append(a.report, Report{Action: "append", Mailbox: m.name, Count: 1})
	a.stale = a.stale || a.selected == m.server
	if au != nil {
		L.Push(lua.LNumber(au.UID))
	} else {
		L.Push(lua.LNil)
	}
	return 1
}

// connectPassword is o.password for a connection of user to host: a
// string or an account.secret, resolved now; nil is refused (an unset
// variable: never an empty password sent). raise reports what is wrong.
func connectPassword(L *lua.LState, o *lua.LTable, host, user string, raise func(format string, args ...any)) string {
	if o.RawGetString("password") == lua.LNil {
		raise("password is nil (an unset variable?); give a string or an account.secret")
	}
	pw, ok, err := bindings.SecretValue(o.RawGetString("password"), host, user)
	if !ok {
		raise("password must be a string or an account.secret")
	}
	if err != nil {
		raise("secret: %v", err)
	}
	return pw
}
