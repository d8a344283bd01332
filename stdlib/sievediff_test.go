package stdlib_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/dovecot"
	"github.com/mailscript/mailscript/internal/mailgen"
	"github.com/mailscript/mailscript/internal/servers"
	"github.com/mailscript/mailscript/runtime"
	"github.com/mailscript/mailscript/stdlib"
)

// sieveDiffScripts are run by mailscript and by Pigeonhole's sieve-filter;
// their folders exist beforehand (a fileinto to a missing folder fails
// differently in each: an error in mailscript, a keep in sieve-filter).
var sieveDiffScripts = map[string]string{
	"triage": `require ["fileinto", "imap4flags"];
if address :contains "from" "corp.example" { addflag "\\Flagged"; }
if anyof (header :contains "list-id" "golang", header :contains "list-id" "dovecot") { fileinto "Lists"; }
elsif address :contains "from" "shop.example" { fileinto "Newsletters"; }
elsif header :contains "subject" ["invoice", "order"] { fileinto "Receipts"; }
`,
	"flags and copies": `require ["fileinto", "imap4flags", "copy"];
if header :contains "subject" "a" { addflag "$A"; }
if exists "list-id" { setflag "\\Seen"; fileinto :copy "Lists"; removeflag "\\Seen"; addflag "$Listed"; }
if header :contains "subject" "e" { fileinto :flags "$E" "Archive"; }
`,
	"discard": `require ["fileinto"];
if address :contains "from" "shop.example" { discard; stop; }
if size :over 3K { fileinto "Archive"; }
`,
}

// sieveDiff seeds one mailbox of n messages twice, runs each script with
// `script:run` on one copy and `sieve-filter -e -W ... expunge` on the
// other (over the server's own Maildir), and wants the same messages in
// the same folders with the same flags.
func sieveDiff(t *testing.T, n int) {
	srv := servers.Get(t, "dovecot")
	dv := dovecot.Shared(t)
	bin, err := exec.LookPath("sieve-filter")
	if err != nil {
		t.Fatal("sieve-filter not installed: run scripts/test.sh (it installs dovecot-sieve)")
	}
	dir, err := os.MkdirTemp("", "sievediff-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755) // sieve-filter reads the script as the mail user
	g := mailgen.New(21)
	msgs := make([]mailgen.Message, n)
	for i := range msgs {
		msgs[i] = g.Message(i)
	}
	folders := []string{"INBOX", "Lists", "Newsletters", "Receipts", "Archive"}
	names := make([]string, 0, len(sieveDiffScripts))
	for k := range sieveDiffScripts {
		names = append(names, k)
	}
	slices.Sort(names)
	for i, name := range names {
		text := sieveDiffScripts[name]
		t.Run(name, func(t *testing.T) {
			users := [2]string{srv.User(t, fmt.Sprintf("sdiff-ms-%d-%d", n, i)), srv.User(t, fmt.Sprintf("sdiff-sf-%d-%d", n, i))}
			for _, u := range users {
				srv.Seed(t, u, "", msgs)
				for _, f := range folders[1:] {
					srv.Seed(t, u, f, nil)
				}
			}
			before := sieveFolders(t, srv, users[0], folders)

			rt := runtime.New(runtime.Options{Stdout: io.Discard, Stderr: io.Discard, Timeout: time.Minute, State: &stdlib.MemStore{}})
			_, err := rt.RunString(context.Background(), "diff.lua", fmt.Sprintf(`
local acct = require("account").connect{host = "127.0.0.1", port = %d, user = %q, password = %q, tls = "none", timeout = 10}
require("sieve").compile(%q):run(acct:mailbox("INBOX"))
acct:close()`, srv.IMAP, users[0], srv.Password, text))
			if err != nil {
				t.Fatalf("mailscript: %v", err)
			}

			script := filepath.Join(dir, fmt.Sprintf("s%d.sieve", i))
			if err := os.WriteFile(script, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "-c", filepath.Join(dv.Dir, "dovecot.conf"), "-u", users[1], "-C", "-e", "-W", script, "INBOX", "expunge")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sieve-filter: %v\n%s", err, out)
			}

			ms, sf := sieveFolders(t, srv, users[0], folders), sieveFolders(t, srv, users[1], folders)
			if fmt.Sprint(ms) == fmt.Sprint(before) {
				t.Fatalf("the script changed nothing: the comparison would prove nothing")
			}
			for _, f := range folders {
				for id, fl := range sf[f] {
					if got, ok := ms[f][id]; !ok || got != fl {
						t.Errorf("%s %s: sieve-filter left flags %q, mailscript %q (there: %v)", f, id, fl, got, ok)
					}
				}
				for id := range ms[f] {
					if _, ok := sf[f][id]; !ok {
						t.Errorf("%s %s: in mailscript's copy only", f, id)
					}
				}
			}
		})
	}
}

// sieveFolders is folder → Message-ID → sorted flags (no \Recent); a
// folder that does not exist is empty.
func sieveFolders(t *testing.T, srv *servers.Server, user string, folders []string) map[string]map[string]string {
	ctx := context.Background()
	c := srv.Dial(t, user)
	out := map[string]map[string]string{}
	for _, f := range folders {
		out[f] = map[string]string{}
		res, st, err := c.Select(ctx, srv.Folder(f), true)
		if err != nil {
			t.Fatalf("select %s: %v", f, err)
		}
		if res.Type != "OK" || st.Exists == 0 { // a folder not made is empty
			continue
		}
		_, msgs, err := c.Fetch(ctx, "1:*", "(FLAGS ENVELOPE)", false)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			var fl []string
			for _, x := range m.Flags {
				if !strings.EqualFold(x, `\Recent`) {
					fl = append(fl, x)
				}
			}
			slices.Sort(fl)
			out[f][m.Envelope.MessageID] = strings.Join(fl, " ")
		}
	}
	return out
}

// The differential on a small mailbox, always run; sievediff_large_test.go
// (build tag sievediff) runs it on a larger one.
func TestSieveRunDifferential(t *testing.T) { sieveDiff(t, 60) }
