package stdlib_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/mailscript/mailscript/internal/imaptest"
	"github.com/mailscript/mailscript/runtime"
)

// newFake answers a plain IMAP session with caps and records the
// commands (without tags).
func newFake(t *testing.T, caps string) *imaptest.Server {
	selected := "* 5 EXISTS\r\n* OK [UIDVALIDITY 9] ok\r\n"
	return imaptest.New(t, caps, map[string]string{
		"LIST":   `* LIST () "/" INBOX` + "\r\n",
		"SELECT": selected, "EXAMINE": selected,
		"UID SEARCH": "* SEARCH 2 3 4\r\n",
	})
}

// sent is what f was sent, a command a line.
func sent(f *imaptest.Server) string { return strings.Join(f.Sent(), "\n") }

func runScript(t *testing.T, f *imaptest.Server, dry bool, body string) *runtime.Result {
	host, port := f.HostPort()
	src := fmt.Sprintf(`
local account = require("account")
local acct = account.connect{host = %q, port = %s, user = "u", password = "p", tls = "none"}
local inbox = acct:mailbox("INBOX")
%s
acct:close()`, host, port, body)
	res, err := runtime.New(runtime.Options{DryRun: dry, Stdout: io.Discard}).RunString(context.Background(), "t.lua", src)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestMoveWithUIDPlusButNoMove(t *testing.T) {
	f := newFake(t, "UIDPLUS")
	runScript(t, f, false, `inbox:search{unseen = true}:move("Archive")`)
	want := "LOGIN u \"p\"\nCAPABILITY\nNAMESPACE\nLIST \"\" *\nSELECT INBOX\nUID SEARCH UNSEEN\nUID FETCH 2:4 (UID FLAGS ENVELOPE)\n" +
		"UID COPY 2:4 Archive\nUID STORE 2:4 +FLAGS.SILENT (\\Deleted)\nUID EXPUNGE 2:4\nLOGOUT"
	if got := sent(f); got != want {
		t.Fatalf("sent:\n%s\nwant:\n%s", got, want)
	}
}

func TestMoveWithoutUIDPlusNeverExpunges(t *testing.T) {
	f := newFake(t, "")
	runScript(t, f, false, `inbox:search{}:move("Archive")
local r = acct:report()
assert(r[1].note:find("not expunged"), r[1].note)
inbox:search{}:delete()`)
	got := sent(f)
	if strings.Contains(got, "EXPUNGE") || !strings.Contains(got, "UID COPY 2:4 Archive\nUID STORE 2:4 +FLAGS.SILENT (\\Deleted)") {
		t.Fatalf("sent:\n%s", got)
	}
}

func TestAccountDryRun(t *testing.T) {
	f := newFake(t, "MOVE UIDPLUS")
	res := runScript(t, f, true, `local s = inbox:search{}
s:flag("\\Seen"); s:move("A"); s:copy("B"); s:delete(); inbox:append("Subject: x\r\n\r\n")`)
	got := sent(f)
	for _, verb := range []string{"STORE", "MOVE", "COPY", "EXPUNGE", "APPEND", "SELECT"} {
		if strings.Contains(got, verb) {
			t.Fatalf("dry run sent %s:\n%s", verb, got)
		}
	}
	if len(res.Plan) != 6 || res.Plan[1].Command != "MOVE" || res.Plan[1].Set != "2:4" ||
		res.Plan[3].Command != "STORE" || res.Plan[4].Command != "EXPUNGE" || !res.Plan[4].UID {
		t.Fatalf("plan %+v", res.Plan)
	}
}

// Courier has no MOVE: the plan shows COPY, STORE and UID EXPUNGE, as
// they would go.
func TestCourierDryRunPlanWithoutMove(t *testing.T) {
	f := newFake(t, "UIDPLUS")
	res := runScript(t, f, true, `inbox:search{}:move("A")`)
	var got []string
	for _, a := range res.Plan {
		got = append(got, a.Command+" "+a.Set+" "+strings.Join(a.Args, " "))
	}
	if want := "COPY 2:4 A,STORE 2:4 +FLAGS.SILENT \\Deleted,EXPUNGE 2:4 "; strings.Join(got, ",") != want {
		t.Fatalf("plan %q, want %q", strings.Join(got, ","), want)
	}
	if strings.Contains(sent(f), "COPY") || strings.Contains(sent(f), "STORE") {
		t.Fatalf("dry run sent:\n%s", sent(f))
	}
}

func TestSearchCommands(t *testing.T) {
	f := newFake(t, "MOVE")
	runScript(t, f, false, `
inbox:search{from = "a b", header = {["List-Id"] = "go"}, flagged = false, larger = 100}
inbox:search{any = {{from = "x"}, {to = "y"}, {cc = "z"}}}
inbox:search{none = {{seen = true}}, on = "2024-03-05"}
inbox:search{raw = "OR SEEN DRAFT"}`)
	got := sent(f)
	for _, want := range []string{
		`UID SEARCH UNFLAGGED FROM "a b" HEADER List-Id go LARGER 100`,
		`UID SEARCH OR (FROM x) (OR (TO y) ((CC z)))`,
		`UID SEARCH NOT (SEEN) ON 5-Mar-2024`,
		`UID SEARCH OR SEEN DRAFT`,
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("missing %q in:\n%s", want, got)
		}
	}
}

