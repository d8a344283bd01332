package limit

import (
	"context"
	"sync/atomic"
)

// Budget is one run's memory budget. Go functions that allocate on the
// script's behalf [Budget.Charge] it before allocating; a watchdog
// reports the heap's growth with [Budget.Observe]. A nil *Budget allows
// everything.
type Budget struct {
	max     int64
	stop    func(error)
	recheck func() (grown, allocated int64)
	grown   atomic.Int64 // heap growth the watchdog last saw
	pending atomic.Int64 // charged and not yet allocated
}

// NewBudget returns a budget of max bytes. stop ends the run with the
// limit's error; recheck, if set, measures afresh (after a GC) before
// an allocation is refused, as [Budget.Observe] wants.
func NewBudget(max int64, stop func(error), recheck func() (grown, allocated int64)) *Budget {
	return &Budget{max: max, stop: stop, recheck: recheck}
}

// Max is the budget in bytes.
func (b *Budget) Max() int64 {
	if b == nil {
		return 0
	}
	return b.max
}

// Err is the error of going past the budget.
func (b *Budget) Err() *Error { return &Error{Limit: "memory", Max: Bytes(b.max)} }

// Charge asks for n bytes more. It refuses (and stops the run) when n is
// more than what is left.
func (b *Budget) Charge(n int64) error {
	if b == nil || b.max <= 0 {
		return nil
	}
	if n < 0 || n > b.max-b.grown.Load()-b.pending.Load() {
		if b.recheck != nil {
			b.Observe(b.recheck())
		}
		if n < 0 || n > b.max-b.grown.Load()-b.pending.Load() {
			err := b.Err()
			if b.stop != nil {
				b.stop(err)
			}
			return err
		}
	}
	b.pending.Add(n)
	return nil
}

// Observe records the heap's growth since the run started, and how
// much was allocated since the last Observe: charges that many bytes
// were made are in the heap now, the others still to come.
func (b *Budget) Observe(grown, allocated int64) {
	b.grown.Store(max(grown, 0))
	for {
		p := b.pending.Load()
		if b.pending.CompareAndSwap(p, max(p-allocated, 0)) {
			return
		}
	}
}

type budgetKey struct{}

// NewContext returns ctx carrying b, for Go functions that only see the
// Lua state's context.
func NewContext(ctx context.Context, b *Budget) context.Context {
	return context.WithValue(ctx, budgetKey{}, b)
}

// FromContext is the budget ctx carries, or nil.
func FromContext(ctx context.Context) *Budget {
	if ctx == nil {
		return nil
	}
	b, _ := ctx.Value(budgetKey{}).(*Budget)
	return b
}

// Stopped is nil while ctx runs, then why it stopped: the limit's
// *Error if a limit stopped it.
func Stopped(ctx context.Context) error {
	if ctx == nil || ctx.Err() == nil {
		return nil
	}
	return context.Cause(ctx)
}
