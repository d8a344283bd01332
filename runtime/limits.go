package runtime

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/internal/limit"
)

// Defaults under Sandbox, and the limits no option changes.
const (
	sandboxWallTime    = 60 * time.Second
	sandboxConnections = 8
	sandboxOutput      = 1 << 20
	sandboxMemory      = 256 << 20
	sandboxScriptSize  = 1 << 20
	defaultScriptSize  = 8 << 20
	// maxNesting is Lua's LUAI_MAXCCALLS: syntax levels of a chunk and
	// nested coroutine resumes.
	maxNesting = 200
	// maxCoroutines live at once in one run.
	maxCoroutines = 1000
	// maxResults that unpack and string.byte push (Lua 5.2's LUAI_MAXSTACK).
	maxResults = 1_000_000
	// watchEvery is how often the memory watchdog samples the heap.
	watchEvery = 10 * time.Millisecond
)

// LimitError is a limit a run went past; a [ScriptError] of Kind
// "limit.memory" and the like unwraps to it.
type LimitError = limit.Error

// limitDefaults fills in the zero limits: none, or Sandbox's defaults.
func (o *Options) limitDefaults() {
	if !o.Sandbox {
		if o.MaxScriptSize == 0 {
			o.MaxScriptSize = defaultScriptSize
		}
		return
	}
	if o.WallTime == 0 {
		o.WallTime = sandboxWallTime
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = sandboxConnections
	}
	if o.MaxOutput == 0 {
		o.MaxOutput = sandboxOutput
	}
	if o.MaxMemory == 0 {
		o.MaxMemory = sandboxMemory
	}
	if o.MaxScriptSize == 0 {
		o.MaxScriptSize = sandboxScriptSize
	}
}

// limitContext is the context of one run: cancelled with a *limit.Error
// as its cause when the run goes past its wall time or memory, and
// carrying the memory budget. stop releases it.
func (rt *Runtime) limitContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ctx = context.WithValue(ctx, stopKey{}, cancel)
	cancelTime := func() {}
	if d := rt.opts.WallTime; d > 0 {
		ctx, cancelTime = context.WithTimeoutCause(ctx, d, &limit.Error{Limit: "time", Max: d.String()})
	}
	stopWatch := func() {}
	if rt.opts.MaxMemory > 0 {
		w := newWatch(rt.opts.MaxMemory, cancel)
		ctx = limit.NewContext(ctx, w.budget)
		stopWatch = w.run(ctx)
	}
	return ctx, func() {
		stopWatch()
		cancelTime()
		cancel(nil)
	}
}

// watch is a run's memory watchdog. Go has no per-goroutine heap
// accounting, so a run is charged with the growth of the process's live
// heap since the run started: concurrent runs in one process each see
// the others' growth too (one can be stopped for its neighbours'
// memory, and together they stay under the largest budget, not the
// sum); Options.Isolate gives each run a heap of its own.
type watch struct {
	budget *limit.Budget
	max    int64
	cancel context.CancelCauseFunc

	mu         sync.Mutex
	base       int64 // live heap when the run started
	lastLive   int64 // an upper bound of the live heap at the last GC we forced
	lastAllocs int64 // cumulative allocations then
	seen       int64 // cumulative allocations at the last Observe
}

var heapMetrics = []string{"/gc/heap/live:bytes", "/memory/classes/heap/objects:bytes", "/gc/heap/allocs:bytes"}

func readHeap() (live, objects, allocs int64) {
	s := make([]metrics.Sample, len(heapMetrics))
	for i, name := range heapMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	v := func(i int) int64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return int64(s[i].Value.Uint64())
	}
	return v(0), v(1), v(2)
}

