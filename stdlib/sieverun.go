package stdlib

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/protocol/imap"
	"github.com/mailscript/mailscript/sieve"
)

// script:run(mailbox [, set [, opts]]) runs a compiled Sieve script over
// messages already stored, with RFC 6785's meaning of each action. The
// sieve package knows no IMAP: this file fetches what the script reads and
// turns its results into the account's queued actions, so a run shares
// their guarantees (a copy confirmed before its original is expunged,
// nothing outside the set touched, commands pipelined per target).

// sieveStep is one thing done to one message: a STORE of its whole flag
// list, a COPY, a MOVE, or the removal discard asks for.
type sieveStep struct {
	kind   string // "flags", "copy", "move", "delete"
	flags  string // flags: the list to store
	dest   string // copy, move: the mailbox as the script names it
	create bool
}

// sieveRunOpts are script:run's options.
type sieveRunOpts struct {
	all     bool   // every message, not only those after the last run's
	discard string // "expunge" (default), "keep" or "trash"
	state   string // the state key; default sieve-ID-MAILBOX
}

func sieveRunOptions(L *lua.LState, n int) sieveRunOpts {
	o := sieveRunOpts{discard: "expunge"}
	t, ok := L.Get(n).(*lua.LTable)
	if !ok {
		if L.Get(n) != lua.LNil {
			L.ArgError(n, "options table expected")
		}
		return o
	}
	o.all = lua.LVAsBool(t.RawGetString("all"))
	if v := t.RawGetString("discard"); v != lua.LNil {
		o.discard = lua.LVAsString(v)
	}
	switch o.discard {
	case "expunge", "keep", "trash":
	default:
		L.ArgError(n, `discard must be "expunge", "keep" or "trash"`)
	}
	if v := t.RawGetString("state"); v != lua.LNil {
		o.state = lua.LVAsString(v)
	}
	return o
}

// sieveState is what an incremental run keeps, as rules keeps it.
type sieveState struct {
	UIDValidity uint32 `json:"uidvalidity"`
	LastUID     uint32 `json:"last_uid"`
}

