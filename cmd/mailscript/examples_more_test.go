package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/mailgen"
	"github.com/mailscript/mailscript/internal/servers"
	"github.com/mailscript/mailscript/protocol/imap"
)

// Each example runs, as a user would run it, against every server of
// servers.All with seeded mail; the test then checks the mailboxes.

type exampleEnv struct {
	t     *testing.T
	srv   *servers.Server
	user  string
	msgs  []mailgen.Message
	state string
}

func newExample(t *testing.T, srv *servers.Server, n int) *exampleEnv {
	t.Helper()
	e := &exampleEnv{t: t, srv: srv, user: srv.User(t, "ex-"+t.Name()), state: t.TempDir()}
	srv.User(t, "ex-"+t.Name()+"-pop")
	if n > 0 {
		e.msgs = gen(0, n)
		srv.Seed(t, e.user, "", e.msgs)
	}
	return e
}

// gen makes messages from..to-1 of the examples' generator.
func gen(from, to int) []mailgen.Message {
	g := mailgen.New(11)
	var msgs []mailgen.Message
	for i := from; i < to; i++ {
		msgs = append(msgs, g.Message(i))
	}
	return msgs
}

func (e *exampleEnv) run(script string, args ...string) string {
	e.t.Helper()
	path, _ := filepath.Abs(filepath.Join("../../examples", script))
	cmd := exec.Command(bin, append([]string{"run", path}, args...)...)
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+e.srv.CAFile, "IMAP_HOST=127.0.0.1",
		"IMAP_PORT="+strconv.Itoa(e.srv.IMAPS), "IMAP_USER="+e.user, "IMAP_PASSWORD="+e.srv.Password,
		"POP3_HOST=127.0.0.1", "POP3_PORT="+strconv.Itoa(e.srv.POP3S), "POP3_USER="+e.user+"-pop",
		"POP3_PASSWORD="+e.srv.Password, "XDG_STATE_HOME="+e.state, "NO_COLOR=1")
	cmd.Dir = e.t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

// client is a plain IMAP connection to check the result.
func (e *exampleEnv) client() *imap.Client {
	e.t.Helper()
	return e.srv.Dial(e.t, e.user)
}

// count is how many messages of mailbox (a "/"-separated name) match
// criteria, -1 when it cannot be opened.
func (e *exampleEnv) count(c *imap.Client, mailbox, criteria string) int {
	e.t.Helper()
	ctx := context.Background()
	res, _, err := c.Select(ctx, e.srv.Folder(mailbox), true)
	if err != nil || res.Type != "OK" {
		return -1
	}
	_, n, err := c.Search(ctx, "", []string{criteria}, false)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(n)
}

func TestExampleRouteLists(t *testing.T) {
	servers.Each(t, func(t *testing.T, srv *servers.Server) {
		e := newExample(t, srv, 80)
		lists := map[string]int{}
		for _, m := range e.msgs {
			if m.ListID != "" {
				lists[strings.Fields(m.ListID)[0]]++
			}
		}
		e.run("route_lists.lua")
		c := e.client()
		total := 0
		for name, n := range lists {
			if got := e.count(c, "Lists/"+name, "ALL"); got != n {
				t.Fatalf("Lists/%s holds %d, want %d", name, got, n)
			}
			total += n
		}
		if got := e.count(c, "INBOX", "ALL"); got != 80-total {
			t.Fatalf("INBOX holds %d, want %d", got, 80-total)
		}
		e.run("route_lists.lua") // incremental: nothing more moves
		if got := e.count(c, "INBOX", "ALL"); got != 80-total {
			t.Fatalf("second run changed INBOX: %d", got)
		}
	})
}

func TestExampleArchiveByYear(t *testing.T) {
	servers.Each(t, func(t *testing.T, srv *servers.Server) {
		e := newExample(t, srv, 40)
		want := 0
		for _, m := range e.msgs {
			if m.Seen && !m.Flagged {
				want++
			}
		}
		out := e.run("archive_by_year.lua")
		c := e.client()
		if got := e.count(c, "Archive/2024", "ALL"); got != want || !strings.Contains(out, "to Archive/2024") {
			t.Fatalf("Archive/2024 holds %d, want %d\n%s", got, want, out)
		}
		if got := e.count(c, "INBOX", "ALL"); got != 40-want {
			t.Fatalf("INBOX holds %d", got)
		}
	})
}

func TestExampleFileByDomain(t *testing.T) {
	servers.Each(t, func(t *testing.T, srv *servers.Server) {
		e := newExample(t, srv, 60)
		want := map[string]int{}
		for _, m := range e.msgs {
			for _, d := range []string{"corp.example", "uni.example.edu"} {
				if strings.HasSuffix(m.From, "@"+d) {
					want[d]++
				}
			}
		}
		e.run("file_by_domain.lua")
		c := e.client()
		for d, n := range want {
			if got := e.count(c, "By-domain/"+strings.ReplaceAll(d, ".", "-"), "ALL"); got != n || n == 0 {
				t.Fatalf("By-domain/%s holds %d, want %d", d, got, n)
			}
		}
	})
}

func TestExampleFlagVIPs(t *testing.T) {
	servers.Each(t, func(t *testing.T, srv *servers.Server) {
		e := newExample(t, srv, 60)
		want := 0
		for _, m := range e.msgs {
			if !m.Seen && (m.From == "boss@corp.example" || strings.HasSuffix(m.From, "@uni.example.edu")) {
				want++
			}
		}
		e.run("flag_vips.lua")
		c := e.client()
		if got := e.count(c, "INBOX", "FLAGGED UNSEEN OR FROM uni.example.edu FROM boss@corp.example"); got != want || want == 0 {
			t.Fatalf("%d unseen VIP messages flagged, want %d", got, want)
		}
	})
}

