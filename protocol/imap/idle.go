package imap

import (
	"context"
	"errors"
	"os"
	"time"
)

// Idler is an IDLE session (RFC 2177), imaplib's Idler: untagged
// responses one at a time until the duration ends. [Idler.Done] ends it;
// any other command ends it first.
type Idler struct {
	c         *Client
	cmd       *Command
	deadline  time.Time // zero: no limit
	queue     []*Response
	capturing bool // untagged responses go to queue
	done      bool
}

// forever stands for "no deadline" in waits that must not fall back to
// the per-read timeout.
var forever = time.Now().Add(100 * 365 * 24 * time.Hour)

// Idle sends IDLE and waits for the server's "+". duration 0 means no
// limit. Responses that arrive before the "+" are delivered too.
func (c *Client) Idle(ctx context.Context, duration time.Duration) (*Idler, error) {
	if c.dead() != nil {
		return nil, c.broken
	}
	if c.idler != nil {
		if err := c.idler.Done(ctx); err != nil {
			return nil, err
		}
	}
	if !c.HasCap("IDLE") {
		return nil, &Error{Kind: KindError, Command: "IDLE", Text: "Server does not support IMAP4 IDLE"}
	}
	if err := c.checkState("IDLE"); err != nil {
		return nil, err
	}
	if err := c.checkBye("IDLE"); err != nil {
		return nil, err
	}
	cmd := &Command{Name: "IDLE", keep: true, OnUntagged: func(*Response) {}}
	if err := c.encode(cmd); err != nil {
		return nil, err
	}
	i := &Idler{c: c, cmd: cmd, capturing: true}
	c.idler = i
	stop := c.watch(ctx)
	defer stop()
	c.pending = append(c.pending, cmd)
	err := c.write(cmd)
	if err == nil {
		_, err = c.awaitCont(cmd)
	}
	if err != nil {
		c.idler = nil
		return nil, c.fail(ctx, "IDLE", err)
	}
	if cmd.done {
		c.idler = nil
		c.requeue(i.queue)
		if cmd.Status.Type == "NO" {
			return nil, statusError(KindError, "IDLE", cmd.Status, "idle denied: "+cmd.Status.Text)
		}
		return nil, &Error{Kind: KindAbort, Command: "IDLE", Text: "unexpected status response: " + cmd.Status.Line()}
	}
	if duration > 0 {
		i.deadline = time.Now().Add(duration)
	}
	c.savedState = c.State()
	c.setStateAny(StateIdling)
	c.trace(4, "idle start")
	return i, nil
}

// Next returns the next untagged response, or nil when the duration has
// ended (or the server ended IDLE).
func (i *Idler) Next(ctx context.Context) (*Response, error) {
	d := i.deadline
	if d.IsZero() {
		d = forever
	}
	return i.nextBefore(ctx, d)
}

// Burst returns the first response (waiting as Next does) and then those
// arriving less than interval apart, past the duration if need be
// (imaplib's burst()), at most Options.MaxIdleQueue of them: under a
// flood it returns at the cap, and the next call goes on.
func (i *Idler) Burst(ctx context.Context, interval time.Duration) ([]*Response, error) {
	first, err := i.Next(ctx)
	if err != nil || first == nil {
		return nil, err
	}
	out := []*Response{first}
	for len(out) < i.c.opts.MaxIdleQueue {
		// as imaplib: only the interval counts now, not the duration
		r, err := i.nextBefore(ctx, time.Now().Add(interval))
		if err != nil {
			return out, err
		}
		if r == nil {
			return out, nil
		}
		out = append(out, r)
	}
	return out, nil
}

// nextBefore waits for a response's first line until deadline; a line
// still partial then stays buffered, to be finished after DONE (as
// imaplib keeps fragments across its timeout). The literals of a line
// that has arrived are read with the normal timeout.
func (i *Idler) nextBefore(ctx context.Context, deadline time.Time) (*Response, error) {
	c := i.c
	for {
		if len(i.queue) > 0 {
			r := i.queue[0]
			i.queue = i.queue[1:]
			return r, nil
		}
		if i.done || i.cmd.done || c.dead() != nil {
			return nil, c.broken
		}
		if time.Now().After(deadline) {
			return nil, nil
		}
		stop := c.watch(ctx)
		err := c.r.waitLine(deadline)
		if err != nil {
			stop()
			if errors.Is(err, os.ErrDeadlineExceeded) && !c.r.canceled.Load() {
				return nil, nil
			}
			return nil, c.fail(ctx, "IDLE", err)
		}
		r, err := c.readResponse()
		if err == nil {
			err = c.dispatch(r)
		}
		stop()
		if err != nil {
			return nil, c.fail(ctx, "IDLE", err)
		}
		if i.cmd.done { // the server ended IDLE by itself
			i.finish()
		}
	}
}

func (i *Idler) finish() {
	c := i.c
	i.done = true
	i.capturing = false
	c.idler = nil
	if c.State() == StateIdling {
		c.setStateAny(c.savedState)
	}
	c.requeue(i.queue)
	i.queue = nil
}

// requeue moves responses nobody read into imaplib's store.
func (c *Client) requeue(rs []*Response) {
	for _, r := range rs {
		c.storePut(r.Type, stored{r: r})
		if r.HasCode {
			c.storePut(r.Code, stored{r: r, code: true})
		}
	}
}

// Done sends DONE and reads to the end of IDLE. Responses not yet read go
// to the untagged store ([Client.Response]).
func (i *Idler) Done(ctx context.Context) error {
	if i.done {
		return nil
	}
	c := i.c
	i.finish()
	if i.cmd.done {
		return nil
	}
	stop := c.watch(ctx)
	defer stop()
	c.trace(4, "> DONE")
	if c.opts.Audit != nil {
		c.opts.Audit("imaplib.send", "DONE")
	}
	if _, err := c.w.WriteString("DONE\r\n"); err != nil {
		return c.fail(ctx, "IDLE", err)
	}
	if err := c.w.Flush(); err != nil {
		return c.fail(ctx, "IDLE", err)
	}
	if err := c.readUntil(func() bool { return i.cmd.done }); err != nil {
		return c.fail(ctx, "IDLE", err)
	}
	if err := c.checkBye("IDLE"); err != nil {
		return err
	}
	if i.cmd.Status.Type == "BAD" {
		return statusError(KindError, "IDLE", i.cmd.Status, "IDLE command error: BAD "+i.cmd.Status.Text)
	}
	return nil
}

// Idling reports whether an IDLE is in progress.
func (c *Client) Idling() bool { return c.idler != nil }
