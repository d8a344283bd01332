package stdlib

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/protocol/imap"
)

// WatchMode says what happens to the watchers a script registered with
// require("watch") once its top level returns.
type WatchMode struct {
	// Service: after the catch-up, IDLE on every mailbox and handle new
	// mail until Stop is closed. Otherwise one catch-up pass, then return.
	Service bool
	Stop    <-chan struct{}
	Logger  *slog.Logger  // nil: discard
	Metrics *WatchMetrics // nil: none kept
	// LeaseTTL is the mailbox leases' lifetime when the Store is a
	// [Leaser] (0: DefaultLeaseTTL); see watchlease.go.
	LeaseTTL time.Duration
}

// watchTimers are watch.md's per-watcher timers.
type watchTimers struct {
	idleRenew, replyDeadline, pollInterval, backoffMax time.Duration
	mode                                               string // auto, idle, poll or notify
	maxFailures                                        int    // a message's handler failures before it is skipped
}

// watcher is one mailbox of one watch.on.
type watcher struct {
	a       *account
	mbox    *mailbox
	handler *lua.LFunction
	timers  watchTimers
	doc     string      // state document name
	lease   *watchLease // nil: not leased (watchlease.go)

	// In a service a failed handler call is retried after a backoff, the
	// first of its messages alone, so that one message the handler
	// always fails on holds up only itself, and only maxFailures times.
	service  bool
	failUID  uint32 // the first UID of the call that failed
	failures int    // calls in a row that failed from failUID
	again    time.Duration
}

type watchSet struct {
	store Store
	list  []*watcher
	seen  map[string]int // registrations per state document name
	notes []string       // logged when the watchers start (a pattern that matched nothing)
}

const watchRegistryKey = "mailscript.watch"

func watchSetOf(L *lua.LState) *watchSet {
	ud, ok := L.G.Registry.RawGetString(watchRegistryKey).(*lua.LUserData)
	if !ok {
		return nil
	}
	ws, _ := ud.Value.(*watchSet)
	return ws
}

// openWatch is the watch module: watch.on(acct, mailboxes, fn [, opts]),
// watch.rules(acct, mailboxes, rules [, opts]) and watch.sieve(acct,
// mailboxes, file [, opts]) register watchers; they run after the
// script's top level returns (see [RunWatchers]).
func openWatch(L *lua.LState, env *bindings.Env, store Store) int {
	ws := &watchSet{store: store, seen: map[string]int{}}
	ud := L.NewUserData()
	ud.Value = ws
	L.G.Registry.RawSetString(watchRegistryKey, ud)
	register := func(L *lua.LState, handler *lua.LFunction) {
		a := checkAccount(L, 1)
		boxes := L.CheckTable(2)
		timers := watchTimersOf(L, L.OptTable(4, L.NewTable()))
		for _, m := range watchMailboxes(L, a, boxes, ws) {
			// a second watcher of the same mailbox keeps its own progress
			doc := fmt.Sprintf("watch-%s@%s:%d-%s", a.user, a.host, a.port, m.name)
			ws.seen[doc]++
			if n := ws.seen[doc]; n > 1 {
				doc += fmt.Sprintf("#%d", n)
			}
			ws.list = append(ws.list, &watcher{a: a, mbox: m, handler: handler, timers: timers, doc: doc})
		}
	}
	mod := L.NewTable()
	L.SetFuncs(mod, map[string]lua.LGFunction{
		"on": func(L *lua.LState) int {
			register(L, L.CheckFunction(3))
			return 0
		},
		"rules": func(L *lua.LState) int {
			rt := L.CheckTable(3)
			apply := L.NewFunction(func(L *lua.LState) int {
				L.Push(L.GetGlobal("require"))
				L.Push(lua.LString("rules"))
				L.Call(1, 1)
				rules := L.Get(-1)
				L.Pop(1)
				L.Push(L.GetField(rules, "apply"))
				L.Push(L.Get(1))
				L.Push(rt)
				L.Call(2, 0)
				return 0
			})
			register(L, apply)
			return 0
		},
		"sieve": func(L *lua.LState) int {
			register(L, watchSieveHandler(L, env))
			return 0
		},
	})
	L.Push(mod)
	return 1
}

