package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/internal/imaptest"
	"github.com/mailscript/mailscript/stdlib"
)

// hostile runs src as an untrusted script with the sandbox's defaults
// and wants it to fail with a message containing want.
func hostile(t *testing.T, opts Options, src, want string) (stdout, stderr string) {
	t.Helper()
	var out, errw bytes.Buffer
	opts.Sandbox = true
	if opts.AllowHosts == nil {
		opts.AllowHosts = []string{"127.0.0.1"} // the tests' fake servers
	}
	opts.Stdout, opts.Stderr = &out, &errw
	_, err := New(opts).RunString(context.Background(), "hostile.lua", src)
	var se *ScriptError
	if !errors.As(err, &se) || !strings.Contains(se.Message, want) {
		t.Fatalf("%s\ngot %v, want an error with %q", src, err, want)
	}
	return out.String(), errw.String()
}

func TestSandboxRequireOnlyPreloaded(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "evil.lua"), []byte(`print("ran a host file")`), 0o600)
	for name, src := range map[string]string{
		"package.path":   fmt.Sprintf(`package.path = %q; require("evil")`, dir+"/?.lua"),
		"etc passwd":     `package.path = "/etc/?"; require("passwd")`,
		"loaders":        fmt.Sprintf(`package.loaders[2] = package.loaders[1]; package.path = %q; require("evil")`, dir+"/?.lua"),
		"io module":      `require("io")`,
		"os module":      `require("os").execute("true")`,
		"debug module":   `require("debug").getinfo(1)`,
		"package.loaded": `package.loaded.debug.sethook()`,
		"debug global":   `debug.getregistry()`,
	} {
		t.Run(name, func(t *testing.T) {
			out, _ := hostile(t, Options{}, src, "not available in the sandbox")
			if out != "" {
				t.Fatalf("printed %q", out)
			}
		})
	}
	// what a host preloads still loads, once
	rt := New(Options{Sandbox: true, Stdout: &bytes.Buffer{}})
	n := 0
	rt.Register("hostmod", func(L *lua.LState) int { n++; L.Push(lua.LString("m")); return 1 })
	if _, err := rt.RunString(context.Background(), "ok.lua", `assert(require("hostmod") == "m" and require("hostmod") == "m"); assert(require("imap").IMAP4_PORT == 143)`); err != nil || n != 1 {
		t.Fatal(err, n)
	}
}

func TestSandboxWithheldSayWhy(t *testing.T) {
	for src, want := range map[string]string{
		`io.open("/etc/passwd")`:                 "io is not available in the sandbox",
		`io.write("x")`:                          "io is not available in the sandbox",
		`os.execute("true")`:                     "os.execute is not available in the sandbox",
		`loadstring("return 1")`:                 "loadstring is not available in the sandbox",
		`dofile("/etc/passwd")`:                  "dofile is not available in the sandbox",
		`_printregs()`:                           "call",
		`local d = debug; d.sethook(print, "l")`: "debug.sethook is not available in the sandbox",
	} {
		hostile(t, Options{}, src, want)
	}
}

// A traceback still comes with a script's error, from the runtime's own
// copy of debug.traceback, whatever the script did to debug.
func TestTracebackKeptPrivately(t *testing.T) {
	_, err, _ := run(t, Options{Sandbox: true}, "debug.traceback = nil\nerror('boom')")
	var se *ScriptError
	if !errors.As(err, &se) || se.Line != 2 || !strings.Contains(se.Traceback, "stack traceback") {
		t.Fatalf("%#v", err)
	}
}

