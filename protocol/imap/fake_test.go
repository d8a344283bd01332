package imap

import (
	"bufio"
	"context"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A scripted fake server: each test's handler sends the server's bytes
// and asserts the exact bytes the client sent.

type session struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

var tagRE = regexp.MustCompile(`^[A-P]+[0-9]+ `)

// fake starts a one-connection server running handler; it returns the
// address to dial.
func fake(t *testing.T, handler func(s *session)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		l.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("fake server handler did not finish")
		}
	})
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		handler(&session{t: t, c: c, r: bufio.NewReader(c)})
	}()
	return l.Addr().String()
}

func (s *session) send(parts ...string) {
	for _, p := range parts {
		if _, err := io.WriteString(s.c, p); err != nil {
			s.t.Errorf("fake server write: %v", err)
		}
	}
}

// line reads one raw line from the client.
func (s *session) line() string {
	l, err := s.r.ReadString('\n')
	if err != nil && l == "" {
		return ""
	}
	return l
}

// expect reads a command line and checks everything after the tag is
// want + CRLF; it returns the tag.
func (s *session) expect(want string) string {
	s.t.Helper()
	l := s.line()
	m := tagRE.FindString(l)
	if m == "" {
		s.t.Errorf("client sent %q, want a tagged %q", l, want)
		return "X"
	}
	if got := l[len(m):]; got != want+"\r\n" {
		s.t.Errorf("client sent %q, want %q", got, want+"\r\n")
	}
	return strings.TrimSpace(m)
}

// expectRaw checks the next line exactly.
func (s *session) expectRaw(want string) {
	s.t.Helper()
	if l := s.line(); l != want {
		s.t.Errorf("client sent %q, want %q", l, want)
	}
}

func (s *session) readN(n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.r, b); err != nil {
		s.t.Errorf("fake server read %d: %v", n, err)
	}
	return string(b)
}

// expectEOF checks that the client sends nothing more before closing.
func (s *session) expectEOF() {
	s.t.Helper()
	s.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if l, err := s.r.ReadString('\n'); l != "" || err == nil {
		s.t.Errorf("client sent %q, want nothing", l)
	}
}

const greeting = "* OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS MOVE ENABLE ID SASL-IR AUTH=PLAIN STARTTLS] ready\r\n"

// loggedIn is a greeting followed by a LOGIN.
func loggedIn(s *session) {
	s.send(greeting)
	tag := s.expect(`LOGIN user "pw"`)
	s.send(tag + " OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS MOVE ENABLE ID QUOTA ACL] logged in\r\n")
}

func selected(s *session) {
	loggedIn(s)
	tag := s.expect("SELECT INBOX")
	s.send("* 3 EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen \\Deleted)\r\n* OK [UIDVALIDITY 42] ok\r\n",
		tag+" OK [READ-WRITE] done\r\n")
}

var bg = context.Background()

func dialFake(t *testing.T, addr string) *Client {
	t.Helper()
	c, err := Dial(bg, addr, &Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func login(t *testing.T, c *Client) {
	t.Helper()
	if _, err := c.Login(bg, "user", "pw"); err != nil {
		t.Fatal(err)
	}
}

func selectInbox(t *testing.T, c *Client) {
	t.Helper()
	login(t, c)
	if _, _, err := c.Select(bg, "INBOX", false); err != nil {
		t.Fatal(err)
	}
}

func wantKind(t *testing.T, err error, kind Kind, contains string) *Error {
	t.Helper()
	var e *Error
	if err == nil {
		t.Fatalf("no error, want %v containing %q", kind, contains)
	}
	if !asError(err, &e) {
		t.Fatalf("error %T %v is not *imap.Error", err, err)
	}
	if e.Kind != kind {
		t.Fatalf("error kind %v (%v), want %v", e.Kind, e, kind)
	}
	if !strings.Contains(e.Error(), contains) {
		t.Fatalf("error %q does not contain %q", e.Error(), contains)
	}
	return e
}

func asError(err error, e **Error) bool {
	x, ok := err.(*Error)
	if ok {
		*e = x
	}
	return ok
}
