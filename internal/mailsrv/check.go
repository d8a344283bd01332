package mailsrv

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The checks below are the parts of the server packages' own tests that do
// not depend on the server.

// CheckLogin dials the plain IMAP port addr, wants a "* OK" greeting naming
// product and logs user in with LOGIN; it fails t otherwise.
func CheckLogin(t testing.TB, addr, product, user, pass string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	line, _ := r.ReadString('\n')
	if !strings.HasPrefix(line, "* OK") || !strings.Contains(line, product) {
		t.Fatalf("greeting %q", line)
	}
	// (protocol/imap's smoke tests check that a wrong password fails.)
	c.Write([]byte("a LOGIN " + user + " " + pass + "\r\n"))
	line, err = r.ReadString('\n')
	for err == nil && strings.HasPrefix(line, "*") {
		line, err = r.ReadString('\n')
	}
	if !strings.HasPrefix(line, "a OK") {
		t.Fatalf("want %s, got %q %v", "a OK", line, err)
	}
}

// CheckGone fails t if addr still accepts connections or dir still exists:
// what a stopped server must not leave.
func CheckGone(t testing.TB, addr, dir string) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("port still open after Stop")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("folder left: %v", err)
	}
}

// CheckMissing fails t unless start, with [Root] a folder that does not
// exist, fails saying what to run.
func CheckMissing[S interface{ Stop() }](t *testing.T, start func() (S, error)) {
	t.Helper()
	t.Setenv("MAILSCRIPT_SERVERS", filepath.Join(t.TempDir(), "none"))
	s, err := start()
	if err == nil {
		s.Stop()
		t.Fatal("started without its daemons")
	}
	if !strings.Contains(err.Error(), "scripts/servers.sh") {
		t.Fatalf("error %q does not say what to run", err)
	}
}