func TestNoHostSecrets(t *testing.T) {
	netrc := filepath.Join(t.TempDir(), "netrc")
	os.WriteFile(netrc, []byte("machine 127.0.0.1 login u password host-netrc-pw\n"), 0o600)
	t.Setenv("NETRC", netrc)
	r := newRecorder(t)
	host, port := r.HostPort()
	connect := func(pw string) string {
		return fmt.Sprintf(`require("account").connect{host=%q, port=%s, user="u", password=%s, tls="none"}`, host, port, pw)
	}
	// the old magic string is a literal password now, never the netrc one
	_, err, _ := run(t, Options{Sandbox: true, AllowHosts: []string{host}}, connect(`"\0netrc"`))
	_ = err // a NUL cannot go in LOGIN: refused or sent, never the host's
	for _, l := range r.Sent() {
		if strings.Contains(l, "host-netrc-pw") {
			t.Fatalf("sent %q", l)
		}
	}
	for _, spec := range []string{"netrc", "cmd:echo pw", "prompt"} {
		hostile(t, Options{}, fmt.Sprintf(`require("account").secret(%q)`, spec), "not allowed in the sandbox")
	}
	// a secret is a value to pass on, not to read
	hostile(t, Options{Getenv: func(string) string { return "env-pw" }},
		`local s = require("account").secret("env:PW"); assert(tostring(s) == "<secret env:PW>"); local x = s .. ""`, "concat")
	// outside the sandbox netrc works, through the typed value
	if _, err, _ := run(t, Options{}, connect(`require("account").secret("netrc")`)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r.Sent(), "\n"), `LOGIN u "host-netrc-pw"`) {
		t.Fatalf("netrc secret not used: %q", r.Sent())
	}
	// and a host hands secrets to sandboxed scripts through a module
	rt := New(Options{Sandbox: true, AllowHosts: []string{host}, Stdout: &bytes.Buffer{}})
	rt.Register("vault", func(L *lua.LState) int {
		L.Push(bindings.NewSecret(L, &bindings.Secret{Label: "vault", Value: func(string, string) (string, error) { return "vault-pw", nil }}))
		return 1
	})
	_, err = rt.RunString(context.Background(), "v.lua", fmt.Sprintf(`local M = require("imap").IMAP4(%q, %s); M:login("v", require("vault")); M:logout()`, host, port))
	if err != nil || !strings.Contains(strings.Join(r.Sent(), "\n"), "vault-pw") {
		t.Fatal(err, r.Sent())
	}
}

func TestNoHostFiles(t *testing.T) {
	r := newRecorder(t)
	host, port := r.HostPort()
	for _, sc := range []string{`{ca_file="/etc/passwd"}`, `{cert_file="/etc/passwd", key_file="/etc/passwd"}`, `{ca_file="/dev/zero"}`} {
		hostile(t, Options{}, fmt.Sprintf(`require("imap").IMAP4_SSL(%q, %s, {ssl_context=%s})`, host, port, sc), "not available in the sandbox")
		hostile(t, Options{}, fmt.Sprintf(`require("account").connect{host=%q, port=%s, user="u", password="p", ssl_context=%s}`, host, port, sc), "not available in the sandbox")
		hostile(t, Options{}, fmt.Sprintf(`local M = require("imap").IMAP4(%q, %s); M:starttls(%s)`, host, port, sc), "not available in the sandbox")
	}
	// PEM text is read as such
	hostile(t, Options{}, fmt.Sprintf(`require("imap").IMAP4_SSL(%q, %s, {ssl_context={ca_pem="not pem"}})`, host, port), "no PEM certificates")
	hostile(t, Options{}, fmt.Sprintf(`require("imap").IMAP4_SSL(%q, %s, {ssl_context={ca_pem=string.rep("x", 2^21)}})`, host, port), "more than")
}

func TestOutputLimitOnEveryPath(t *testing.T) {
	const max = 1000
	for name, src := range map[string]string{
		"print":         `for i = 1, 1e5 do print("0123456789") end`,
		"print pcalled": `for i = 1, 1e5 do pcall(print, "0123456789") end`,
		"log":           `local log = require("log"); for i = 1, 1e5 do log.info("0123456789") end`,
		"log pcalled":   `local log = require("log"); for i = 1, 1e5 do pcall(log.error, "0123456789") end`,
		"both":          `local log = require("log"); for i = 1, 1e5 do print("01234"); log.warn("56789") end`,
	} {
		t.Run(name, func(t *testing.T) {
			out, errs := hostile(t, Options{MaxOutput: max}, src, "output limit of 1000 bytes exceeded")
			if n := len(out) + len(errs); n > max || n < max-100 {
				t.Fatalf("%d bytes written", n)
			}
		})
	}
	// protocol traces count too, and stop the run
	r := newRecorder(t)
	host, port := r.HostPort()
	out, errs := hostile(t, Options{MaxOutput: max, Debug: 5}, fmt.Sprintf(`
local M = require("imap").IMAP4(%q, %s)
M:login("u", "p")
for i = 1, 1e4 do M:noop() end`, host, port), "output limit")
	if n := len(out) + len(errs); n > max || !strings.Contains(errs, "NOOP") {
		t.Fatalf("%d bytes: %q", n, errs)
	}
	var se *ScriptError
	_, err, _ := run(t, Options{MaxOutput: 50}, `print(string.rep("x", 100))`)
	if !errors.As(err, &se) || se.Kind != "limit.output" {
		t.Fatalf("%#v", err)
	}
	// io.write of a trusted run goes to Options.Stdout, within the limit
	var buf bytes.Buffer
	_, err = New(Options{MaxOutput: max, Stdout: &buf}).RunString(context.Background(), "w.lua",
		`io.write("a", 1, "\n"); io.stdout:write("b\n"); for i = 1, 1e5 do io.write("0123456789") end`)
	if !errors.As(err, &se) || se.Kind != "limit.output" || buf.Len() > max || !strings.HasPrefix(buf.String(), "a1\nb\n") {
		t.Fatalf("%v %d %q", err, buf.Len(), buf.String()[:10])
	}
	if _, err, _ := run(t, Options{}, `assert(_printregs == nil)`); err != nil {
		t.Fatal(err)
	}
}

