package stdlib_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailscript/mailscript/runtime"
)

// sieveLua runs src (with sieve required and a message msg) and returns the run's error.
func sieveLua(t *testing.T, sandbox bool, src string) error {
	t.Helper()
	prelude := `local sieve = require("sieve")
local msg = "From: a@example.org\r\nTo: b@example.org\r\nSubject: hello list\r\nList-Id: <golang.example.org>\r\n\r\nbody\r\n"
`
	_, err := runtime.New(runtime.Options{Sandbox: sandbox, Stdout: io.Discard}).RunString(context.Background(), "s.lua", prelude+src)
	return err
}

func TestSieveModule(t *testing.T) {
	for _, sandbox := range []bool{false, true} {
		cases := map[string]string{
			// every compile error is in the message, as sievec lists them
			"compile errors": `
local ok, err = pcall(sieve.compile, 'require "fileinto";\nfileinto 1;\nfrobnicate;\n', {name = "mine"})
assert(not ok)
err = tostring(err)
assert(err:find("mine: line 2: error:", 1, true), err)
assert(err:find("mine: line 3: error:", 1, true), err)
assert(err:find("frobnicate", 1, true), err)`,
			"fileinto flags": `
local s = sieve.compile('require ["fileinto", "imap4flags"];\nif header :contains "list-id" "golang" { fileinto :flags ["\\\\Seen", "$Lists"] "Lists/golang"; }\n')
local r = s:test(msg)
assert(#r.actions == 1, #r.actions)
local a = r.actions[1]
assert(a.action == "fileinto" and a.mailbox == "Lists/golang", a.mailbox)
assert(a.flags[1] == "\\Seen" and a.flags[2] == "$Lists" and #a.flags == 2)
assert(a.copy == false and a.create == false)
assert(r.implicit_keep == nil)
assert(#r.errors == 0)`,
			"implicit keep": `
local s = sieve.compile('require "imap4flags";\naddflag "$Seen2";\nif header :is "subject" "other" { discard; }\n')
local r = s:test(msg, {flags = "\\Flagged"})
assert(#r.actions == 0)
assert(r.implicit_keep.flags[1] == "\\Flagged" and r.implicit_keep.flags[2] == "$Seen2", table.concat(r.implicit_keep.flags, " "))
r = s:test(msg, {flags = {"$A", "$B"}})
assert(#r.implicit_keep.flags == 3)`,
			"runtime error": `
local s = sieve.compile('require "envelope";\nif envelope :is "from" "x@example.org" { discard; }\n')
local r = s:test(msg)
assert(#r.errors == 1, #r.errors)
assert(r.errors[1]:find("line 2: error: envelope test: there is no envelope", 1, true), r.errors[1])
assert(r.implicit_keep ~= nil)`,
			"envelope": `
local s = sieve.compile('require ["envelope", "fileinto"];\nif envelope :is "from" "x@example.org" { fileinto "X"; } elsif envelope :is "to" "y@example.org" { discard; }\n')
local r = s:test(msg, {envelope_from = "x@example.org"})
assert(r.actions[1].action == "fileinto" and r.actions[1].mailbox == "X")
r = s:test(msg, {envelope_from = "z@example.org", envelope_to = "y@example.org"})
assert(r.actions[1].action == "discard" and r.implicit_keep == nil)`,
			"mailbox": `
local s = sieve.compile('require ["environment", "fileinto"];\nif environment :is "imap.mailbox" "Work" { discard; }\n')
assert(s:test(msg, {mailbox = "Work"}).actions[1].action == "discard")
assert(#s:test(msg).actions == 0)`,
			"include refused": `
local ok, err = pcall(sieve.compile, 'require "include";\ninclude "other";\n')
assert(not ok)
assert(tostring(err):find("include:", 1, true), tostring(err))`,
			"bad flags": `
local s = sieve.compile('keep;')
local ok, err = pcall(s.test, s, msg, {flags = 3})
assert(not ok and tostring(err):find("flags", 1, true))`,
		}
		for name, src := range cases {
			if err := sieveLua(t, sandbox, src); err != nil {
				t.Errorf("sandbox %v, %s: %v", sandbox, name, err)
			}
		}
	}
	// outside the sandbox, include reads from include_dir
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "other.sieve"), []byte("discard;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := sieveLua(t, false, fmt.Sprintf(`
local r = sieve.compile('require "include";\ninclude "other";\n', {include_dir = %q}):test(msg)
assert(r.actions[1].action == "discard")`, dir)); err != nil {
		t.Errorf("include_dir: %v", err)
	}
	// include_dir reads files, which the sandbox never does
	err := sieveLua(t, true, `sieve.compile('keep;', {include_dir = "/tmp"})`)
	if err == nil || !strings.Contains(err.Error(), "not allowed in the sandbox") {
		t.Errorf("include_dir in the sandbox: got %v", err)
	}
}
