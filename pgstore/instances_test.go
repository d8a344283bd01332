package pgstore

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestThreeOwners runs three goroutines the way three instances share
// mailboxes: acquire → load last UID → handle the next UIDs → save. One is
// killed mid-handling; it stops renewing and, like a paused process that
// wakes up late, tries to save afterwards. Every UID must be handled in
// exactly one finished (saved) call, and the dead owner's mailboxes must
// move to the others within the lease time.
func TestThreeOwners(t *testing.T) {
	const (
		boxes, uids, batch = 6, 20, 3
		ttl                = time.Second
		step               = 10 * time.Millisecond
	)
	ctx := context.Background()
	names := make([]string, boxes)
	run := strconv.FormatInt(time.Now().UnixNano(), 36) // fresh names on each -count
	for i := range names {
		names[i] = "three-" + run + "-box" + strconv.Itoa(i)
	}
	owners := []string{"i1", "i2", "victim"}
	stores := map[string]*Store{}
	for _, o := range owners {
		stores[o] = open(t, o)
	}
	// The victim holds two mailboxes from the start.
	for _, n := range names[:2] {
		if ok, err := stores["victim"].Acquire(ctx, n, "victim", ttl); !ok || err != nil {
			t.Fatalf("victim acquire %s: %v %v", n, ok, err)
		}
	}

	var mu sync.Mutex
	finished := map[string][]int{} // name → UIDs in saved calls
	var killedAt time.Time
	takenOver := map[string]time.Time{} // victim's names, first taken by another
	victimHeld := map[string]bool{}
	zombieSaves := 0

	load := func(s *Store, name string) int {
		b, err := s.Load(name)
		if err != nil {
			t.Error(err)
		}
		n, _ := strconv.Atoi(string(b))
		return n
	}
	done := func() bool {
		for _, n := range names {
			if load(stores["i1"], n) < uids {
				return false
			}
		}
		return true
	}

	vctx, kill := context.WithCancel(ctx)
	handling := make(chan struct{}, 1)
	var wg sync.WaitGroup
	deadline := time.Now().Add(30 * time.Second)
	for _, o := range owners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[o]
			runCtx := ctx
			if o == "victim" {
				runCtx = vctx
			}
			batches := 0
			for time.Now().Before(deadline) && !done() {
				for _, n := range names {
					ok, err := s.Acquire(ctx, n, o, ttl)
					if err != nil {
						t.Error(err)
						return
					}
					if !ok {
						continue
					}
					mu.Lock()
					if o == "victim" {
						victimHeld[n] = true
					} else if victimHeld[n] && !killedAt.IsZero() {
						if _, seen := takenOver[n]; !seen {
							takenOver[n] = time.Now()
						}
					}
					mu.Unlock()
					last := load(s, n)
					var got []int
					batches++
					killed := false
					for u := last + 1; u <= uids && len(got) < batch; u++ {
						select {
						case <-runCtx.Done():
							killed = true
						case <-time.After(step):
						}
						if killed {
							break
						}
						got = append(got, u)
						if o == "victim" && batches == 3 && len(got) == 1 {
							handling <- struct{}{} // killed with one UID handled
						}
					}
					if killed {
						// Dead: no renewals. Wake up after the lease ran out
						// and try to save what was half done.
						time.Sleep(ttl + 300*time.Millisecond)
						if len(got) > 0 {
							err := s.Save(n, []byte(strconv.Itoa(got[len(got)-1])))
							if err == nil {
								mu.Lock()
								zombieSaves++
								finished[n] = append(finished[n], got...)
								mu.Unlock()
							} else if !errors.Is(err, ErrLeaseLost) {
								t.Error(err)
							}
						}
						return
					}
					if len(got) == 0 {
						continue
					}
					err = s.Save(n, []byte(strconv.Itoa(got[len(got)-1])))
					if errors.Is(err, ErrLeaseLost) {
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					finished[n] = append(finished[n], got...)
					mu.Unlock()
				}
				time.Sleep(step)
			}
		}()
	}
	select {
	case <-handling:
	case <-time.After(20 * time.Second):
		t.Fatal("victim never started handling")
	}
	mu.Lock()
	killedAt = time.Now()
	mu.Unlock()
	kill()
	wg.Wait()

	if !done() {
		t.Fatal("mailboxes not finished in 30s")
	}
	for _, n := range names {
		seen := map[int]int{}
		for _, u := range finished[n] {
			seen[u]++
		}
		for u := 1; u <= uids; u++ {
			if seen[u] != 1 {
				t.Errorf("%s UID %d handled %d times in finished calls", n, u, seen[u])
			}
		}
	}
	if zombieSaves != 0 {
		t.Errorf("the dead owner saved %d times after losing its lease", zombieSaves)
	}
	for n := range victimHeld {
		if load(stores["i1"], n) < uids {
			continue
		}
		at, ok := takenOver[n]
		if !ok {
			// Finished by the victim before the kill: nothing to take over.
			continue
		}
		if d := at.Sub(killedAt); d > ttl+time.Second {
			t.Errorf("%s taken over %v after the kill; lease is %v", n, d, ttl)
		}
	}
	if len(takenOver) == 0 {
		t.Error("no mailbox of the dead owner moved to another")
	}
}