// 8-bit text goes with CHARSET UTF-8 (Cyrus finds nothing without it);
// 7-bit criteria go without.
func TestCyrusEightBitSearchSendsCharset(t *testing.T) {
	f := newFake(t, "MOVE")
	runScript(t, f, false, `inbox:search{any = {{subject = "café"}, {seen = true}}}
inbox:search{subject = "cafe"}`)
	got := sent(f)
	if !strings.Contains(got, "UID SEARCH CHARSET UTF-8 OR (SUBJECT") || !strings.Contains(got, "UID SEARCH SUBJECT cafe") {
		t.Fatalf("sent:\n%s", got)
	}
}

func TestMoreCriteria(t *testing.T) {
	f := newFake(t, "MOVE")
	runScript(t, f, false, `
inbox:search{to = "a@x", cc = "b@x", bcc = "c@x", body = "word", text = "any", answered = true, deleted = false, draft = false,
  before = "2024-01-31", since = 1704067200, unkeyword = "$Junk", smaller = 10}`)
	want := `UID SEARCH ANSWERED BCC c@x BEFORE 31-Jan-2024 BODY word CC b@x UNDELETED UNDRAFT SINCE 1-Jan-2024 SMALLER 10 TEXT any TO a@x UNKEYWORD $Junk`
	if got := sent(f); !strings.Contains(got, want) {
		t.Fatalf("missing %q in:\n%s", want, got)
	}
}

// A Courier-style server: personal namespace "INBOX." with "." as the
// separator; names with "/" are mapped onto it.
func TestNamespaceMapping(t *testing.T) {
	f := imaptest.New(t, "NAMESPACE MOVE UIDPLUS", map[string]string{
		"NAMESPACE": `* NAMESPACE (("INBOX." ".")) NIL NIL` + "\r\n",
		"LIST":      `* LIST (\HasNoChildren) "." "INBOX"` + "\r\n" + `* LIST (\HasNoChildren \Junk) "." "INBOX.Spam"` + "\r\n",
		"SELECT":    "* 2 EXISTS\r\n", "EXAMINE": "* 2 EXISTS\r\n",
		"UID SEARCH": "* SEARCH 1 2\r\n",
	})
	host, port := f.HostPort()
	_, err := runtime.New(runtime.Options{Stdout: io.Discard}).RunString(context.Background(), "ns.lua", fmt.Sprintf(`
local account = require("account")
local acct = account.connect{host = %q, port = %s, user = "u", password = "p", tls = "none"}
local inbox = acct:mailbox("INBOX")
inbox:all():move("Lists/golang")
inbox:all():move(acct:mailbox{special = "\\Junk"})
assert(acct:mailbox{special = "\\Junk"}:name() == "Spam")
acct:close()`, host, port))
	if err != nil {
		t.Fatal(err)
	}
	all := sent(f)
	if !strings.Contains(all, "UID MOVE 1:2 INBOX.Lists.golang") || !strings.Contains(all, "UID MOVE 1:2 INBOX.Spam") || !strings.Contains(all, "SELECT INBOX") {
		t.Fatalf("sent:\n%s", all)
	}
}

// account.connect and account.pop3 read tls alike, and refuse a clear
// text login to another host before dialling anything.
func TestConnectTLSOption(t *testing.T) {
	for _, fn := range []string{"connect", "pop3"} {
		for _, c := range []struct{ opts, want string }{
			{`tls = "none"`, "refusing to send a password in clear text to mail.example.org"},
			{`tls = "ssl"`, `tls must be "implicit", "starttls" or "none"`},
		} {
			src := fmt.Sprintf(`local ok, e = pcall(require("account").%s, {host = "mail.example.org", user = "u", password = "p", %s})
assert(not ok)
print(tostring(e))`, fn, c.opts)
			var out strings.Builder
			_, err := runtime.New(runtime.Options{Stdout: &out}).RunString(context.Background(), "t.lua", src)
			if err != nil || !strings.Contains(out.String(), c.want) {
				t.Fatalf("account.%s{%s}: %v %q", fn, c.opts, err, out.String())
			}
		}
	}
}
