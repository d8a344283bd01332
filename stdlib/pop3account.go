package stdlib

import (
	"context"
	"fmt"
	"strconv"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/oauth"
	"github.com/mailscript/mailscript/protocol/pop3"
)

const pop3AccountType = "account.POP3"

// pop3Account is a logged-in POP3 session of account.pop3. Deletions are
// marked with DELE only for messages the script has handled, and take
// effect only at close() (QUIT): a run that fails or is killed before
// close leaves the mailbox as it was.
type pop3Account struct {
	c          *pop3.Client
	env        *bindings.Env
	pipelining bool
	stream     *pop3.Stream // a messages loop not finished
	deles      []int        // asked for outside a loop, not sent yet
	uids       []pop3.MsgUID
	closed     bool
}

var pop3AccountMethods = map[string]lua.LGFunction{
	"stat":       popStat,
	"uidl":       popUidl,
	"messages":   popMessages,
	"delete":     popDelete,
	"close":      popClose,
	"pipelining": func(L *lua.LState) int { L.Push(lua.LBool(checkPOP3Account(L).pipelining)); return 1 },
}

func registerPOP3Account(L *lua.LState) {
	mt := L.NewTypeMetatable(pop3AccountType)
	mt.RawSetString("__index", L.SetFuncs(L.NewTable(), pop3AccountMethods))
}

func checkPOP3Account(L *lua.LState) *pop3Account {
	p, ok := L.CheckUserData(1).Value.(*pop3Account)
	if !ok {
		L.ArgError(1, "POP3 account expected")
	}
	if p.closed {
		bindings.Raise(L, &pop3.Error{Text: "the POP3 account is closed"})
	}
	return p
}

func popFail(L *lua.LState, format string, args ...any) {
	bindings.Raise(L, &pop3.Error{Text: "account.pop3: " + fmt.Sprintf(format, args...)})
}

// connectPOP3 is account.pop3{host=, port=, user=, password=, tls=, timeout=, ...}.
func connectPOP3(L *lua.LState, env *bindings.Env) int {
	o := L.CheckTable(1)
	get := func(k string) string { return lua.LVAsString(o.RawGetString(k)) }
	host, user := get("host"), get("user")
	port := 0
	if p, ok := o.RawGetString("port").(lua.LNumber); ok {
		port = int(p)
	}
	raise := func(format string, args ...any) { popFail(L, format, args...) }
	src := oauthAccount(L, env, o, &host, &user, &port, true, raise)
	if host == "" {
		popFail(L, "host is required")
	}
	password := ""
	if src == nil {
		password = connectPassword(L, o, host, user, raise)
	}
	mode := tlsMode(o, host, &port, pop3.TLSPort, pop3.Port, raise)
	cfg, err := env.TLSConfigFor(bindings.SSLContext(L, o.RawGetString("ssl_context")), host)
	if err != nil {
		popFail(L, "%v", err)
	}
	timeout := env.NetTimeout()
	if n, ok := o.RawGetString("timeout").(lua.LNumber); ok && n > 0 {
		timeout = time.Duration(float64(n) * float64(time.Second))
	}
	if err := env.CountConnection(); err != nil {
		popFail(L, "%v", err)
	}
	opts := &pop3.Options{Timeout: timeout, TLSConfig: cfg, Dial: env.Dial, Limits: env.POP3Limits, Audit: env.Audit, Debug: env.Debug, DebugWriter: env.Stderr}
	ctx := bindings.Ctx(L)
	addr := bindings.HostPort(host, port)
	var c *pop3.Client
	if mode == "implicit" {
		c, err = pop3.DialTLS(ctx, addr, opts)
	} else {
		c, err = pop3.Dial(ctx, addr, opts)
	}
	if err != nil {
		bindings.Raise(L, err)
	}
	env.Track(c) // closed without QUIT when the run ends: nothing deleted
	p := &pop3Account{c: c, env: env}
	login := func() error {
		if mode == "starttls" {
			if _, err := c.Stls(ctx, nil); err != nil {
				return err
			}
		}
		mech := "XOAUTH2" // without CAPA's SASL line
		if caps, err := c.Capa(ctx); err == nil {
			_, p.pipelining = caps["PIPELINING"]
			mech = oauth.Mechanism(caps["SASL"])
			// RFC 6856, before USER: Courier otherwise replaces a message
			// with 8-bit headers by a notice that it cannot display it
			if _, ok := caps["UTF8"]; ok {
				if _, err := c.UTF8(ctx); err != nil {
					return err
				}
			}
		}
		if src != nil { // a fresh token on every connection
			return src.POP3(ctx, c, user, mech, host, port)
		}
		if _, err := c.User(ctx, user); err != nil {
			return err
		}
		_, err := c.Pass(ctx, password)
		return err
	}
	if err := login(); err != nil {
		c.Close()
		bindings.Raise(L, err)
	}
	ud := L.NewUserData()
	ud.Value = p
	L.SetMetatable(ud, L.GetTypeMetatable(pop3AccountType))
	L.Push(ud)
	return 1
}

