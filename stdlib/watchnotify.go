package stdlib

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/mailscript/mailscript/protocol/imap"
)

// NOTIFY (RFC 5465): where the server offers it, one connection per
// account watches all of that account's watched mailboxes, instead of one
// IDLE connection per mailbox. Nothing is selected on it, so the server
// reports new mail in each mailbox as an unsolicited STATUS. The
// connection idles (IDLE is only the way to read what the server sends
// unasked); each IDLE is ended after idle_renew and DONE, then a NOOP,
// must be answered within reply_deadline, or the connection counts as
// dead (a NAT that dropped it silently) and is made again with backoff.

// notifyKey groups the watchers one NOTIFY connection serves.
type notifyKey struct {
	a      *account
	timers watchTimers
}

// watchNotify starts one NOTIFY loop per account (and timers) whose
// server offers NOTIFY and IDLE, for the watchers whose mode is "auto" or
// "notify". It returns the watchers it serves and how many goroutines it
// started; each sends on done as it ends. Should the server refuse the
// NOTIFY SET, that goroutine runs idle (the IDLE loop of one watcher) for
// each of its watchers instead.
func watchNotify(ctx context.Context, list []*watcher, events chan<- int, done chan<- struct{}, log *slog.Logger, met *WatchMetrics, idle func(i int)) (served map[int]bool, loops int) {
	served = map[int]bool{}
	groups := map[notifyKey][]int{}
	var order []notifyKey
	for i, w := range list {
		if w.timers.mode != "auto" && w.timers.mode != "notify" {
			continue
		}
		if !w.a.c.HasCap("NOTIFY") || !w.a.c.HasCap("IDLE") {
			if w.timers.mode == "notify" {
				log.Warn("the server offers no NOTIFY (with IDLE): watching with IDLE", "event", "mode",
					"account", w.a.user+"@"+w.a.host, "mailbox", w.mbox.name)
			}
			continue
		}
		k := notifyKey{w.a, w.timers}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
		served[i] = true
	}
	for _, k := range order {
		idx := groups[k]
		loops++
		go func() {
			defer func() { done <- struct{}{} }()
			runNotifyGroup(ctx, k, list, idx, events, log, met, idle)
		}()
	}
	return served, loops
}

func runNotifyGroup(ctx context.Context, k notifyKey, list []*watcher, idx []int, events chan<- int, log *slog.Logger, met *WatchMetrics, idle func(i int)) {
	acct := k.a.user + "@" + k.a.host
	log = log.With("account", acct)
	byName := map[string][]int{} // server name -> watchers
	var names []string
	for _, i := range idx {
		n := notifyName(list[i].mbox.server)
		if _, ok := byName[n]; !ok {
			names = append(names, list[i].mbox.server)
		}
		byName[n] = append(byName[n], i)
	}
	up := func(on bool) {
		for _, i := range idx {
			met.setConnected(acct, list[i].mbox.name, on, k.timers.backoffMax)
		}
		if on {
			log.Info("connected", "event", "connect", "mode", "notify", "mailboxes", len(names))
		} else if ctx.Err() == nil {
			log.Warn("disconnected", "event", "disconnect", "mode", "notify", "mailboxes", len(names))
		}
	}
	up(false)
	signal := func(server string) bool {
		for _, i := range byName[notifyName(server)] {
			select {
			case events <- i:
			case <-ctx.Done():
				return false
			}
		}
		return true
	}
	err := notifyLoop(ctx, k.a, names, signal, k.timers, loopHooks{up: up, retry: func(err error, in time.Duration) {
		log.Warn("connection failed", "event", "reconnect", "mode", "notify", "error", err.Error(), "retry_in", in.Round(time.Millisecond).String())
	}})
	var refused *notifyRefusedError
	if !errors.As(err, &refused) {
		return
	}
	log.Warn("NOTIFY refused: watching with IDLE", "event", "mode", "error", refused.Error())
	var wg sync.WaitGroup
	for _, i := range idx {
		wg.Go(func() { idle(i) })
	}
	wg.Wait()
}

