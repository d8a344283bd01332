package imap

import (
	"fmt"
	"strconv"
	"time"
)

// Default budgets: what a server can make the client hold or wait; see [Options].
const (
	DefaultGreetingTimeout = 15 * time.Second

	DefaultMaxResponse  = DefaultMaxLiteral + 16<<20 // bytes of one response, literals included
	DefaultMaxUntagged  = 1_000_000                  // untagged responses kept by a command or the store
	DefaultMaxKept      = 1 << 30                    // bytes of the untagged responses kept
	DefaultMaxItems     = 1_000_000                  // values decoding one response may build
	DefaultMaxIdleQueue = 10_000                     // responses an IDLE holds unread, or one burst gathers
	DefaultMaxExpand    = 1_000_000                  // numbers a sequence set may expand to
)

// Bookkeeping cost of a response part and of a kept response, beyond
// their bytes: a flood of tiny responses is charged what it costs.
const (
	partCost = 64
	keptCost = 192
)

// LimitError is a budget a server made the client go past; it is the Err
// of an abort [*Error], for [errors.As].
type LimitError struct {
	Option string // the Options field: "MaxResponse", "MaxUntagged"...
	Max    int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("server went past the client's budget: %s of %d (Options.%s)", limitNoun[e.Option], e.Max, e.Option)
}

var limitNoun = map[string]string{
	"MaxResponse":  "bytes in one response",
	"MaxUntagged":  "untagged responses kept",
	"MaxKept":      "bytes of untagged responses kept",
	"MaxItems":     "values in one response",
	"MaxExpand":    "numbers in a sequence set",
	"MaxIdleQueue": "responses held unread by IDLE",
}

func limitErr(cmd, option string, max int64) *Error {
	le := &LimitError{Option: option, Max: max}
	return &Error{Kind: KindAbort, Command: cmd, Text: le.Error(), Err: le}
}

// keptSize is what keeping r costs.
func keptSize(r *Response) int64 { return r.size + keptCost }

// storePut adds s to imaplib's store under key, charging the store's budget.
func (c *Client) storePut(key string, s stored) {
	c.store[key] = append(c.store[key], s)
	c.storeN++
	c.storeBytes += keptSize(s.r)
	if c.budgetErr == nil {
		switch {
		case c.storeN > c.opts.MaxUntagged:
			c.budgetErr = limitErr("", "MaxUntagged", int64(c.opts.MaxUntagged))
		case c.storeBytes > c.opts.MaxKept:
			c.budgetErr = limitErr("", "MaxKept", c.opts.MaxKept)
		}
	}
}

// storeDel removes key from the store, refunding its budget.
func (c *Client) storeDel(key string) []stored {
	s := c.store[key]
	for _, x := range s {
		c.storeN--
		c.storeBytes -= keptSize(x.r)
	}
	delete(c.store, key)
	if c.storeN < 0 || c.storeBytes < 0 {
		c.storeN, c.storeBytes = 0, 0
	}
	return s
}

// storeReset empties the store.
func (c *Client) storeReset() {
	c.store = map[string][]stored{}
	c.storeN, c.storeBytes = 0, 0
}

// deliver hands r to cmd's callback, counting it against MaxUntagged
// (IDLE's responses are read one at a time by its caller and not counted).
func (c *Client) deliver(cmd *Command, r *Response) {
	cmd.delivered++
	if c.budgetErr == nil && cmd.delivered > c.opts.MaxUntagged && (c.idler == nil || c.idler.cmd != cmd) {
		c.budgetErr = limitErr(firstWord(cmd.Name), "MaxUntagged", int64(c.opts.MaxUntagged))
		return
	}
	cmd.OnUntagged(r)
}

// idleQueue adds r to the IDLE's unread queue, within MaxIdleQueue.
func (c *Client) idleQueue(i *Idler, r *Response) {
	if len(i.queue) >= c.opts.MaxIdleQueue {
		if c.budgetErr == nil {
			c.budgetErr = limitErr("IDLE", "MaxIdleQueue", int64(c.opts.MaxIdleQueue))
		}
		return
	}
	i.queue = append(i.queue, r)
}

// keepFor adds r to cmd.Untagged, charging cmd's budget.
func (c *Client) keepFor(cmd *Command, r *Response) {
	cmd.Untagged = append(cmd.Untagged, r)
	cmd.keptBytes += keptSize(r)
	if c.budgetErr == nil {
		switch {
		case len(cmd.Untagged) > c.opts.MaxUntagged:
			c.budgetErr = limitErr(firstWord(cmd.Name), "MaxUntagged", int64(c.opts.MaxUntagged))
		case cmd.keptBytes > c.opts.MaxKept:
			c.budgetErr = limitErr(firstWord(cmd.Name), "MaxKept", c.opts.MaxKept)
		}
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
