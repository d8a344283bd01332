package cyrus

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	c, err := net.DialTimeout("tcp", Addr(s.IMAP), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	line, _ := r.ReadString('\n')
	if !strings.HasPrefix(line, "* OK") || !strings.Contains(line, "Cyrus IMAP") {
		t.Fatalf("greeting %q", line)
	}
	// (protocol/imap's smoke tests check that a wrong password fails.)
	c.Write([]byte("a LOGIN alice " + Password + "\r\n"))
	for _, tag := range []string{"a OK"} {
		line, err = r.ReadString('\n')
		for err == nil && strings.HasPrefix(line, "*") {
			line, err = r.ReadString('\n')
		}
		if !strings.HasPrefix(line, tag) {
			t.Fatalf("want %s, got %q %v", tag, line, err)
		}
	}
	c.Close()
	if !strings.Contains(s.Log(), "User logged in") {
		t.Fatalf("no login in the syslog sink:\n%s", s.Log())
	}
	s.Stop()
	stopped = true
	if c, err := net.DialTimeout("tcp", Addr(s.IMAP), time.Second); err == nil {
		c.Close()
		t.Fatal("port still open after Stop")
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Fatalf("folder left: %v", err)
	}
}

// TestMissing checks that Start fails, saying what to run, when the
// daemons are not unpacked.
func TestMissing(t *testing.T) {
	t.Setenv("MAILSCRIPT_SERVERS", filepath.Join(t.TempDir(), "none"))
	s, err := Start()
	if err == nil {
		s.Stop()
		t.Fatal("started without its daemons")
	}
	if !strings.Contains(err.Error(), "scripts/servers.sh") {
		t.Fatalf("error %q does not say what to run", err)
	}
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
