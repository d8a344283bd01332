package stdlib

import (
	"slices"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/protocol/imap"
)

// A set is UIDs of one mailbox, sorted and unique; + is union, * is
// intersection, - is difference.
type set struct {
	mbox *mailbox
	uids []uint32
}

func normalize(u []uint32) []uint32 {
	slices.Sort(u)
	return slices.Compact(u)
}

func checkSet(L *lua.LState, n int) *set {
	s, ok := L.CheckUserData(n).Value.(*set)
	if !ok {
		L.ArgError(n, "message set expected")
	}
	return s
}

func pushSet(L *lua.LState, m *mailbox, uids []uint32) {
	ud := L.NewUserData()
	ud.Value = &set{mbox: m, uids: uids}
	L.SetMetatable(ud, L.GetTypeMetatable(setType))
	L.Push(ud)
}

func union(a, b []uint32) []uint32 { return normalize(append(slices.Clone(a), b...)) }

func intersect(a, b []uint32) []uint32 {
	var out []uint32
	for _, u := range a {
		if _, ok := slices.BinarySearch(b, u); ok {
			out = append(out, u)
		}
	}
	return out
}

func difference(a, b []uint32) []uint32 {
	var out []uint32
	for _, u := range a {
		if _, ok := slices.BinarySearch(b, u); !ok {
			out = append(out, u)
		}
	}
	return out
}

func setOp(L *lua.LState, op func(a, b []uint32) []uint32) int {
	a, b := checkSet(L, 1), checkSet(L, 2)
	if a.mbox.a != b.mbox.a || a.mbox.server != b.mbox.server {
		fail(L, "sets of different mailboxes (%s, %s) do not combine", a.mbox.name, b.mbox.name)
	}
	pushSet(L, a.mbox, op(a.uids, b.uids))
	return 1
}

func setCount(L *lua.LState) int {
	L.Push(lua.LNumber(len(checkSet(L, 1).uids)))
	return 1
}

func setUIDs(L *lua.LState) int {
	s := checkSet(L, 1)
	t := L.CreateTable(len(s.uids), 0)
	for _, u := range s.uids {
		t.Append(lua.LNumber(u))
	}
	L.Push(t)
	return 1
}

// maxSetLen keeps every command line within the 8,192 octets RFC 7162
// (section 4) asks clients to stay under; fewer, longer commands cost
// the server less (one transaction per MOVE or STORE).
const maxSetLen = 7800

// uidChunks compresses sorted UIDs into sets of ranges ("1:5,7,9:12")
// of at most maxSetLen bytes each as sent.
func uidChunks(uids []uint32) []imap.UIDSet {
	var out []imap.UIDSet
	var cur imap.UIDSet
	n := 0 // cur's length as sent
	for i := 0; i < len(uids); {
		j := i
		for j+1 < len(uids) && uids[j+1] == uids[j]+1 {
			j++
		}
		r := imap.SeqRange{Lo: uids[i], Hi: uids[j]}
		size := digits(r.Lo)
		if j > i {
			size += 1 + digits(r.Hi)
		}
		if n > 0 && n+1+size > maxSetLen {
			out = append(out, cur)
			cur, n = nil, 0
		}
		if n > 0 {
			n++ // the comma
		}
		cur, n = append(cur, r), n+size
		i = j + 1
	}
	if n > 0 {
		out = append(out, cur)
	}
	return out
}

func digits(u uint32) int {
	n := 1
	for ; u >= 10; u /= 10 {
		n++
	}
	return n
}

// chunks is uidChunks in IMAP syntax, for commands and reports that take
// sets as text.
func chunks(uids []uint32) []string {
	sets := uidChunks(uids)
	if len(sets) == 0 {
		return nil
	}
	out := make([]string, len(sets))
	for i, s := range sets {
		out[i] = s.String()
	}
	return out
}

// run sends one command per chunk, pipelined: the round trips of an
// action do not grow with the number of messages.
func (a *account) run(L *lua.LState, name string, sets []string, args func(set string) []imap.Arg) []*imap.Command {
	cmds := make([]*imap.Command, 0, len(sets))
	for _, s := range sets {
		cmds = append(cmds, &imap.Command{Name: name, Args: args(s), OnUntagged: func(*imap.Response) {}})
	}
	if err := a.c.Execute(bindings.Ctx(L), cmds...); err != nil {
		bindings.Raise(L, err)
	}
	return cmds
}