func sieveRun(L *lua.LState, store Store) int {
	ud := L.CheckUserData(1)
	s, ok := ud.Value.(*sieve.Script)
	if !ok {
		L.ArgError(1, "sieve.Script expected")
	}
	m := checkMailbox(L, 2)
	a := m.a
	ctx := bindings.Ctx(L)
	var given []uint32
	hasSet := false
	if sud, ok := L.Get(3).(*lua.LUserData); ok {
		st, ok := sud.Value.(*set)
		if !ok || st.mbox.a != a || st.mbox.server != m.server {
			L.ArgError(3, "a set of this mailbox expected")
		}
		given, hasSet = st.uids, true
	} else if L.Get(3) != lua.LNil {
		L.ArgError(3, "a message set of this mailbox, or nil, expected")
	}
	o := sieveRunOptions(L, 4)

	// which messages: the set given, or those after the last run's
	var uids []uint32
	var st sieveState
	key := o.state
	if key == "" {
		key = "sieve-" + a.id() + "-" + m.name
	}
	var uidvalidity uint32
	if !hasSet {
		unlock, err := store.Lock(key)
		if err != nil {
			fail(L, "sieve run: %v", err)
		}
		defer unlock()
		if raw, err := store.Load(key); err != nil {
			fail(L, "sieve run: state %s: %v", key, err)
		} else if raw != nil {
			if err := json.Unmarshal(raw, &st); err != nil {
				fail(L, "sieve run: state %s: %v", key, err)
			}
		}
		a.sync(L)
		res, sd, err := a.c.Status(ctx, m.server, "(UIDVALIDITY)")
		if err != nil {
			bindings.Raise(L, err)
		}
		if res != nil && res.Type != "OK" || sd == nil {
			fail(L, "sieve run: status of %s: %s", m.name, res.Status.Text)
		}
		uidvalidity = uint32(sd.UIDValidity)
		first := uint32(1)
		if !o.all && st.UIDValidity == uidvalidity {
			first = st.LastUID + 1
		}
		cmd := searchFrom(first)
		m.use(L, cmd)
		if err := cmd.Err(); err != nil {
			bindings.Raise(L, err)
		}
		if uids, err = uidsFrom(cmd, first); err != nil {
			bindings.Raise(L, err)
		}
	} else {
		uids = given
	}

	// the server's folders, for mailboxexists, special-use, discard to
	// Trash and fileinto's targets
	var list []*imap.ListEntry
	if s.Requires("fileinto") || s.Requires("mailbox") || s.Requires("special-use") || o.discard == "trash" {
		a.sync(L)
		a.wait()
		res, entries, err := a.c.List(ctx, "", "*")
		if err != nil {
			bindings.Raise(L, err)
		}
		if res != nil && res.Type != "OK" {
			fail(L, "sieve run: LIST: %s", res.Status.Text)
		}
		list = entries
	}
	serverName := func(name string) string {
		if strings.EqualFold(name, "INBOX") {
			return "INBOX"
		}
		if a.sep != "/" && a.sep != "" && strings.Contains(name, a.sep) && !strings.Contains(name, "/") {
			return name // the server's own form, as scripts written for it say
		}
		return a.serverName(name)
	}
	entry := func(name string) *imap.ListEntry {
		sn := serverName(name)
		for _, e := range list {
			if e.Name == sn || strings.EqualFold(sn, "INBOX") && strings.EqualFold(e.Name, "INBOX") {
				return e
			}
		}
		return nil
	}
	withUse := func(use string) string {
		for _, e := range list {
			for _, f := range e.Flags {
				if strings.EqualFold(f, use) {
					return a.userName(e.Name)
				}
			}
		}
		return ""
	}
	// duplicate's tracking outlives a run: kept per account in the store
	dups := &sieve.MemoryDuplicates{}
	dupKey := "sieve-duplicates-" + a.id()
	if raw, err := store.Load(dupKey); err != nil {
		fail(L, "sieve run: state %s: %v", dupKey, err)
	} else if raw != nil {
		if err := json.Unmarshal(raw, dups); err != nil {
			fail(L, "sieve run: state %s: %v", dupKey, err)
		}
	}
	env := &sieve.Env{Mailbox: m.name, Duplicates: dups}
	if list != nil {
		env.MailboxExists = func(name string) bool { return entry(name) != nil }
		env.SpecialUse = func(name string) []string {
			if e := entry(name); e != nil {
				var out []string
				for _, f := range e.Flags {
					if isSpecialUse(f) {
						out = append(out, f)
					}
				}
				return out
			}
			return nil
		}
		env.FindSpecialUse = withUse
	}
	own := func(name string) bool { return serverName(name) == m.server }
	trash := ""
	if o.discard == "trash" {
		if trash = withUse(`\Trash`); trash == "" {
			trash = "Trash"
		}
	}

	// fetch and evaluate: headers (BODY.PEEK sets no \Seen), the body only
	// when the script reads it, flags, size and date in the same FETCH
	needBody := s.Requires("body") || s.Requires("mime") || s.Requires("foreverypart") || s.Requires("extracttext")
	section := "HEADER"
	items := "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER])"
	if needBody {
		section, items = "", "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[])"
	}
	report := L.NewTable()
	msgs := L.CreateTable(len(uids), 0)
	totals := map[string]int{}
	steps := map[uint32][]sieveStep{}
	var last uint32
	if len(uids) > 0 {
		m.use(L)
		p := newPrefetch(a.c, uids, items)
		restart := func() {
			a.wait()
			m.ready(L)
			a.inflight = p
			p.start(ctx)
		}
		a.inflight = p
		p.start(ctx)
		for {
			fm, err := p.next(restart)
			if err != nil {
				if a.inflight == p {
					a.wait()
				}
				bindings.Raise(L, err)
			}
			if fm == nil {
				break
			}
			last = max(last, fm.UID)
			raw, ok := fm.Body[section]
			if !ok { // gone meanwhile (another client expunged it): nothing to judge, nothing done
				totals["errors"]++
				t := L.NewTable()
				t.RawSetString("uid", lua.LNumber(fm.UID))
				t.RawSetString("result", lua.LString("kept"))
				t.RawSetString("actions", L.NewTable())
				t.RawSetString("implicit_keep", lua.LTrue)
				t.RawSetString("errors", sieveValue(L, []string{"the server sent no header for this message; it was left as it is"}))
				msgs.Append(t)
				continue
			}
			charge(L, int64(len(raw)))
			msg, err := sieve.ParseMessage(raw)
			if err != nil { // not from ParseMessage today; kept by the implicit keep
				msg = &sieve.Message{}
			}
			if !needBody {
				msg.Body = func() ([]byte, error) { return nil, fmt.Errorf("body not fetched") }
			}
			msg.Size, msg.Date = fm.Size, fm.InternalTime
			for _, f := range fm.Flags {
				if !strings.EqualFold(f, `\Recent`) {
					msg.Flags = append(msg.Flags, f)
				}
			}
			res := s.Run(msg, env)
			if dest := missingTarget(res, list, entry, own, withUse); dest != "" {
				// a runtime error (RFC 5228 §2.10.6): nothing done, the message kept as it is
				res = &sieve.Result{ImplicitKeep: &sieve.Action{Kind: "keep", Flags: msg.Flags},
					Errors: append(res.Errors, fmt.Sprintf("fileinto %q: the mailbox does not exist (use fileinto :create, or create it); the message was kept", dest))}
			}
			st, kind := sievePlan(res, msg.Flags, s.Requires("imap4flags"), own, o.discard, trash, withUse)
			totals[kind]++
			if len(res.Errors) > 0 {
				totals["errors"]++
			}
			if len(st) > 0 {
				steps[fm.UID] = st
			}
			msgs.Append(sieveMessageReport(L, fm.UID, res, kind))
		}
		if a.inflight == p {
			a.wait()
		}
	}

	// the actions: the n-th step of every message in round n, grouped per
	// kind, flags and target, queued so each goes as few pipelined commands
	// (waves keep one message's steps in order)
	sieveApply(L, m, steps, serverName)
	a.sync(L)

	if !a.env.DryRun {
		b, _ := json.Marshal(dups)
		if err := store.Save(dupKey, b); err != nil {
			fail(L, "sieve run: state %s: %v", dupKey, err)
		}
	}
	if !hasSet && !a.env.DryRun { // a dry run changes nothing, its state included
		if st.UIDValidity != uidvalidity || o.all {
			st.LastUID = 0
		}
		st.UIDValidity, st.LastUID = uidvalidity, max(last, st.LastUID)
		b, _ := json.Marshal(st)
		if err := store.Save(key, b); err != nil {
			fail(L, "sieve run: state %s: %v", key, err)
		}
	}
	report.RawSetString("mailbox", lua.LString(m.name))
	report.RawSetString("examined", lua.LNumber(msgs.Len()))
	report.RawSetString("messages", msgs)
	tt := L.NewTable()
	for _, k := range []string{"kept", "filed", "discarded", "errors"} {
		tt.RawSetString(k, lua.LNumber(totals[k]))
	}
	report.RawSetString("totals", tt)
	L.Push(report)
	return 1
}

