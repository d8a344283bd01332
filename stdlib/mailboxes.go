package stdlib

import (
	"regexp"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/protocol/imap"
)

// Mailbox management on the account, imapfilter's create_mailbox and
// friends: acct:create(name [, {subscribe = true}]), acct:delete(name),
// acct:rename(old, new), acct:subscribe(name), acct:unsubscribe(name),
// acct:list_all([folder [, pattern]]), acct:list_subscribed(...). Names
// are "/"-separated, as everywhere in the account module; a refusal
// raises an imap.error naming the action and the mailbox.

func addMailboxMethods(L *lua.LState, index *lua.LTable) {
	L.SetFuncs(index, map[string]lua.LGFunction{
		"create":          acctCreate,
		"delete":          func(L *lua.LState) int { return acctChange(L, "DELETE", "delete") },
		"subscribe":       func(L *lua.LState) int { return acctChange(L, "SUBSCRIBE", "subscribe") },
		"unsubscribe":     func(L *lua.LState) int { return acctChange(L, "UNSUBSCRIBE", "unsubscribe") },
		"rename":          acctRename,
		"list_all":        func(L *lua.LState) int { return acctList(L, false) },
		"list_subscribed": func(L *lua.LState) int { return acctList(L, true) },
	})
}

// addSetMethods adds the set methods beyond the queued actions of sets.go.
func addSetMethods(L *lua.LState, index *lua.LTable) {
	L.SetFuncs(index, map[string]lua.LGFunction{"replace_flags": setReplaceFlags})
}

// setReplaceFlags is s:replace_flags(f): the messages' flags become
// exactly f (STORE FLAGS).
func setReplaceFlags(L *lua.LState) int {
	s := checkSet(L, 1)
	f := flagsArg(L)
	s.store(L, "FLAGS.SILENT", f)
	s.record("replace flags "+f, "", "")
	L.Push(L.Get(1))
	return 1
}

// mailboxArg reads argument n as a mailbox name, refusing what could not
// be one.
func mailboxArg(L *lua.LState, n int, action string) string {
	name := L.CheckString(n)
	if name == "" {
		fail(L, "%s: the mailbox name is empty", action)
	}
	if strings.ContainsAny(name, "\r\n\x00") {
		fail(L, "%s %q: a mailbox name cannot hold CR, LF or NUL", action, name)
	}
	return name
}

// change sends a command that changes the account's mailboxes, or
// plans it in a dry run; a NO raises, naming the action.
func (a *account) change(L *lua.LState, command, action, name string, send func() (*imap.Result, error)) {
	a.sync(L)
	if a.env.DryRun {
		a.env.Record(bindings.Action{Command: command, Mailbox: name})
		a.report = append(a.report, Report{Action: action, Mailbox: name, Note: "dry run"})
		return
	}
	res, err := send()
	if err != nil {
		bindings.Raise(L, err)
	}
	if res.Type != "OK" {
		bindings.Raise(L, &imap.Error{Kind: imap.KindError, Command: command, Code: res.Status.Code, Text: action + " " + name + ": " + res.Status.Text})
	}
	a.report = append(a.report, Report{Action: action, Mailbox: name})
}

func acctCreate(L *lua.LState) int {
	a := checkAccount(L, 1)
	name := mailboxArg(L, 2, "create")
	server := a.serverName(name)
	ctx := bindings.Ctx(L)
	a.change(L, "CREATE", "create", name, func() (*imap.Result, error) { return a.c.Create(ctx, server) })
	subscribe := a.subscribe
	if o, ok := L.Get(3).(*lua.LTable); ok && o.RawGetString("subscribe") != lua.LNil {
		subscribe = lua.LVAsBool(o.RawGetString("subscribe"))
	}
	if subscribe {
		a.change(L, "SUBSCRIBE", "subscribe", name, func() (*imap.Result, error) { return a.c.Subscribe(ctx, server) })
	}
	return 0
}

