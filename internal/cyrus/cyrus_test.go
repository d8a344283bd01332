package cyrus

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/mailsrv"
)

// TestStartStop starts a Cyrus, logs in on the plain IMAP port, stops it
// and checks that the port and the folder are gone.
func TestStartStop(t *testing.T) {
	start := time.Now()
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started in %v", time.Since(start))
	stopped := false
	defer func() {
		if !stopped {
			s.Stop()
		}
	}()
	if err := s.AddUser("alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser("bad name\r\n"); err == nil {
		t.Fatal("bad user name accepted")
	}
	mailsrv.CheckLogin(t, Addr(s.IMAP), "Cyrus IMAP", "alice", Password)
	if !strings.Contains(s.Log(), "User logged in") {
		t.Fatalf("no login in the syslog sink:\n%s", s.Log())
	}
	s.Stop()
	stopped = true
	mailsrv.CheckGone(t, Addr(s.IMAP), s.Dir)
}

// TestMissing checks that Start fails, saying what to run, when the
// daemons are not unpacked.
func TestMissing(t *testing.T) {
	mailsrv.CheckMissing(t, Start)
}

// Two Cyrus at once (two test binaries do that): stopping one leaves the
// other serving. Cyrus's master signals its process group on shutdown,
// so each runs in a group of its own.
func TestStopLeavesAnotherRunning(t *testing.T) {
	a, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	b, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a master just started may miss SIGTERM (then Stop waits 10 s)
	b.Stop()
	c, err := net.DialTimeout("tcp", Addr(a.IMAP), time.Second)
	if err != nil {
		t.Fatalf("the other Cyrus went too: %v\n%s", err, a.Log())
	}
	c.Close()
}
