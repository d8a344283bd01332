// Package imaptest is a permissive scripted IMAP server for the tests of
// the layers above protocol/imap (runtime, stdlib): it greets with the
// given capabilities, keeps every command line a client sends, and
// answers each command with its canned untagged lines and a tagged OK.
// IDLE gets "+" and then silence; LOGOUT gets BYE and ends the session.
// protocol/imap's own tests use stricter servers that check every byte.
package imaptest

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
)

// Server serves every connection made to Addr until the test ends.
type Server struct {
	Addr    string
	caps    string
	replies map[string]string
	mu      sync.Mutex
	lines   []string
}

// New starts a server greeting with "IMAP4rev1 " + caps. replies maps a
// command ("SELECT", "UID SEARCH") to the untagged lines, CRLF-ended,
// sent before its OK.
func New(t testing.TB, caps string, replies map[string]string) *Server {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := &Server{Addr: l.Addr().String(), caps: caps, replies: replies}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

// HostPort splits Addr for a script's connect call.
func (s *Server) HostPort() (host, port string) {
	host, port, _ = net.SplitHostPort(s.Addr)
	return host, port
}

// Sent returns the lines clients sent, tags removed ("DONE" as it came).
func (s *Server) Sent() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	fmt.Fprintf(c, "* OK [CAPABILITY IMAP4rev1 %s] fake\r\n", s.caps)
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		tag, rest, ok := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		if !ok { // DONE, or anything else without a tag
			rest = tag
		}
		s.mu.Lock()
		s.lines = append(s.lines, rest)
		s.mu.Unlock()
		f := strings.Fields(strings.ToUpper(rest))
		if !ok || len(f) == 0 {
			continue
		}
		verb := f[0]
		if verb == "UID" && len(f) > 1 {
			verb += " " + f[1]
		}
		switch verb {
		case "IDLE":
			fmt.Fprint(c, "+ idling\r\n")
			continue
		case "LOGOUT":
			fmt.Fprint(c, "* BYE bye\r\n"+tag+" OK done\r\n")
			return
		}
		fmt.Fprint(c, s.replies[verb]+tag+" OK done\r\n")
	}
}
