package imap

import (
	"strings"
	"testing"
	"time"
)

// A flood into a command with an OnUntagged callback keeps no memory,
// but it is counted: past MaxUntagged the command fails instead of
// running as long as the server likes.
func TestBudgetCallbackFlood(t *testing.T) {
	chunk := strings.Repeat("* 1 EXISTS\r\n", 5000)
	addr := fake(t, func(s *session) {
		loggedIn(s)
		tag := s.expect("NOOP")
		flood(s, chunk, 60) // 300,000 responses
		flood(s, tag+" OK done\r\n", 1)
	})
	c := dialBudget(t, addr, Options{MaxUntagged: 1000})
	login(t, c)
	calls := 0
	cmd := &Command{Name: "NOOP", OnUntagged: func(*Response) { calls++ }}
	err := c.Execute(bg, cmd)
	wantLimit(t, err, "MaxUntagged")
	if calls != 1000 || len(cmd.Untagged) != 0 {
		t.Fatalf("%d callbacks, %d kept", calls, len(cmd.Untagged))
	}
}

// Responses sent before IDLE's "+" wait in the Idler's queue: a flood of
// them fails at MaxIdleQueue instead of growing it without bound.
func TestBudgetIdleQueueFlood(t *testing.T) {
	chunk := strings.Repeat("* 1 EXISTS\r\n", 5000)
	addr := fake(t, func(s *session) {
		selected(s)
		s.expect("IDLE")
		flood(s, chunk, 60)
		flood(s, "+ idling\r\n", 1)
	})
	c := dialBudget(t, addr, Options{MaxIdleQueue: 1000})
	selectInbox(t, c)
	var err error
	grew := peakHeap(func() { _, err = c.Idle(bg, time.Second) })
	wantLimit(t, err, "MaxIdleQueue")
	wantUnder(t, grew)
}

// A flood during idle(duration): a burst returns at MaxIdleQueue rather
// than gathering while the flood lasts, Next stops at the duration, and
// the heap stays bounded throughout.
func TestBudgetIdleBurstFlood(t *testing.T) {
	chunk := strings.Repeat("* 1 EXISTS\r\n", 5000)
	addr := fake(t, func(s *session) {
		selected(s)
		s.expect("IDLE")
		s.send("+ idling\r\n")
		flood(s, chunk, 400) // until the client hangs up
	})
	c := dialBudget(t, addr, Options{MaxIdleQueue: 500, MaxUntagged: 2000})
	selectInbox(t, c)
	var bursts [][]*Response
	var doneErr error
	grew := peakHeap(func() {
		i, err := c.Idle(bg, time.Second)
		if err != nil {
			t.Error(err)
			return
		}
		for range 3 {
			rs, err := i.Burst(bg, time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			bursts = append(bursts, rs)
		}
		for {
			r, err := i.Next(bg)
			if err != nil {
				t.Error(err)
				return
			}
			if r == nil {
				break
			}
		}
		doneErr = i.Done(bg) // the flood never lets the tagged OK come
	})
	for _, rs := range bursts {
		if len(rs) != 500 {
			t.Fatalf("burst of %d responses, want the cap of 500", len(rs))
		}
	}
	wantLimit(t, doneErr, "MaxUntagged")
	wantUnder(t, grew)
}