func isSpecialUse(f string) bool {
	switch strings.ToLower(f) {
	case `\all`, `\archive`, `\drafts`, `\flagged`, `\junk`, `\sent`, `\trash`, `\important`:
		return true
	}
	return false
}

// flagKey is a flag list compared as a set: system flags without regard
// to case, keywords as written.
func flagKey(fs []string) string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		if strings.HasPrefix(f, `\`) {
			f = strings.ToLower(f)
		}
		if f != `\recent` {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return strings.Join(slices.Compact(out), " ")
}

func storable(fs []string) string {
	var out []string
	for _, f := range fs {
		if !strings.EqualFold(f, `\Recent`) {
			out = append(out, f)
		}
	}
	return strings.Join(out, " ")
}

// sievePlan turns one message's result into its steps, RFC 6785 §3:
// keep leaves the message (its flags stored if they changed), fileinto
// copies, the last fileinto of a message not kept moves it (its flags set
// first, so the copy carries them), fileinto to its own mailbox is a keep,
// and discard removes it as the policy says. kind is what became of it.
// Without imap4flags a script has no say in flags: every copy carries the
// message's own.
func sievePlan(res *sieve.Result, cur []string, imap4flags bool, own func(string) bool, discard, trash string, withUse func(string) string) ([]sieveStep, string) {
	type filing struct {
		dest   string
		flags  []string
		create bool
	}
	var files []filing
	kept := res.ImplicitKeep != nil
	var keepFlags []string
	if kept {
		keepFlags = res.ImplicitKeep.Flags
	}
	for _, act := range res.Actions {
		switch act.Kind {
		case "keep":
			kept, keepFlags = true, act.Flags
		case "fileinto":
			dest := act.Mailbox
			if act.SpecialUse != "" {
				if d := withUse(act.SpecialUse); d != "" {
					dest = d
				}
			}
			if own(dest) {
				kept, keepFlags = true, act.Flags
				continue
			}
			files = append(files, filing{dest, act.Flags, act.Create})
		}
	}
	var out []sieveStep
	now := flagKey(cur)
	setFlags := func(fs []string) {
		if !imap4flags {
			return
		}
		if k := flagKey(fs); k != now {
			out = append(out, sieveStep{kind: "flags", flags: storable(fs)})
			now = k
		}
	}
	move := !kept && len(files) > 0
	for i, f := range files {
		setFlags(f.flags)
		if move && i == len(files)-1 {
			out = append(out, sieveStep{kind: "move", dest: f.dest, create: f.create})
			return out, "filed"
		}
		out = append(out, sieveStep{kind: "copy", dest: f.dest, create: f.create})
	}
	if kept {
		setFlags(keepFlags)
		if len(files) > 0 {
			return out, "filed"
		}
		return out, "kept"
	}
	switch discard {
	case "keep":
		setFlags(cur)
	case "trash":
		if !own(trash) {
			out = append(out, sieveStep{kind: "move", dest: trash})
		}
	default:
		out = append(out, sieveStep{kind: "delete"})
	}
	return out, "discarded"
}

// missingTarget is the first folder a fileinto without :create names that
// the server's LIST does not have, or "".
func missingTarget(res *sieve.Result, list []*imap.ListEntry, entry func(string) *imap.ListEntry, own func(string) bool, withUse func(string) string) string {
	if list == nil {
		return ""
	}
	for _, act := range res.Actions {
		if act.Kind != "fileinto" || act.Create {
			continue
		}
		dest := act.Mailbox
		if act.SpecialUse != "" {
			if d := withUse(act.SpecialUse); d != "" {
				dest = d
			}
		}
		if !own(dest) && entry(dest) == nil {
			return dest
		}
	}
	return ""
}

// sieveApply queues every message's steps, round by round, grouped.
func sieveApply(L *lua.LState, m *mailbox, steps map[uint32][]sieveStep, serverName func(string) string) {
	a := m.a
	for round := 0; ; round++ {
		groups := map[sieveStep][]uint32{}
		var order []sieveStep
		for uid, st := range steps {
			if round >= len(st) {
				continue
			}
			k := st[round]
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], uid)
		}
		if len(order) == 0 {
			return
		}
		// flags before copies before moves before deletions, each in one order
		rank := map[string]int{"flags": 0, "copy": 1, "move": 2, "delete": 3}
		slices.SortFunc(order, func(x, y sieveStep) int {
			if c := rank[x.kind] - rank[y.kind]; c != 0 {
				return c
			}
			return strings.Compare(x.dest+"\x00"+x.flags, y.dest+"\x00"+y.flags)
		})
		for _, k := range order {
			s := &set{mbox: m, uids: normalize(groups[k])}
			var dest *mailbox
			if k.dest != "" {
				dest = &mailbox{a: a, name: k.dest, server: serverName(k.dest)}
			}
			m.ready(L)
			switch {
			case k.kind == "flags":
				s.store(L, "FLAGS.SILENT", k.flags)
			case a.env.DryRun && k.kind == "copy":
				s.plan("COPY", dest.name)
			case a.env.DryRun && k.kind == "move":
				s.planMove(dest.name)
			case a.env.DryRun:
				s.planDelete()
			case k.kind == "copy":
				s.transfer(L, "COPY", dest, k.create, false)
			case k.kind == "move" && a.c.HasCap("MOVE"):
				s.transfer(L, "MOVE", dest, k.create, false)
			case k.kind == "move":
				s.moveByCopy(L, dest, k.create)
			default:
				s.store(L, "+FLAGS.SILENT", `\Deleted`)
				s.expunge(L)
			}
		}
	}
}

// sieveMessageReport is one message's line of the report.
func sieveMessageReport(L *lua.LState, uid uint32, res *sieve.Result, kind string) *lua.LTable {
	t := L.NewTable()
	t.RawSetString("uid", lua.LNumber(uid))
	t.RawSetString("result", lua.LString(kind))
	mp := res.Map()
	t.RawSetString("actions", sieveValue(L, mp["actions"]))
	t.RawSetString("implicit_keep", lua.LBool(res.ImplicitKeep != nil))
	t.RawSetString("errors", sieveValue(L, mp["errors"]))
	return t
}
