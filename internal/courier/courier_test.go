package courier

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/mailsrv"
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
	mailsrv.CheckLogin(t, Addr(s.IMAP), "Courier-IMAP", "alice", Password)
	// A user added while the server runs logs in too (authdaemond reopens userdb).
	late := time.Now()
	if err := s.AddUser("bob"); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", Addr(s.POP3), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	var got []string
	for _, cmd := range []string{"", "USER bob", "PASS " + Password, "STAT"} {
		if cmd != "" {
			c.Write([]byte(cmd + "\r\n"))
		}
		line, _ := r.ReadString('\n')
		got = append(got, strings.TrimSpace(line))
	}
	c.Close()
	if strings.Join(got, "|") != "+OK Hello there.|+OK Password required.|+OK logged in.|+OK 0 0" {
		t.Fatalf("POP3 as a user added late: %q (after %v)", got, time.Since(late))
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
