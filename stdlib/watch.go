package stdlib

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/protocol/imap"
)

// idleFor is how long one IDLE lasts before it is re-issued: servers may
// drop an IDLE after 30 minutes (RFC 2177).
var idleFor = 29 * time.Minute

// acctWatch is acct:watch({"INBOX", ...}, fn [, {duration=seconds}]):
// one IDLE connection per mailbox, each re-issued before 29 minutes and
// reconnected with backoff after a drop; fn(mailbox, messages) gets the
// new messages (envelope, flags, size, date, headers) as they arrive, and
// returning true stops the watch. It returns when fn says stop, the
// duration ends, or the run is canceled.
func acctWatch(L *lua.LState) int {
	a := checkAccount(L, 1)
	boxes := L.CheckTable(2)
	fn := L.CheckFunction(3)
	var duration time.Duration
	if o, ok := L.Get(4).(*lua.LTable); ok {
		if d, ok := o.RawGetString("duration").(lua.LNumber); ok {
			duration = time.Duration(float64(d) * float64(time.Second))
		}
	}
	ctx, cancel := context.WithCancel(bindings.Ctx(L))
	// the IDLE goroutines end before the watch returns: after it, the run
	// may close their connections
	var idlers sync.WaitGroup
	defer func() { cancel(); idlers.Wait() }()
	if duration > 0 {
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	type watched struct {
		mbox *mailbox
		next uint32 // the first UID not yet reported
	}
	var list []*watched
	events := make(chan int, 16)
	boxes.ForEach(func(_, v lua.LValue) {
		name := lua.LVAsString(v)
		m := &mailbox{a: a, name: name, server: a.mustServerName(L, name)}
		a.sync(L)
		_, st, err := a.c.Status(ctx, m.server, "(UIDNEXT)")
		if err != nil {
			bindings.Raise(L, err)
		}
		w := &watched{mbox: m, next: m.uidNextOf(L, ctx, st)}
		list = append(list, w)
		i := len(list) - 1
		idlers.Go(func() {
			idleLoop(ctx, a, m.server, i, events, watchTimers{idleRenew: idleFor, backoffMax: time.Minute}, loopHooks{})
		})
	})
	for {
		select {
		case <-ctx.Done():
			L.Push(lua.LNil)
			return 1
		case i := <-events:
			w := list[i]
			// collect what arrived since the last report, on the main
			// connection; NOOP first, as a server searches the view it had
			// when the command began
			noop := &imap.Command{Name: "NOOP"}
			w.mbox.use(L, noop)
			cmd := searchFrom(w.next)
			if err := a.c.Execute(ctx, cmd); err != nil {
				if ctx.Err() != nil {
					L.Push(lua.LNil)
					return 1
				}
				bindings.Raise(L, err)
			}
			fresh, _ := uidsFrom(cmd, w.next)
			if len(fresh) == 0 {
				continue
			}
			w.next = fresh[len(fresh)-1] + 1
			got, err := a.fetchAll(L, fresh, "(UID ENVELOPE FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER])")
			if err != nil {
				bindings.Raise(L, err)
			}
			msgs := L.CreateTable(len(got), 0)
			for _, m := range got {
				msgs.Append(messageTable(L, m))
			}
			ud := L.NewUserData()
			ud.Value = w.mbox
			L.SetMetatable(ud, L.GetTypeMetatable(mailboxType))
			L.Push(fn)
			L.Push(ud)
			L.Push(msgs)
			L.Call(2, 1)
			stop := lua.LVAsBool(L.Get(-1))
			L.Pop(1)
			if stop {
				L.Push(lua.LTrue)
				return 1
			}
		}
	}
}

func itoa(n uint32) string { return lua.LNumber(n).String() }

// idleLoop keeps one IDLE on mailbox and signals i on every EXISTS. A
// connection lasts until it fails, each IDLE t.idleRenew; connecting
// (SELECT included) and DONE must be answered within t.replyDeadline (0:
// no limit), else the connection counts as dead (a NAT that dropped it
// silently). It reconnects with backoff after failures.
func idleLoop(ctx context.Context, a *account, mailbox string, i int, events chan<- int, t watchTimers, h loopHooks) {
	signal := func() bool {
		select {
		case events <- i:
			return true
		case <-ctx.Done():
			return false
		}
	}
	back := newRetry(t.backoffMax)
	for ctx.Err() == nil {
		err := func() error {
			var c *imap.Client
			err := within(ctx, t.replyDeadline, func(ctx context.Context) error {
				var err error
				if c, err = a.redial(ctx); err != nil {
					return err
				}
				res, _, err := c.Select(ctx, mailbox, true)
				if err == nil && res.Type != "OK" {
					err = &imap.Error{Kind: imap.KindError, Text: "cannot watch " + mailbox + ": " + res.Status.Text}
				}
				return err
			})
			if c != nil {
				defer a.env.Untrack(c)
				defer c.Close()
			}
			if err != nil {
				return err
			}
			back.reset()
			h.connected(true)
			defer h.connected(false)
			if !signal() { // mail may have come while we connected
				return nil
			}
			for ctx.Err() == nil {
				idler, err := c.Idle(ctx, t.idleRenew)
				if err != nil {
					return err
				}
				for {
					r, err := idler.Next(ctx)
					if err != nil {
						return err
					}
					if r == nil {
						break // re-issue before the server's 30 minutes
					}
					if r.Type == "EXISTS" && !signal() {
						return nil
					}
				}
				if err := within(ctx, t.replyDeadline, idler.Done); err != nil {
					return err
				}
				// what came between DONE and its reply (Courier reports
				// news there when its poll and DONE cross)
				if _, rs := c.Response("EXISTS"); len(rs) > 0 && !signal() {
					return nil
				}
			}
			return nil
		}()
		if err == nil || ctx.Err() != nil {
			return
		}
		if !back.wait(ctx, err, h) {
			return
		}
	}
}

// within runs f with a context that ends after d (0: ctx as it is).
func within(ctx context.Context, d time.Duration, f func(context.Context) error) error {
	if d <= 0 {
		return f(ctx)
	}
	dctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return f(dctx)
}

// loopHooks tell the service what a watch loop's connection does; a nil
// func is not called.
type loopHooks struct {
	up    func(bool)                        // connected, or no longer
	retry func(err error, in time.Duration) // failed; the next try comes in
}

func (h loopHooks) connected(up bool) {
	if h.up != nil {
		h.up(up)
	}
}

// retry is a reconnect loop's backoff: from a second, doubling up to
// max, each wait drawn from the upper half of its step so that watchers
// cut off together do not all come back at the same moment.
type retry struct{ step, max time.Duration }

func newRetry(max time.Duration) *retry {
	r := &retry{max: max}
	r.reset()
	return r
}

func (r *retry) reset() { r.step = min(time.Second, r.max) }

// wait reports err and sleeps the next backoff; false when ctx ended
// first.
func (r *retry) wait(ctx context.Context, err error, h loopHooks) bool {
	d := r.step/2 + rand.N(r.step/2+1)
	r.step = min(2*r.step, r.max)
	if h.retry != nil {
		h.retry(err, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
