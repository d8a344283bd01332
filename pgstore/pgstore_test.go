package pgstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/postgres"
	"github.com/mailscript/mailscript/stdlib"
)

var _ stdlib.Store = (*Store)(nil)

// dsn is the test server's, set once by TestMain.
var dsn string

func TestMain(m *testing.M) {
	s, err := postgres.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgstore tests need PostgreSQL:", err)
		os.Exit(1)
	}
	dsn = s.DSN()
	code := m.Run()
	s.Stop()
	os.Exit(code)
}

// fresh is base made unique to this run, so -count=N reuses no rows.
func fresh(base string) string {
	return base + "_" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

func open(t *testing.T, owner string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, owner)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestLoadSave(t *testing.T) {
	n0 := fresh("rt-none")
	n1 := fresh("rt")
	s := open(t, "a")
	if b, err := s.Load(n0); b != nil || err != nil {
		t.Fatalf("missing doc: %q, %v", b, err)
	}
	for _, v := range []string{`{"uid":1}`, `{"uid":2,"x":"\u00e9"}`} {
		if err := s.Save(n1, []byte(v)); err != nil {
			t.Fatal(err)
		}
		b, err := s.Load(n1)
		if err != nil || string(b) != v {
			t.Fatalf("Load = %q, %v; want %q", b, err, v)
		}
	}
}

func TestConcurrentOpen(t *testing.T) {
	ctx := context.Background()
	// A fresh database, so the schema really is created by the racers.
	admin := open(t, "admin")
	db := fresh("racers")
	if _, err := admin.pool.Exec(ctx, `CREATE DATABASE `+db); err != nil {
		t.Fatal(err)
	}
	racers := strings.Replace(dsn, "/postgres?", "/"+db+"?", 1)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(ctx, racers, "r"+strconv.Itoa(i))
			if err == nil {
				err = s.Save("doc", []byte("x"))
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
}

func TestOpenBadDSNHidesPassword(t *testing.T) {
	_, err := Open(context.Background(), "postgres://u:s3cret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", "a")
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error shows the password: %v", err)
	}
}

func TestLease(t *testing.T) {
	n0 := fresh("box")
	ctx := context.Background()
	a, b := open(t, "a"), open(t, "b")
	ok, err := a.Acquire(ctx, n0, "a", time.Minute)
	if err != nil || !ok {
		t.Fatalf("a first: %v %v", ok, err)
	}
	if ok, err := b.Acquire(ctx, n0, "b", time.Minute); err != nil || ok {
		t.Fatalf("b while a holds: %v %v", ok, err)
	}
	if ok, err := a.Acquire(ctx, n0, "a", time.Minute); err != nil || !ok {
		t.Fatalf("a renews: %v %v", ok, err)
	}
	if err := b.Release(ctx, n0, "b"); err != nil { // not b's: no effect
		t.Fatal(err)
	}
	if ok, _ := b.Acquire(ctx, n0, "b", time.Minute); ok {
		t.Fatal("b's Release freed a's lease")
	}
	if err := a.Release(ctx, n0, "a"); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Acquire(ctx, n0, "b", time.Minute); err != nil || !ok {
		t.Fatalf("b after release: %v %v", ok, err)
	}
}

func TestLeaseExclusiveRace(t *testing.T) {
	n0 := fresh("race")
	ctx := context.Background()
	s := open(t, "x")
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.Acquire(ctx, n0, "o"+strconv.Itoa(i), time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d owners won, want 1", won)
	}
}

func TestLeaseExpiryAndFencedSave(t *testing.T) {
	n0 := fresh("exp")
	ctx := context.Background()
	a, b := open(t, "a"), open(t, "b")
	if ok, _ := a.Acquire(ctx, n0, "a", 300*time.Millisecond); !ok {
		t.Fatal("a did not get the lease")
	}
	if err := a.Save(n0, []byte("1")); err != nil {
		t.Fatalf("holder's Save: %v", err)
	}
	if err := b.Save(n0, []byte("b")); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("b's Save while a holds: %v, want ErrLeaseLost", err)
	}
	time.Sleep(400 * time.Millisecond)
	if ok, err := b.Acquire(ctx, n0, "b", time.Minute); err != nil || !ok {
		t.Fatalf("b after expiry: %v %v", ok, err)
	}
	if err := a.Save(n0, []byte("2")); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("a's Save after losing the lease: %v, want ErrLeaseLost", err)
	}
	if got, _ := b.Load(n0); string(got) != "1" {
		t.Fatalf("doc = %q, want a's last saved 1", got)
	}
	if ok, _ := a.Acquire(ctx, n0, "a", time.Minute); ok {
		t.Fatal("a took back b's unexpired lease")
	}
}

func TestLock(t *testing.T) {
	n0 := fresh("doc")
	a := open(t, "a")
	unlock, err := a.Lock(n0)
	if err != nil {
		t.Fatal(err)
	}
	// Same owner, another run: still refused.
	if _, err := a.Lock(n0); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock: %v, want ErrLocked", err)
	}
	// The run lock is not the mailbox lease.
	if ok, _ := a.Acquire(context.Background(), n0, "a", time.Minute); !ok {
		t.Fatal("Lock blocked the lease")
	}
	unlock()
	unlock()
	u2, err := a.Lock(n0)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	u2()
}