func firstErr(cmds []*imap.Command) *imap.Command {
	for _, c := range cmds {
		if c.Err() != nil {
			return c
		}
	}
	return nil
}

func (s *set) store(L *lua.LState, op, flags string) {
	a := s.mbox.a
	if len(s.uids) == 0 {
		return
	}
	s.mbox.ready(L)
	if a.env.DryRun {
		s.plan("STORE", op, flags)
		return
	}
	a.enqueue("UID STORE", s.uids, "", func(set string) []imap.Arg {
		return []imap.Arg{imap.Set(set), imap.Atom(op), imap.Flags(flags)}
	})
}

func flagsArg(L *lua.LState) string {
	switch v := L.Get(2).(type) {
	case lua.LString:
		return string(v)
	case *lua.LTable:
		var fs []string
		v.ForEach(func(_, f lua.LValue) { fs = append(fs, lua.LVAsString(f)) })
		return strings.Join(fs, " ")
	}
	L.ArgError(2, "a flag or a list of flags expected")
	return ""
}

// plan puts an action on s into a dry run's plan, a command per chunk
// as it would be sent.
func (s *set) plan(command string, args ...string) {
	for _, c := range chunks(s.uids) {
		s.mbox.a.env.Record(bindings.Action{Command: command, Mailbox: s.mbox.name, Set: c, UID: true, Args: args})
	}
}

// planMove plans what a move would send: MOVE, or where the server lacks
// it COPY, STORE \Deleted and (with UIDPLUS) UID EXPUNGE.
func (s *set) planMove(dest string) {
	if s.mbox.a.c.HasCap("MOVE") {
		s.plan("MOVE", dest)
		return
	}
	s.plan("COPY", dest)
	s.planDelete()
}

// planDelete plans STORE \Deleted and, with UIDPLUS, UID EXPUNGE.
func (s *set) planDelete() {
	s.plan("STORE", "+FLAGS.SILENT", `\Deleted`)
	if s.mbox.a.c.HasCap("UIDPLUS") {
		s.plan("EXPUNGE")
	}
}

func (s *set) record(action, dest, note string) {
	a := s.mbox.a
	if a.env.DryRun && note == "" {
		note = "dry run"
	}
	a.report = append(a.report, Report{Action: action, Mailbox: s.mbox.name, Dest: dest, UIDs: strings.Join(chunks(s.uids), ","), Count: len(s.uids), Note: note})
}

func setFlag(L *lua.LState) int {
	s := checkSet(L, 1)
	f := flagsArg(L)
	s.store(L, "+FLAGS.SILENT", f)
	s.record("flag "+f, "", "")
	L.Push(L.Get(1))
	return 1
}

func setUnflag(L *lua.LState) int {
	s := checkSet(L, 1)
	f := flagsArg(L)
	s.store(L, "-FLAGS.SILENT", f)
	s.record("unflag "+f, "", "")
	L.Push(L.Get(1))
	return 1
}

// destination reads a mailbox argument: a name or a mailbox object.
func destination(L *lua.LState, a *account, n int) *mailbox {
	if ud, ok := L.Get(n).(*lua.LUserData); ok {
		if m, ok := ud.Value.(*mailbox); ok {
			return m
		}
	}
	name := L.CheckString(n)
	return &mailbox{a: a, name: name, server: a.mustServerName(L, name)}
}

