package stdlib_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mailscript/mailscript/runtime"
)

// chatty is a scripted server whose INBOX holds UIDs 1 to 5 (UID 5 has
// just been expunged by another client: its FETCH reply carries no body),
// and which sprinkles unsolicited responses into every command's reply,
// as Cyrus does when other clients change flags: FETCH for a requested
// UID ahead of its real reply, FETCH for UIDs outside any set (one with a
// body), and EXPUNGE. It keeps what each connection sent, by user.
type chatty struct {
	addr string
	caps string
	mu   sync.Mutex
	sent map[string][]string
}

var chattyNoise = []string{
	`* 2 FETCH (FLAGS (\Seen) UID 2)`,
	`* 3 FETCH (FLAGS (\Flagged) UID 3)`,
	"* 4 FETCH (UID 4 FLAGS () BODY[] {14}\r\nSubject: 4\r\n\r\n)",
	`* 9 EXPUNGE`,
}

func newChatty(t *testing.T, caps string) *chatty {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := &chatty{addr: l.Addr().String(), caps: caps, sent: map[string][]string{}}
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

func chattyMessage(uid int) string {
	return fmt.Sprintf("Subject: m%d\r\nMessage-ID: <%d@x>\r\n\r\nbody %d\r\n", uid, uid, uid)
}

var literalAtEnd = regexp.MustCompile(`\{(\d+)\}$`)

// uidSet expands a UID set over UIDs 1 to 5.
func uidSet(s string) []int {
	var out []int
	for _, r := range strings.Split(s, ",") {
		lo, hi, _ := strings.Cut(r, ":")
		a, _ := strconv.Atoi(lo)
		b := a
		if hi == "*" {
			b = 5
		} else if hi != "" {
			b, _ = strconv.Atoi(hi)
		}
		for u := min(a, b); u <= max(a, b); u++ {
			out = append(out, u)
		}
	}
	return out
}

func (s *chatty) serve(c net.Conn) {
	defer c.Close()
	w := bufio.NewWriter(c)
	r := bufio.NewReader(c)
	fmt.Fprintf(w, "* OK [CAPABILITY IMAP4rev1 %s] chatty\r\n", s.caps)
	w.Flush()
	user := ""
	noise := func() {
		for _, n := range chattyNoise {
			w.WriteString(n + "\r\n")
		}
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		tag, rest, _ := strings.Cut(line, " ")
		record := rest
		for m := literalAtEnd.FindStringSubmatch(rest); m != nil; m = literalAtEnd.FindStringSubmatch(rest) {
			n, _ := strconv.Atoi(m[1])
			w.WriteString("+ go\r\n")
			w.Flush()
			lit := make([]byte, n)
			if _, err := io.ReadFull(r, lit); err != nil {
				return
			}
			more, _ := r.ReadString('\n')
			rest = strings.TrimRight(more, "\r\n")
			record += "<" + string(lit) + ">" + rest
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		verb := strings.ToUpper(f[1])
		if verb == "UID" && len(f) > 2 {
			verb += " " + strings.ToUpper(f[2])
		}
		if verb == "LOGIN" {
			user = f[2]
		}
		s.mu.Lock()
		s.sent[user] = append(s.sent[user], record)
		s.mu.Unlock()
		switch verb {
		case "LOGOUT":
			w.WriteString("* BYE bye\r\n" + tag + " OK done\r\n")
			w.Flush()
			return
		case "NAMESPACE":
			w.WriteString(`* NAMESPACE (("" "/")) NIL NIL` + "\r\n")
		case "LIST":
			w.WriteString(`* LIST () "/" INBOX` + "\r\n")
		case "CAPABILITY":
			w.WriteString("* CAPABILITY IMAP4rev1 " + s.caps + "\r\n")
		case "SELECT", "EXAMINE":
			w.WriteString("* 5 EXISTS\r\n* OK [UIDVALIDITY 9] ok\r\n* OK [UIDNEXT 6] ok\r\n")
		case "UID FETCH":
			noise()
			items := strings.ToUpper(strings.Join(f[4:], " "))
			for _, u := range uidSet(f[3]) {
				if u > 5 {
					continue
				}
				if u == 5 { // expunged meanwhile: flags, no body
					w.WriteString("* 5 FETCH (UID 5 FLAGS (\\Seen))\r\n")
					continue
				}
				msg := chattyMessage(u)
				fmt.Fprintf(w, `* %d FETCH (UID %d FLAGS (\Answered) INTERNALDATE "01-Jan-2024 10:00:00 +0000" RFC822.SIZE %d`, u, u, len(msg))
				if strings.Contains(items, "ENVELOPE") {
					fmt.Fprintf(w, ` ENVELOPE ("Mon, 1 Jan 2024 10:00:00 +0000" "m%d" NIL NIL NIL NIL NIL NIL NIL "<%d@x>")`, u, u)
				}
				if strings.Contains(items, "BODY.PEEK[]") {
					fmt.Fprintf(w, " BODY[] {%d}\r\n%s", len(msg), msg)
				}
				w.WriteString(")\r\n")
				noise()
			}
		default:
			noise()
		}
		w.WriteString(tag + " OK done\r\n")
		w.Flush()
	}
}

// commands is what user's connections sent, without LOGIN and the
// discovery commands every connect sends.
func (s *chatty) commands(user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range s.sent[user] {
		switch strings.Fields(l)[0] {
		case "LOGIN", "NAMESPACE", "LIST", "CAPABILITY", "LOGOUT":
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func (s *chatty) run(t *testing.T, body string) string {
	host, port, _ := net.SplitHostPort(s.addr)
	src := fmt.Sprintf(`
local account = require("account")
local acct = account.connect{host = %q, port = %s, user = "src", password = "p", tls = "none"}
local other = account.connect{host = %q, port = %s, user = "dst", password = "p", tls = "none"}
local inbox = acct:mailbox("INBOX")
local set = inbox:set{1, 2, 5}
%s
acct:close(); other:close()`, host, port, host, port, body)
	var out bytes.Buffer
	if _, err := runtime.New(runtime.Options{Stdout: &out, Stderr: io.Discard}).RunString(context.Background(), "t.lua", src); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// Every path that acts on a set sends commands naming exactly its UIDs,
// whatever unsolicited FETCH and EXPUNGE responses the server mixes in.
func TestUnsolicitedResponsesTouchNothingOutsideTheSet(t *testing.T) {
	const sel = "SELECT INBOX\n"
	cases := []struct {
		name, caps, script, src, dst string
	}{
		{"move with MOVE", "MOVE UIDPLUS", `set:move("Archive")`, sel + "UID MOVE 1:2,5 Archive", ""},
		{"move with COPY", "UIDPLUS", `set:move("Archive")`,
			sel + "UID FETCH 1:2,5 (UID FLAGS ENVELOPE)\nEXAMINE Archive\nUID SEARCH OR HEADER Message-ID <1@x> HEADER Message-ID <2@x>\n" +
				sel + "UID COPY 1:2,5 Archive\nUID STORE 1:2,5 +FLAGS.SILENT (\\Deleted)\nUID EXPUNGE 1:2,5", ""},
		{"copy", "UIDPLUS", `set:copy("Archive")`, sel + "UID COPY 1:2,5 Archive", ""},
		{"delete", "UIDPLUS", `set:delete()`, sel + "UID STORE 1:2,5 +FLAGS.SILENT (\\Deleted)\nUID EXPUNGE 1:2,5", ""},
		{"flag", "UIDPLUS", `set:flag("\\Seen")`, sel + "UID STORE 1:2,5 +FLAGS.SILENT (\\Seen)", ""},
		{"cross-account move", "UIDPLUS", `set:move(other:mailbox("INBOX"))`,
			sel + "UID FETCH 1:2,5 (UID FLAGS INTERNALDATE BODY.PEEK[])\nUID STORE 1:2 +FLAGS.SILENT (\\Deleted)\nUID EXPUNGE 1:2",
			`APPEND INBOX (\Answered) "01-Jan-2024 10:00:00 +0000" {42}<` + chattyMessage(1) + ">\n" +
				`APPEND INBOX (\Answered) "01-Jan-2024 10:00:00 +0000" {42}<` + chattyMessage(2) + ">"},
		{"cross-account copy", "UIDPLUS", `set:copy(other:mailbox("INBOX"))`,
			sel + "UID FETCH 1:2,5 (UID FLAGS INTERNALDATE BODY.PEEK[])",
			`APPEND INBOX (\Answered) "01-Jan-2024 10:00:00 +0000" {42}<` + chattyMessage(1) + ">\n" +
				`APPEND INBOX (\Answered) "01-Jan-2024 10:00:00 +0000" {42}<` + chattyMessage(2) + ">"},
		// the iterator yields what was asked for, once; acting on what it
		// yielded stays inside the set
		{"messages then delete", "UIDPLUS", `local uids = {}
for msg in inbox:messages(set) do uids[#uids + 1] = msg.uid; print(msg.uid, msg.subject) end
inbox:set(uids):delete()`,
			sel + "UID FETCH 1:2,5 (UID ENVELOPE FLAGS RFC822.SIZE)\nUID STORE 1:2 +FLAGS.SILENT (\\Deleted)\nUID EXPUNGE 1:2", ""},
		{"messages with bodies", "UIDPLUS", `for msg in inbox:messages(set, {"body"}) do print(msg.uid, #msg.raw) end`,
			sel + "UID FETCH 1:2,5 (UID BODY.PEEK[])", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newChatty(t, c.caps)
			out := s.run(t, c.script)
			if got := s.commands("src"); got != c.src {
				t.Errorf("source got:\n%s\nwant:\n%s", got, c.src)
			}
			if got := s.commands("dst"); got != c.dst {
				t.Errorf("destination got:\n%s\nwant:\n%s", got, c.dst)
			}
			switch c.name {
			case "messages then delete":
				if out != "1\tm1\n2\tm2\n" {
					t.Errorf("iterator yielded %q", out)
				}
			case "messages with bodies":
				if out != "1\t42\n2\t42\n" {
					t.Errorf("iterator yielded %q", out)
				}
			}
		})
	}
}
