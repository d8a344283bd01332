package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailscript/mailscript/internal/servers"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mailscript-bin-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "mailscript")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // static, as README installs it
	if out, err := build.CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	servers.StopShared()
	os.RemoveAll(dir)
	os.Exit(code)
}

// mailscript runs the built binary.
func mailscript(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func write(t *testing.T, name, src string) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunArgsAndExitCodes(t *testing.T) {
	ok := write(t, "ok.lua", `print(arg[0]:match("ok.lua$") ~= nil, arg[1], arg[2], #arg)`)
	out, errs, code := mailscript(t, "", "run", ok, "a", "b c")
	if code != 0 || out != "true\ta\tb c\t2\n" || errs != "" {
		t.Fatalf("%d %q %q", code, out, errs)
	}
	bad := write(t, "bad.lua", "local x = 1\nlocal imap = require('imap')\nlocal M = imap.IMAP4('127.0.0.1', 1)\n")
	out, errs, code = mailscript(t, "", "run", bad)
	if code != 1 || !strings.Contains(errs, "bad.lua:3: imap.error: connect") || !strings.Contains(errs, "stack traceback") {
		t.Fatalf("%d %q", code, errs)
	}
	_, errs, code = mailscript(t, "", "run")
	if code != 2 || !strings.Contains(errs, "Usage: mailscript run") {
		t.Fatalf("%d %q", code, errs)
	}
	_, _, code = mailscript(t, "", "frobnicate")
	if code != 2 {
		t.Fatal(code)
	}
	_, _, code = mailscript(t, "", "run", "--no-such-flag", ok)
	if code != 2 {
		t.Fatal(code)
	}
	_, _, code = mailscript(t, "", "run", filepath.Join(t.TempDir(), "missing.lua"))
	if code != 1 {
		t.Fatal(code)
	}
}

func TestHelpOnEverySubcommand(t *testing.T) {
	for _, sub := range []string{"run", "check", "repl"} {
		_, errs, code := mailscript(t, "", sub, "--help")
		if code != 0 || !strings.Contains(errs, "Usage: mailscript "+sub) {
			t.Fatalf("%s: %d %q", sub, code, errs)
		}
	}
	out, _, code := mailscript(t, "", "--help")
	if code != 0 || !strings.Contains(out, "mailscript run") {
		t.Fatal(code, out)
	}
	out, _, code = mailscript(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "mailscript ") {
		t.Fatal(code, out)
	}
}

func TestCheck(t *testing.T) {
	good := write(t, "good.lua", "print(1)")
	bad := write(t, "bad.lua", "print(1)\nx = = 2\n")
	_, errs, code := mailscript(t, "", "check", good, bad)
	if code != 1 || !strings.HasSuffix(strings.TrimSpace(errs), "bad.lua:2: near '=': syntax error") {
		t.Fatalf("%d %q", code, errs)
	}
	_, errs, code = mailscript(t, "", "check", good)
	if code != 0 || errs != "" {
		t.Fatal(code, errs)
	}
}

func TestSandboxFlagAndDryRunJSON(t *testing.T) {
	p := write(t, "s.lua", `print(pcall(function() return io.open end) == false)`)
	out, _, code := mailscript(t, "", "run", "--sandbox", p)
	if code != 0 || out != "true\n" {
		t.Fatal(code, out)
	}
	out, errs, code := mailscript(t, "", "run", "--dry-run", "--json", p)
	var plan struct {
		DryRun bool  `json:"dry_run"`
		Plan   []any `json:"plan"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &plan) != nil || !plan.DryRun || errs != "false\n" {
		t.Fatal(code, out, errs)
	}
	loop := write(t, "loop.lua", `while true do end`)
	_, errs, code = mailscript(t, "", "run", "--timeout", "200ms", loop)
	if code != 1 || !strings.Contains(errs, "time limit of 200ms exceeded") {
		t.Fatal(code, errs)
	}
}

func TestReplPiped(t *testing.T) {
	out, errs, code := mailscript(t, "x = 20 +\n22\nx\nfor i = 1, 2 do\nprint(i)\nend\nerror('boom')\nprint('after')\n", "repl")
	if out != "42\n1\n2\nafter\n" || !strings.Contains(errs, "boom") || code != 1 {
		t.Fatalf("%d %q %q", code, out, errs)
	}
}

func TestDemo(t *testing.T) {
	out, errs, code := mailscript(t, "", "demo")
	if code != 0 {
		t.Fatalf("%d %s %s", code, out, errs)
	}
	for _, want := range []string{"INBOX before: 200 messages", "200 message(s) examined", "move Junk (", "Lists/golang-nuts", "POP3 mailbox: 20 messages"} {
		if !strings.Contains(out, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out)
		}
	}
	// the rules' counts add up: every message is somewhere, once
	total := 0
	for _, line := range strings.Split(out, "\n") {
		var name string
		var n, unread int
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "%s %d messages, %d unread", &name, &n, &unread); err == nil {
			total += n
		}
	}
	if total != 200 {
		t.Fatalf("folders hold %d messages, want 200:\n%s", total, out)
	}
	if !strings.Contains(out, "try: mailscript demo --dry-run") {
		t.Fatalf("demo lacks its hint:\n%s", out)
	}
	out, errs, code = mailscript(t, "", "demo", "--dry-run", "--json")
	var doc map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || !strings.Contains(out, `"dry_run": true`) || !strings.Contains(out, `"command": "MOVE"`) || !strings.Contains(errs, "INBOX                             200 messages") {
		t.Fatalf("dry run: %d\n%s", code, out)
	}
}

func TestOfflineTestCommand(t *testing.T) {
	dir := t.TempDir()
	mbox := filepath.Join(dir, "in.mbox")
	os.WriteFile(mbox, []byte("From a@x Mon Jan  1 00:00:00 2024\nFrom: a@list.example\nList-Id: go <go.example>\nSubject: one\n\n>From here\nbody\n\n"+
		"From b@x Mon Jan  1 00:00:00 2024\nFrom: boss@corp.example\nSubject: two\n\nhi\n\n"+
		"From c@x Mon Jan  1 00:00:00 2024\nFrom: c@x.example\nSubject: three\n\nbye\n"), 0o600)
	script := write(t, "f.lua", `
local account, rules = require("account"), require("rules")
local acct = account.connect{host = "imap.example.org", user = "me", password = "secret"}
local inbox = acct:mailbox("INBOX")
rules.apply(inbox, {
  {name = "lists", match = {header = {["List-Id"] = "go"}}, move = "Lists/go"},
  {name = "boss", match = {from = "boss@"}, flag = "\\Flagged"},
})
inbox:search{subject = "three"}:delete()
local raw = inbox:messages(inbox:search{subject = "two"}, {"body"})().raw
assert(raw:find("hi"), raw)
acct:close()`)
	out, errs, code := mailscript(t, "", "test", "--mailbox", mbox, script)
	if code != 0 {
		t.Fatalf("%d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"3 message(s) from", "one  ", "INBOX -> Lists/go", "two  ", "stays in INBOX +\\flagged", "three  ", "deleted", "(0 message(s) unchanged)"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	// a dry run changes nothing
	out, _, code = mailscript(t, "", "test", "--dry-run", "--mailbox", mbox, script)
	if code != 0 || !strings.Contains(out, "(3 message(s) unchanged)") || !strings.Contains(out, "MOVE") {
		t.Fatalf("%d\n%s", code, out)
	}
	_, errs, code = mailscript(t, "", "test", script)
	if code != 2 || !strings.Contains(errs, "--mailbox") {
		t.Fatal(code, errs)
	}
	_, errs, code = mailscript(t, "", "test", "--mailbox", dir, script)
	if code != 1 || !strings.Contains(errs, "Maildir") {
		t.Fatal(code, errs)
	}
}
