package courier

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStartStop starts Courier, logs in on the plain IMAP and POP3 ports, stops it
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
	if !strings.HasPrefix(line, "* OK") || !strings.Contains(line, "Courier-IMAP") {
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
	// A user added while the server runs logs in too (authdaemond reopens userdb).
	late := time.Now()
	if err := s.AddUser("bob"); err != nil {
		t.Fatal(err)
	}
	c, err = net.DialTimeout("tcp", Addr(s.POP3), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r = bufio.NewReader(c)
	var got []string
	for _, cmd := range []string{"", "USER bob", "PASS " + Password, "STAT"} {
		if cmd != "" {
			c.Write([]byte(cmd + "\r\n"))
		}
		line, _ = r.ReadString('\n')
		got = append(got, strings.TrimSpace(line))
	}
	c.Close()
	if strings.Join(got, "|") != "+OK Hello there.|+OK Password required.|+OK logged in.|+OK 0 0" {
		t.Fatalf("POP3 as a user added late: %q (after %v)", got, time.Since(late))
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