func openFDs(t *testing.T) int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

func TestConnectionsClosedWhenTheRunEnds(t *testing.T) {
	r := newRecorder(t)
	host, port := r.HostPort()
	base := openFDs(t)
	// connections kept in a global, and one run that fails, one that is fine
	for _, tail := range []string{`error("after opening")`, ``} {
		run(t, Options{}, fmt.Sprintf(`
KEEP = {}
for i = 1, 6 do
  local M = require("imap").IMAP4(%q, %s); M:login("u", "p"); KEEP[i] = M
  KEEP[#KEEP + 1] = require("account").connect{host=%q, port=%s, user="u", password="p", tls="none"}
end
%s`, host, port, host, port, tail))
		// the server's ends close when they see EOF: wait for them, bounded
		deadline := time.Now().Add(5 * time.Second)
		for openFDs(t) > base && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := openFDs(t); n > base {
			t.Fatalf("%d fds open after the run, %d before", n, base)
		}
	}
}

func TestConnectionLimitCountsEveryDial(t *testing.T) {
	r := newRecorder(t)
	host, port := r.HostPort()
	var dials []string
	var mu sync.Mutex
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dials = append(dials, addr)
		mu.Unlock()
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	for name, src := range map[string]string{
		"IMAP4":   `local imap = require("imap"); for i = 1, 10 do imap.IMAP4(H, P) end`,
		"M:open":  `local M = require("imap").IMAP4(H, P); for i = 1, 10 do M:open(H, P) end`,
		"pcalled": `local imap = require("imap"); for i = 1, 10 do pcall(imap.IMAP4, H, P) end; print("went on")`,
		"account": `for i = 1, 10 do require("account").connect{host=H, port=P, user="u", password="p", tls="none"} end`,
		"pop3":    `for i = 1, 10 do pcall(require("pop3").POP3, H, P) end`,
	} {
		t.Run(name, func(t *testing.T) {
			dials = nil
			src = fmt.Sprintf("local H, P = %q, %s\n", host, port) + src
			out, _ := hostile(t, Options{MaxConnections: 3, Dial: dial}, src, "connection limit of 3 exceeded")
			if len(dials) != 3 || out != "" {
				t.Fatalf("%d dials, printed %q", len(dials), out)
			}
		})
	}
}

// Watch's reconnects count: a server that drops every IDLE makes watch
// redial until the limit ends the run.
func TestWatchReconnectsCount(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fmt.Fprint(c, "* OK [CAPABILITY IMAP4rev1 IDLE] x\r\n")
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					for _, line := range strings.Split(strings.TrimSpace(string(buf[:n])), "\r\n") {
						tag, rest, _ := strings.Cut(line, " ")
						switch {
						case strings.HasPrefix(rest, "IDLE"):
							return // drop the connection
						case strings.HasPrefix(rest, "STATUS"):
							fmt.Fprintf(c, "* STATUS INBOX (UIDNEXT 5)\r\n%s OK s\r\n", tag)
						default:
							fmt.Fprintf(c, "%s OK done\r\n", tag)
						}
					}
				}
			}()
		}
	}()
	host, port, _ := net.SplitHostPort(l.Addr().String())
	start := time.Now()
	hostile(t, Options{MaxConnections: 2}, fmt.Sprintf(`
local acct = require("account").connect{host=%q, port=%s, user="u", password="p", tls="none"}
acct:watch({"INBOX"}, function() return true end, {duration = 20})`, host, port), "connection limit of 2 exceeded")
	if time.Since(start) > 15*time.Second {
		t.Fatal("the watch went on after the limit")
	}
}

