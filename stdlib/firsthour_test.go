package stdlib_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/memserver"
	"github.com/mailscript/mailscript/runtime"
	"github.com/mailscript/mailscript/stdlib"
)

// memRun runs body against an in-process server holding n messages, the
// account connected as acct and INBOX as inbox.
func memRun(t *testing.T, n int, dry bool, body string) (*runtime.Result, string, error) {
	t.Helper()
	return memRunDebug(t, n, dry, 0, body)
}

// memRunDebug is memRun at a protocol debug level (the trace joins the output).
func memRunDebug(t *testing.T, n int, dry bool, debug int, body string) (*runtime.Result, string, error) {
	t.Helper()
	var msgs []memserver.Message
	for i := 0; i < n; i++ {
		raw := fmt.Sprintf("From: a%d@example.com\r\nTo: me@example.com\r\nSubject: message %d\r\nDate: Mon, 2 Jan 2026 10:00:00 +0000\r\n\r\nbody %d\r\n", i, i, i)
		msgs = append(msgs, memserver.Message{Raw: []byte(raw), Date: time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)})
	}
	srv, err := memserver.StartIMAP("u", "p", msgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	host, port, _ := net.SplitHostPort(srv.Addr)
	src := fmt.Sprintf(`
HOST, PORT = %[1]q, %[2]s
local account = require("account")
local rules = require("rules")
local acct = account.connect{host = HOST, port = PORT, user = "u", password = "p", tls = "none"}
local inbox = acct:mailbox("INBOX")
%[3]s
`, host, port, body)
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := runtime.New(runtime.Options{DryRun: dry, Debug: debug, Stdout: &out, Stderr: &out, State: &stdlib.MemStore{}}).RunString(ctx, "t.lua", src)
	return res, out.String(), err
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one with %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q lacks %q", err, p)
		}
	}
}

func TestRulesUnknownActionKey(t *testing.T) {
	_, _, err := memRun(t, 3, false, `rules.apply(inbox, {{name = "junk", match = {}, mvoe = "Junk"}}, {incremental = false})`)
	wantErr(t, err, `rule "junk"`, `unknown key "mvoe"`, `did you mean "move"`)
}

func TestRulesConditionTypes(t *testing.T) {
	for _, c := range []struct{ match, want string }{
		{`seen = "yes"`, "seen must be true or false"},
		{`larger = "1M"`, "larger must be a number"},
		{`older_than = "ninety days"`, "older_than must be an age"},
		{`from = 42`, "from must be a string"},
		{`any = {{sbuject = "x"}}`, `unknown key "sbuject"`},
		{`header = {["X-A"] = true}`, "header [X-A]"},
	} {
		_, _, err := memRun(t, 1, false, `rules.apply(inbox, {{name = "r", match = {`+c.match+`}, flag = "\\Flagged"}}, {incremental = false})`)
		wantErr(t, err, `rule "r"`, c.want)
	}
	_, _, err := memRun(t, 1, false, `rules.apply(inbox, {{name = "r", match = {seen = false}, delete = "yes"}}, {incremental = false})`)
	wantErr(t, err, "delete must be true or false")
}

func TestRulesFunctionErrorsNameRuleUIDMailbox(t *testing.T) {
	_, _, err := memRun(t, 2, false, `rules.apply(inbox, {{name = "byyear", move = function(msg) return nil end}}, {incremental = false})`)
	wantErr(t, err, `rule "byyear"`, "move function returned nil", "UID 1", "INBOX")
	_, _, err = memRun(t, 2, false, `rules.apply(inbox, {{name = "odd", match = {fn = function(msg) error("boom") end}, flag = "x"}}, {incremental = false})`)
	wantErr(t, err, `rule "odd"`, "UID 1", "INBOX", "t.lua:", "boom")
	var se *runtime.ScriptError
	if errors.As(err, &se) && strings.Contains(se.Traceback, "<string>") {
		t.Fatalf("traceback names an anonymous chunk:\n%s", se.Traceback)
	}
}

func TestRulesRefusedFolderNamesRule(t *testing.T) {
	_, _, err := memRun(t, 2, false, `rules.apply(inbox, {{name = "lists", move = "No/Such"}}, {incremental = false, create = false})`)
	wantErr(t, err, `MOVE to No/Such (rule "lists", 2 message(s) from INBOX`)
}

