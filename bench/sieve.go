package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/mailscript/mailscript/internal/dovecot"
	"github.com/mailscript/mailscript/protocol/imap"
)

// S1 is Sieve over IMAP: one triage script (W1's rules written in Sieve)
// run by `mailscript sieve run --all` and by Pigeonhole's sieve-filter
// (-e -W) over the same seeded mailbox: sieve-filter through Dovecot's
// imapc backend against the benchmark's server (on loopback and through
// the 10 ms proxy), and on the server's own Maildir (no network at all).
// Every tool must leave the same number of messages in each folder.

const s1Script = `require ["fileinto", "imap4flags"];
if address :contains "from" "corp.example" { addflag "\\Flagged"; }
if anyof (header :contains "list-id" "golang", header :contains "list-id" "dovecot") { fileinto "Lists"; }
elsif address :contains "from" "shop.example" { fileinto "Newsletters"; }
elsif header :contains "subject" ["invoice", "order"] { fileinto "Receipts"; }
`

var s1Folders = []string{"INBOX", "Lists", "Newsletters", "Receipts"}

func (b *bench) s1() error {
	msgs := messages(10, b.sz.W1)
	script := filepath.Join(b.dir, "s1.sieve")
	if err := os.WriteFile(script, []byte(s1Script), 0o644); err != nil {
		return err
	}
	os.Chmod(b.dir, 0o755) // sieve-filter runs as the mail user
	conf := filepath.Join(b.srv.Dir, "dovecot.conf")
	state := filepath.Join(b.dir, "s1-state")
	var want map[string]int
	for _, nw := range b.networks() {
		host, port, _ := net.SplitHostPort(nw.imap)
		var user string
		tools := []tool{
			{"mailscript sieve run", func(env []string) *exec.Cmd {
				return b.command(append(env, "XDG_STATE_HOME="+state), b.mailbin, "sieve", "run", "--all", "--host", host, "--port", port,
					"--user", user, "--password-env", "B_PASSWORD", "--tls", "none", script)
			}},
			{"sieve-filter (imapc)", func(env []string) *exec.Cmd {
				return b.command(env, "sieve-filter", "-c", conf, "-u", user,
					"-o", "mail_location=imapc:~/imapc", "-o", "imapc_host="+host, "-o", "imapc_port="+port,
					"-o", "imapc_user="+user, "-o", "imapc_password="+dovecot.Password, "-o", "imapc_features=rfc822.size",
					"-e", "-W", script, "INBOX")
			}},
		}
		if nw.name == "loopback" {
			tools = append(tools, tool{"sieve-filter (local Maildir)", func(env []string) *exec.Cmd {
				return b.command(env, "sieve-filter", "-c", conf, "-u", user, "-e", "-W", script, "INBOX")
			}})
		}
		err := b.runAll("S1 sieve triage", nw.name, tools, b.sz.Runs, func(tool) ([]string, error) {
			var err error
			user, err = b.user("s1", msgs, "Lists", "Newsletters", "Receipts")
			return b.env(nw.imap, user), err
		}, func(t tool, _ []string, _ string) error {
			got, err := b.folderCounts(user)
			if err != nil {
				return err
			}
			if want == nil {
				want = got
				log("S1 %s: folders %v", t.name, got)
				return nil
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				return fmt.Errorf("folders %v, the first tool's %v", got, want)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// folderCounts is how many messages, and how many \Flagged, each S1 folder holds.
func (b *bench) folderCounts(user string) (map[string]int, error) {
	ctx := context.Background()
	c, err := imap.Dial(ctx, dovecot.Addr(b.srv.IMAP), &imap.Options{Timeout: time.Minute})
	if err != nil {
		return nil, err
	}
	defer c.Logout(ctx)
	if _, err := c.Login(ctx, user, dovecot.Password); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, f := range s1Folders {
		res, st, err := c.Select(ctx, f, true)
		if err != nil || res.Type != "OK" {
			return nil, fmt.Errorf("select %s: %v %v", f, res, err)
		}
		out[f] = int(st.Exists)
		if st.Exists > 0 {
			_, n, err := c.Search(ctx, "", []string{"FLAGGED"}, true)
			if err != nil {
				return nil, err
			}
			out[f+" flagged"] = len(n)
		}
	}
	return out, nil
}
