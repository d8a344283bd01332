package stdlib_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
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
