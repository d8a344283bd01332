package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/internal/mailgen"
	"github.com/mailscript/mailscript/internal/memserver"
	"github.com/mailscript/mailscript/internal/selfsigned"
	"github.com/mailscript/mailscript/internal/servers"
)

func TestPlanTableOneLinePerAction(t *testing.T) {
	var plan []bindings.Action
	for i := 0; i < 300; i++ { // chunks of one move, as sent
		plan = append(plan, bindings.Action{Command: "MOVE", Mailbox: "INBOX", Set: fmt.Sprintf("%d", 2*i+1), UID: true, Args: []string{"Archive"}, Rule: "old"})
	}
	plan = append(plan, bindings.Action{Command: "STORE", Mailbox: "INBOX", Set: "1:40,52", UID: true, Args: []string{"+FLAGS.SILENT", `\Flagged`}, Rule: "vip"})
	var out bytes.Buffer
	printPlan(&out, plan, false)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || lines[0] != "dry run: 2 change(s) not made" || lines[1] != `rule "old":` || lines[3] != `rule "vip":` {
		t.Fatalf("%q", lines)
	}
	for _, l := range lines {
		if len(l) > 100 {
			t.Fatalf("line %d wide: %q", len(l), l)
		}
	}
	if !strings.Contains(lines[2], "Archive") || !strings.HasSuffix(lines[2], "UID 1,3,5,… (300 messages)") {
		t.Fatalf("%q", lines[2])
	}
	if !strings.HasSuffix(lines[4], `\Flagged  UID 1:40,52 (41 messages)`) {
		t.Fatalf("%q", lines[4])
	}
	out.Reset()
	printPlan(&out, plan, true) // -v: every UID
	if !strings.Contains(out.String(), "597,599 (300 messages)") {
		t.Fatal(out.String())
	}
}

func TestJSONStdoutIsOneDocument(t *testing.T) {
	p := write(t, "p.lua", `print("hello from the script") io.write("more\n")`)
	for _, args := range [][]string{{"run", "--dry-run", "--json", p}, {"run", "--json", p}} {
		out, errs, code := mailscript(t, "", args...)
		dec := json.NewDecoder(strings.NewReader(out))
		var doc struct {
			DryRun  *bool `json:"dry_run"`
			Plan    []any `json:"plan"`
			Reports []any `json:"reports"`
			Result  struct {
				OK bool `json:"ok"`
			} `json:"result"`
		}
		if err := dec.Decode(&doc); err != nil || doc.DryRun == nil || doc.Plan == nil || doc.Reports == nil || !doc.Result.OK {
			t.Fatalf("%v: %v %q", args, err, out)
		}
		if _, err := dec.Token(); err != io.EOF {
			t.Fatalf("%v: more than one document: %q", args, out)
		}
		if *doc.DryRun != (args[1] == "--dry-run") || code != 0 || errs != "hello from the script\nmore\n" {
			t.Fatalf("%v: %d %v %q", args, code, *doc.DryRun, errs)
		}
	}
	loop := write(t, "loop.lua", `while true do end`)
	out, _, code := mailscript(t, "", "run", "--json", "--timeout", "100ms", loop)
	var limited struct{ Result jsonResult }
	if json.Unmarshal([]byte(out), &limited) != nil || code != 1 || limited.Result.Stopped != "limit.time" {
		t.Fatalf("%d %q", code, out)
	}
	bad := write(t, "bad.lua", `error("nope")`)
	out, _, code = mailscript(t, "", "run", "--json", bad)
	var doc struct{ Result jsonResult }
	if json.Unmarshal([]byte(out), &doc) != nil || code != 1 || doc.Result.OK || doc.Result.Exit != 1 || !strings.Contains(doc.Result.Error, "nope") {
		t.Fatalf("%d %q", code, out)
	}
}

func TestDemoDryRunHasNoDryRunHint(t *testing.T) {
	out, _, code := mailscript(t, "", "demo", "--dry-run")
	if code != 0 || strings.Contains(out, "try: mailscript demo --dry-run") || !strings.Contains(out, `rule "likely spam":`) {
		t.Fatalf("%d\n%s", code, out)
	}
}

func TestPadColumnsCJK(t *testing.T) {
	for _, s := range []string{"日本語の件名", "ascii subject", "混合 mixed 文字列 that is far too long for the column"} {
		got := padColumns(s, 20)
		if w := runewidth.StringWidth(got); w != 20 {
			t.Fatalf("%q is %d columns wide, want 20", got, w)
		}
	}
}

