package stdlib

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
)

// Leaser is a Store that also leases names (pgstore.Store is one). When a
// run's Store is a Leaser, RunWatchers runs a watcher only while this
// instance holds the lease named as its state document, so instances that
// share the store each watch their own mailboxes. Save of a name whose
// lease another owner holds must fail with an error that has a method
// LeaseLost() bool returning true.
type Leaser interface {
	Acquire(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	Release(ctx context.Context, name, owner string) error
	Owner() string
}

// DefaultLeaseTTL is a lease's lifetime when WatchMode.LeaseTTL is zero.
const DefaultLeaseTTL = 30 * time.Second

// leaseLost says whether err is a fenced Save's refusal.
func leaseLost(err error) bool {
	var ll interface{ LeaseLost() bool }
	return errors.As(err, &ll) && ll.LeaseLost()
}

// leases are one run's mailbox leases, renewed every ttl/3.
type leases struct {
	l     Leaser
	owner string
	ttl   time.Duration
	log   *slog.Logger
	list  []*watchLease
	stopc chan struct{}
	done  chan struct{}
}

// watchLease is one watcher's lease.
type watchLease struct {
	ls     *leases
	name   string
	busy   sync.Mutex // held from the check before a handler to its Save
	mu     sync.Mutex
	held   bool
	until  time.Time          // by the local clock, never later than the database's
	cancel context.CancelFunc // the running watch loop's
	gained chan struct{}      // signalled on each gain
}

// startLeases takes what leases it can for ws's watchers; nil when the
// store does not lease. In a service it renews and takes more every ttl/3.
func startLeases(L *lua.LState, ws *watchSet, mode WatchMode, log *slog.Logger) *leases {
	l, ok := ws.store.(Leaser)
	if !ok {
		return nil
	}
	ttl := mode.LeaseTTL
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	ls := &leases{l: l, owner: l.Owner(), ttl: ttl, log: log, stopc: make(chan struct{}), done: make(chan struct{})}
	for _, w := range ws.list {
		w.lease = &watchLease{ls: ls, name: w.doc, gained: make(chan struct{}, 1)}
		ls.list = append(ls.list, w.lease)
	}
	ctx := bindings.Ctx(L)
	ls.round(ctx)
	if !mode.Service {
		close(ls.done)
		return ls
	}
	go func() {
		defer close(ls.done)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-ls.stopc:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				ls.round(ctx)
			}
		}
	}()
	return ls
}

// leaseCounter is a Leaser that counts the holders of leases named
// with a prefix; with it each instance takes only its share.
type leaseCounter interface {
	Holders(ctx context.Context, prefix string) (int, error)
}

// memberPrefix names the lease each instance keeps to be counted.
const memberPrefix = "member:"

// share is how many mailboxes this instance should hold: all of them
// unless the Leaser counts the live instances.
func (ls *leases) share(ctx context.Context) int {
	lc, ok := ls.l.(leaseCounter)
	if !ok {
		return len(ls.list)
	}
	actx, cancel := context.WithTimeout(ctx, ls.ttl/3)
	defer cancel()
	if _, err := ls.l.Acquire(actx, memberPrefix+ls.owner, ls.owner, ls.ttl); err != nil {
		return len(ls.list)
	}
	n, err := lc.Holders(actx, memberPrefix)
	if err != nil || n < 1 {
		return len(ls.list)
	}
	return (len(ls.list) + n - 1) / n
}