// watchMailboxes is the mailboxes a watch names: plain names as they
// are, and names holding "*" or "%" as LIST patterns (in the script's
// "/" notation) expanded now, without the \Noselect folders. A pattern
// matching nothing is noted, not refused: the folders may come later,
// and a reload picks them up.
func watchMailboxes(L *lua.LState, a *account, boxes *lua.LTable, ws *watchSet) []*mailbox {
	var out []*mailbox
	seen := map[string]bool{} // "INBOX" and "*" name INBOX once
	add := func(name, server string) {
		key := server
		if strings.EqualFold(server, "INBOX") {
			key = "INBOX"
		}
		if seen[key] {
			return
		}
		seen[key] = true
		out = append(out, &mailbox{a: a, name: name, server: server})
	}
	boxes.ForEach(func(_, v lua.LValue) {
		name := lua.LVAsString(v)
		if !strings.ContainsAny(name, "*%") {
			add(name, a.mustServerName(L, name))
			return
		}
		pattern := a.mustServerName(L, name)
		if strings.ContainsAny(pattern, "\r\n\x00") {
			fail(L, "watch %q: a pattern cannot hold CR, LF or NUL", name)
		}
		a.sync(L)
		res, entries, err := a.c.List(bindings.Ctx(L), "", pattern)
		if err != nil {
			bindings.Raise(L, err)
		}
		if res != nil && res.Type != "OK" {
			bindings.Raise(L, &imap.Error{Kind: imap.KindError, Command: "LIST", Code: res.Status.Code, Text: "watch " + name + ": " + res.Status.Text})
		}
		matched := 0
		if a.prefix != "" && (name == "*" || name == "%") { // INBOX lies outside the prefix on Courier
			add("INBOX", "INBOX")
			matched++
		}
		for _, e := range entries {
			if listFlag(e.Flags, `\Noselect`) || listFlag(e.Flags, `\NonExistent`) {
				continue
			}
			add(a.userName(e.Name), e.Name)
			matched++
		}
		if matched == 0 {
			ws.notes = append(ws.notes, fmt.Sprintf("watch %s@%s: the pattern %q matches no mailbox", a.user, a.host, name))
		}
	})
	return out
}

func listFlag(flags []string, f string) bool {
	for _, g := range flags {
		if strings.EqualFold(g, f) {
			return true
		}
	}
	return false
}

// watchSieveHandler reads and compiles watch.sieve's script (argument 3)
// now, so an error in it fails the script's load, and returns the
// handler that runs it over a mailbox's new messages as script:run does,
// with script:run's state: the watch and `mailscript sieve run` share
// what was filtered. A relative path is taken from the folder of the
// script calling watch.sieve. opts.discard and opts.state go to
// script:run.
func watchSieveHandler(L *lua.LState, env *bindings.Env) *lua.LFunction {
	file := L.CheckString(3)
	if env.Sandbox {
		L.RaiseError("watch.sieve: not allowed in the sandbox, which reads no files")
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(callerDir(L), file)
	}
	src, err := os.ReadFile(file)
	if err != nil {
		L.RaiseError("watch.sieve: %v", err)
	}
	runOpts := L.NewTable()
	if o, ok := L.Get(4).(*lua.LTable); ok {
		for _, k := range []string{"discard", "state"} {
			runOpts.RawSetString(k, o.RawGetString(k))
		}
	}
	L.Push(L.GetGlobal("require"))
	L.Push(lua.LString("sieve"))
	L.Call(1, 1)
	mod := L.Get(-1)
	L.Pop(1)
	L.Push(L.GetField(mod, "compile"))
	L.Push(lua.LString(src))
	copts := L.NewTable()
	copts.RawSetString("name", lua.LString(file))
	copts.RawSetString("include_dir", lua.LString(filepath.Dir(file)))
	L.Push(copts)
	L.Call(2, 1) // a compile error raises here, naming the file and line
	script := L.Get(-1)
	L.Pop(1)
	return L.NewFunction(func(L *lua.LState) int {
		L.Push(L.GetField(script, "run"))
		L.Push(script)
		L.Push(L.Get(1))
		L.Push(lua.LNil) // the messages after script:run's last, as sieve run takes them
		L.Push(runOpts)
		L.Call(4, 0)
		return 0
	})
}

// callerDir is the folder of the Lua file calling the running Go
// function ("." for a chunk that is no file).
func callerDir(L *lua.LState) string {
	dbg, ok := L.GetStack(1)
	if !ok {
		return "."
	}
	if _, err := L.GetInfo("S", dbg, lua.LNil); err != nil {
		return "."
	}
	src := strings.TrimPrefix(dbg.Source, "@")
	if src == "" || strings.HasPrefix(src, "<") {
		return "."
	}
	return filepath.Dir(src)
}