// transfer copies (or moves with MOVE) every chunk, queued; with
// create=true a missing destination (TRYCREATE) is created once. With
// confirm, the commands go at once and every one must succeed: a COPY
// whose originals are to be deleted next.
func (s *set) transfer(L *lua.LState, verb string, dest *mailbox, create, confirm bool) {
	a := s.mbox.a
	args := func(set string) []imap.Arg { return []imap.Arg{imap.Set(set), imap.Mailbox(dest.server)} }
	if !confirm {
		server := ""
		if create {
			server = dest.server
		}
		a.enqueue("UID "+verb, s.uids, server, args)
		for i := len(a.queue) - 1; i >= 0 && a.queue[i].action == a.actions; i-- {
			a.queue[i].dest = dest.name
		}
		return
	}
	a.sync(L)
	send := func() *imap.Command { return firstErr(a.run(L, "UID "+verb, chunks(s.uids), args)) }
	bad := send()
	if bad != nil && bad.Status.Code == "TRYCREATE" && create {
		if _, err := a.c.Create(bindings.Ctx(L), dest.server); err != nil {
			bindings.Raise(L, err)
		}
		a.subscribeCreated(L, dest.server)
		bad = send() // chunks that did go through are copied twice at worst: never lost
	}
	if bad != nil {
		e := bad.Err().(*imap.Error)
		e.Text = verb + " to " + dest.name + ": " + bad.Status.Text
		bindings.Raise(L, e)
	}
}

func createOpt(L *lua.LState, n int) bool {
	if t, ok := L.Get(n).(*lua.LTable); ok {
		return lua.LVAsBool(t.RawGetString("create"))
	}
	return false
}

func setCopy(L *lua.LState) int {
	s := checkSet(L, 1)
	a := s.mbox.a
	dest := destination(L, a, 2)
	if dest.a != a {
		s.crossAccount(L, dest, false, createOpt(L, 3))
		L.Push(L.Get(1))
		return 1
	}
	if len(s.uids) > 0 {
		s.mbox.ready(L)
		if a.env.DryRun {
			s.plan("COPY", dest.name)
		} else {
			s.transfer(L, "COPY", dest, createOpt(L, 3), false)
		}
	}
	s.record("copy", dest.name, "")
	L.Push(L.Get(1))
	return 1
}

// setMove moves with MOVE when offered; otherwise COPY (of what the
// destination does not hold yet: see moveByCopy), and only once every
// copy is confirmed, STORE \Deleted and UID EXPUNGE of exactly those UIDs
// (UIDPLUS). Without UIDPLUS the originals stay marked \Deleted: an
// EXPUNGE would take other clients' deletions too.
func setMove(L *lua.LState) int {
	s := checkSet(L, 1)
	a := s.mbox.a
	dest := destination(L, a, 2)
	if dest.a != a {
		s.crossAccount(L, dest, true, createOpt(L, 3))
		L.Push(L.Get(1))
		return 1
	}
	note := ""
	if len(s.uids) > 0 {
		s.mbox.ready(L)
		switch {
		case a.env.DryRun:
			s.planMove(dest.name)
		case a.c.HasCap("MOVE"):
			s.transfer(L, "MOVE", dest, createOpt(L, 3), false)
		default:
			note = s.moveByCopy(L, dest, createOpt(L, 3))
		}
	}
	s.record("move", dest.name, note)
	L.Push(L.Get(1))
	return 1
}

// expunge removes exactly s's messages when the server has UIDPLUS.
func (s *set) expunge(L *lua.LState) string {
	a := s.mbox.a
	if !a.c.HasCap("UIDPLUS") {
		return "marked \\Deleted, not expunged: the server lacks UIDPLUS and a plain EXPUNGE would remove others' deletions too"
	}
	a.enqueue("UID EXPUNGE", s.uids, "", func(set string) []imap.Arg { return []imap.Arg{imap.Set(set)} })
	return ""
}

func setDelete(L *lua.LState) int {
	s := checkSet(L, 1)
	a := s.mbox.a
	note := ""
	if len(s.uids) > 0 {
		s.mbox.ready(L)
		if a.env.DryRun {
			s.planDelete()
		} else {
			s.store(L, "+FLAGS.SILENT", `\Deleted`)
			note = s.expunge(L)
		}
	}
	s.record("delete", "", note)
	L.Push(L.Get(1))
	return 1
}

// crossBatch messages are fetched and appended at a time.
const crossBatch = 50

