package stdlib_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/mailgen"
	"github.com/mailscript/mailscript/internal/servers"
	"github.com/mailscript/mailscript/runtime"
	"github.com/mailscript/mailscript/stdlib"
)

// sieveRunScript files by Subject: a move with :flags, a copy then a flag
// on the kept original, a discard, a fileinto of the message's own
// mailbox (a keep), and the rest left by the implicit keep.
const sieveRunScript = `require ["fileinto", "imap4flags", "mailbox", "copy"];
if header :contains "subject" "kind-list" { fileinto :create :flags "$Lists" "Lists/golang"; stop; }
if header :contains "subject" "kind-copy" { fileinto :copy :create "Archive"; addflag "$Kept"; stop; }
if header :contains "subject" "kind-spam" { discard; stop; }
if header :contains "subject" "kind-own" { fileinto "INBOX"; stop; }
`

var sieveKinds = []string{"list", "copy", "spam", "own", "plain"}

func sieveMessages(from, to int) []mailgen.Message {
	var out []mailgen.Message
	for i := from; i < to; i++ {
		raw := fmt.Sprintf("From: a%d@example.org\r\nTo: me@example.org\r\nSubject: kind-%s %d\r\nMessage-ID: <s%d@example.org>\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\nbody %d\r\n",
			i, sieveKinds[i%5], i, i, i)
		out = append(out, mailgen.Message{Raw: []byte(raw), Date: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC), Seen: i%3 == 0})
	}
	return out
}

// sieveSnapshot is folder → Message-ID → its flags, sorted, without \Recent.
func sieveSnapshot(t *testing.T, srv *servers.Server, user string) map[string]map[string]string {
	return sieveFolders(t, srv, user, []string{"INBOX", "Lists/golang", "Archive"})
}

// sieveWant is where message i ends after one run, and with which flags.
func sieveWant(want map[string]map[string]string, from, to int) {
	for i := from; i < to; i++ {
		id := fmt.Sprintf("<s%d@example.org>", i)
		orig := ""
		if i%3 == 0 {
			orig = `\Seen`
		}
		join := func(fs ...string) string {
			var out []string
			for _, f := range fs {
				if f != "" {
					out = append(out, f)
				}
			}
			slices.Sort(out)
			return strings.Join(out, " ")
		}
		switch sieveKinds[i%5] {
		case "list":
			want["Lists/golang"][id] = "$Lists" // :flags replaces the list
		case "copy":
			want["Archive"][id] = orig
			want["INBOX"][id] = join(orig, "$Kept")
		case "spam":
		default:
			want["INBOX"][id] = orig
		}
	}
}

const sieveRunLua = `
local account = require("account")
local acct = account.connect{host = "127.0.0.1", port = %d, user = %q, password = %q, tls = "none", timeout = 10}
local s = require("sieve").compile(%q)
local inbox = acct:mailbox("INBOX")
local set = nil
local only = %q
if only ~= "" then
  local uids = {}
  for u in only:gmatch("%%d+") do uids[#uids + 1] = tonumber(u) end
  set = inbox:set(uids)
end
local r = s:run(inbox, set)
acct:close()
print(r.examined)`

func sieveRunOn(t *testing.T, srv *servers.Server, port int, user string, dry bool, only string, store stdlib.Store) (*runtime.Result, string) {
	t.Helper()
	var out strings.Builder
	rt := runtime.New(runtime.Options{Stdout: &out, Stderr: io.Discard, Timeout: 30 * time.Second, DryRun: dry, State: store})
	res, err := rt.RunString(context.Background(), "sieve.lua", fmt.Sprintf(sieveRunLua, port, user, srv.Password, sieveRunScript, only))
	if err != nil {
		t.Fatalf("%s: sieve run: %v", srv.Name, err)
	}
	return res, strings.TrimSpace(out.String())
}