func TestTenantsShareNothing(t *testing.T) {
	shared := &stdlib.MemStore{}
	a := New(Options{Sandbox: true, Tenant: "A", State: shared, Stdout: &bytes.Buffer{}})
	b := New(Options{Sandbox: true, Tenant: "B", State: shared, Stdout: &bytes.Buffer{}})
	ctx := context.Background()
	if _, err := a.RunString(ctx, "a.lua", `local d = require("state").open("acct"); d:set("seen", 41); d:save()`); err != nil {
		t.Fatal(err)
	}
	if _, err := b.RunString(ctx, "b.lua", `assert(require("state").open("acct"):get("seen") == nil, "B sees A's state")`); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RunString(ctx, "a2.lua", `assert(require("state").open("acct"):get("seen") == 41)`); err != nil {
		t.Fatal(err)
	}
	// a run that fails holding a lock releases it
	_, err := a.RunString(ctx, "lock.lua", `assert(require("state").lock("acct")); error("failed while locked")`)
	if err == nil {
		t.Fatal("no error")
	}
	if _, err := a.RunString(ctx, "lock2.lua", `assert(require("state").lock("acct"))`); err != nil {
		t.Fatal(err)
	}
	// B's lock of the same name is B's own
	if _, err := b.RunString(ctx, "lockb.lua", `local u = assert(require("state").lock("acct")); u(); assert(require("state").lock("acct"))`); err != nil {
		t.Fatal(err)
	}
	// with no tenant, each sandboxed run's state is its own
	rt := New(Options{Sandbox: true, Stdout: &bytes.Buffer{}})
	if _, err := rt.RunString(ctx, "s1.lua", `local d = require("state").open("x"); d:set("k", 1); d:save()`); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.RunString(ctx, "s2.lua", `assert(require("state").open("x"):get("k") == nil, "a run sees another's state")`); err != nil {
		t.Fatal(err)
	}
}

// Every table the modules hand a script is a real Lua table:
// getmetatable works on each, however deep.
func TestEveryTableHasAMetatableField(t *testing.T) {
	r := imaptest.New(t, "IDLE MOVE UIDPLUS NAMESPACE", map[string]string{
		"SELECT":     "* 3 EXISTS\r\n* FLAGS (\\Seen \\Deleted)\r\n* OK [PERMANENTFLAGS (\\Seen)] x\r\n* OK [UIDVALIDITY 1] x\r\n",
		"SEARCH":     "* SEARCH 1 2 3\r\n",
		"UID SEARCH": "* SEARCH 1 2 3\r\n",
		"FETCH":      "* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 10)\r\n",
		"UID FETCH":  "* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 10)\r\n",
		"LIST":       "* LIST (\\HasNoChildren) \"/\" INBOX\r\n* LIST (\\Junk) \"/\" Spam\r\n",
		"CAPABILITY": "* CAPABILITY IMAP4rev1 IDLE MOVE\r\n",
		"NAMESPACE":  "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n",
		"STATUS":     "* STATUS INBOX (MESSAGES 3 UIDNEXT 4)\r\n",
	})
	host, port := r.HostPort()
	_, err, out := run(t, Options{Sandbox: true, AllowHosts: []string{host}}, fmt.Sprintf(`
local seen, count = {}, 0
local function walk(v)
  if type(v) ~= "table" or seen[v] then return end
  seen[v] = true
  count = count + 1
  tostring(getmetatable(v))
  for k, x in pairs(v) do walk(k); walk(x) end
end
local function all(...) for i = 1, select("#", ...) do walk((select(i, ...))) end end
local imap = require("imap")
for _, m in ipairs{"imap", "pop3", "mail", "account", "re", "json", "log", "time", "state", "rules"} do walk(require(m)) end
all(imap.ParseFlags("1 (FLAGS (\\Seen \\Answered))"), imap.Internaldate2tuple('"17-Jul-1996 02:44:25 -0700"'))
local M = imap.IMAP4(%q, %s)
walk(M.capabilities)
for _, f in ipairs{
  function() return M:login("u", "p") end, function() return M:capability() end, function() return M:list() end,
  function() return M:select("INBOX") end, function() return M:search(nil, "ALL") end,
  function() return M:fetch("1", "(UID FLAGS RFC822.SIZE)") end, function() return M:uid("SEARCH", "ALL") end,
  function() return M:uid("FETCH", "1", "(FLAGS)") end, function() return M:store("1", "+FLAGS", "\\Seen") end,
  function() return M:expunge() end, function() return M:namespace() end,
  function() return M:status("INBOX", "(MESSAGES)") end, function() return M:response("EXISTS") end,
} do all(f()) end
print(getmetatable(M.capabilities), getmetatable(imap.ParseFlags("1 (FLAGS (\\Seen))")))
M:logout()
local acct = require("account").connect{host=%q, port=%s, user="u", password="p", tls="none"}
local inbox = acct:mailbox("INBOX")
for _, f in ipairs{
  function() return acct:mailboxes() end, function() return inbox:status() end, function() return acct:report() end,
  function() return inbox:search{} end, function() return require("re").find_all("a", "aaa") end,
  function() return require("json").decode("[1,{}]") end,
} do all(f()) end
print(count > 40)`, host, port, host, port))
	if err != nil || out != "nil\tnil\ntrue\n" {
		t.Fatalf("%v %q", err, out)
	}
}