// signalled runs a script that waits, sends it sig once it is running,
// and returns its exit status and stderr.
func signalled(t *testing.T, sig syscall.Signal, src string) (int, string) {
	t.Helper()
	p := write(t, "wait.lua", `print("ready") io.stdout:flush() `+src)
	cmd := exec.Command(bin, "run", p)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(stdout, buf); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(sig)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the script did not stop")
	}
	return cmd.ProcessState.ExitCode(), errb.String()
}

func TestInterruptAndTerminate(t *testing.T) {
	code, errs := signalled(t, syscall.SIGINT, "while true do end")
	if code != 130 || errs != "mailscript: interrupted\n" {
		t.Fatalf("SIGINT: %d %q", code, errs)
	}
	code, errs = signalled(t, syscall.SIGTERM, "while true do end")
	if code != 143 || errs != "mailscript: terminated\n" {
		t.Fatalf("SIGTERM: %d %q", code, errs)
	}
}

func TestFlagsAfterScriptRefused(t *testing.T) {
	mbox := write(t, "m.mbox", "From a@x Mon Jan  1 00:00:00 2024\nFrom: a@x\nSubject: one\n\nbody\n")
	script := write(t, "s.lua", `print(#arg, arg[1])`)
	_, errs, code := mailscript(t, "", "test", "--mailbox", mbox, script, "--dry-run")
	if code != 2 || !strings.Contains(errs, "--dry-run comes after the script file") {
		t.Fatalf("%d %q", code, errs)
	}
	_, errs, code = mailscript(t, "", "run", script, "-dry-run=true")
	if code != 2 || !strings.Contains(errs, "put it before the file") {
		t.Fatalf("%d %q", code, errs)
	}
	out, _, code := mailscript(t, "", "run", script, "--", "--dry-run")
	if code != 0 || out != "1\t--dry-run\n" {
		t.Fatalf("%d %q", code, out)
	}
	out, _, code = mailscript(t, "", "run", script, "--other")
	if code != 0 || out != "1\t--other\n" {
		t.Fatalf("%d %q", code, out)
	}
}

func TestCheckCutOffFileGivesLine(t *testing.T) {
	p := write(t, "syn2.lua", "local x = 1\nif x then\n  print(x)\n")
	_, errs, code := mailscript(t, "", "check", p)
	if code != 1 || !strings.Contains(errs, "syn2.lua:3: syntax error at EOF") || strings.Contains(errs, ":0:") {
		t.Fatalf("%d %q", code, errs)
	}
	_, errs, code = mailscript(t, "", "run", p)
	if code != 1 || !strings.Contains(errs, "syn2.lua:3:") {
		t.Fatalf("%d %q", code, errs)
	}
	// the REPL still reads on at an open block
	out, _, _ := mailscript(t, "if true then\nprint(7)\nend\n", "repl")
	if out != "7\n" {
		t.Fatalf("%q", out)
	}
}

func TestOfflineMboxStatusFlags(t *testing.T) {
	mbox := write(t, "m.mbox", "From a@x Mon Jan  1 00:00:00 2024\nFrom: a@x\nSubject: read\nStatus: RO\n\nbody\n\n"+
		"From b@x Mon Jan  1 00:00:00 2024\nFrom: b@x\nSubject: flagged\nStatus: O\nX-Status: FA\n\nbody\n\n"+
		"From c@x Mon Jan  1 00:00:00 2024\nFrom: c@x\nSubject: new\n\nbody\n")
	script := write(t, "s.lua", `
local account = require("account")
local acct = account.connect{host = "imap.example.org", user = "me", password = "x"}
local inbox = acct:mailbox("INBOX")
print("seen", #inbox:search{seen = true}, "flagged", #inbox:search{flagged = true}, "unseen", #inbox:search{unseen = true})
for msg in inbox:messages(inbox:search{subject = "read"}, {"headers"}) do print("status header", msg:header("Status")) end
acct:close()`)
	out, errs, code := mailscript(t, "", "test", "--mailbox", mbox, script)
	if code != 0 || !strings.Contains(out, "seen\t1\tflagged\t1\tunseen\t2\n") || !strings.Contains(out, "status header\tnil") {
		t.Fatalf("%d\n%s\n%s", code, out, errs)
	}
}

