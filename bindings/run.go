package bindings

import (
	"errors"
	"io"
	"sync"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/internal/limit"
)

// run is what an Env keeps of its run: the connections and locks to
// release when it ends, and the limit it hit.
type run struct {
	mu       sync.Mutex
	conns    map[io.Closer]struct{}
	ends     map[int]func()
	next     int
	ended    bool
	limitErr *limit.Error
}

// Track records a connection of the run, closed by [Env.End] unless
// [Env.Untrack] comes first. After the end it closes c at once.
func (e *Env) Track(c io.Closer) {
	e.run.mu.Lock()
	if e.run.ended {
		e.run.mu.Unlock()
		c.Close()
		return
	}
	if e.run.conns == nil {
		e.run.conns = map[io.Closer]struct{}{}
	}
	e.run.conns[c] = struct{}{}
	e.run.mu.Unlock()
}

// Untrack forgets a connection the script closed itself.
func (e *Env) Untrack(c io.Closer) {
	e.run.mu.Lock()
	delete(e.run.conns, c)
	e.run.mu.Unlock()
}

// OnEnd has f run when the run ends (a lock to release); remove takes it
// back, for when the script released it itself.
func (e *Env) OnEnd(f func()) (remove func()) {
	e.run.mu.Lock()
	defer e.run.mu.Unlock()
	if e.run.ends == nil {
		e.run.ends = map[int]func(){}
	}
	id := e.run.next
	e.run.next++
	e.run.ends[id] = f
	return func() {
		e.run.mu.Lock()
		delete(e.run.ends, id)
		e.run.mu.Unlock()
	}
}

// End releases what the run still holds: it runs the OnEnd functions,
// then closes every tracked connection. The runtime calls it when a
// run ends, however it ends; calling it again does nothing.
func (e *Env) End() {
	e.run.mu.Lock()
	e.run.ended = true
	conns, ends := e.run.conns, e.run.ends
	e.run.conns, e.run.ends = nil, nil
	e.run.mu.Unlock()
	for _, f := range ends { // first: they may still use a connection (a read-ahead joined)
		f()
	}
	for c := range conns {
		c.Close()
	}
}

// Limit records err as the run's limit error (the first one wins) and
// stops the run through Stop; it returns err for the caller to raise.
func (e *Env) Limit(err *limit.Error) error {
	e.run.mu.Lock()
	if e.run.limitErr == nil {
		e.run.limitErr = err
	}
	e.run.mu.Unlock()
	if e.Stop != nil {
		e.Stop()
	}
	return err
}

// LimitErr is the *limit.Error the run hit, or nil. A run that hit a
// limit failed with it, whatever Lua error it ended with (a limit stops
// the run even if the script catches the error).
func (e *Env) LimitErr() error {
	e.run.mu.Lock()
	defer e.run.mu.Unlock()
	if e.run.limitErr == nil {
		return nil
	}
	return e.run.limitErr
}

// CountConnection charges one connection (dial or reconnect) to the
// run's connection limit.
func (e *Env) CountConnection() error {
	if e.Connect == nil {
		return nil
	}
	return e.Connect()
}

// RaiseLimit raises err in Lua with its message; a *limit.Error is
// recorded first, so the runtime reports the limit.
func RaiseLimit(L *lua.LState, e *Env, err error) {
	var le *limit.Error
	if errors.As(err, &le) {
		e.Limit(le)
	}
	L.RaiseError("%s", err.Error())
}

// output is one budget of bytes shared by a run's stdout and stderr.
type output struct {
	mu  sync.Mutex
	n   int64
	max int64
	env *Env
}

// outWriter charges what it writes to an output budget.
type outWriter struct {
	w io.Writer
	o *output
}

func (w outWriter) Write(b []byte) (int, error) {
	o := w.o
	o.mu.Lock()
	if o.max > 0 && o.n+int64(len(b)) > o.max {
		o.n = o.max
		o.mu.Unlock()
		return 0, o.env.Limit(&limit.Error{Limit: "output", Max: limit.Bytes(o.max)})
	}
	o.n += int64(len(b))
	o.mu.Unlock()
	return w.w.Write(b)
}

// LimitOutput makes Stdout and Stderr (nil: io.Discard) share one
// budget of max bytes, none if max <= 0: every path (print, io.write,
// log, protocol traces) counts, and a write past it fails, records the
// limit error and stops the run.
func (e *Env) LimitOutput(max int64) {
	o := &output{max: max, env: e}
	if e.Stdout == nil {
		e.Stdout = io.Discard
	}
	if e.Stderr == nil {
		e.Stderr = io.Discard
	}
	e.Stdout = outWriter{w: e.Stdout, o: o}
	e.Stderr = outWriter{w: e.Stderr, o: o}
}