func TestAuditEventsCarryTheRun(t *testing.T) {
	r := newRecorder(t)
	host, port := r.HostPort()
	var mu sync.Mutex
	byRun := map[string][]string{}
	var plain int
	rt := New(Options{Stdout: &bytes.Buffer{},
		Audit: func(string, ...any) { mu.Lock(); plain++; mu.Unlock() },
		AuditRun: func(run, ev string, args ...any) {
			mu.Lock()
			byRun[run] = append(byRun[run], ev+" "+fmt.Sprint(args...))
			mu.Unlock()
		}})
	p := rt.NewPool(2)
	var wg sync.WaitGroup
	results := make([]*Result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := p.RunString(context.Background(), "a.lua", fmt.Sprintf(`local M = require("imap").IMAP4(%q, %s); M:login("user%d", "pw"); M:logout()`, host, port, i))
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		}()
	}
	wg.Wait()
	if results[0] == nil || results[1] == nil || results[0].Run == results[1].Run || len(results[0].Run) != 16 {
		t.Fatalf("%+v %+v", results[0], results[1])
	}
	total := 0
	for i, res := range results {
		evs := strings.Join(byRun[res.Run], "\n")
		if !strings.HasPrefix(evs, "imaplib.open") || !strings.Contains(evs, fmt.Sprintf("LOGIN user%d ***", i)) || strings.Contains(evs, fmt.Sprintf("user%d", 1-i)) {
			t.Fatalf("run %d events:\n%s", i, evs)
		}
		total += len(byRun[res.Run])
	}
	if len(byRun) != 2 || plain != total {
		t.Fatalf("%d runs, %d plain events, %d with run", len(byRun), plain, total)
	}
}

// The dial hook gets net.JoinHostPort(host, port), the same for IMAP and POP3.
func TestDialAddressFormat(t *testing.T) {
	var got []string
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		got = append(got, addr)
		return nil, errors.New("refused")
	}
	run(t, Options{Dial: dial}, `
for _, h in ipairs{"mail.example.org", "::1", "[::1]", "127.0.0.1"} do
  pcall(require("imap").IMAP4, h, 143)
  pcall(require("imap").IMAP4_SSL, h, 993)
  pcall(require("pop3").POP3, h, 110)
  pcall(require("account").connect, {host=h, port=993, user="u", password="p"})
end`)
	want := []string{}
	for _, h := range []string{"mail.example.org", "::1", "::1", "127.0.0.1"} {
		for _, p := range []string{"143", "993", "110", "993"} {
			want = append(want, net.JoinHostPort(h, p))
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// A sandboxed collectgarbage does not make the host collect: each
// collection costs the whole process's heap, shared with other runs.
func TestSandboxCollectGarbageIsNoGC(t *testing.T) {
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	_, err, _ := run(t, Options{Sandbox: true, WallTime: 300 * time.Millisecond}, `while true do collectgarbage() collectgarbage("collect") end`)
	goruntime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "time limit") {
		t.Fatal(err)
	}
	if n := after.NumForcedGC - before.NumForcedGC; n > 2 {
		t.Fatalf("%d forced collections in 300 ms", n)
	}
}