// crossAccount copies s to a mailbox of another account with APPEND,
// keeping flags and internal dates; a move then deletes from the source
// only the messages whose APPEND the destination confirmed.
func (s *set) crossAccount(L *lua.LState, dest *mailbox, move, create bool) {
	src, dst := s.mbox.a, dest.a
	verb := "copy"
	if move {
		verb = "move"
	}
	label := dest.a.user + "@" + dest.a.host + ":" + dest.name
	if src.env.DryRun || dst.env.DryRun {
		s.plan(strings.ToUpper(verb), label)
		s.record(verb, label, "")
		return
	}
	ctx := bindings.Ctx(L)
	s.mbox.use(L)
	dst.sync(L)
	var done []uint32
	created := false
	for i := 0; i < len(s.uids); i += crossBatch {
		part := s.uids[i:min(i+crossBatch, len(s.uids))]
		const items = "(UID FLAGS INTERNALDATE BODY.PEEK[])"
		fetch := imap.FetchItems(uidChunks(part)[0], items)
		// only the messages asked for whose body arrived: an unsolicited
		// FETCH (another client's flag change) is not mail to copy, and
		// its UID must not join the set deleted below
		got := newFetched(part, items)
		got.body = true
		var msgs []*imap.FetchMessage
		var bad error
		fetch.OnUntagged = func(r *imap.Response) {
			m, err := got.add(r, false)
			if err != nil && bad == nil {
				bad = err
			}
			if m != nil {
				msgs = append(msgs, m)
			}
		}
		if err := src.c.Execute(ctx, fetch); err != nil {
			bindings.Raise(L, err)
		}
		if bad != nil {
			if move && len(done) > 0 { // earlier batches arrived: they may go
				(&set{mbox: s.mbox, uids: normalize(done)}).removeConfirmed(L)
			}
			bindings.Raise(L, bad)
		}
		appendAll := func(msgs []*imap.FetchMessage) []*imap.Command {
			cmds := make([]*imap.Command, len(msgs))
			for k, m := range msgs {
				args := []imap.Arg{imap.Mailbox(dest.server)}
				var flags []string
				for _, f := range m.Flags {
					if !strings.EqualFold(f, `\Recent`) {
						flags = append(flags, f)
					}
				}
				if len(flags) > 0 {
					args = append(args, imap.Flags(strings.Join(flags, " ")))
				}
				if !m.InternalTime.IsZero() {
					args = append(args, imap.Raw(imap.Time2Internaldate(m.InternalTime)))
				}
				args = append(args, imap.LiteralArg(m.Body[""], false))
				cmds[k] = &imap.Command{Name: "APPEND", Args: args, OnUntagged: func(*imap.Response) {}}
			}
			if err := dst.c.Execute(ctx, cmds...); err != nil {
				bindings.Raise(L, err)
			}
			return cmds
		}
		cmds := appendAll(msgs)
		if bad := firstErr(cmds); bad != nil && bad.Status.Code == "TRYCREATE" && create && !created {
			if _, err := dst.c.Create(ctx, dest.server); err != nil {
				bindings.Raise(L, err)
			}
			created = true
			var retry []*imap.FetchMessage
			for k, c := range cmds {
				if c.Err() != nil {
					retry = append(retry, msgs[k])
				}
			}
			again := appendAll(retry)
			j := 0
			for k, c := range cmds {
				if c.Err() != nil {
					cmds[k] = again[j]
					j++
				}
			}
		}
		for k, c := range cmds {
			if c.Err() == nil {
				done = append(done, msgs[k].UID)
			}
		}
		if bad := firstErr(cmds); bad != nil {
			if move && len(done) > 0 { // what did arrive may go from the source
				(&set{mbox: s.mbox, uids: normalize(done)}).removeConfirmed(L)
			}
			e := bad.Err().(*imap.Error)
			e.Text = "APPEND to " + label + ": " + bad.Status.Text
			bindings.Raise(L, e)
		}
	}
	note := ""
	if move && len(done) > 0 {
		note = (&set{mbox: s.mbox, uids: normalize(done)}).removeConfirmed(L)
	}
	s.record(verb, label, note)
}

// removeConfirmed deletes messages whose copies are confirmed elsewhere.
func (s *set) removeConfirmed(L *lua.LState) string {
	s.store(L, "+FLAGS.SILENT", `\Deleted`)
	return s.expunge(L)
}

