package stdlib_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/imaptest"
	"github.com/mailscript/mailscript/runtime"
)

// courierLogin is a server that, like Courier's imaplogin, drops whatever
// arrived behind a successful LOGIN before the reply went out.
func courierLogin(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprint(c, "* OK [CAPABILITY IMAP4rev1] courier-like\r\n")
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			tag, rest, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
			verb, _, _ := strings.Cut(rest, " ")
			switch verb {
			case "LOGIN":
				// the hand-over to imapd loses what came before the reply
				time.Sleep(50 * time.Millisecond)
				r.Discard(r.Buffered())
				c.SetReadDeadline(time.Now().Add(time.Millisecond))
				io.Copy(io.Discard, c)
				c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(c, "%s OK [CAPABILITY IMAP4rev1 NAMESPACE] in\r\n", tag)
			case "NAMESPACE":
				fmt.Fprintf(c, "* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\n%s OK done\r\n", tag)
			case "LIST":
				fmt.Fprintf(c, "* LIST () \".\" INBOX\r\n%s OK done\r\n", tag)
			case "LOGOUT":
				fmt.Fprintf(c, "* BYE bye\r\n%s OK done\r\n", tag)
				return
			default:
				fmt.Fprintf(c, "%s OK done\r\n", tag)
			}
		}
	}()
	return l.Addr().String()
}

// Courier: nothing is pipelined behind LOGIN, so connect learns the
// namespace instead of waiting out the timeout.
func TestConnectCourierDropsPipelinedAfterLogin(t *testing.T) {
	host, port, _ := net.SplitHostPort(courierLogin(t))
	_, err := runtime.New(runtime.Options{Stdout: io.Discard, Timeout: 5 * time.Second}).RunString(context.Background(), "c.lua", fmt.Sprintf(`
local account = require("account")
local acct = account.connect{host = %q, port = %s, user = "u", password = "p", tls = "none", timeout = 2}
assert(acct:mailbox("Lists/go"):name() == "Lists/go")
acct:close()`, host, port))
	if err != nil {
		t.Fatal(err)
	}
}

// STATUS without UIDNEXT (RFC 3501 lets a server leave it out): status()
// takes one past the highest UID instead of a negative number.
func TestStatusWithoutUIDNext(t *testing.T) {
	f := imaptest.New(t, "UIDPLUS", map[string]string{
		"LIST":   `* LIST () "." INBOX` + "\r\n",
		"STATUS": "* STATUS INBOX (MESSAGES 2 UNSEEN 0 UIDVALIDITY 7)\r\n",
		"SELECT": "* 2 EXISTS\r\n", "EXAMINE": "* 2 EXISTS\r\n",
		"UID FETCH": "* 2 FETCH (UID 17)\r\n",
	})
	runScript(t, f, false, `local st = inbox:status()
assert(st.uidnext == 18, tostring(st.uidnext))`)
	if !strings.Contains(sent(f), "UID FETCH * (UID)") {
		t.Fatal(sent(f))
	}
}

// lineServer answers each command line (tag removed) with reply(line)'s
// untagged lines and a tagged OK, or with its whole tagged status when
// the reply starts with "NO " or "BAD "; it records the lines.
func lineServer(t *testing.T, caps string, reply func(line string) string) (addr string, sent func() string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var mu sync.Mutex
	var lines []string
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(c, "* OK [CAPABILITY IMAP4rev1 %s] hi\r\n", caps)
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					tag, rest, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
					mu.Lock()
					lines = append(lines, rest)
					mu.Unlock()
					if strings.HasPrefix(rest, "LOGOUT") {
						fmt.Fprintf(c, "* BYE bye\r\n%s OK done\r\n", tag)
						return
					}
					out := reply(rest)
					if strings.HasPrefix(out, "NO ") || strings.HasPrefix(out, "BAD ") {
						fmt.Fprintf(c, "%s %s\r\n", tag, out)
						continue
					}
					fmt.Fprintf(c, "%s%s OK done\r\n", out, tag)
				}
			}()
		}
	}()
	return l.Addr().String(), func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(lines, "\n")
	}
}

func envelope(uid int, flags, id string) string {
	return fmt.Sprintf("* %d FETCH (UID %d FLAGS (%s) ENVELOPE (NIL \"s\" NIL NIL NIL NIL NIL NIL NIL %q))\r\n", uid, uid, flags, id)
}

// A rerun of a move interrupted on a server without MOVE: <a> (UID 2)
// was copied before the cut, <b> (UID 3) is marked \Deleted but not in
// Archive, <c> (UID 4) was not touched. Only 3 and 4 are copied, 3 after
// its \Deleted is taken off; then all three go.
func TestMoveWithoutMoveFinishesAnInterruptedOne(t *testing.T) {
	addr, sent := lineServer(t, "UIDPLUS", func(line string) string {
		switch {
		case strings.HasPrefix(line, "SELECT"), strings.HasPrefix(line, "EXAMINE"):
			return "* 3 EXISTS\r\n"
		case line == "UID SEARCH ALL":
			return "* SEARCH 2 3 4\r\n"
		case strings.HasPrefix(line, "UID FETCH 2:4"):
			return envelope(2, "", "<a@x>") + envelope(3, `\Seen \Deleted`, "<b@x>") + envelope(4, `\Seen`, "<c@x>")
		case strings.HasPrefix(line, "UID SEARCH OR HEADER Message-ID"):
			return "* SEARCH 7\r\n"
		case strings.HasPrefix(line, "UID FETCH 7 "):
			return "* 1 FETCH (UID 7 ENVELOPE (NIL \"s\" NIL NIL NIL NIL NIL NIL NIL \"<a@x>\"))\r\n"
		case strings.HasPrefix(line, "LIST"):
			return `* LIST () "/" INBOX` + "\r\n"
		}
		return ""
	})
	host, port, _ := net.SplitHostPort(addr)
	var out strings.Builder
	_, err := runtime.New(runtime.Options{Stdout: &out}).RunString(context.Background(), "m.lua", fmt.Sprintf(`
local account = require("account")
local acct = account.connect{host = %q, port = %s, user = "u", password = "p", tls = "none"}
acct:mailbox("INBOX"):all():move("Archive")
print(acct:report()[1].note)
acct:close()`, host, port))
	if err != nil {
		t.Fatal(err)
	}
	got := sent()
	want := "EXAMINE Archive\nUID SEARCH OR HEADER Message-ID <a@x> OR HEADER Message-ID <b@x> HEADER Message-ID <c@x>\nUID FETCH 7 (UID ENVELOPE)\n" +
		"SELECT INBOX\nUID STORE 3 -FLAGS.SILENT (\\Deleted)\nUID COPY 3:4 Archive\nUID STORE 2:4 +FLAGS.SILENT (\\Deleted)\nUID EXPUNGE 2:4"
	if !strings.Contains(got, want) {
		t.Fatalf("sent:\n%s\nwant within:\n%s", got, want)
	}
	if !strings.Contains(out.String(), "1 already in Archive") {
		t.Fatalf("note %q", out.String())
	}
}