// readmeLua is the Lua of the README's code blocks under heading.
func readmeLua(t *testing.T, heading string) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), heading+"\n")
	if !ok {
		t.Fatalf("README has no %q", heading)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	var blocks []string
	for {
		_, rest, ok := strings.Cut(sec, "```lua\n")
		if !ok {
			return blocks
		}
		block, after, _ := strings.Cut(rest, "```")
		blocks = append(blocks, block)
		sec = after
	}
}

func TestREADMEFirstFilterRunsOffline(t *testing.T) {
	blocks := readmeLua(t, "## A first filter script")
	if len(blocks) != 2 {
		t.Fatalf("%d blocks", len(blocks))
	}
	mbox := write(t, "m.mbox", "From a@x Mon Jan  1 00:00:00 2024\nFrom: boss@example.com\nSubject: hello\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nbody\n\n"+
		"From b@x Mon Jan  1 00:00:00 2024\nFrom: l@x\nList-Id: golang <golang.example>\nSubject: list\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nbody\n\n"+
		"From c@x Mon Jan  1 00:00:00 2024\nFrom: l@x\nList-Id: golang <golang.example>\nSubject: list2\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nbody\n")
	script := write(t, "first.lua", blocks[0]+"\n"+blocks[1]+"\nacct:close()\n")
	cmd := exec.Command(bin, "test", "--mailbox", mbox, script)
	cmd.Env = append(os.Environ(), "IMAP_PASSWORD=x", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "INBOX -> Lists/golang") {
		t.Fatalf("%v\n%s", err, out)
	}
}

func TestQueuedFailureNamesActionOffline(t *testing.T) {
	mbox := write(t, "m.mbox", "From a@x Mon Jan  1 00:00:00 2024\nFrom: a@x\nSubject: one\n\nbody\n")
	script := write(t, "s.lua", `
local account = require("account")
local acct = account.connect{host = "imap.example.org", user = "me", password = "x"}
local inbox = acct:mailbox("INBOX")
inbox:all():move("Lists/golang")
print(#inbox:all())
`)
	_, errs, code := mailscript(t, "", "test", "--mailbox", mbox, script)
	if code != 1 || !strings.Contains(errs, "MOVE to Lists/golang (1 message(s) from INBOX") || !strings.Contains(errs, "{create = true}") {
		t.Fatalf("%d %s", code, errs)
	}
}

func TestRuleErrorsShowUserLines(t *testing.T) {
	mbox := write(t, "m.mbox", "From a@x Mon Jan  1 00:00:00 2024\nFrom: a@x\nSubject: one\n\nbody\n")
	script := write(t, "r.lua", `
local account, rules = require("account"), require("rules")
local acct = account.connect{host = "imap.example.org", user = "me", password = "x"}
rules.apply(acct:mailbox("INBOX"), {
  {name = "year", move = function(msg) return nil end},
})`)
	_, errs, code := mailscript(t, "", "test", "--mailbox", mbox, script)
	if code != 1 || !strings.Contains(errs, `rule "year": the move function returned nil for UID 1 in INBOX`) ||
		strings.Contains(errs, "rules.lua") || strings.Contains(errs, "<string>") || !strings.Contains(errs, "r.lua:4:") {
		t.Fatalf("%d %s", code, errs)
	}
}