func TestQueuedActionErrorNamesAction(t *testing.T) {
	_, _, err := memRun(t, 2, false, `inbox:all():move("Nope")
acct:flush()`)
	wantErr(t, err, "MOVE to Nope (2 message(s) from INBOX; the folder does not exist: pass {create = true}")
}

func TestStatusOfMissingMailboxRaises(t *testing.T) {
	_, _, err := memRun(t, 1, false, `inbox = acct:mailbox("Nope/Missing"):status()`)
	wantErr(t, err, "status of Nope/Missing")
}

func TestDryRunPlanNamesRuleAndReports(t *testing.T) {
	res, _, err := memRun(t, 3, true, `rules.apply(inbox, {{name = "all", move = "Archive"}}, {incremental = false})`)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Plan) != 1 || res.Plan[0].Rule != "all" {
		t.Fatalf("plan %+v", res.Plan)
	}
	if len(res.Reports) != 1 || res.Reports[0].Rules[0].Matched != 3 || res.Reports[0].Mailbox != "INBOX" {
		t.Fatalf("reports %+v", res.Reports)
	}
}

func TestConnectWithNilPasswordRaises(t *testing.T) {
	_, _, err := memRun(t, 0, false, `account.connect{host = "127.0.0.1", port = 1, user = "u", password = os.getenv("MAILSCRIPT_UNSET_FOR_TEST"), tls = "none"}`)
	wantErr(t, err, "password is nil")
}

func TestIMAPLoginWithNilPasswordRaises(t *testing.T) {
	_, _, err := memRun(t, 0, false, `local M = require("imap").IMAP4(HOST, PORT)
M:login("alice", nil)`)
	wantErr(t, err, "password is nil")
}

func TestAccountIDHasPort(t *testing.T) {
	_, out, err := memRun(t, 0, false, `print(acct:id() == "u@" .. HOST .. ":" .. PORT)`)
	if err != nil || out != "true\n" {
		t.Fatal(err, out)
	}
}

func TestAccountMailboxManagement(t *testing.T) {
	_, out, err := memRun(t, 2, false, `
acct:create("Projects/a", {subscribe = true})
acct:create("Projects/b")
acct:rename("Projects/b", "Projects/c")
local all = table.concat(acct:list_all("Projects"), ",")
local subs = table.concat(acct:list_subscribed(), ",")
acct:unsubscribe("Projects/a")
local subs2 = #acct:list_subscribed()
acct:delete("Projects/c")
print(all, subs, subs2, table.concat(acct:list_all("Projects", "%"), ","))
local ok, e = pcall(acct.delete, acct, "Nope")
print(ok, tostring(e):find("delete Nope:", 1, true) ~= nil)
ok, e = pcall(acct.create, acct, "bad\r\nname")
print(ok, tostring(e):find("CR, LF", 1, true) ~= nil)`)
	if err != nil || out != "Projects/a,Projects/c\tProjects/a\t0\tProjects/a\nfalse\ttrue\nfalse\ttrue\n" {
		t.Fatalf("%v\n%q", err, out)
	}
}