// settle ends a loop left early (its replies read) and sends the DELEs
// asked for, so that a command can go.
func (p *pop3Account) settle(ctx context.Context) error {
	if p.stream != nil {
		s := p.stream
		p.stream = nil
		for _, n := range p.deles {
			s.Dele(n)
		}
		p.deles = nil
		return s.Drain(ctx)
	}
	for len(p.deles) > 0 {
		n := p.deles[0]
		p.deles = p.deles[1:]
		if _, err := p.c.Dele(ctx, strconv.Itoa(n)); err != nil {
			return err
		}
	}
	return nil
}

func popStat(L *lua.LState) int {
	p := checkPOP3Account(L)
	ctx := bindings.Ctx(L)
	if err := p.settle(ctx); err != nil {
		bindings.Raise(L, err)
	}
	n, size, err := p.c.Stat(ctx)
	if err != nil {
		bindings.Raise(L, err)
	}
	L.Push(lua.LNumber(n))
	L.Push(lua.LNumber(size))
	return 2
}

// listing is the messages by number with their UIDL; a server without
// UIDL gives the numbers of LIST, with no uid.
func (p *pop3Account) listing(ctx context.Context) ([]pop3.MsgUID, error) {
	if p.uids != nil {
		return p.uids, nil
	}
	if err := p.settle(ctx); err != nil {
		return nil, err
	}
	_, uids, err := p.c.Uidl(ctx)
	if err != nil {
		_, sizes, lerr := p.c.List(ctx)
		if lerr != nil {
			return nil, err
		}
		uids = make([]pop3.MsgUID, len(sizes))
		for i, s := range sizes {
			uids[i] = pop3.MsgUID{Num: s.Num}
		}
	}
	p.uids = uids
	return uids, nil
}

func popUidl(L *lua.LState) int {
	p := checkPOP3Account(L)
	uids, err := p.listing(bindings.Ctx(L))
	if err != nil {
		bindings.Raise(L, err)
	}
	charge(L, int64(len(uids))*256)
	t := L.CreateTable(len(uids), 0)
	for _, u := range uids {
		e := L.CreateTable(0, 2)
		e.RawSetString("num", lua.LNumber(u.Num))
		if u.UID != "" {
			e.RawSetString("uid", lua.LString(u.UID))
		}
		t.Append(e)
	}
	L.Push(t)
	return 1
}