func watchTimersOf(L *lua.LState, o *lua.LTable) watchTimers {
	t := watchTimers{idleRenew: 25 * time.Minute, replyDeadline: time.Minute, pollInterval: time.Minute, backoffMax: 5 * time.Minute, mode: "auto", maxFailures: 5}
	switch v := o.RawGetString("max_failures").(type) {
	case lua.LNumber:
		if v < 1 || v != lua.LNumber(int(v)) {
			L.ArgError(4, "max_failures must be a whole number of at least 1")
		}
		t.maxFailures = int(v)
	case *lua.LNilType:
	default:
		L.ArgError(4, "max_failures must be a number")
	}
	secs := func(key string, d *time.Duration) {
		switch v := o.RawGetString(key).(type) {
		case lua.LNumber:
			if v <= 0 {
				L.ArgError(4, key+" must be positive")
			}
			*d = time.Duration(float64(v) * float64(time.Second))
		case *lua.LNilType:
		default:
			L.ArgError(4, key+" must be a number of seconds")
		}
	}
	secs("idle_renew", &t.idleRenew)
	secs("reply_deadline", &t.replyDeadline)
	secs("poll_interval", &t.pollInterval)
	secs("backoff_max", &t.backoffMax)
	env := func(name string, d *time.Duration) {
		if s := os.Getenv(name); s != "" {
			v, err := time.ParseDuration(s)
			if err != nil || v <= 0 {
				L.RaiseError("%s=%q: not a positive Go duration", name, s)
			}
			*d = v
		}
	}
	switch v := o.RawGetString("mode").(type) {
	case lua.LString:
		switch t.mode = string(v); t.mode {
		case "auto", "idle", "poll", "notify":
		default:
			L.ArgError(4, `mode must be "auto", "idle", "poll" or "notify"`)
		}
	case *lua.LNilType:
	default:
		L.ArgError(4, `mode must be "auto", "idle", "poll" or "notify"`)
	}
	env("MAILSCRIPT_WATCH_IDLE_RENEW", &t.idleRenew)
	env("MAILSCRIPT_WATCH_DEADLINE", &t.replyDeadline)
	return t
}

// watchState is a watcher's state document.
type watchState struct {
	UIDValidity int64  `json:"uidvalidity"`
	LastUID     uint32 `json:"last_uid"`
}