func TestMailboxManagementDryRunPlans(t *testing.T) {
	res, _, err := memRun(t, 0, true, `acct:create("X", {subscribe = true}); acct:rename("X", "Y"); acct:delete("Y")
assert(#acct:list_all("X") == 0)`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range res.Plan {
		got = append(got, a.Command+" "+a.Mailbox)
	}
	if strings.Join(got, ";") != "CREATE X;SUBSCRIBE X;RENAME X to Y;DELETE Y" {
		t.Fatalf("%q", got)
	}
}

func TestReplaceFlags(t *testing.T) {
	_, out, err := memRun(t, 2, false, `
inbox:all():flag("\\Seen")
inbox:all():replace_flags({"\\Flagged", "$Work"})
print(#inbox:search{seen = true}, #inbox:search{flagged = true}, #inbox:search{keyword = "$Work"})`)
	if err != nil || out != "0\t2\t2\n" {
		t.Fatalf("%v %q", err, out)
	}
}

func TestSleepEndsWithTheRun(t *testing.T) {
	_, out, err := memRun(t, 0, false, `sleep(0.01) time = require("time") time.sleep(0) print("slept")
local ok, e = pcall(sleep, -1) print(ok)`)
	if err != nil || out != "slept\nfalse\n" {
		t.Fatalf("%v %q", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = runtime.New(runtime.Options{}).RunString(ctx, "s.lua", `sleep(3600)`)
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("sleep outlived its run: %v", err)
	}
}

func TestPerMessageAccess(t *testing.T) {
	_, out, err := memRun(t, 3, false, `
local m = inbox[2]
print(m.uid, m.subject, m.from[1].address, m:header("To"))
print(inbox[99] == nil, inbox:message(3, {"flags"}).uid)
print(inbox:fetch_part(1, "TEXT"), inbox:fetch_part(1, "1"))
print(pcall(inbox.fetch_part, inbox, 1, "1] BODY[") == false, pcall(function() return inbox[0] end) == false)
print(type(inbox.search))`)
	want := "2\tmessage 1\ta1@example.com\tme@example.com\ntrue\t3\nbody 0\r\n\tbody 0\r\n\ntrue\ttrue\nfunction\n"
	if err != nil || out != want {
		t.Fatalf("%v\n%q\nwant %q", err, out, want)
	}
}

func TestRulesBodyConditions(t *testing.T) {
	res, out, err := memRun(t, 3, true, `
local r = rules.apply(inbox, {
  {name = "body1", match = {body = "body 1"}, flag = "\\Flagged"},
  {name = "raw", match = {raw = rules.regex("(?m)^Subject: message 2")}, flag = "$Two"},
  {name = "nested", match = {any = {{body = "nope"}, {subject = "message 0"}}}, flag = "$Zero"},
}, {incremental = false, quiet = true})
print(r.rules[1].matched, r.rules[2].matched, r.rules[3].matched)`)
	if err != nil || out != "1\t1\t1\n" || len(res.Plan) != 3 {
		t.Fatalf("%v %q %+v", err, out, res)
	}
	_, _, err = memRun(t, 1, false, `rules.apply(inbox, {{name = "b", match = {body = 3}, flag = "x"}}, {incremental = false})`)
	wantErr(t, err, "body must be a string")
}

func TestRulesFetchBodiesOnlyWhenNeeded(t *testing.T) {
	for _, c := range []struct {
		match string
		body  bool
	}{{`subject = "x"`, false}, {`none = {{body = "x"}}`, true}} {
		_, out, err := memRunDebug(t, 2, true, 4, `rules.apply(inbox, {{name = "r", match = {`+c.match+`}, flag = "x"}}, {incremental = false, quiet = true})`)
		if err != nil || strings.Contains(out, "BODY.PEEK[]") != c.body {
			t.Fatalf("%s: %v\n%s", c.match, err, out)
		}
	}
}

func TestSubscribeCreated(t *testing.T) {
	var msgs []memserver.Message
	msgs = append(msgs, memserver.Message{Raw: []byte("Subject: x\r\n\r\nx\r\n"), Date: time.Now()})
	srv, err := memserver.StartIMAP("u", "p", msgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	host, port, _ := net.SplitHostPort(srv.Addr)
	var out bytes.Buffer
	_, err = runtime.New(runtime.Options{Stdout: &out, State: &stdlib.MemStore{}}).RunString(context.Background(), "t.lua", fmt.Sprintf(`
local account = require("account")
local plain = account.connect{host = %[1]q, port = %[2]s, user = "u", password = "p", tls = "none"}
plain:create("Plain")
plain:mailbox("INBOX"):all():copy("Copied/Plain", {create = true})
plain:flush()
local acct = account.connect{host = %[1]q, port = %[2]s, user = "u", password = "p", tls = "none", subscribe_created = true}
acct:create("Made")
acct:create("NotThis", {subscribe = false})
acct:mailbox("INBOX"):all():copy("Copied/Sub", {create = true})
acct:flush()
local s = acct:list_subscribed() table.sort(s) print(table.concat(s, ","))`, host, port))
	if err != nil || out.String() != "Copied/Sub,Made\n" {
		t.Fatalf("%v %q", err, out.String())
	}
}

func TestRulesStateFromBeforeThePortIsTakenOver(t *testing.T) {
	_, out, err := memRun(t, 3, false, `
local state = require("state")
local st = inbox:status()
local old = state.open("rules-u@" .. HOST .. "-INBOX")
old:set("uidvalidity", st.uidvalidity) old:set("last_uid", 2) old:save()
local r = rules.apply(inbox, {{name = "all", flag = "x"}}, {quiet = true})
print(r.examined, state.open("rules-" .. acct:id() .. "-INBOX"):get("last_uid"))`)
	if err != nil || out != "1\t3\n" {
		t.Fatalf("%v %q", err, out)
	}
}