// popMessages is pop:messages([{nums=, top=, delete=, window=}]): an
// iterator over message tables {num=, uid=, size=, raw=}. With delete,
// a message is marked deleted once the loop body for it has returned
// (the iterator is called for the next one): a body that raises, or a
// break, leaves its message unmarked.
func popMessages(L *lua.LState) int {
	p := checkPOP3Account(L)
	ctx := bindings.Ctx(L)
	o, _ := L.Get(2).(*lua.LTable)
	opt := func(k string) lua.LValue {
		if o == nil {
			return lua.LNil
		}
		return o.RawGetString(k)
	}
	uids, err := p.listing(ctx)
	if err != nil {
		bindings.Raise(L, err)
	}
	if err := p.settle(ctx); err != nil {
		bindings.Raise(L, err)
	}
	uidOf := make(map[int]string, len(uids))
	for _, u := range uids {
		uidOf[u.Num] = u.UID
	}
	var nums []int
	if t, ok := opt("nums").(*lua.LTable); ok {
		for i := 1; i <= t.Len(); i++ {
			n, ok := t.RawGetInt(i).(lua.LNumber)
			if !ok || n < 1 || float64(n) != float64(int(n)) {
				popFail(L, "messages: nums[%d] is not a message number", i)
			}
			nums = append(nums, int(n))
		}
	} else if opt("nums") != lua.LNil {
		popFail(L, "messages: nums must be a list of message numbers")
	} else {
		for _, u := range uids {
			nums = append(nums, u.Num)
		}
	}
	so := pop3.StreamOptions{Nums: nums, Top: -1, Pipelining: p.pipelining}
	if n, ok := opt("top").(lua.LNumber); ok {
		if n < 0 {
			popFail(L, "messages: top must be 0 or more lines")
		}
		so.Top = int(n)
	}
	if n, ok := opt("window").(lua.LNumber); ok && n >= 1 {
		so.Window = int(n)
	}
	del := lua.LVAsBool(opt("delete"))
	s := p.c.Stream(so)
	p.stream = s
	last := 0
	L.Push(L.NewFunction(func(L *lua.LState) int {
		if p.stream != s { // the account was used since: the loop is over
			L.Push(lua.LNil)
			return 1
		}
		if del && last != 0 { // the body for the last message returned
			p.markDeleted(s, last)
		}
		last = 0
		m, err := s.Next(bindings.Ctx(L))
		if err != nil {
			bindings.Raise(L, err) // the stream stays: the next command drains it
		}
		if m == nil {
			p.stream = nil
			L.Push(lua.LNil)
			return 1
		}
		last = m.Num
		charge(L, int64(len(m.Raw))+256)
		t := L.CreateTable(0, 4)
		t.RawSetString("num", lua.LNumber(m.Num))
		if u := uidOf[m.Num]; u != "" {
			t.RawSetString("uid", lua.LString(u))
		}
		t.RawSetString("size", lua.LNumber(m.Octets))
		t.RawSetString("raw", lua.LString(m.Raw))
		L.Push(t)
		return 1
	}))
	return 1
}

// markDeleted sends DELE num with the stream's next commands; in a dry
// run it joins the plan instead.
func (p *pop3Account) markDeleted(s *pop3.Stream, num int) {
	if p.env.DryRun {
		p.env.Record(bindings.Action{Command: "DELE", Set: strconv.Itoa(num)})
		return
	}
	if s != nil {
		s.Dele(num)
		return
	}
	p.deles = append(p.deles, num)
}

// popDelete is pop:delete(num): DELE with the next command; it takes
// effect at close().
func popDelete(L *lua.LState) int {
	p := checkPOP3Account(L)
	n := L.CheckInt(2)
	if n < 1 {
		L.ArgError(2, "a message number")
	}
	if p.env.DryRun {
		p.markDeleted(nil, n)
		return 0
	}
	if p.stream != nil {
		p.stream.Dele(n)
	} else {
		p.deles = append(p.deles, n)
	}
	return 0
}

// popClose is pop:close(): the DELEs asked for, then QUIT, which makes
// them take effect.
func popClose(L *lua.LState) int {
	p := checkPOP3Account(L)
	ctx := bindings.Ctx(L)
	if err := p.settle(ctx); err != nil {
		p.c.Close()
		p.closed = true
		bindings.Raise(L, err)
	}
	p.closed = true
	p.env.Untrack(p.c)
	if _, err := p.c.Quit(ctx); err != nil {
		bindings.Raise(L, err)
	}
	return 0
}
