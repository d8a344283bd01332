package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// stopper is the context of a run that Ctrl-C or SIGTERM ends, and
// which of them did.
type stopper struct {
	mu  sync.Mutex
	sig os.Signal
}

// signalContext returns a context that SIGINT and SIGTERM cancel.
func signalContext() (context.Context, *stopper, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	st := &stopper{}
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			st.mu.Lock()
			st.sig = s
			st.mu.Unlock()
			cancel()
		case <-done:
			return
		}
		// a second signal while the run winds down: the user means it
		select {
		case <-ch:
			_, code := st.stopped()
			os.Exit(code)
		case <-done:
		}
	}()
	return ctx, st, func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
}

// stopped says how a signal ended the run: the word and the exit
// status (128 + the signal), or "" if none did.
func (s *stopper) stopped() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.sig {
	case nil:
		return "", 0
	case syscall.SIGTERM:
		return "terminated", 143
	}
	return "interrupted", 130
}
