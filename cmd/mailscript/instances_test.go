package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/postgres"
	"github.com/mailscript/mailscript/internal/servers"
)

// instancesScript watches the INBOX of every user in $USERS; the handler
// moves what it got to Done and logs "instance user message-id start end"
// (times in ms) per message to $HANDLED, opened for appending.
const instancesScript = `
local account, watch = require("account"), require("watch")
for user in os.getenv("USERS"):gmatch("%S+") do
  local acct = account.connect{host = "127.0.0.1", port = tonumber(os.getenv("IMAP_PORT")),
    user = user, password = account.secret("env:IMAP_PASSWORD")}
  watch.on(acct, {"INBOX"}, function(mbox, new)
    local start = os.time()
    local uids = {}
    for _, m in ipairs(new) do uids[#uids+1] = m.uid end
    mbox:search{uid = table.concat(uids, ",")}:move("Done")
    local f = assert(io.open(os.getenv("HANDLED"), "a"))
    for _, m in ipairs(new) do
      f:write(os.getenv("INSTANCE"), " ", user, " ", m.message_id, "\n")
    end
    f:close()
  end)
end
`

// TestInstancesShareMailboxesAndSurviveAKill runs three watch processes on
// one PostgreSQL and six accounts, delivers mail throughout and SIGKILLs
// one: every message ends in Done exactly once, handled once.
func TestInstancesShareMailboxesAndSurviveAKill(t *testing.T) {
	pg, err := postgres.Start()
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer pg.Stop()
	srv := servers.Get(t, "dovecot")
	run := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	var users []string
	for i := range 6 {
		u := srv.User(t, fmt.Sprintf("inst%d%s", i, run))
		users = append(users, u)
		c := srv.Dial(t, u)
		c.Create(context.Background(), "Done")
	}
	dir := t.TempDir()
	handled := filepath.Join(dir, "handled")
	script := write(t, "instances.lua", instancesScript)
	const ttl = 3 * time.Second
	type inst struct {
		cmd *exec.Cmd
		err *syncBuf
	}
	start := func(name string) *inst {
		cmd := exec.Command(bin, "watch", "--log-format", "json", "--state", "env:PGDSN", "--lease-ttl", ttl.String(), script)
		cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+srv.CAFile, "IMAP_PORT="+strconv.Itoa(srv.IMAPS),
			"USERS="+strings.Join(users, " "), "IMAP_PASSWORD="+srv.Password, "HANDLED="+handled,
			"INSTANCE="+name, "PGDSN="+pg.DSN(), "NO_COLOR=1", "XDG_STATE_HOME="+dir)
		in := &inst{cmd: cmd, err: &syncBuf{}}
		cmd.Stderr = in.err
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return in
	}
	insts := map[string]*inst{}
	for _, n := range []string{"i1", "i2", "i3"} {
		insts[n] = start(n)
	}
	stderr := func() string {
		var b strings.Builder
		for n, in := range insts {
			fmt.Fprintf(&b, "--- %s\n%s", n, in.err.String())
		}
		return b.String()
	}
	type line struct{ inst, user, id string }
	readLog := func() []line {
		b, err := os.ReadFile(handled)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		var ls []line
		for _, s := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if f := strings.Fields(s); len(f) == 3 {
				ls = append(ls, line{f[0], f[1], f[2]})
			}
		}
		return ls
	}
	deliver := func(u string, n int) string {
		c := srv.Dial(t, u)
		defer c.Close()
		id := fmt.Sprintf("<%s-%d@x>", u, n)
		msg := "From: a@example.org\r\nTo: b@example.org\r\nSubject: m" + strconv.Itoa(n) + "\r\nMessage-ID: " + id + "\r\n\r\nbody\r\n"
		if _, _, err := c.Append(context.Background(), "INBOX", "", "", []byte(msg)); err != nil {
			t.Fatal(err)
		}
		return id
	}
	var sent []string // "user id"
	const rounds = 20
	var killed string
	var killedAt time.Time
	var victimUsers map[string]bool
	for r := range rounds {
		for _, u := range users {
			sent = append(sent, u+" "+deliver(u, r))
		}
		if r >= 2 && killed == "" && r < rounds-6 {
			// once the three share the mailboxes, kill one
			waitFor(t, "the round handled", func() bool { return len(readLog()) >= len(sent) }, stderr)
			owner, distinct := map[string]string{}, map[string]bool{}
			for _, l := range readLog() {
				owner[l.user] = l.inst
			}
			for _, o := range owner {
				distinct[o] = true
			}
			if len(distinct) < 3 {
				time.Sleep(300 * time.Millisecond)
				continue
			}
			for _, u := range users {
				if o := owner[u]; o != "" {
					killed = o
					break
				}
			}
			victimUsers = map[string]bool{}
			for u, o := range owner {
				if o == killed {
					victimUsers[u] = true
				}
			}
			insts[killed].cmd.Process.Signal(syscall.SIGKILL)
			killedAt = time.Now()
		}
		time.Sleep(300 * time.Millisecond) // delivery spread over the run, not a synchronisation
	}
	if killed == "" {
		t.Fatalf("the three instances never shared the mailboxes\n%s", stderr())
	}
	// every message handled; the victim's mailboxes taken over in time
	waitFor(t, "every message handled", func() bool {
		seen := map[string]bool{}
		for _, l := range readLog() {
			seen[l.user+" "+l.id] = true
		}
		for _, s := range sent {
			if !seen[s] {
				return false
			}
		}
		return true
	}, stderr)
	// the survivors took each of the victim's leases within the lease
	// time plus a round (ttl/3) and a margin, by their logs
	for u := range victimUsers {
		var first time.Time
		for n, in := range insts {
			if n == killed {
				continue
			}
			for _, l := range strings.Split(in.err.String(), "\n") {
				var v struct {
					Time       time.Time
					Msg, State string
				}
				if json.Unmarshal([]byte(l), &v) == nil && v.Msg == "lease taken" && strings.HasPrefix(v.State, "watch-"+u+"@") &&
					v.Time.After(killedAt) && (first.IsZero() || v.Time.Before(first)) {
					first = v.Time
				}
			}
		}
		if first.IsZero() || first.Sub(killedAt) > ttl+ttl/3+2*time.Second {
			t.Fatalf("%s: taken over %v after the kill (zero: never), want within %v\n%s", u, first.Sub(killedAt), ttl+ttl/3+2*time.Second, stderr())
		}
		t.Logf("%s taken over %v after the kill", u, first.Sub(killedAt).Round(time.Millisecond))
	}
	for n, in := range insts {
		if n != killed {
			in.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for n, in := range insts {
		if n != killed {
			if err := in.cmd.Wait(); err != nil {
				t.Fatalf("%s after SIGTERM: %v\n%s", n, err, stderr())
			}
		}
	}
	count := map[string]int{}
	afterKill := map[string]string{} // victim's user -> who handled it after the kill
	for _, l := range readLog() {
		count[l.user+" "+l.id]++
		if victimUsers[l.user] && l.inst != killed {
			afterKill[l.user] = l.inst
		}
	}
	// one instance at a time per mailbox: once another took it over, the
	// previous owner never handles it again
	order := map[string][]string{}
	for _, l := range readLog() {
		o := order[l.user]
		if len(o) == 0 || o[len(o)-1] != l.inst {
			for _, prev := range o {
				if prev == l.inst {
					t.Errorf("%s: handled by %v then %s again: two instances at once", l.user, o, l.inst)
				}
			}
			order[l.user] = append(o, l.inst)
		}
	}
	t.Logf("killed %s; owners per mailbox over the run: %v", killed, order)
	for _, s := range sent {
		if count[s] != 1 {
			t.Errorf("%s handled %d times", s, count[s])
		}
	}
	for u := range victimUsers {
		if afterKill[u] == "" {
			t.Errorf("%s (the killed %s's) never handled by another instance", u, killed)
		}
	}
	for _, u := range users {
		c := srv.Dial(t, u)
		_, in, err := c.Status(context.Background(), "INBOX", "(MESSAGES)")
		if err != nil {
			t.Fatal(err)
		}
		_, done, err := c.Status(context.Background(), "Done", "(MESSAGES)")
		if err != nil {
			t.Fatal(err)
		}
		if in.Messages != 0 || done.Messages != rounds {
			t.Errorf("%s: INBOX %d, Done %d, want 0 and %d", u, in.Messages, done.Messages, rounds)
		}
		c.Close()
	}
	if t.Failed() {
		t.Log(stderr())
	}
	if strings.Contains(stderr(), pg.DSN()) {
		t.Fatalf("the DSN appears in the logs")
	}
}

// TestWatchReloadOfABrokenScriptKeepsTheWatchers: a SIGHUP whose script
// does not compile logs the error, and the old watchers go on.
func TestWatchReloadOfABrokenScriptKeepsTheWatchers(t *testing.T) {
	e := newWatchEnv(t, "watchbadreload")
	e.appendMsg(t, "before")
	cmd, errb := startWatch(t, e.env(), "--state", e.state, e.script)
	e.waitHandled(t, 1, errb.String)
	waitFor(t, "watching", func() bool { return strings.Contains(errb.String(), `"event":"start"`) }, errb.String)
	if err := os.WriteFile(e.script, []byte("watch.on(\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the failed reload logged", func() bool {
		return strings.Contains(errb.String(), `"msg":"reload failed; the running watchers go on"`)
	}, errb.String)
	e.appendMsg(t, "after")
	if got := e.waitHandled(t, 2, errb.String); strings.Join(got, ",") != "INBOX 1 before,INBOX 2 after" {
		t.Fatalf("handled %q", got)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, errb.String())
	}
}
