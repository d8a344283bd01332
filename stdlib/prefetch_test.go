package stdlib_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/mailscript/mailscript/internal/servers"
	"github.com/mailscript/mailscript/runtime"
)

// The iterator keeps batches in flight on the script's connection; a
// script that uses the connection mid-loop (search, a flushed flag,
// another mailbox) must get it, and the loop must still see every
// message once.
func TestMessagesWhileUsingTheConnection(t *testing.T) {
	srv := servers.Get(t, "dovecot")
	user := "prefetch-mid-loop"
	seedMessages(t, srv, user, 6000) // three header batches
	_, port, _ := net.SplitHostPort(servers.Addr(srv.IMAP))
	var out bytes.Buffer
	_, err := runtime.New(runtime.Options{Stdout: &out, Stderr: io.Discard}).RunString(context.Background(), "loop.lua", fmt.Sprintf(`
local account = require("account")
local acct = account.connect{host = "127.0.0.1", port = %s, user = %q, password = %q, tls = "none"}
local inbox = acct:mailbox("INBOX")
local flagged = #inbox:search{flagged = true}
local n, seen = 0, {}
for msg in inbox:messages(inbox:all(), {"flags", "size", "header:Subject"}) do
  n = n + 1
  assert(not seen[msg.uid], "UID twice: " .. msg.uid)
  seen[msg.uid] = true
  assert(msg:header("Subject"), "no subject at " .. n)
  if n == 100 then assert(#inbox:search{} == 6000) end
  if n == 3000 then
    assert(not msg.flagged, "message 3000 is flagged already")
    inbox:set({msg.uid}):flag("\\Flagged"); acct:flush()
  end
  if n == 4000 then assert(#acct:mailbox("Trash"):all() == 0) end
end
print(n, #inbox:search{flagged = true} - flagged)
-- leaving a loop early hands the connection back too
for msg in inbox:messages(inbox:all()) do
  if msg.uid > 10 then break end
end
print(#inbox:search{flagged = false} + flagged)
acct:close()`, port, user, srv.Password))
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "6000\t1\n5999\n" {
		t.Fatalf("output %q", got)
	}
}

// A script that fails mid-loop leaves the read-ahead running; the run
// still ends with the script's error, each time.
func TestMessagesReadAheadStoppedWhenTheRunFails(t *testing.T) {
	srv := servers.Get(t, "dovecot")
	user := "prefetch-run-fails"
	seedMessages(t, srv, user, 6000)
	_, port, _ := net.SplitHostPort(servers.Addr(srv.IMAP))
	for i := 0; i < 3; i++ {
		_, err := runtime.New(runtime.Options{Stdout: io.Discard, Stderr: io.Discard}).RunString(context.Background(), "fail.lua", fmt.Sprintf(`
local account = require("account")
local acct = account.connect{host = "127.0.0.1", port = %s, user = %q, password = %q, tls = "none"}
local inbox = acct:mailbox("INBOX")
for msg in inbox:messages(inbox:all(), {"flags", "size", "header:Subject"}) do
  error("stop at " .. msg.uid)
end`, port, user, srv.Password))
		if err == nil || !strings.Contains(err.Error(), "stop at 1") {
			t.Fatal(err)
		}
	}
}