// round renews the held leases up to this instance's share, gives back
// the rest (so a new instance gets work) and takes free ones up to it.
func (ls *leases) round(ctx context.Context) {
	share, kept := ls.share(ctx), 0
	for _, wl := range ls.list {
		wl.mu.Lock()
		held := wl.held
		wl.mu.Unlock()
		if !held {
			continue
		}
		if kept < share {
			kept++
			continue
		}
		ls.drop(ctx, wl)
	}
	for _, wl := range ls.list {
		wl.mu.Lock()
		held := wl.held
		wl.mu.Unlock()
		if !held {
			if kept >= share {
				continue
			}
		}
		start := time.Now()
		actx, cancel := context.WithTimeout(ctx, ls.ttl/3)
		ok, err := ls.l.Acquire(actx, wl.name, ls.owner, ls.ttl)
		cancel()
		wl.mu.Lock()
		was := wl.held
		switch {
		case ok:
			wl.held, wl.until = true, start.Add(ls.ttl)
		case err != nil && was && time.Until(wl.until) > ls.ttl/3:
			// keep it while it is surely ours; the next round tries again
		default:
			wl.held = false
		}
		now := wl.held
		if was && !now && wl.cancel != nil {
			wl.cancel()
		}
		wl.mu.Unlock()
		if err != nil {
			ls.log.Warn("lease renewal failed", "event", "lease", "state", wl.name, "error", err.Error())
		}
		if !was && now {
			kept++
			ls.log.Info("lease taken", "event", "lease", "state", wl.name, "outcome", "gained")
			select {
			case wl.gained <- struct{}{}:
			default:
			}
		} else if was && !now {
			ls.log.Warn("lease lost", "event", "lease", "state", wl.name, "outcome", "lost")
		}
	}
}

// drop gives wl back: no handler starts on it again; released now unless
// a handler runs (then it runs out, which that handler's Save outlives).
func (ls *leases) drop(ctx context.Context, wl *watchLease) {
	wl.mu.Lock()
	wl.held = false
	if wl.cancel != nil {
		wl.cancel()
	}
	wl.mu.Unlock()
	ls.log.Info("lease given back", "event", "lease", "state", wl.name, "outcome", "dropped")
	if wl.busy.TryLock() {
		rctx, cancel := context.WithTimeout(ctx, ls.ttl/3)
		ls.l.Release(rctx, wl.name, ls.owner)
		cancel()
		wl.busy.Unlock()
	}
}

// stop ends the renewals and releases every lease, so other instances
// take over at once. No handler runs by then.
func (ls *leases) stop() {
	if ls == nil {
		return
	}
	close(ls.stopc)
	<-ls.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, wl := range ls.list {
		wl.mu.Lock()
		held := wl.held
		wl.held = false
		wl.mu.Unlock()
		if held {
			if err := ls.l.Release(ctx, wl.name, ls.owner); err != nil {
				ls.log.Warn("lease release failed", "event", "lease", "state", wl.name, "error", err.Error())
			}
		}
	}
	if _, ok := ls.l.(leaseCounter); ok {
		ls.l.Release(ctx, memberPrefix+ls.owner, ls.owner)
	}
}

// run calls fn (a watch loop) for each term of watcher i's lease, with a
// context canceled when the lease is lost; without leases, once. It
// signals done when ctx ends.
func (ls *leases) run(ctx context.Context, i int, done chan<- struct{}, fn func(context.Context)) {
	defer func() { done <- struct{}{} }()
	if ls == nil {
		fn(ctx)
		return
	}
	wl := ls.list[i]
	for {
		select {
		case <-ctx.Done():
			return
		case <-wl.gained:
		}
		lctx, cancel := context.WithCancel(ctx)
		wl.mu.Lock()
		wl.cancel = cancel
		if !wl.held {
			cancel()
		}
		wl.mu.Unlock()
		fn(lctx)
		cancel()
	}
}

// enter says whether the handler may run now: the lease is held with at
// least a third of its time left. It holds busy until exit.
func (wl *watchLease) enter() bool {
	if wl == nil {
		return true
	}
	wl.busy.Lock()
	wl.mu.Lock()
	ok := wl.held && time.Until(wl.until) > wl.ls.ttl/3
	wl.mu.Unlock()
	if !ok {
		wl.busy.Unlock()
	}
	return ok
}

func (wl *watchLease) exit() {
	if wl != nil {
		wl.busy.Unlock()
	}
}

// may says whether the lease still has a third of its time left.
func (wl *watchLease) may() bool {
	if wl == nil {
		return true
	}
	wl.mu.Lock()
	defer wl.mu.Unlock()
	return wl.held && time.Until(wl.until) > wl.ls.ttl/3
}

// lose drops the lease after a fenced Save refused: another owner has it.
func (wl *watchLease) lose() {
	if wl == nil {
		return
	}
	wl.mu.Lock()
	wl.held = false
	if wl.cancel != nil {
		wl.cancel()
	}
	wl.mu.Unlock()
	wl.ls.log.Warn("lease lost", "event", "lease", "state", wl.name, "outcome", "lost")
}
