package imap

import (
	"errors"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// peakHeap runs f while sampling the heap, and returns how far the heap
// grew above what it was before.
func peakHeap(f func()) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(20)) // the heap tracks what is live
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop, done := make(chan struct{}), make(chan struct{})
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc > peak.Load() {
			peak.Store(ms.HeapAlloc)
		}
	}
	go func() {
		defer close(done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	f()
	close(stop)
	<-done
	sample()
	if peak.Load() < base {
		return 0
	}
	return peak.Load() - base
}

const heapBudget = 8 << 20

func wantUnder(t *testing.T, grew uint64) {
	t.Helper()
	if grew > heapBudget {
		t.Fatalf("heap grew by %d MiB, budget %d MiB", grew>>20, heapBudget>>20)
	}
}

// flood writes chunk n times, ignoring errors: the client hangs up.
func flood(s *session, chunk string, n int) {
	for range n {
		if _, err := s.c.Write([]byte(chunk)); err != nil {
			return
		}
	}
}

func dialBudget(t *testing.T, addr string, o Options) *Client {
	t.Helper()
	o.Timeout = 5 * time.Second
	c, err := Dial(bg, addr, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func wantLimit(t *testing.T, err error, option string) {
	t.Helper()
	var le *LimitError
	if !errors.As(err, &le) || le.Option != option {
		t.Fatalf("error %v, want a LimitError for %s", err, option)
	}
	wantKind(t, err, KindAbort, "Options."+option)
}

// "* ESEARCH ... UID ALL 1:9999999" is 60 bytes: it stays one range, and
// expanding it past MaxExpand is an error.
func TestBudgetESearchRange(t *testing.T) {
	const line = "* ESEARCH (TAG \"x\") UID ALL 1:9999999\r\n"
	addr := fake(t, func(s *session) {
		selected(s)
		tag := s.expect("UID SEARCH RETURN (ALL) ALL")
		s.send(line, tag+" OK done\r\n")
		tag = s.expect("UID SEARCH ALL")
		s.send(line, line, line, tag+" OK done\r\n")
		tag = s.expect("UID SEARCH ALL")
		s.send("* ESEARCH (TAG \"y\") UID ALL 4:6,9 MIN 4\r\n", tag+" OK done\r\n")
	})
	c := dialBudget(t, addr, Options{MaxExpand: 100_000})
	selectInbox(t, c)
	cmd := &Command{Name: "UID SEARCH", Args: []Arg{Raw("RETURN (ALL) ALL")}}
	if err := c.Execute(bg, cmd); err != nil {
		t.Fatal(err)
	}
	es, err := decodeESearch(cmd.Untagged[0])
	if err != nil {
		t.Fatal(err)
	}
	if !es.UID || es.Tag != "x" || len(es.All) != 1 || es.All[0] != (SeqRange{1, 9999999}) || es.All.Len() != 9999999 {
		t.Fatalf("%+v", es)
	}
	if _, err := es.All.Expand(100); err == nil || !strings.Contains(err.Error(), "MaxExpand") {
		t.Fatalf("expand: %v", err)
	}
	grew := peakHeap(func() {
		_, _, err = c.Search(bg, "", []string{"ALL"}, true)
	})
	if err == nil || !strings.Contains(err.Error(), "MaxExpand") {
		t.Fatalf("search: %v", err)
	}
	wantUnder(t, grew)
	_, nums, err := c.Search(bg, "", []string{"ALL"}, true)
	if err != nil || len(nums) != 4 || nums[0] != 4 || nums[3] != 9 { // ALL only: MIN is no hit
		t.Fatal(nums, err)
	}
}

// Many literals each under MaxLiteral still cannot make one response
// bigger than MaxResponse.
func TestBudgetResponseBytes(t *testing.T) {
	lit := strings.Repeat("x", 1_000_000)
	addr := fake(t, func(s *session) {
		loggedIn(s)
		s.expect("NOOP")
		s.send("* 1 FETCH (")
		for i := range 12 {
			if _, err := s.c.Write([]byte("BODY[" + string(rune('1'+i)) + "] {1000000}\r\n" + lit + " ")); err != nil {
				return
			}
		}
		s.send(")\r\n")
	})
	c := dialBudget(t, addr, Options{MaxLiteral: 1 << 20, MaxResponse: 2 << 20})
	login(t, c)
	var err error
	grew := peakHeap(func() { _, err = c.Noop(bg) })
	wantLimit(t, err, "MaxResponse")
	wantUnder(t, grew)
}

// A flood of "* 1 EXISTS" during a NOOP fails at MaxUntagged instead of
// growing without bound (the per-read timeout never fires on a flood).
func TestBudgetUntaggedFlood(t *testing.T) {
	chunk := strings.Repeat("* 1 EXISTS\r\n", 5000)
	addr := fake(t, func(s *session) {
		loggedIn(s)
		tag := s.expect("NOOP")
		flood(s, chunk, 60) // 300,000 responses
		flood(s, tag+" OK done\r\n", 1)
	})
	c := dialBudget(t, addr, Options{MaxUntagged: 1000})
	login(t, c)
	var err error
	grew := peakHeap(func() { _, err = c.Noop(bg) })
	wantLimit(t, err, "MaxUntagged")
	wantUnder(t, grew)
}

// The bytes kept are bounded too, not only their number.
func TestBudgetKeptBytes(t *testing.T) {
	chunk := "* OK " + strings.Repeat("y", 50_000) + "\r\n"
	addr := fake(t, func(s *session) {
		loggedIn(s)
		tag := s.expect("NOOP")
		flood(s, chunk, 400) // 20 MB
		flood(s, tag+" OK done\r\n", 1)
	})
	c := dialBudget(t, addr, Options{MaxKept: 2 << 20})
	login(t, c)
	var err error
	grew := peakHeap(func() { _, err = c.Noop(bg) })
	wantLimit(t, err, "MaxKept")
	wantUnder(t, grew)
}

// A response of many empty literals costs what it holds, not the square
// of it (it used to concatenate the text once per literal).
func TestBudgetManyEmptyLiterals(t *testing.T) {
	const n = 20_000
	addr := fake(t, func(s *session) {
		loggedIn(s)
		tag := s.expect("NOOP")
		s.send("* OK [ALERT] x"+strings.Repeat(" {0}\r\n", n)+"\r\n", tag+" OK done\r\n")
		tag = s.expect("FETCH 1 (X)")
		s.send("* 1 FETCH (X ("+strings.Repeat("{0}\r\n ", n)+"))\r\n", tag+" OK done\r\n")
	})
	c := dialBudget(t, addr, Options{})
	login(t, c)
	selectless := func(f func() error) uint64 {
		runtime.GC()
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		if err := f(); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&b)
		return b.TotalAlloc - a.TotalAlloc
	}
	alloc := selectless(func() error { _, err := c.Noop(bg); return err })
	if alloc > 64<<20 {
		t.Fatalf("a response of %d empty literals allocated %d MiB", n, alloc>>20)
	}
	if items, _ := c.Response("ALERT"); len(items) != 1 {
		t.Fatalf("ALERT %v", items)
	}
	c.setStateAny(StateSelected)
	var msgs []*FetchMessage
	alloc = selectless(func() error {
		var err error
		_, msgs, err = c.Fetch(bg, "1", "X", false)
		return err
	})
	if len(msgs) != 1 || len(msgs[0].Other["X"].List) != n {
		t.Fatalf("FETCH decoded to %v", msgs)
	}
	if alloc > 64<<20 {
		t.Fatalf("a FETCH of %d empty literals allocated %d MiB", n, alloc>>20)
	}
}

// The values one response may decode to are capped (MaxItems).
func TestBudgetListItems(t *testing.T) {
	addr := fake(t, func(s *session) {
		loggedIn(s)
		tag := s.expect(`LIST "" *`)
		s.send("* LIST ("+strings.Repeat(`\F `, 5000)+") \"/\" INBOX\r\n", tag+" OK done\r\n")
	})
	c := dialBudget(t, addr, Options{MaxItems: 1000})
	login(t, c)
	_, _, err := c.List(bg, "", "*")
	if err == nil || !strings.Contains(err.Error(), "MaxItems") {
		t.Fatalf("list: %v", err)
	}
}