// script:run over real servers, with MOVE and without (Courier has none;
// the proxy hides Dovecot's and Cyrus's): a dry run changes nothing, a run
// files, flags and discards as RFC 6785 says and leaves \Seen as it was
// (the header fetch is a PEEK), a second incremental run does nothing,
// and a run over a set touches no message outside it.
func TestSieveRunServers(t *testing.T) {
	cases := []struct {
		server   string
		hideMove bool
	}{{"dovecot", false}, {"dovecot", true}, {"cyrus", false}, {"cyrus", true}, {"courier", false}}
	for _, tc := range cases {
		name := tc.server
		if tc.hideMove {
			name += "/no MOVE"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := servers.Get(t, tc.server)
			user := srv.User(t, fmt.Sprintf("sieverun-%v", tc.hideMove))
			srv.Seed(t, user, "", sieveMessages(0, 20))
			p := startProxy(t, servers.Addr(srv.IMAP), -1, tc.hideMove)
			port := p.l.Addr().(*net.TCPAddr).Port
			store := &stdlib.MemStore{}
			before := sieveSnapshot(t, srv, user)

			res, _ := sieveRunOn(t, srv, port, user, true, "", store)
			if got := sieveSnapshot(t, srv, user); fmt.Sprint(got) != fmt.Sprint(before) {
				t.Fatalf("the dry run changed the mailboxes:\nbefore %v\nafter  %v", before, got)
			}
			if len(res.Plan) == 0 {
				t.Fatal("the dry run planned nothing")
			}
			var cmds []string
			for _, a := range res.Plan {
				cmds = append(cmds, a.Command)
			}
			for _, want := range []string{"STORE", "COPY"} {
				if !slices.Contains(cmds, want) {
					t.Errorf("plan %v lacks %s", cmds, want)
				}
			}

			_, n := sieveRunOn(t, srv, port, user, false, "", store)
			want := map[string]map[string]string{"INBOX": {}, "Lists/golang": {}, "Archive": {}}
			sieveWant(want, 0, 20)
			if got := sieveSnapshot(t, srv, user); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("after the run:\ngot  %v\nwant %v", got, want)
			}
			if n != "20" {
				t.Fatalf("first run examined %v, want 20", n)
			}

			_, n = sieveRunOn(t, srv, port, user, false, "", store)
			if n != "0" {
				t.Fatalf("second incremental run examined %v, want 0", n)
			}
			if got := sieveSnapshot(t, srv, user); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("the second run changed something:\ngot  %v\nwant %v", got, want)
			}

			// ten more; a run over the set of just the first five of them
			srv.Seed(t, user, "", sieveMessages(20, 30))
			var only []string
			for uid, id := range inboxUIDs(t, srv, user) {
				var n int
				if _, err := fmt.Sscanf(id, "<s%d@example.org>", &n); err == nil && n >= 20 && n < 25 {
					only = append(only, fmt.Sprint(uid))
				}
			}
			sieveRunOn(t, srv, port, user, false, strings.Join(only, ","), store)
			sieveWant(want, 20, 25)
			for i := 25; i < 30; i++ { // outside the set: as seeded
				orig := ""
				if i%3 == 0 {
					orig = `\Seen`
				}
				want["INBOX"][fmt.Sprintf("<s%d@example.org>", i)] = orig
			}
			if got := sieveSnapshot(t, srv, user); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("after the run over a set:\ngot  %v\nwant %v", got, want)
			}
		})
	}
}

// On Dovecot: a runtime error keeps the message and is reported;
// mailboxexists and fileinto :specialuse are answered from LIST; a UTF-8
// folder name goes as modified UTF-7; discard = "trash" moves to \Trash.
func TestSieveRunDovecotExtras(t *testing.T) {
	srv := servers.Get(t, "dovecot")
	user := srv.User(t, "sieverun-extras")
	srv.Seed(t, user, "", sieveMessages(0, 10))
	script := `require ["fileinto", "imap4flags", "mailbox", "special-use", "envelope"];
if header :contains "subject" "kind-list" { if envelope :is "from" "x@example.org" { discard; } }
if header :contains "subject" "kind-copy" { if mailboxexists "Trash" { addflag "$HasTrash"; } if mailboxexists "Nope" { addflag "$Nope"; } }
if header :contains "subject" "kind-spam" { discard; }
if header :contains "subject" "kind-own" { fileinto :create "Café/Über"; }
if header :contains "subject" "kind-plain" { fileinto :specialuse "\\Junk" "NotJunk"; }
`
	var out strings.Builder
	rt := runtime.New(runtime.Options{Stdout: &out, Stderr: io.Discard, Timeout: 30 * time.Second, State: &stdlib.MemStore{}})
	_, err := rt.RunString(context.Background(), "x.lua", fmt.Sprintf(`
local acct = require("account").connect{host = "127.0.0.1", port = %d, user = %q, password = %q, tls = "none", timeout = 10}
local r = require("sieve").compile(%q):run(acct:mailbox("INBOX"), nil, {discard = "trash"})
for _, m in ipairs(r.messages) do
  if #m.errors > 0 then print("error", m.uid, m.result, m.errors[1]) end
end
print("totals", r.totals.kept, r.totals.filed, r.totals.discarded, r.totals.errors)
acct:close()`, srv.IMAP, user, srv.Password, script))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "kept") || !strings.Contains(lines[0], "envelope") {
		t.Fatalf("report:\n%s", out.String())
	}
	// 2 list (runtime error: kept) + 2 copy (kept) ; 2 own + 2 plain filed ; 2 spam discarded
	if lines[2] != "totals\t4\t4\t2\t2" {
		t.Fatalf("totals line %q", lines[2])
	}
	c := srv.Dial(t, user)
	ctx := context.Background()
	_, list, err := c.List(ctx, "", "*")
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string]bool{}
	for _, e := range list {
		raw[e.RawName] = true
	}
	if !raw["Caf&AOk-/&ANw-ber"] {
		t.Fatalf("no modified UTF-7 folder in %v", raw)
	}
	count := func(box, crit string) int {
		res, _, err := c.Select(ctx, box, true)
		if err != nil || res.Type != "OK" {
			t.Fatalf("select %s: %v %v", box, res, err)
		}
		_, n, err := c.Search(ctx, "", []string{crit}, true)
		if err != nil {
			t.Fatal(err)
		}
		return len(n)
	}
	for _, x := range []struct {
		box, crit string
		want      int
	}{{"INBOX", "ALL", 4}, {"INBOX", "KEYWORD $HasTrash", 2}, {"INBOX", "KEYWORD $Nope", 0}, {"Trash", "ALL", 2}, {"Junk", "ALL", 2}, {"Café/Über", "ALL", 2}} {
		if got := count(x.box, x.crit); got != x.want {
			t.Errorf("%s %s: %d, want %d", x.box, x.crit, got, x.want)
		}
	}
}