// notifyName is the form names are compared in: INBOX in any case is
// INBOX.
func notifyName(server string) string {
	if strings.EqualFold(server, "INBOX") {
		return "INBOX"
	}
	return server
}

// notifyRefusedError is a NOTIFY SET the server answered NO or BAD: it
// will not do better after a reconnect.
type notifyRefusedError struct{ err error }

func (e *notifyRefusedError) Error() string { return e.err.Error() }
func (e *notifyRefusedError) Unwrap() error { return e.err }

// notifySet is NOTIFY SET for new and expunged messages in mailboxes
// (RFC 5465 §3: MessageNew asks for MessageExpunge with it).
func notifySet(mailboxes []string) *imap.Command {
	boxes := make([]imap.Arg, len(mailboxes))
	for i, m := range mailboxes {
		boxes[i] = imap.Mailbox(m)
	}
	return &imap.Command{Name: "NOTIFY", Args: []imap.Arg{imap.Atom("SET"),
		imap.Group(imap.Atom("MAILBOXES"), imap.Group(boxes...), imap.Group(imap.Atom("MessageNew"), imap.Atom("MessageExpunge")))}}
}

// notifyLoop keeps a NOTIFY connection for mailboxes and calls signal
// with the server name of each mailbox the server reports a change in
// (every mailbox after each connect: mail may have come meanwhile);
// signal returning false ends the loop. It reconnects with backoff and
// returns when ctx ends, or with a *notifyRefusedError when the server
// refuses the NOTIFY SET.
func notifyLoop(ctx context.Context, a *account, mailboxes []string, signal func(string) bool, t watchTimers, h loopHooks) error {
	back := newRetry(t.backoffMax)
	timed := func(f func(ctx context.Context) error) error { return within(ctx, t.replyDeadline, f) }
	for ctx.Err() == nil {
		stop := false
		// notice signals the mailbox of a STATUS
		notice := func(rs ...*imap.Response) {
			for _, r := range rs {
				if stop || r.Type != "STATUS" {
					continue
				}
				if sd, err := r.StatusData(); err == nil {
					stop = !signal(sd.Mailbox)
				}
			}
		}
		err := func() error {
			var c *imap.Client
			set := notifySet(mailboxes)
			err := timed(func(ctx context.Context) error {
				var err error
				if c, err = a.redial(ctx); err != nil {
					return err
				}
				return c.Execute(ctx, set)
			})
			if c != nil {
				defer a.env.Untrack(c)
				defer c.Close()
			}
			if err != nil {
				return err
			}
			if err := set.Err(); err != nil {
				return &notifyRefusedError{err}
			}
			back.reset()
			h.connected(true)
			defer h.connected(false)
			for _, m := range mailboxes { // mail may have come while we connected
				if !signal(m) {
					return nil
				}
			}
			notice(set.Untagged...)
			for ctx.Err() == nil && !stop {
				idler, err := c.Idle(ctx, t.idleRenew)
				if err != nil {
					return err
				}
				for !stop {
					r, err := idler.Next(ctx)
					if err != nil {
						return err
					}
					if r == nil {
						break // the keepalive is due
					}
					notice(r)
				}
				if err := timed(idler.Done); err != nil {
					return err
				}
				_, rs := c.Response("STATUS") // what came between DONE and its reply
				notice(rs...)
				// NOTIFY needs no re-issue, but a silent NAT drop shows
				// only as a command left unanswered
				noop := &imap.Command{Name: "NOOP"}
				if err := timed(func(ctx context.Context) error { return c.Execute(ctx, noop) }); err != nil {
					return err
				}
				notice(noop.Untagged...)
			}
			return nil
		}()
		var refused *notifyRefusedError
		if errors.As(err, &refused) {
			return err
		}
		if err == nil || ctx.Err() != nil || stop {
			return nil
		}
		if !back.wait(ctx, err, h) {
			return nil
		}
	}
	return nil
}
