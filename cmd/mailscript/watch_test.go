package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/dovecot"
	"github.com/mailscript/mailscript/internal/servers"
)

// watchScript appends "mailbox uid" per handled message to $HANDLED.
const watchScript = `
local account, watch = require("account"), require("watch")
local acct = account.connect{host = "127.0.0.1", port = tonumber(os.getenv("IMAP_PORT")),
  user = os.getenv("IMAP_USER"), password = account.secret("env:IMAP_PASSWORD")}
watch.on(acct, {"INBOX"}, function(mbox, new)
  local f = assert(io.open(os.getenv("HANDLED"), "a"))
  for _, m in ipairs(new) do f:write("INBOX ", m.uid, " ", m.subject, "\n") end
  f:close()
end)
`

type watchEnv struct {
	srv              *servers.Server
	user, state, out string
	script           string
}

func newWatchEnv(t *testing.T, name string) *watchEnv {
	srv := servers.Get(t, "dovecot")
	dir := t.TempDir()
	return &watchEnv{srv: srv, user: srv.User(t, name), state: filepath.Join(dir, "state"),
		out: filepath.Join(dir, "handled"), script: write(t, "watch.lua", watchScript)}
}

func (e *watchEnv) env() []string {
	return append(os.Environ(), "SSL_CERT_FILE="+e.srv.CAFile, "IMAP_PORT="+strconv.Itoa(e.srv.IMAPS),
		"IMAP_USER="+e.user, "IMAP_PASSWORD="+e.srv.Password, "HANDLED="+e.out,
		"XDG_STATE_HOME="+e.state, "NO_COLOR=1", "MAILSCRIPT_WATCH_IDLE_RENEW=5s")
}

