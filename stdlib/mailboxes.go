package stdlib

import (
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
	if o, ok := L.Get(3).(*lua.LTable); ok && lua.LVAsBool(o.RawGetString("subscribe")) {
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
