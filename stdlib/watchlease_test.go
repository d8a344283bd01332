package stdlib_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/memserver"
	"github.com/mailscript/mailscript/runtime"
	"github.com/mailscript/mailscript/stdlib"
)

// fakeLeaser grants the leases whose names end in grant; Save refuses
// names ending in lost as a fenced store does.
type fakeLeaser struct {
	stdlib.MemStore
	grant, lost string
	mu          sync.Mutex
	released    []string
}

type lostErr struct{}

func (lostErr) Error() string   { return "lease held by another owner" }
func (lostErr) LeaseLost() bool { return true }

func (f *fakeLeaser) Owner() string { return "me" }
func (f *fakeLeaser) Acquire(_ context.Context, name, owner string, _ time.Duration) (bool, error) {
	return strings.HasSuffix(name, f.grant), nil
}
func (f *fakeLeaser) Release(_ context.Context, name, owner string) error {
	f.mu.Lock()
	f.released = append(f.released, name)
	f.mu.Unlock()
	return nil
}
func (f *fakeLeaser) Save(name string, b []byte) error {
	if f.lost != "" && strings.HasSuffix(name, f.lost) {
		return lostErr{}
	}
	return f.MemStore.Save(name, b)
}

func leaseRun(t *testing.T, store stdlib.Store) (string, error) {
	srv, err := memserver.StartIMAP("u", "p", []memserver.Message{{Raw: []byte("Subject: a\r\n\r\nbody\r\n"), Date: time.Now()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	host, port, _ := net.SplitHostPort(srv.Addr)
	src := fmt.Sprintf(`
local account, watch = require("account"), require("watch")
local acct = account.connect{host = %q, port = %s, user = "u", password = "p", tls = "none"}
watch.on(acct, {"INBOX"}, function(mbox, new) print("first", #new) end)
watch.on(acct, {"INBOX"}, function(mbox, new) print("second", #new) end)
`, host, port)
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = runtime.New(runtime.Options{Stdout: &out, Stderr: &out, State: store}).RunString(ctx, "t.lua", src)
	return out.String(), err
}

func TestLeaseOnlyHeldWatchersRunAndAreReleased(t *testing.T) {
	f := &fakeLeaser{grant: "#2"} // the second watcher's state document
	out, err := leaseRun(t, f)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "first") || !strings.Contains(out, "second\t1") {
		t.Fatalf("want only the leased watcher's handler: %q", out)
	}
	if len(f.released) != 1 || !strings.HasSuffix(f.released[0], "#2") {
		t.Fatalf("released %q, want the held lease", f.released)
	}
}

func TestLeaseLostSaveIsAnErrorAndNotReleased(t *testing.T) {
	f := &fakeLeaser{grant: "#2", lost: "#2"}
	_, err := leaseRun(t, f)
	if err == nil || !strings.Contains(err.Error(), "lease held by another owner") {
		t.Fatalf("want the fenced save's error, got %v", err)
	}
	if len(f.released) != 0 {
		t.Fatalf("released %q after the lease was lost", f.released)
	}
}