// RunWatchers runs the watchers the script registered, if any: a
// catch-up pass over every watched mailbox, then, in a service, IDLE
// until mode.Stop is closed. A handler's error is logged and kept for
// the pass's result; the service goes on.
func RunWatchers(L *lua.LState, mode WatchMode) error {
	ws := watchSetOf(L)
	if ws == nil {
		return nil
	}
	log := mode.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, note := range ws.notes {
		log.Warn(note, "event", "register")
	}
	if len(ws.list) == 0 {
		return nil
	}
	ls := startLeases(L, ws, mode, log)
	defer ls.stop()
	if ls != nil {
		mode.Metrics.setLeasing()
	}
	var firstErr error
	for _, w := range ws.list {
		w.service = mode.Service
		if err := w.catchUp(L, ws.store, log, mode.Metrics, time.Now()); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if !mode.Service {
		return firstErr
	}
	ctx, cancel := context.WithCancel(bindings.Ctx(L))
	defer cancel()
	events := make(chan int, len(ws.list))
	done := make(chan struct{})
	for _, w := range ws.list {
		if w.timers.mode == "idle" && !w.a.c.HasCap("IDLE") {
			return fmt.Errorf("watch %s@%s %s: mode \"idle\", but the server offers no IDLE (use \"poll\" or \"auto\")", w.a.user, w.a.host, w.mbox.name)
		}
	}
	watchOne := func(ctx context.Context, i int) {
		w := ws.list[i]
		acct := w.a.user + "@" + w.a.host
		if w.polls() {
			log.Info("polling", "event", "connect", "mode", "poll", "account", acct, "mailbox", w.mbox.name, "every", w.timers.pollInterval.String())
			mode.Metrics.setConnected(acct, w.mbox.name, true, w.timers.backoffMax)
			pollLoop(ctx, i, events, w.timers.pollInterval)
			return
		}
		mode.Metrics.setConnected(acct, w.mbox.name, false, w.timers.backoffMax)
		idleLoop(ctx, w.a, w.mbox.server, i, events, w.timers, loopHooks{
			up: func(up bool) {
				mode.Metrics.setConnected(acct, w.mbox.name, up, w.timers.backoffMax)
				if up {
					log.Info("connected", "event", "connect", "account", acct, "mailbox", w.mbox.name)
				} else if ctx.Err() == nil {
					log.Warn("disconnected", "event", "disconnect", "account", acct, "mailbox", w.mbox.name)
				}
			},
			retry: func(err error, in time.Duration) {
				log.Warn("connection failed", "event", "reconnect", "account", acct, "mailbox", w.mbox.name,
					"error", err.Error(), "retry_in", in.Round(time.Millisecond).String())
			},
		})
	}
	var served map[int]bool
	loops := 0
	if ls == nil { // one NOTIFY connection serves many mailboxes; leases are per mailbox
		served, loops = watchNotify(ctx, ws.list, events, done, log, mode.Metrics, func(i int) { watchOne(ctx, i) })
	}
	n := len(ws.list) - len(served) + loops
	for i := range ws.list {
		if served[i] {
			continue
		}
		go ls.run(ctx, i, done, func(ctx context.Context) {
			watchOne(ctx, i)
			if ls != nil { // the lease ended: another instance reports the mailbox now
				mode.Metrics.forget(ws.list[i].a.user+"@"+ws.list[i].a.host, ws.list[i].mbox.name)
			}
		})
	}
	defer func() {
		cancel()
		for range n {
			<-done
		}
	}()
	log.Info("watching", "event", "start", "mailboxes", len(ws.list), "connections", n)
	for {
		for i, w := range ws.list {
			if w.again > 0 { // a failed call, or one message of several handed alone
				time.AfterFunc(w.again, func() {
					select {
					case events <- i:
					case <-ctx.Done():
					}
				})
				w.again = 0
			}
		}
		select {
		case <-mode.Stop:
			log.Info("stopping", "event", "stop")
			return nil
		case <-ctx.Done():
			return nil
		case i := <-events:
			ws.list[i].catchUp(L, ws.store, log, mode.Metrics, time.Now())
		}
	}
}

// catchUp hands the handler what arrived since the last handled UID (all
// of the mailbox after a UIDVALIDITY change or without state) and saves
// the new last UID when the call returns without error.
func (w *watcher) catchUp(L *lua.LState, store Store, log *slog.Logger, met *WatchMetrics, seen time.Time) (err error) {
	if !w.lease.enter() {
		return nil // another instance's mailbox
	}
	defer w.lease.exit()
	a, ctx := w.a, bindings.Ctx(L)
	log = log.With("account", a.user+"@"+a.host, "mailbox", w.mbox.name)
	logged := false
	defer func() {
		if err != nil && !logged {
			log.Error("catch-up failed", "event", "handle", "outcome", "error", "error", err.Error())
		}
	}()
	// errors of the account library are raised; catch them as errors
	var st watchState
	var fresh []uint32
	var uidValidity int64
	var msgs *lua.LTable
	alone := false // fresh is the first of several new messages
	collect := func(L *lua.LState) int {
		fresh, msgs, alone = nil, nil, false
		raw, err := store.Load(w.doc)
		if err != nil {
			L.RaiseError("state %s: %v", w.doc, err)
		}
		if raw != nil {
			if err := json.Unmarshal(raw, &st); err != nil {
				L.RaiseError("state %s: %v", w.doc, err)
			}
		}
		// selected, and a NOOP for what the session has not been told
		// yet. UIDVALIDITY cannot change within a session, so its SELECT's
		// holds; a server that sent none there is asked by STATUS.
		// One command a round trip: a NOOP pipelined with what follows
		// may be answered from the view before it (Dovecot), and small
		// replies pipelined meet the server's Nagle and our delayed ACK
		// (Cyrus: 40 ms).
		w.mbox.use(L, &imap.Command{Name: "NOOP"})
		uidValidity = a.validity
		if uidValidity <= 0 {
			status := imap.StatusItems(w.mbox.server, "UIDVALIDITY")
			a.execute(L, status)
			sds, _ := status.Statuses()
			if err := status.Err(); err != nil || len(sds) == 0 {
				bindings.Raise(L, cmp.Or(err, error(&imap.Error{Kind: imap.KindError, Command: "STATUS", Text: "no UIDVALIDITY for " + w.mbox.name})))
			}
			uidValidity = sds[len(sds)-1].UIDValidity
		}
		last := st.LastUID
		if st.UIDValidity != uidValidity {
			last = 0
		}
		search := searchFrom(last + 1)
		a.execute(L, search)
		if err := search.Err(); err != nil {
			bindings.Raise(L, err)
		}
		fresh, _ = uidsFrom(search, last+1)
		if len(fresh) == 0 {
			return 0
		}
		if w.failures > 0 && fresh[0] == w.failUID && len(fresh) > 1 {
			fresh, alone = fresh[:1], true
		}
		got, err := a.fetchAll(L, fresh, "(UID ENVELOPE FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER])")
		if err != nil {
			bindings.Raise(L, err)
		}
		msgs = L.CreateTable(len(got), 0)
		uids := make([]uint32, 0, len(got))
		for _, m := range got {
			msgs.Append(messageTable(L, m))
			uids = append(uids, m.UID)
		}
		newMessages(L, w.mbox, normalize(uids), msgs)
		return 0
	}
	perr := protect(L, collect)
	if perr != nil && ctx.Err() == nil {
		// the main connection may have died with the watch's (a server
		// restart, a kick): once more on a new one
		log.Warn("catch-up failed; reconnecting", "event", "reconnect", "error", errText(L, perr))
		if rerr := a.reconnect(ctx); rerr != nil {
			return rerr
		}
		perr = protect(L, collect)
	}
	if perr != nil {
		return errors.New(errText(L, perr))
	}
	if len(fresh) == 0 {
		return nil
	}
	if !w.lease.may() {
		return nil // the lease ran short while collecting: not ours to handle
	}
	uids := fmt.Sprintf("%d:%d", fresh[0], fresh[len(fresh)-1])
	ud := L.NewUserData()
	ud.Value = w.mbox
	L.SetMetatable(ud, L.GetTypeMetatable(mailboxType))
	L.Push(w.handler)
	L.Push(ud)
	L.Push(msgs)
	save := func(lastUID uint32) error {
		b, _ := json.Marshal(watchState{UIDValidity: uidValidity, LastUID: lastUID})
		if err := store.Save(w.doc, b); err != nil {
			if leaseLost(err) {
				w.lease.lose() // the new owner hands these messages again
			}
			return fmt.Errorf("state %s: %w", w.doc, err)
		}
		return nil
	}
	herr := L.PCall(2, 0, nil)
	if herr == nil {
		// the handler's queued actions are part of its work
		herr = protect(L, func(L *lua.LState) int { a.sync(L); return 0 })
	}
	if herr != nil {
		// not saved: the same messages come again
		log.Error("handler failed", "event", "handle", "uid", uids, "outcome", "error", "error", errText(L, herr))
		logged = true
		met.handlerError()
		if !w.service {
			return herr
		}
		if lostConnection(herr) { // not the message's fault: the next catch-up reconnects
			w.again = time.Second
			return herr
		}
		if fresh[0] == w.failUID && w.failures > 0 {
			w.failures++
		} else {
			w.failUID, w.failures = fresh[0], 1
		}
		if len(fresh) > 1 || w.failures < w.timers.maxFailures {
			w.again = min(time.Second<<min(w.failures-1, 20), w.timers.backoffMax)
			return herr
		}
		// one message the handler failed on maxFailures times: it stays
		// in the mailbox, unhandled, and the rest go on
		if err := save(fresh[0]); err != nil {
			return err
		}
		log.Error("handler gave up on a message", "event", "handle", "uid", uids, "outcome", "skipped",
			"failures", w.failures, "error", errText(L, herr))
		met.skippedOne()
		w.failures, w.again = 0, time.Nanosecond
		return herr
	}
	if err := save(fresh[len(fresh)-1]); err != nil {
		return err
	}
	w.failures = 0
	if alone {
		w.again = time.Nanosecond // the rest of what was new
	}
	met.handledN(len(fresh), time.Since(seen))
	log.Info("handled", "event", "handle", "uid", uids, "messages", len(fresh), "outcome", "ok")
	return nil
}

// lostConnection says whether err, raised in Lua, is imaplib's abort:
// the connection was cut, timed out or said BYE.
func lostConnection(err error) bool {
	var ae *lua.ApiError
	if !errors.As(err, &ae) {
		return false
	}
	t, ok := ae.Object.(*lua.LTable)
	return ok && t.RawGetString("kind") == lua.LString("abort")
}

// protect calls fn, returning what it raises as an error.
func protect(L *lua.LState, fn lua.LGFunction) error {
	L.Push(L.NewFunction(fn))
	return L.PCall(0, 0, nil)
}

// errText is err's message: a raised value's tostring, without the
// traceback.
func errText(L *lua.LState, err error) string {
	msg := err.Error()
	if ae, ok := err.(*lua.ApiError); ok && ae.Object != nil {
		msg = L.ToStringMeta(ae.Object).String()
	}
	if i := strings.Index(msg, "\nstack traceback:"); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// reconnect replaces the account's main connection with a new one.
func (a *account) reconnect(ctx context.Context) error {
	c, err := a.redial(ctx)
	if err != nil {
		return err
	}
	old := a.c
	a.c, a.selected, a.readonly, a.stale = c, "", false, false
	a.env.Untrack(old)
	old.Close()
	return nil
}
