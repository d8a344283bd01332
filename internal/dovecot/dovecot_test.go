package dovecot

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// TestRestartDropsConnections: a restart is what a server upgrade or
// crash is to a client, so open connections must end and new ones work.
func TestRestartDropsConnections(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	greet := func(c net.Conn) string {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		return line
	}
	c, err := net.Dial("tcp", Addr(s.IMAP))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if g := greet(c); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting %q", g)
	}
	if _, err := c.Write([]byte("a LOGIN u " + Password + "\r\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	for {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "a ") {
			break
		}
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := r.ReadString('\n')
	for err == nil {
		rest, err = r.ReadString('\n')
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the connection outlived the restart (last line %q)", rest)
	}
	c2, err := net.Dial("tcp", Addr(s.IMAP))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if g := greet(c2); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting after the restart %q", g)
	}
}