// TestExamplePOP3FetchCrashAfterAppend stops the example dead (os.exit)
// right after an APPEND is confirmed and before the UIDL is marked done,
// then runs it again: the message is in the folder once.
func TestExamplePOP3FetchCrashAfterAppend(t *testing.T) {
	servers.Each(t, func(t *testing.T, srv *servers.Server) {
		e := newExample(t, srv, 0)
		pop := make([]mailgen.Message, 5)
		for i := range pop {
			pop[i] = mailgen.New(7).Message(i)
		}
		srv.Seed(t, e.user+"-pop", "", pop)
		example, _ := filepath.Abs("../../examples/pop3_fetch.lua")
		wrapper := write(t, "crash.lua", `
local state = require("state")
local open = state.open
state.open = function(name)
  local doc = open(name)
  local set = doc.set
  doc.set = function(self, k, v)
    if type(v) == "number" and os.getenv("CRASH_AT_DONE") then os.exit(137) end
    return set(self, k, v)
  end
  return doc
end
dofile(arg[1])`)
		run := func(crash bool) (string, int) {
			cmd := exec.Command(bin, "run", wrapper, example)
			cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+e.srv.CAFile, "IMAP_HOST=127.0.0.1",
				"IMAP_PORT="+strconv.Itoa(e.srv.IMAPS), "IMAP_USER="+e.user, "IMAP_PASSWORD="+e.srv.Password,
				"POP3_HOST=127.0.0.1", "POP3_PORT="+strconv.Itoa(e.srv.POP3S), "POP3_USER="+e.user+"-pop",
				"POP3_PASSWORD="+e.srv.Password, "XDG_STATE_HOME="+e.state, "NO_COLOR=1", "DELETE_AFTER_FETCH=1")
			if crash {
				cmd.Env = append(cmd.Env, "CRASH_AT_DONE=1")
			}
			out, _ := cmd.CombinedOutput()
			return string(out), cmd.ProcessState.ExitCode()
		}
		if out, code := run(true); code != 137 {
			t.Fatalf("the crash run: %d\n%s", code, out)
		}
		c := e.client()
		if got := e.count(c, "INBOX", "ALL"); got != 1 {
			t.Fatalf("after the crash INBOX holds %d, want the one appended", got)
		}
		if got := popCount(t, srv, e.user+"-pop"); got != 5 {
			t.Fatalf("after the crash the POP3 mailbox holds %d, want all 5 (deletes go only at QUIT)", got)
		}
		out, code := run(false)
		if got := e.count(c, "INBOX", "ALL"); got != 5 || code != 0 || !strings.Contains(out, "4 new message(s)") {
			t.Fatalf("rerun: INBOX holds %d, want 5 (no duplicate); %d\n%s", got, code, out)
		}
		if got := popCount(t, srv, e.user+"-pop"); got != 0 {
			t.Fatalf("after the rerun the POP3 mailbox holds %d, want none", got)
		}
	})
}

// popCount is the number of messages in user's POP3 mailbox.
func popCount(t *testing.T, srv *servers.Server, user string) int {
	t.Helper()
	ctx := context.Background()
	c := srv.DialPOP3(t, user)
	defer c.Quit(ctx)
	n, _, err := c.Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func TestRunFromStdinAndDashE(t *testing.T) {
	out, errs, code := mailscript(t, "print('from stdin', arg[1])", "run", "-", "x")
	if code != 0 || out != "from stdin\tx\n" {
		t.Fatalf("%d %q %q", code, out, errs)
	}
	out, errs, code = mailscript(t, "", "-e", "print(1 + 1, arg[1])", "y")
	if code != 0 || out != "2\ty\n" {
		t.Fatalf("%d %q %q", code, out, errs)
	}
	out, _, code = mailscript(t, "", "run", "--dry-run", "-e", "print(require('account').dry_run)")
	if code != 0 || !strings.HasPrefix(out, "true\n") {
		t.Fatalf("%d %q", code, out)
	}
}

func TestLogFile(t *testing.T) {
	log := filepath.Join(t.TempDir(), "run.log")
	_, errs, code := mailscript(t, "", "run", "--log", log, "-e", `require("log").warn("watch out") error("boom")`)
	b, _ := os.ReadFile(log)
	if code != 1 || !strings.Contains(string(b), "WARN  watch out") || !strings.Contains(string(b), "boom") || !strings.Contains(errs, "boom") {
		t.Fatalf("%d %q %q", code, b, errs)
	}
	replLog := filepath.Join(t.TempDir(), "repl.log")
	mailscript(t, "error('from the repl')\n", "repl", "--log", replLog)
	if b, _ := os.ReadFile(replLog); !strings.Contains(string(b), "from the repl") {
		t.Fatalf("repl --log: %q", b)
	}
	_, _, code = mailscript(t, "", "run", "--log", t.TempDir(), "-e", `print(1)`)
	if code != 1 {
		t.Fatal(code)
	}
}

func TestTLSPrivateCAHintAndCAFlag(t *testing.T) {
	certs, err := selfsigned.New()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := memserver.StartIMAP("u", "", nil, certs.Server)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Addr)
	script := write(t, "tls.lua", `local account = require("account")
local acct = account.connect{host = "127.0.0.1", port = `+port+`, user = "u", password = "p"}
print(#acct:mailboxes() > 0)
acct:close()`)
	_, errs, code := mailscript(t, "", "run", script)
	if code != 1 || !strings.Contains(errs, "a self-signed or private-CA server: trust its CA with ssl_context = {ca_file") || !strings.Contains(errs, "--ca") {
		t.Fatalf("%d %s", code, errs)
	}
	// the script sees the hint too
	caught := write(t, "caught.lua", `local ok, e = pcall(require("imap").IMAP4_SSL, "127.0.0.1", `+port+`)
print(ok, e.cause, e.message:find("ssl_context = {ca_file", 1, true) ~= nil)`)
	out, _, code := mailscript(t, "", "run", caught)
	if code != 0 || out != "false\ttls\ttrue\n" {
		t.Fatalf("%d %q", code, out)
	}
	ca := write(t, "ca.pem", string(certs.CAPEM))
	out, errs, code = mailscript(t, "", "run", "--ca", ca, script)
	if code != 0 || out != "true\n" {
		t.Fatalf("%d %q %s", code, out, errs)
	}
	_, errs, code = mailscript(t, "", "run", "--ca", script, script)
	if code != 2 || !strings.Contains(errs, "no PEM certificate") {
		t.Fatalf("%d %s", code, errs)
	}
}

func TestStubsCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stubs")
	out, errs, code := mailscript(t, "", "stubs", dir)
	files, _ := filepath.Glob(filepath.Join(dir, "*.lua"))
	if code != 0 || len(files) < 12 || !strings.Contains(out, "workspace.library") {
		t.Fatalf("%d %q %q %d", code, out, errs, len(files))
	}
	b, _ := os.ReadFile(filepath.Join(dir, "account.lua"))
	if !strings.Contains(string(b), "function Account:create(") {
		t.Fatal(string(b))
	}
	if _, _, code := mailscript(t, "", "stubs"); code != 2 {
		t.Fatal(code)
	}
}

func TestDocsCoverCommandsAndModules(t *testing.T) {
	api, err := os.ReadFile("../../docs/lua-api.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(usage, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "mailscript" && f[1] != "COMMAND" && f[1] != "—" {
			if !strings.Contains(string(api), "mailscript "+f[1]) {
				t.Errorf("docs/lua-api.md does not mention mailscript %s", f[1])
			}
		}
	}
	for _, want := range []string{"pipe.to(", "pipe.from(", "acct:watch(", "acct:create(", "acct:list_all(", "s:replace_flags(", "sleep(seconds)", `"abort"`, "--json", "--ca FILE", "--log FILE", "mailscript stubs"} {
		if !strings.Contains(string(api), want) {
			t.Errorf("docs/lua-api.md does not mention %s", want)
		}
	}
	readme, _ := os.ReadFile("../../README.md")
	_, layout, _ := strings.Cut(string(readme), "## Layout")
	layout, _, _ = strings.Cut(layout, "\n## ")
	if strings.Contains(layout, "to come") {
		t.Error("README's layout promises what is there")
	}
	dirs, _ := os.ReadDir("../..")
	for _, d := range dirs {
		if d.IsDir() && !strings.HasPrefix(d.Name(), ".") && !strings.Contains(layout, d.Name()+"/") {
			t.Errorf("README's layout lacks %s/", d.Name())
		}
	}
	subs, _ := os.ReadDir("../../internal")
	for _, d := range subs {
		if d.IsDir() && !strings.Contains(layout, d.Name()) {
			t.Errorf("README's layout lacks internal/%s", d.Name())
		}
	}
}

// TestWatchStoppedByCtrlC stops acct:watch, which returns when the run is
// stopped, the way a user stops it: one "interrupted", exit 130.
func TestWatchStoppedByCtrlC(t *testing.T) {
	mbox := write(t, "m.mbox", "From a@x Mon Jan  1 00:00:00 2024\nFrom: a@x\nSubject: one\n\nbody\n")
	p := write(t, "watch.lua", `local account = require("account")
local acct = account.connect{host = "imap.example.org", user = "me", password = "x"}
print("ready") io.stdout:flush()
acct:watch({"INBOX"}, function() end)
print("watch returned")`)
	cmd := exec.Command(bin, "test", "--mailbox", mbox, p)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "ready\n" {
			break
		}
	}
	time.Sleep(100 * time.Millisecond) // into the IDLE
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { io.Copy(io.Discard, r); done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the watch did not stop")
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 || errb.String() != "mailscript: interrupted\n" {
		t.Fatalf("%d %q", code, errb.String())
	}
}

func TestPlanWithoutRulesHasNoRuleHeaders(t *testing.T) {
	var out bytes.Buffer
	printPlan(&out, []bindings.Action{{Command: "DELE", Set: "3"}, {Command: "APPEND", Mailbox: "INBOX", Args: []string{"120 bytes"}}}, false)
	if strings.Contains(out.String(), "rule") || !strings.Contains(out.String(), "dry run: 2 change(s) not made\n  DELE") {
		t.Fatalf("%q", out.String())
	}
}