func (e *watchEnv) appendMsg(t *testing.T, subject string) {
	t.Helper()
	c := e.srv.Dial(t, e.user)
	defer c.Close()
	msg := "From: a@example.org\r\nTo: b@example.org\r\nSubject: " + subject + "\r\nMessage-ID: <" + subject + "@x>\r\n\r\nbody\r\n"
	if _, _, err := c.Append(context.Background(), "INBOX", "", "", []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// handled is the handled file's lines, one per handled message.
func (e *watchEnv) handled(t *testing.T) []string {
	b, err := os.ReadFile(e.out)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// waitHandled waits until n messages were handled, failing after 15 s.
func (e *watchEnv) waitHandled(t *testing.T, n int, stderr func() string) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := e.handled(t)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("handled %d of %d: %q\nstderr:\n%s", len(got), n, got, stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestWatchOnePassHandlesEachMessageOnce(t *testing.T) {
	e := newWatchEnv(t, "watchpass")
	for i := range 3 {
		e.appendMsg(t, fmt.Sprintf("m%d", i))
	}
	run := func() {
		t.Helper()
		cmd := exec.Command(bin, "run", e.script)
		cmd.Env = e.env()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	run()
	if got := e.handled(t); strings.Join(got, ",") != "INBOX 1 m0,INBOX 2 m1,INBOX 3 m2" {
		t.Fatalf("first pass handled %q", got)
	}
	run()
	if got := e.handled(t); len(got) != 3 {
		t.Fatalf("second pass handled again: %q", got)
	}
	e.appendMsg(t, "m3")
	run()
	if got := e.handled(t); len(got) != 4 || got[3] != "INBOX 4 m3" {
		t.Fatalf("third pass: %q", got)
	}
}

// syncBuf is the service's stderr, read while it runs.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b)
}

func waitFor(t *testing.T, what string, cond func() bool, stderr func() string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\nstderr:\n%s", what, stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startWatch starts `mailscript watch` with args and env; it is killed
// when the test ends, if it has not exited.
func startWatch(t *testing.T, env []string, args ...string) (*exec.Cmd, *syncBuf) {
	t.Helper()
	return startService(t, exec.Command(bin, append([]string{"watch", "--log-format", "json"}, args...)...), env)
}

// startService starts cmd with env, its stderr kept; it is killed when
// the test ends, if it has not exited.
func startService(t *testing.T, cmd *exec.Cmd, env []string) (*exec.Cmd, *syncBuf) {
	t.Helper()
	cmd.Env = env
	errb := &syncBuf{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, errb
}

func TestWatchServiceIdleReconnectReloadStop(t *testing.T) {
	e := newWatchEnv(t, "watchsvc")
	e.appendMsg(t, "before")
	addr := freePort(t)
	cmd, errb := startWatch(t, e.env(), "--status", addr, "--state", e.state, e.script)
	stderr := errb.String
	// the catch-up at start
	e.waitHandled(t, 1, stderr)
	waitFor(t, "healthz 200", func() bool { code, _ := get(t, "http://"+addr+"/healthz"); return code == 200 }, stderr)
	// IDLE: an APPEND is handled within a few seconds
	e.appendMsg(t, "live")
	e.waitHandled(t, 2, stderr)

	// a kick cuts the connections; mail delivered meanwhile is handled once
	d := dovecot.Shared(t)
	if out, err := exec.Command("doveadm", "-c", filepath.Join(d.Dir, "dovecot.conf"), "kick", e.user).CombinedOutput(); err != nil {
		t.Fatalf("doveadm kick: %v\n%s", err, out)
	}
	e.appendMsg(t, "while-kicked")
	e.waitHandled(t, 3, stderr)
	waitFor(t, "a reconnect counted", func() bool {
		_, m := get(t, "http://"+addr+"/metrics")
		return strings.Contains(m, "mailscript_reconnects_total 1") || strings.Contains(m, "mailscript_reconnects_total 2")
	}, stderr)

	// SIGHUP reloads: the new watchers go on from the saved state
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", func() bool { return strings.Contains(stderr(), `"event":"reload"`) }, stderr)
	e.appendMsg(t, "after-reload")
	got := e.waitHandled(t, 4, stderr)
	time.Sleep(500 * time.Millisecond) // a duplicate would show by now
	got = e.handled(t)
	want := []string{"INBOX 1 before", "INBOX 2 live", "INBOX 3 while-kicked", "INBOX 4 after-reload"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("handled %q, want each once: %q\nstderr:\n%s", got, want, stderr())
	}

	code, metrics := get(t, "http://"+addr+"/metrics")
	for _, name := range []string{"mailscript_messages_handled_total 4", "mailscript_handler_errors_total 0",
		"mailscript_reconnects_total", `mailscript_mailbox_connected{account="` + e.user + `@127.0.0.1",mailbox="INBOX"} 1`,
		`mailscript_handle_latency_seconds_bucket{le="+Inf"} `, "mailscript_handle_latency_seconds_count", "# TYPE mailscript_handle_latency_seconds histogram"} {
		if code != 200 || !strings.Contains(metrics, name) {
			t.Fatalf("/metrics lacks %q:\n%s", name, metrics)
		}
	}

	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, stderr())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit 15 s after SIGTERM\n%s", stderr())
	}
	sc := bufio.NewScanner(strings.NewReader(stderr()))
	lines := 0
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		if strings.Contains(sc.Text(), e.srv.Password) && strings.Contains(strings.ToLower(sc.Text()), `"`+e.srv.Password+`"`) {
			t.Fatalf("a log line holds the password: %q", sc.Text())
		}
		lines++
	}
	if !strings.Contains(stderr(), `"event":"handle"`) || !strings.Contains(stderr(), `"mailbox":"INBOX"`) || !strings.Contains(stderr(), `"uid":"3:3"`) {
		t.Fatalf("log lacks handle events with mailbox and uid:\n%s", stderr())
	}
}

func TestWatchRulesOnePassFlagsNewMail(t *testing.T) {
	e := newWatchEnv(t, "watchrules")
	e.appendMsg(t, "urgent")
	e.appendMsg(t, "later")
	e.script = write(t, "rules.lua", `
local account, watch = require("account"), require("watch")
local acct = account.connect{host = "127.0.0.1", port = tonumber(os.getenv("IMAP_PORT")),
  user = os.getenv("IMAP_USER"), password = account.secret("env:IMAP_PASSWORD")}
watch.rules(acct, {"INBOX"}, {{name = "urgent", match = {subject = "urgent"}, flag = "\\Flagged"}})
`)
	cmd := exec.Command(bin, "run", e.script)
	cmd.Env = e.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c := e.srv.Dial(t, e.user)
	defer c.Close()
	if _, _, err := c.Select(context.Background(), "INBOX", true); err != nil {
		t.Fatal(err)
	}
	_, v, err := c.UID(context.Background(), "SEARCH", "FLAGGED")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(v); got != "[1]" {
		t.Fatalf("flagged UIDs %s, want only 1", got)
	}
}

// new is both the array of messages and a set of exactly their UIDs
// (watch.md): new:flag acts on them and on nothing else.
func TestWatchNewIsAMessageSet(t *testing.T) {
	e := newWatchEnv(t, "watchnewset")
	e.appendMsg(t, "old")
	e.script = write(t, "first.lua", watchScript)
	cmd := exec.Command(bin, "run", e.script)
	cmd.Env = e.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	e.appendMsg(t, "n1")
	e.appendMsg(t, "n2")
	e.script = write(t, "set.lua", `
local account, watch = require("account"), require("watch")
local acct = account.connect{host = "127.0.0.1", port = tonumber(os.getenv("IMAP_PORT")),
  user = os.getenv("IMAP_USER"), password = account.secret("env:IMAP_PASSWORD")}
watch.on(acct, {"INBOX"}, function(mbox, new)
  assert(#new == 2 and new[1].subject == "n1", "two messages, in order")
  new:flag("\\Flagged")
  assert(new:count() == 2, "count")
end)
`)
	cmd = exec.Command(bin, "run", e.script)
	cmd.Env = e.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c := e.srv.Dial(t, e.user)
	defer c.Close()
	if _, _, err := c.Select(context.Background(), "INBOX", true); err != nil {
		t.Fatal(err)
	}
	_, v, err := c.UID(context.Background(), "SEARCH", "FLAGGED")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(v); got != "[2 3]" {
		t.Fatalf("flagged UIDs %s, want 2 and 3", got)
	}
}

func TestWatchHandlerErrorIsLoggedAndRetried(t *testing.T) {
	e := newWatchEnv(t, "watcherr")
	marker := filepath.Join(t.TempDir(), "failed-once")
	e.script = write(t, "err.lua", `
local account, watch = require("account"), require("watch")
local acct = account.connect{host = "127.0.0.1", port = tonumber(os.getenv("IMAP_PORT")),
  user = os.getenv("IMAP_USER"), password = account.secret("env:IMAP_PASSWORD")}
watch.on(acct, {"INBOX"}, function(mbox, new)
  if not io.open("`+marker+`") then
    io.open("`+marker+`", "w"):close()
    error("handler broke")
  end
  local f = assert(io.open(os.getenv("HANDLED"), "a"))
  for _, m in ipairs(new) do f:write("INBOX ", m.uid, " ", m.subject, "\n") end
  f:close()
end)
`)
	e.appendMsg(t, "first")
	cmd, errb := startWatch(t, e.env(), "--state", e.state, e.script)
	waitFor(t, "the handler error logged", func() bool {
		return strings.Contains(errb.String(), `"error":"`) && strings.Contains(errb.String(), "handler broke")
	}, errb.String)
	if !strings.Contains(errb.String(), `"msg":"handler failed","account":"`+e.user+`@127.0.0.1","mailbox":"INBOX","event":"handle","uid":"1:1"`) {
		t.Fatalf("the error line lacks account, mailbox or uid:\n%s", errb.String())
	}
	e.appendMsg(t, "second") // the service goes on; the failed message comes again
	got := e.waitHandled(t, 2, errb.String)
	if strings.Join(got, ",") != "INBOX 1 first,INBOX 2 second" {
		t.Fatalf("handled %q", got)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGINT: %v\n%s", err, errb.String())
	}
}

func TestWatchOnePassHandlerErrorExitsOneAndKeepsState(t *testing.T) {
	e := newWatchEnv(t, "watchpasserr")
	e.appendMsg(t, "m0")
	e.script = write(t, "fail.lua", watchScript+`
if os.getenv("FAIL") then
  watch.on(acct, {"INBOX"}, function() error("refused by the handler") end)
end
`)
	run := func(fail bool) (string, int) {
		cmd := exec.Command(bin, "run", e.script)
		cmd.Env = e.env()
		if fail {
			cmd.Env = append(cmd.Env, "FAIL=1")
		}
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	// two watchers of INBOX, each with its own progress: the second fails
	out, code := run(true)
	if code != 1 || !strings.Contains(out, "refused by the handler") {
		t.Fatalf("a failed handler: exit %d\n%s", code, out)
	}
	if got := e.handled(t); len(got) != 1 {
		t.Fatalf("handled %q", got)
	}
	// the failed one hands UID 1 again; the first has it already
	out, code = run(true)
	if code != 1 || len(e.handled(t)) != 1 {
		t.Fatalf("rerun: exit %d, handled %q\n%s", code, e.handled(t), out)
	}
	if out, code = run(false); code != 0 || len(e.handled(t)) != 1 {
		t.Fatalf("without the failing watcher: exit %d, handled %q\n%s", code, e.handled(t), out)
	}
}

// A message the handler always fails on is retried alone, max_failures
// times, then left unhandled; the messages around it are handled, and
// without new mail arriving.
func TestWatchSkipsAMessageTheHandlerAlwaysFails(t *testing.T) {
	e := newWatchEnv(t, "watchpoison")
	e.script = write(t, "poison.lua", `
local account, watch = require("account"), require("watch")
local acct = account.connect{host = "127.0.0.1", port = tonumber(os.getenv("IMAP_PORT")),
  user = os.getenv("IMAP_USER"), password = account.secret("env:IMAP_PASSWORD")}
watch.on(acct, {"INBOX"}, function(mbox, new)
  for _, m in ipairs(new) do
    if m.subject == "poison" then error("cannot handle " .. m.subject) end
  end
  local f = assert(io.open(os.getenv("HANDLED"), "a"))
  for _, m in ipairs(new) do f:write("INBOX ", m.uid, " ", m.subject, "\n") end
  f:close()
end, {max_failures = 2, backoff_max = 1})
`)
	for _, s := range []string{"a", "poison", "b"} {
		e.appendMsg(t, s)
	}
	addr := freePort(t)
	cmd, errb := startWatch(t, e.env(), "--status", addr, "--state", e.state, e.script)
	got := e.waitHandled(t, 2, errb.String)
	if strings.Join(got, ",") != "INBOX 1 a,INBOX 3 b" {
		t.Fatalf("handled %q\n%s", got, errb.String())
	}
	if !strings.Contains(errb.String(), `"msg":"handler gave up on a message","account":"`+e.user+`@127.0.0.1","mailbox":"INBOX","event":"handle","uid":"2:2","outcome":"skipped","failures":2`) {
		t.Fatalf("no give-up line for UID 2:\n%s", errb.String())
	}
	if _, m := get(t, "http://"+addr+"/metrics"); !strings.Contains(m, "mailscript_messages_skipped_total 1\n") {
		t.Fatalf("/metrics:\n%s", m)
	}
	e.appendMsg(t, "c")
	if got := e.waitHandled(t, 3, errb.String); got[2] != "INBOX 4 c" {
		t.Fatalf("handled %q", got)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, errb.String())
	}
}

// A mailbox deleted and made again has a new UIDVALIDITY: its UIDs start
// over, and what it holds is new, though below the last UID handled.
func TestWatchHandsAgainAfterUIDValidityChange(t *testing.T) {
	e := newWatchEnv(t, "watchuidv")
	e.script = write(t, "box.lua", strings.NewReplacer(`{"INBOX"}`, `{"Box"}`, `"INBOX "`, `"Box "`).Replace(watchScript))
	c := e.srv.Dial(t, e.user)
	defer c.Close()
	ctx := context.Background()
	add := func(subject string) {
		t.Helper()
		msg := "From: a@example.org\r\nSubject: " + subject + "\r\n\r\nbody\r\n"
		if _, _, err := c.Append(ctx, "Box", "", "", []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	run := func() {
		t.Helper()
		cmd := exec.Command(bin, "run", e.script)
		cmd.Env = e.env()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	if _, err := c.Create(ctx, "Box"); err != nil {
		t.Fatal(err)
	}
	add("m1")
	add("m2")
	run()
	if _, err := c.Delete(ctx, "Box"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, "Box"); err != nil {
		t.Fatal(err)
	}
	add("m3")
	run()
	if got := strings.Join(e.handled(t), ","); got != "Box 1 m1,Box 2 m2,Box 1 m3" {
		t.Fatalf("handled %q", got)
	}
}

// A password that stops working (changed on the server, not yet in the
// secret) is logged and retried with backoff, the service running on;
// each reconnect reads the secret again, so the new password is taken
// up without a restart.
func TestWatchRetriesAChangedPassword(t *testing.T) {
	e := newWatchEnv(t, "watchpw")
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(e.srv.Password), 0o600); err != nil {
		t.Fatal(err)
	}
	e.script = write(t, "pw.lua", strings.Replace(watchScript, `account.secret("env:IMAP_PASSWORD")}`,
		`account.secret("cmd:cat `+pwFile+`")}`, 1))
	e.appendMsg(t, "before")
	cmd, errb := startWatch(t, e.env(), "--state", e.state, e.script)
	e.waitHandled(t, 1, errb.String)
	if err := os.WriteFile(pwFile, []byte("not-"+e.srv.Password), 0o600); err != nil {
		t.Fatal(err)
	}
	d := dovecot.Shared(t)
	if out, err := exec.Command("doveadm", "-c", filepath.Join(d.Dir, "dovecot.conf"), "kick", e.user).CombinedOutput(); err != nil {
		t.Fatalf("doveadm kick: %v\n%s", err, out)
	}
	waitFor(t, "a refused login logged", func() bool {
		return strings.Contains(errb.String(), `"msg":"connection failed"`) && strings.Contains(errb.String(), "AUTHENTICATIONFAILED")
	}, errb.String)
	e.appendMsg(t, "while-refused")
	if err := os.WriteFile(pwFile, []byte(e.srv.Password), 0o600); err != nil {
		t.Fatal(err)
	}
	got := e.waitHandled(t, 2, errb.String)
	if strings.Join(got, ",") != "INBOX 1 before,INBOX 2 while-refused" {
		t.Fatalf("handled %q", got)
	}
	if strings.Contains(errb.String(), "not-"+e.srv.Password) {
		t.Fatal("a password in the log")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, errb.String())
	}
}