func acctChange(L *lua.LState, command, action string) int {
	a := checkAccount(L, 1)
	name := mailboxArg(L, 2, action)
	server := a.serverName(name)
	ctx := bindings.Ctx(L)
	a.change(L, command, action, name, func() (*imap.Result, error) {
		switch command {
		case "DELETE":
			if a.selected == server { // the server closes it: select again next time
				a.selected = ""
			}
			return a.c.Delete(ctx, server)
		case "SUBSCRIBE":
			return a.c.Subscribe(ctx, server)
		}
		return a.c.Unsubscribe(ctx, server)
	})
	return 0
}

func acctRename(L *lua.LState) int {
	a := checkAccount(L, 1)
	from, to := mailboxArg(L, 2, "rename"), mailboxArg(L, 3, "rename")
	sFrom, sTo := a.serverName(from), a.serverName(to)
	ctx := bindings.Ctx(L)
	a.change(L, "RENAME", "rename", from+" to "+to, func() (*imap.Result, error) {
		if a.selected == sFrom {
			a.selected = ""
		}
		return a.c.Rename(ctx, sFrom, sTo)
	})
	return 0
}

// acctList is acct:list_all([folder [, pattern]]) and
// acct:list_subscribed: the names under folder (every level by default;
// pattern "%" for one level) as a list.
func acctList(L *lua.LState, subscribed bool) int {
	a := checkAccount(L, 1)
	folder := L.OptString(2, "")
	pattern := L.OptString(3, "*")
	if strings.ContainsAny(folder+pattern, "\r\n\x00") {
		fail(L, "list: a folder or pattern cannot hold CR, LF or NUL")
	}
	full := pattern
	if folder != "" {
		full = a.serverName(strings.TrimSuffix(folder, "/")) + a.sep + pattern
	} else if a.prefix != "" {
		full = a.prefix + pattern
	}
	a.sync(L)
	list := a.c.List
	command := "LIST"
	if subscribed {
		list, command = a.c.Lsub, "LSUB"
	}
	res, entries, err := list(bindings.Ctx(L), "", full)
	if err != nil {
		bindings.Raise(L, err)
	}
	if res != nil && res.Type != "OK" {
		bindings.Raise(L, &imap.Error{Kind: imap.KindError, Command: command, Code: res.Status.Code, Text: "list " + folder + ": " + res.Status.Text})
	}
	t := L.NewTable()
	for _, e := range entries {
		t.Append(lua.LString(a.userName(e.Name)))
	}
	if folder == "" && a.prefix != "" && !subscribed { // INBOX lies outside the prefix on Courier
		seen := false
		for _, e := range entries {
			seen = seen || strings.EqualFold(e.Name, "INBOX")
		}
		if !seen && (pattern == "*" || pattern == "%") {
			t.Insert(1, lua.LString("INBOX"))
		}
	}
	L.Push(t)
	return 1
}

// luaSleep is sleep(seconds) (a global, as in imapfilter, and
// time.sleep): a wait the run's context (Ctrl-C, --timeout) ends early.
func luaSleep(L *lua.LState) int {
	sleepFor(L, float64(L.CheckNumber(1)))
	return 0
}

// maxSleep bounds one sleep: a script that wants to wait longer loops.
const maxSleep = 24 * time.Hour

func sleepFor(L *lua.LState, seconds float64) {
	if seconds != seconds || seconds < 0 {
		L.ArgError(1, "seconds must be a number from 0 up")
	}
	d := time.Duration(seconds * float64(time.Second))
	if seconds*float64(time.Second) > float64(maxSleep) {
		d = maxSleep
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-bindings.Ctx(L).Done():
		L.RaiseError("sleep: %v", bindings.Ctx(L).Err())
	}
}

// wrapMailboxIndex lets mbox[uid] fetch one message, beside the methods.
func wrapMailboxIndex(L *lua.LState, mt *lua.LTable) {
	methods := mt.RawGetString("__index").(*lua.LTable)
	L.SetFuncs(methods, map[string]lua.LGFunction{"message": mbMessage, "fetch_part": mbFetchPart})
	mt.RawSetString("__methods", methods) // what __index serves, for listing
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		if _, ok := L.Get(2).(lua.LNumber); ok {
			L.SetTop(2)
			return mbMessage(L)
		}
		L.Push(methods.RawGet(L.Get(2)))
		return 1
	}))
}