func TestExampleEmptyTrash(t *testing.T) {
	servers.Each(t, func(t *testing.T, srv *servers.Server) {
		e := newExample(t, srv, 0)
		old := make([]mailgen.Message, 12) // from 2024: old
		for i := range old {
			old[i] = mailgen.New(5).Message(i)
		}
		srv.Seed(t, e.user, "Trash", old)
		c := e.client()
		ctx := context.Background()
		c.Append(ctx, srv.Folder("Trash"), "", Time(time.Now()), []byte("Subject: recent\r\n\r\nkeep me\r\n"))
		out := e.run("empty_trash.lua")
		if got := e.count(c, "Trash", "ALL"); got != 1 || !strings.Contains(out, "12 message(s) removed") {
			t.Fatalf("Trash holds %d\n%s", got, out)
		}
	})
}

// Time formats an INTERNALDATE for APPEND.
func Time(t time.Time) string { return imap.Time2Internaldate(t) }

func TestExampleSpamByScore(t *testing.T) {
	servers.Each(t, func(t *testing.T, srv *servers.Server) {
		e := newExample(t, srv, 100)
		want := 0
		for _, m := range e.msgs {
			if i := bytes.Index(m.Raw, []byte("X-Spam-Score: ")); i >= 0 {
				v, _ := strconv.ParseFloat(strings.TrimSpace(string(m.Raw[i+14:i+14+bytes.IndexByte(m.Raw[i+14:], '\r')])), 64)
				if v >= 5 {
					want++
				}
			}
		}
		e.run("spam_by_score.lua", "5")
		c := e.client()
		if got := e.count(c, "Junk", "ALL"); got != want || want == 0 {
			t.Fatalf("Junk holds %d, want %d", got, want)
		}
	})
}

func TestExampleLargeAttachments(t *testing.T) {
	servers.Each(t, func(t *testing.T, srv *servers.Server) {
		e := newExample(t, srv, 120)
		out := e.run("large_attachments.lua", "50000")
		big := 0
		for _, m := range e.msgs {
			if len(m.Raw) > 60000 && bytes.Contains(m.Raw, []byte("Content-Disposition: attachment")) {
				big++
			}
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if big == 0 || len(lines) < big || !strings.Contains(out, "bytes") {
			t.Fatalf("%d big attachments expected, output:\n%s", big, out)
		}
	})
}

func TestExamplePOP3Fetch(t *testing.T) {
	servers.Each(t, func(t *testing.T, srv *servers.Server) {
		e := newExample(t, srv, 0)
		pop := make([]mailgen.Message, 15)
		for i := range pop {
			pop[i] = mailgen.New(6).Message(i)
		}
		srv.Seed(t, e.user+"-pop", "", pop)
		out := e.run("pop3_fetch.lua")
		c := e.client()
		if got := e.count(c, "INBOX", "ALL"); got != 15 || !strings.Contains(out, "15 new message(s)") {
			t.Fatalf("INBOX holds %d\n%s", got, out)
		}
		out = e.run("pop3_fetch.lua") // UIDL state: nothing twice
		if got := e.count(c, "INBOX", "ALL"); got != 15 || !strings.Contains(out, "0 new message(s)") {
			t.Fatalf("second run: INBOX holds %d\n%s", got, out)
		}
	})
}

func TestExampleBackupMaildir(t *testing.T) {
	servers.Each(t, func(t *testing.T, srv *servers.Server) {
		e := newExample(t, srv, 25)
		dir := filepath.Join(t.TempDir(), "bk")
		out := e.run("backup_maildir.lua", "INBOX", dir)
		files, _ := filepath.Glob(filepath.Join(dir, "cur", "*"))
		if len(files) != 25 || !strings.Contains(out, "25 message(s) backed up") {
			t.Fatalf("%d files\n%s", len(files), out)
		}
		got := map[string]bool{}
		for _, f := range files {
			b, _ := os.ReadFile(f)
			got[string(b)] = true
		}
		for i, m := range e.msgs {
			if !got[string(srv.Stored(m.Raw))] {
				t.Fatalf("message %d missing or altered in the backup", i)
			}
		}
		if out := e.run("backup_maildir.lua", "INBOX", dir); !strings.Contains(out, "0 message(s) backed up") {
			t.Fatal(out)
		}
	})
}

func TestExampleIdleWatch(t *testing.T) {
	servers.Each(t, func(t *testing.T, srv *servers.Server) {
		e := newExample(t, srv, 6) // mail already there is not news
		go func() {
			time.Sleep(1500 * time.Millisecond)
			ctx := context.Background()
			c, err := imap.Dial(ctx, servers.Addr(e.srv.IMAP), &imap.Options{Timeout: 10 * time.Second})
			if err != nil {
				return
			}
			defer c.Logout(ctx)
			c.Login(ctx, e.user, e.srv.Password)
			c.Append(ctx, "INBOX", "", "", []byte("From: boss@corp.example\r\nSubject: urgent\r\n\r\nnow\r\n"))
			c.Append(ctx, "INBOX", "", "", []byte("From: someone@else.example\r\nSubject: whatever\r\n\r\nlater\r\n"))
		}()
		out := e.run("idle_watch.lua", "4")
		if !strings.Contains(out, "new from boss@corp.example: urgent") || strings.Count(out, "new from") != 1 {
			t.Fatalf("output:\n%s", out)
		}
	})
}