func newWatch(max int64, cancel context.CancelCauseFunc) *watch {
	w := &watch{max: max, cancel: cancel}
	_, objects, allocs := readHeap()
	if objects > max/8 {
		// the heap may hold garbage or a stale last GC: only a GC tells
		// what is live before the run
		runtime.GC()
		_, objects, allocs = readHeap()
	}
	// at most max/8 of the run's growth can hide in the base
	w.base, w.lastLive, w.lastAllocs, w.seen = objects, objects, allocs, allocs
	w.budget = limit.NewBudget(max, cancel, func() (int64, int64) { return w.sample(true) })
	return w
}

// sample returns the heap's growth since the run started, and what was
// allocated since the last sample. It forces a
// GC before saying the budget is passed (or when asked): only the live
// heap counts, not garbage a GC has yet to collect.
func (w *watch) sample(force bool) (grown, allocated int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, objects, allocs := readHeap()
	allocated, w.seen = allocs-w.seen, allocs
	// nothing allocated since the last forced GC can make the live heap
	// bigger than it was then plus those allocations
	grown = min(objects, w.lastLive+allocs-w.lastAllocs) - w.base
	if grown > w.max || force {
		runtime.GC()
		var live int64
		live, _, allocs = readHeap()
		w.lastLive, w.lastAllocs = live, allocs
		grown = live - w.base
	}
	return grown, allocated
}

// run samples the heap until ctx ends or stop is called, and stops the
// run when its growth passes the budget.
func (w *watch) run(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(watchEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			grown, allocated := w.sample(false)
			if grown > w.max {
				w.cancel(w.budget.Err())
				return
			}
			w.budget.Observe(grown, allocated)
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// charge asks the run's budget for n bytes and ends the script with the
// limit's error when refused.
func charge(L *lua.LState, n int64) {
	if err := limit.FromContext(L.Context()).Charge(n); err != nil {
		L.RaiseError("%s", err.Error())
	}
}

// checkStopped ends the script if its run was stopped (a limit, a
// cancel); Go loops that can run long call it between chunks.
func checkStopped(L *lua.LState) {
	if ctx := L.Context(); ctx != nil && ctx.Err() != nil {
		L.RaiseError("%s", context.Cause(ctx).Error())
	}
}

// stopLimit ends the run with err: the run's context is cancelled with
// it, so a pcall in the script cannot go on past the limit.
func stopLimit(L *lua.LState, err *limit.Error) {
	stopRun(L.Context(), err)
	L.RaiseError("%s", err.Error())
}

type stopKey struct{}

// stopRun cancels the run of ctx (made by limitContext) with cause.
func stopRun(ctx context.Context, cause error) {
	if stop, ok := ctx.Value(stopKey{}).(context.CancelCauseFunc); ok {
		stop(cause)
	}
}

// runError is the error a finished run returns: a limit's when a limit
// stopped it, however the script ended.
func runError(ctx context.Context, name string, err error) error {
	var pe *panicError
	if errors.As(context.Cause(ctx), &pe) {
		return &ScriptError{File: name, Kind: "internal", Message: pe.msg}
	}
	var le *limit.Error
	if errors.As(limit.Stopped(ctx), &le) {
		se := &ScriptError{}
		if err != nil {
			se = scriptError(name, err)
		}
		se.Kind, se.Message, se.Err = "limit."+le.Limit, le.Error(), le
		return se
	}
	if err == nil {
		return nil
	}
	se := scriptError(name, err)
	if ctx.Err() != nil {
		se.Message = "script stopped: " + ctx.Err().Error() + " (" + se.Message + ")"
		return se
	}
	var ae *lua.ApiError
	if errors.As(err, &ae) && ae.Type == lua.ApiErrorPanic {
		se.Kind = "internal"
	}
	return se
}

// recoverRun turns a Go panic under a run into a *ScriptError of Kind
// "internal"; it is deferred by every entry point that runs a script.
func recoverRun(name string, err *error) {
	if r := recover(); r != nil {
		*err = &ScriptError{File: name, Kind: "internal", Message: fmt.Sprintf("internal error: %v", r)}
	}
}
