package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mailscript/mailscript/internal/servers"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSieveCheck(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.sieve", "require \"fileinto\";\nif header :contains \"subject\" \"x\" { fileinto \"X\"; }\n")
	bad := writeFile(t, dir, "bad.sieve", "frob;\nif header :foo \"a\" \"b\" { keep; }\nfileinto \"x\";\n")
	var out, errb bytes.Buffer
	if code := run([]string{"sieve", "check", good}, nil, &out, &errb); code != 0 {
		t.Fatalf("good script: exit %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"sieve", "check", good, bad}, nil, &out, &errb); code != 1 {
		t.Fatalf("bad script: exit %d, want 1", code)
	}
	for _, want := range []string{
		bad + ": line 1: error: unknown command 'frob' (only reported once at first occurrence)",
		bad + ": line 2: error: unknown tagged argument ':foo' for the header test (reported only once at first occurrence)",
		bad + ": line 3: error: unknown command 'fileinto' (perhaps it is part of an extension that is not required: 'fileinto')",
	} {
		if !strings.Contains(errb.String(), want+"\n") {
			t.Errorf("missing %q in:\n%s", want, errb.String())
		}
	}
}

func TestSieveTestJSON(t *testing.T) {
	dir := t.TempDir()
	script := writeFile(t, dir, "s.sieve", `require ["fileinto", "imap4flags", "envelope"];
addflag "$Lists";
if envelope :is "from" "a@example.org" { fileinto "Lists/golang"; }
redirect "b@example.org";
`)
	msg := writeFile(t, dir, "m.eml", "From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n")
	var out, errb bytes.Buffer
	code := run([]string{"sieve", "test", "--json", "--envelope-from", "a@example.org", "--flags", `\Seen`, script, msg}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var doc struct {
		Actions      []map[string]any `json:"actions"`
		ImplicitKeep any              `json:"implicit_keep"`
		Errors       []string         `json:"errors"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("not one JSON document: %v\n%s", err, out.String())
	}
	if len(doc.Actions) != 2 || doc.Actions[0]["mailbox"] != "Lists/golang" || doc.Actions[1]["address"] != "b@example.org" {
		t.Fatalf("actions: %v", doc.Actions)
	}
	flags, _ := json.Marshal(doc.Actions[0]["flags"])
	if string(flags) != `["\\Seen","$Lists"]` {
		t.Errorf("fileinto flags %s", flags)
	}
	if doc.ImplicitKeep != nil || len(doc.Errors) != 0 {
		t.Errorf("implicit_keep %v errors %v", doc.ImplicitKeep, doc.Errors)
	}

	// Without an envelope (as over IMAP) the envelope test is a runtime error: implicit keep.
	out.Reset()
	code = run([]string{"sieve", "test", "--json", script, msg}, nil, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Actions) != 0 || doc.ImplicitKeep == nil || len(doc.Errors) != 1 || !strings.Contains(doc.Errors[0], "RFC 6785") {
		t.Errorf("runtime error result: %s", out.String())
	}
}

// sieve run over Dovecot with --json: the dry run is one document with the
// plan and changes nothing, the run files the list mail, the next
// (incremental) run examines nothing.
func TestSieveRunCLI(t *testing.T) {
	srv := servers.Get(t, "dovecot")
	user := srv.User(t, "sieve-run-cli")
	msgs := gen(0, 12)
	srv.Seed(t, user, "", msgs)
	lists := 0
	for _, m := range msgs {
		if m.ListID != "" {
			lists++
		}
	}
	if lists == 0 || lists == len(msgs) {
		t.Fatalf("the seed has %d list messages of %d: the test needs some of each", lists, len(msgs))
	}
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv("SIEVE_TEST_PASSWORD", srv.Password)
	dir := t.TempDir()
	script := writeFile(t, dir, "s.sieve", "require [\"fileinto\", \"imap4flags\", \"mailbox\"];\nif exists \"list-id\" { fileinto :create :flags \"$Lists\" \"Lists\"; }\n")
	type doc struct {
		DryRun bool             `json:"dry_run"`
		Plan   []map[string]any `json:"plan"`
		Report struct {
			Examined int `json:"examined"`
			Totals   struct {
				Filed, Kept int
			} `json:"totals"`
		} `json:"report"`
		Result struct {
			OK bool `json:"ok"`
		} `json:"result"`
	}
	sieveRun := func(extra ...string) doc {
		t.Helper()
		args := append([]string{"sieve", "run", "--json", "--host", "127.0.0.1", "--port", strconv.Itoa(srv.IMAP), "--tls", "none",
			"--user", user, "--password-env", "SIEVE_TEST_PASSWORD"}, extra...)
		var out, errb bytes.Buffer
		if code := run(append(args, script), nil, &out, &errb); code != 0 {
			t.Fatalf("exit %d: %s\n%s", code, errb.String(), out.String())
		}
		var d doc
		dec := json.NewDecoder(&out)
		if err := dec.Decode(&d); err != nil || dec.More() {
			t.Fatalf("not exactly one JSON document (%v):\n%s", err, out.String())
		}
		return d
	}
	count := func(mailbox string) int {
		c := srv.Dial(t, user)
		res, st, err := c.Select(context.Background(), srv.Folder(mailbox), true)
		if err != nil || res.Type != "OK" {
			return -1
		}
		return int(st.Exists)
	}
	d := sieveRun("--dry-run")
	if !d.DryRun || len(d.Plan) == 0 || d.Report.Examined != len(msgs) {
		t.Fatalf("dry run: %+v", d)
	}
	if n := count("INBOX"); n != len(msgs) {
		t.Fatalf("the dry run changed INBOX: %d messages", n)
	}
	d = sieveRun()
	if d.Report.Examined != len(msgs) || d.Report.Totals.Filed != lists {
		t.Fatalf("run: %+v", d)
	}
	if n, m := count("INBOX"), count("Lists"); n != len(msgs)-lists || m != lists {
		t.Fatalf("after the run INBOX has %d, Lists %d; want %d, %d", n, m, len(msgs)-lists, lists)
	}
	if d = sieveRun(); d.Report.Examined != 0 {
		t.Fatalf("second run examined %d", d.Report.Examined)
	}
	// without --json: a line per message and the totals
	var out, errb bytes.Buffer
	code := run([]string{"sieve", "run", "--all", "--dry-run", "--host", "127.0.0.1", "--port", strconv.Itoa(srv.IMAP), "--tls", "none",
		"--user", user, "--password-env", "SIEVE_TEST_PASSWORD", script}, nil, &out, &errb)
	want := fmt.Sprintf("INBOX: %d message(s) examined: %d kept, 0 filed, 0 discarded, 0 with errors", len(msgs)-lists, len(msgs)-lists)
	if code != 0 || !strings.Contains(out.String(), want) || !strings.Contains(out.String(), ": kept: implicit keep") {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s\nwant %q", code, out.String(), errb.String(), want)
	}
}
