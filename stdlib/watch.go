package stdlib

import (
	"context"
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
		idlers.Go(func() { idleLoop(ctx, a, m.server, i, events, idleFor, time.Minute, 0, nil) })
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

// idleLoop keeps one IDLE on mailbox and signals i on every EXISTS; it
// reconnects with backoff (1 s doubling to backoffMax) after failures;
// each IDLE lasts renew, and DONE must be answered within deadline (0: no
// limit).
func idleLoop(ctx context.Context, a *account, mailbox string, i int, events chan<- int, renew, backoffMax, deadline time.Duration, up func(bool)) {
	if up == nil {
		up = func(bool) {}
	}
	backoff := time.Second
	for ctx.Err() == nil {
		err := func() error {
			c, err := a.redial(ctx)
			if err != nil {
				return err
			}
			defer a.env.Untrack(c)
			defer c.Close()
			if res, _, err := c.Select(ctx, mailbox, true); err != nil {
				return err
			} else if res.Type != "OK" {
				return &imap.Error{Kind: imap.KindError, Text: "cannot watch " + mailbox + ": " + res.Status.Text}
			}
			backoff = time.Second
			up(true)
			defer up(false)
			select { // mail may have come while we connected
			case events <- i:
			default:
			}
			for ctx.Err() == nil {
				idler, err := c.Idle(ctx, renew)
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
					if r.Type == "EXISTS" {
						select {
						case events <- i:
						case <-ctx.Done():
							return nil
						}
					}
				}
				// DONE unanswered within the deadline: a dead connection
				// (a NAT that dropped it silently)
				dctx, cancel := ctx, context.CancelFunc(func() {})
				if deadline > 0 {
					dctx, cancel = context.WithTimeout(ctx, deadline)
				}
				err = idler.Done(dctx)
				cancel()
				if err != nil {
					return err
				}
				// what came between DONE and its reply (Courier reports
				// news there when its poll and DONE cross)
				if _, rs := c.Response("EXISTS"); len(rs) > 0 {
					select {
					case events <- i:
					case <-ctx.Done():
						return nil
					}
				}
			}
			return nil
		}()
		if err == nil || ctx.Err() != nil {
			return
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, backoffMax)
	}
}
