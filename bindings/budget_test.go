package bindings_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/internal/limit"
)

// budgetState is a Lua state with the bindings and a memory budget of
// max bytes, with no watchdog: only charges count.
func budgetState(t *testing.T, max int64) *lua.LState {
	t.Helper()
	L := lua.NewState()
	t.Cleanup(L.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	L.SetContext(limit.NewContext(ctx, limit.NewBudget(max, nil, nil)))
	bindings.Preload(L, &bindings.Env{Timeout: 5 * time.Second})
	return L
}

// runBudget runs script and returns the error it raised, "" if none.
func runBudget(t *testing.T, L *lua.LState, script string) string {
	t.Helper()
	if err := L.DoString(script); err != nil {
		return err.Error()
	}
	return ""
}

const budgetMsg = `
local function message(n)
  return "Subject: big\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" ..
    string.rep("QUJDQUJD\r\n", n)
end
`

func TestMailParseCharged(t *testing.T) {
	const max = 4 << 20
	L := budgetState(t, max)
	if msg := runBudget(t, L, budgetMsg+`local mail = require("mail")
		assert(mail.parse(message(10)).subject == "big")`); msg != "" {
		t.Fatalf("a small message: %s", msg)
	}
	// 2 MB of base64: its copies while parsing pass 4 MiB
	msg := runBudget(t, L, budgetMsg+`local mail = require("mail")
		mail.parse(message(200000))`)
	if !strings.Contains(msg, "memory limit of 4 MiB exceeded") {
		t.Fatalf("got %q, want the memory limit", msg)
	}
}

func TestMailPartsCharged(t *testing.T) {
	L := budgetState(t, 16<<20)
	// each parts() call copies the bodies anew: 20 calls of 1.2 MB pass 16 MiB
	msg := runBudget(t, L, budgetMsg+`local mail = require("mail")
		local m = mail.parse(message(200000))
		for i = 1, 20 do local p = m:parts() end`)
	if !strings.Contains(msg, "memory limit of 16 MiB exceeded") {
		t.Fatalf("got %q, want the memory limit", msg)
	}
}

func TestMailNewCharged(t *testing.T) {
	L := budgetState(t, 8<<20)
	msg := runBudget(t, L, `local mail = require("mail")
		mail.new{from = "a@x", to = "b@y", text = "hi",
		  attachments = {{filename = "a.bin", data = string.rep("x", 2 * 1024 * 1024)}}}`)
	if !strings.Contains(msg, "memory limit of 8 MiB exceeded") {
		t.Fatalf("got %q, want the memory limit", msg)
	}
}

// A FETCH body is charged when it becomes a Lua string: twice (the raw
// data and the parsed record), so a 3 MiB literal passes a 4 MiB budget.
func TestFetchBodyCharged(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("x", 3<<20)
	done := make(chan error, 1)
	go func() {
		defer l.Close()
		done <- serveSteps(l, []string{
			"> * OK [CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN] ready\r\n",
			`< LOGIN user "pass"`, "= OK [CAPABILITY IMAP4rev1 IDLE] done",
			"< SELECT INBOX", "> * 1 EXISTS\r\n", "= OK [READ-WRITE] done",
			"< FETCH 1 (BODY.PEEK[])",
			"> * 1 FETCH (BODY[] {" + strconv.Itoa(len(body)) + "}\r\n" + body + ")\r\n",
			"= OK done",
		})
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	L := budgetState(t, 4<<20)
	msg := runBudget(t, L, `local imap = require("imap")
		local M = imap.IMAP4("127.0.0.1", `+port+`)
		M:login("user", "pass")
		M:select("INBOX")
		M:fetch("1", "(BODY.PEEK[])")`)
	if !strings.Contains(msg, "memory limit of 4 MiB exceeded") {
		t.Fatalf("got %q, want the memory limit (server: %v)", msg, <-done)
	}
	<-done
}