// queued is an action's command waiting to go out with the next ones.
type queued struct {
	cmd    *imap.Command
	create string   // server name to create on TRYCREATE, "" for none
	dest   string   // the destination a COPY or MOVE names, for its error
	uids   []uint32 // the whole action's UIDs, sorted
	action int      // which action of the queue it belongs to

	rule string // the rule that asked for it (rules.apply), for its error
}

// enqueue adds an action on uids: one command per chunk, sent with the
// next command the account sends (sync).
func (a *account) enqueue(name string, uids []uint32, create string, args func(set string) []imap.Arg) {
	a.actions++
	for _, set := range chunks(uids) {
		a.queue = append(a.queue, queued{cmd: &imap.Command{Name: name, Args: args(set), OnUntagged: func(*imap.Response) {}},
			create: create, uids: uids, action: a.actions, rule: a.env.Rule()})
	}
}

// waves splits the queue into groups sent pipelined, one round trip
// each. Servers may run pipelined commands at once (Dovecot does), so an
// action joins a wave only if it touches none of the messages of the
// wave's other actions: a flag set before a move, or a STORE \Deleted
// before its UID EXPUNGE, is complete before the next one starts.
func waves(q []queued) [][]queued {
	var out [][]queued
	start := 0
	for i := 1; i <= len(q); i++ {
		if i < len(q) && q[i].action == q[i-1].action {
			continue
		}
		if i == len(q) || overlaps(q[start:i], q[i]) {
			out = append(out, q[start:i])
			start = i
		}
	}
	return out
}

func overlaps(wave []queued, x queued) bool {
	for k, w := range wave {
		if k > 0 && w.action == wave[k-1].action {
			continue
		}
		if len(intersect(w.uids, x.uids)) > 0 {
			return true
		}
	}
	return false
}

// sync joins a prefetch and sends the queued actions, wave by wave, with
// extra commands pipelined behind the last; an action's failure is
// raised here.
func (a *account) sync(L *lua.LState, extra ...*imap.Command) {
	a.wait()
	q := a.queue
	a.queue = nil
	ws := waves(q)
	if len(ws) == 0 {
		a.execute(L, extra...)
		return
	}
	for i, w := range ws {
		cmds := make([]*imap.Command, 0, len(w)+len(extra))
		mayRetry := false // a TRYCREATE retry must come before what follows
		for _, x := range w {
			cmds = append(cmds, x.cmd)
			mayRetry = mayRetry || x.create != ""
		}
		last := i == len(ws)-1
		if last && !mayRetry {
			cmds = append(cmds, extra...)
		}
		a.execute(L, cmds...)
		a.describeFailures(w)
		a.settle(L, w)
		if last && mayRetry {
			a.execute(L, extra...)
		}
	}
}

// settle raises a queued command's failure, creating the destination and
// retrying once where the action asked for it (TRYCREATE).
func (a *account) settle(L *lua.LState, w []queued) {
	created := map[string]bool{}
	for _, x := range w {
		err := x.cmd.Err()
		if err == nil {
			continue
		}
		if x.cmd.Status.Code == "TRYCREATE" && x.create != "" {
			if !created[x.create] {
				if _, err := a.c.Create(bindings.Ctx(L), x.create); err != nil {
					bindings.Raise(L, err)
				}
				created[x.create] = true
				a.subscribeCreated(L, x.create)
			}
			retry := &imap.Command{Name: x.cmd.Name, Args: x.cmd.Args, OnUntagged: func(*imap.Response) {}}
			if err := a.c.Execute(bindings.Ctx(L), retry); err != nil {
				bindings.Raise(L, err)
			}
			if err = retry.Err(); err == nil {
				continue
			}
		}
		if e, ok := err.(*imap.Error); ok && x.dest != "" {
			// servers do not always name the mailbox (Cyrus does not)
			e.Text = strings.TrimPrefix(x.cmd.Name, "UID ") + " to " + x.dest + ": " + e.Text
		}
		bindings.Raise(L, err)
	}
}

// execute runs cmds pipelined; a failure of the connection is raised.
func (a *account) execute(L *lua.LState, cmds ...*imap.Command) {
	if len(cmds) == 0 {
		return
	}
	if err := a.c.Execute(bindings.Ctx(L), cmds...); err != nil {
		bindings.Raise(L, err)
	}
}