// uidArg reads argument n as a UID.
func uidArg(L *lua.LState, n int) uint32 {
	v, ok := L.Get(n).(lua.LNumber)
	if !ok || v < 1 || v > 0xffffffff || float64(v) != float64(uint32(v)) {
		L.ArgError(n, "a UID (a whole number from 1 to 4294967295) expected")
	}
	return uint32(v)
}

// fetchOne fetches items of the message uid of m, or nil if it is not
// there.
func (m *mailbox) fetchOne(L *lua.LState, uid uint32, items string) *imap.FetchMessage {
	m.use(L)
	msgs, err := m.a.fetchAll(L, []uint32{uid}, items)
	if err != nil {
		bindings.Raise(L, err)
	}
	for _, x := range msgs {
		if x.UID == uid {
			return x
		}
	}
	return nil
}

// mbMessage is mbox:message(uid [, items]) and mbox[uid]: one message
// table (envelope, flags, size, date and headers by default), or nil.
func mbMessage(L *lua.LState) int {
	m := checkMailbox(L, 1)
	uid := uidArg(L, 2)
	want := []string{"UID", "ENVELOPE", "FLAGS", "RFC822.SIZE", "INTERNALDATE", "BODY.PEEK[HEADER]"}
	if t, ok := L.Get(3).(*lua.LTable); ok {
		want = []string{"UID"}
		t.ForEach(func(_, v lua.LValue) {
			n, ok := itemNames[strings.ToLower(lua.LVAsString(v))]
			if !ok {
				L.ArgError(3, "unknown item "+lua.LVAsString(v)+" (envelope, flags, size, date, headers, body, bodystructure)")
			}
			want = append(want, n)
		})
	}
	msg := m.fetchOne(L, uid, "("+strings.Join(want, " ")+")")
	if msg == nil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(messageTable(L, msg))
	return 1
}

// sectionRE is what mbox:fetch_part takes: a part number ("1", "1.2"),
// optionally with .MIME, .HEADER or .TEXT, or HEADER or TEXT alone.
var sectionRE = regexp.MustCompile(`^(([1-9][0-9]{0,5}(\.[1-9][0-9]{0,5}){0,20})(\.(MIME|HEADER|TEXT))?|HEADER|TEXT)$`)

// mbFetchPart is mbox:fetch_part(uid, section): the bytes of one part
// (BODY.PEEK[section], as sent: transfer encoding not undone), or nil
// when the message or the part is not there.
func mbFetchPart(L *lua.LState) int {
	m := checkMailbox(L, 1)
	uid := uidArg(L, 2)
	sec := strings.ToUpper(L.CheckString(3))
	if !sectionRE.MatchString(sec) {
		L.ArgError(3, `a section like "1", "1.2", "2.HEADER", "HEADER" or "TEXT" expected`)
	}
	msg := m.fetchOne(L, uid, "(UID BODY.PEEK["+sec+"])")
	if msg == nil {
		L.Push(lua.LNil)
		return 1
	}
	for k, v := range msg.Body {
		if strings.EqualFold(k, sec) {
			L.Push(lua.LString(v))
			return 1
		}
	}
	L.Push(lua.LNil)
	return 1
}

// subscribeCreated subscribes a folder made for a copy or move
// ({create = true}) when the account was opened with subscribe_created;
// a refusal is not worth failing the move for, so it is only reported.
func (a *account) subscribeCreated(L *lua.LState, server string) {
	if !a.subscribe {
		return
	}
	res, err := a.c.Subscribe(bindings.Ctx(L), server)
	note := ""
	switch {
	case err != nil:
		bindings.Raise(L, err)
	case res.Type != "OK":
		note = "not subscribed: " + res.Status.Text
	}
	a.report = append(a.report, Report{Action: "subscribe", Mailbox: a.userName(server), Note: note})
}