// The duplicate test remembers across runs (RFC 7352 §3): a second run over
// the same messages finds every Message-ID already seen.
func TestSieveRunDuplicateAcrossRuns(t *testing.T) {
	srv := servers.Get(t, "dovecot")
	user := srv.User(t, "sieverun-dup")
	srv.Seed(t, user, "", sieveMessages(0, 6))
	script := `require ["duplicate", "imap4flags"];
if duplicate { addflag "$Dup"; }
keep;
`
	store := &stdlib.MemStore{}
	run := func(dry bool) string {
		var out strings.Builder
		rt := runtime.New(runtime.Options{Stdout: &out, Stderr: io.Discard, Timeout: 30 * time.Second, State: store, DryRun: dry})
		_, err := rt.RunString(context.Background(), "x.lua", fmt.Sprintf(`
local acct = require("account").connect{host = "127.0.0.1", port = %d, user = %q, password = %q, tls = "none", timeout = 10}
local r = require("sieve").compile(%q):run(acct:mailbox("INBOX"), nil, {all = true})
local n = 0
for _, m in ipairs(r.messages) do
  for _, a in ipairs(m.actions) do
    for _, f in ipairs(a.flags or {}) do if f == "$Dup" then n = n + 1 end end
  end
end
print(r.examined, n)
acct:close()`, srv.IMAP, user, srv.Password, script))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out.String())
	}
	if got := run(true); got != "6\t0" {
		t.Fatalf("dry run: %q, want 6 examined and none a duplicate", got)
	}
	if got := run(false); got != "6\t0" {
		t.Fatalf("first run: %q, want 6 examined and none a duplicate (the dry run remembers nothing)", got)
	}
	if got := run(false); got != "6\t6" {
		t.Fatalf("second run: %q, want every message a duplicate", got)
	}
}

// A fileinto to a folder the server lacks, without :create, is a runtime
// error of that message alone (RFC 5228 §2.10.6): it is kept as it is and
// reported, and the other messages are filed.
func TestSieveRunMissingFolderKeepsTheMessage(t *testing.T) {
	srv := servers.Get(t, "dovecot")
	user := srv.User(t, "sieverun-missing")
	srv.Seed(t, user, "", sieveMessages(0, 10))
	script := `require ["fileinto", "mailbox"];
if header :contains "subject" "kind-list" { fileinto "NoSuchFolder"; }
elsif header :contains "subject" "kind-copy" { fileinto :create "Made"; }
`
	var out strings.Builder
	rt := runtime.New(runtime.Options{Stdout: &out, Stderr: io.Discard, Timeout: 30 * time.Second, State: &stdlib.MemStore{}})
	_, err := rt.RunString(context.Background(), "x.lua", fmt.Sprintf(`
local acct = require("account").connect{host = "127.0.0.1", port = %d, user = %q, password = %q, tls = "none", timeout = 10}
local r = require("sieve").compile(%q):run(acct:mailbox("INBOX"))
for _, m in ipairs(r.messages) do
  if #m.errors > 0 then print("error", m.result, m.errors[1]) end
end
print("totals", r.totals.kept, r.totals.filed, r.totals.errors)
acct:close()`, srv.IMAP, user, srv.Password, script))
	if err != nil {
		t.Fatalf("the run failed as a whole: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "NoSuchFolder") || !strings.HasPrefix(lines[0], "error\tkept") {
		t.Fatalf("report:\n%s", out.String())
	}
	if lines[2] != "totals\t8\t2\t2" {
		t.Fatalf("totals line %q", lines[2])
	}
	c := srv.Dial(t, user)
	ctx := context.Background()
	for box, want := range map[string]int64{"INBOX": 8, srv.Folder("Made"): 2} {
		res, st, err := c.Select(ctx, box, true)
		if err != nil || res.Type != "OK" || st.Exists != want {
			t.Errorf("%s: %v %v %+v, want %d messages", box, res, err, st, want)
		}
	}
}
