package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/internal/imaptest"
)

// newRecorder is a permissive fake IMAP server that records every line
// the client sends.
func newRecorder(t *testing.T) *imaptest.Server {
	selected := "* 3 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n"
	return imaptest.New(t, "IDLE MOVE UIDPLUS LITERAL+", map[string]string{
		"SELECT": selected, "EXAMINE": selected, "SEARCH": "* SEARCH 1 2 3\r\n"})
}

func run(t *testing.T, opts Options, src string) (*Result, error, string) {
	t.Helper()
	var out bytes.Buffer
	opts.Stdout = &out
	res, err := New(opts).RunString(context.Background(), "test.lua", src)
	return res, err, out.String()
}

func TestDryRunSendsNoChange(t *testing.T) {
	r := newRecorder(t)
	host, port, _ := net.SplitHostPort(r.Addr)
	src := fmt.Sprintf(`
local imap = require("imap")
local M = imap.IMAP4(%q, %s)
M:login("u", "p")
local typ, data, st = M:select("INBOX")
assert(typ == "OK" and st.exists == 3)
assert(M:store("1:3", "+FLAGS", "\\Deleted") == "OK")
assert(M:copy("1", "Archive") == "OK")
assert(M:move("2", "Archive", {uid=true}) == "OK")
assert(M:uid("STORE", "1", "+FLAGS", "\\Seen") == "OK")
assert(M:expunge() == "OK")
assert(M:create("X") == "OK"); assert(M:delete("X") == "OK"); assert(M:rename("A", "B") == "OK")
assert(M:append("INBOX", nil, nil, "Subject: x\r\n\r\n") == "OK")
assert(M:setacl("INBOX", "a", "lr") == "OK"); assert(M:subscribe("A") == "OK")
local ok, err = pcall(M.xatom, M, "XFOO")
assert(not ok and err.kind == "error")
ok, err = pcall(M.send, M, "A1 DELETE INBOX\r\n")
assert(not ok)
local typ, data, hits = M:search(nil, "ALL")
assert(#hits == 3)
M:logout()
`, host, port)
	res, err, _ := run(t, Options{DryRun: true}, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range r.Sent() {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "LOGIN", "EXAMINE", "SEARCH", "LOGOUT", "CAPABILITY":
		default:
			t.Errorf("dry run sent %q", line)
		}
	}
	if len(res.Plan) != 11 || res.Plan[0].Command != "STORE" || res.Plan[0].Mailbox != "INBOX" || res.Plan[2].Set != "2" || !res.Plan[2].UID {
		t.Fatalf("plan %+v", res.Plan)
	}
}

func TestCancelEndsIdle(t *testing.T) {
	r := newRecorder(t)
	host, port, _ := net.SplitHostPort(r.Addr)
	src := fmt.Sprintf(`
local M = require("imap").IMAP4(%q, %s)
M:login("u", "p"); M:select()
for typ in M:idle():iter() do end
`, host, port)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(300 * time.Millisecond); cancel() }()
	start := time.Now()
	_, err := New(Options{}).RunString(ctx, "idle.lua", src)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("cancel took %v", took)
	}
	var se *ScriptError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "canceled") {
		t.Fatalf("%v", err)
	}
}

func TestSandbox(t *testing.T) {
	r := newRecorder(t)
	host, port, _ := net.SplitHostPort(r.Addr)
	for name, src := range map[string]string{
		"io":         `io.open("/etc/passwd")`,
		"os.execute": `os.execute("true")`,
		"os.remove":  `os.remove("/tmp/x")`,
		"load":       `load("return 1")`,
		"loadstring": `loadstring("\27Lua")`,
		"dofile":     `dofile("/etc/passwd")`,
		"require":    `require("os_helpers_on_disk")`,
		"stream":     `require("imap").IMAP4_stream("cat")`,
		"pipe":       `require("pipe").to("true", "")`,
		"cmd secret": `require("account").secret("cmd:true")`,
		"netrc":      `require("account").secret("netrc")`,
		"dial hook":  fmt.Sprintf(`require("imap").IMAP4(%q, %s)`, host, port),
		"pop3 hook":  fmt.Sprintf(`require("pop3").POP3(%q, %s)`, host, port),
	} {
		t.Run(name, func(t *testing.T) {
			refuse := func(ctx context.Context, network, addr string) (net.Conn, error) {
				return nil, errors.New("host not allowed: " + addr)
			}
			_, err, _ := run(t, Options{Sandbox: true, Dial: refuse}, src)
			var se *ScriptError
			if !errors.As(err, &se) || se.Line != 1 {
				t.Fatalf("%s: %v", src, err)
			}
		})
	}
	// what stays
	_, err, out := run(t, Options{Sandbox: true, Getenv: func(k string) string { return map[string]string{"HOME": "/h"}[k] }},
		`print(os.time() > 0, os.date("%Y") ~= nil, os.clock() >= 0, os.getenv("HOME"), os.getenv("SECRET"), string.upper("x"), #table.concat({"a","b"}))`)
	if err != nil || out != "true\ttrue\ttrue\t/h\tnil\tX\t2\n" {
		t.Fatalf("%v %q", err, out)
	}
}

func TestLimits(t *testing.T) {
	_, err, _ := run(t, Options{MaxOutput: 100}, `for i = 1, 100 do print("0123456789") end`)
	if err == nil || !strings.Contains(err.Error(), "output limit") {
		t.Fatal(err)
	}
	start := time.Now()
	_, err, _ = run(t, Options{WallTime: 200 * time.Millisecond}, `while true do end`)
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatal(err)
	}
	r := newRecorder(t)
	host, port, _ := net.SplitHostPort(r.Addr)
	_, err, _ = run(t, Options{MaxConnections: 1}, fmt.Sprintf(`
local imap = require("imap")
imap.IMAP4(%q, %s)
imap.IMAP4(%q, %s)`, host, port, host, port))
	if err == nil || !strings.Contains(err.Error(), "connection limit") {
		t.Fatal(err)
	}
}

// A 20 MB message built with table.concat must not hit the registry.
func TestBigConcat(t *testing.T) {
	_, err, out := run(t, Options{}, `
local t = {}
for i = 1, 300000 do t[#t + 1] = string.rep("x", 68) .. "\r\n" end
local msg = "Subject: big\r\n\r\n" .. table.concat(t)
print(#msg > 20000000)`)
	if err != nil || out != "true\n" {
		t.Fatal(err, out)
	}
}

func TestScriptErrorPosition(t *testing.T) {
	_, err, _ := run(t, Options{}, "local x = 1\n\nlocal y = nil + 1\n")
	var se *ScriptError
	if !errors.As(err, &se) || se.File != "test.lua" || se.Line != 3 || se.Traceback == "" {
		t.Fatalf("%#v", err)
	}
	_, err, _ = run(t, Options{}, "local ok = pcall(function() end)\nerror(setmetatable({kind='abort', message='m'}, {__tostring=function() return 'imap.abort: m' end}))")
	if !errors.As(err, &se) || se.Line != 2 || se.Message != "imap.abort: m" || se.Kind != "abort" {
		t.Fatalf("%#v", err)
	}
	_, err = New(Options{}).Compile("bad.lua", "x = = 1")
	if !errors.As(err, &se) || se.Error() != "bad.lua:1: near '=': syntax error" {
		t.Fatalf("%v", err)
	}
}

func TestPool(t *testing.T) {
	rt := New(Options{Stdout: &bytes.Buffer{}})
	p := rt.NewPool(8)
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := p.RunString(context.Background(), "pool.lua", `local n = tonumber(arg[1]); assert(n * 2 == tonumber(arg[2]))`, fmt.Sprint(i), fmt.Sprint(2*i))
			if err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if rt.cache.len() != 1 {
		t.Fatalf("%d compiled chunks, want 1 shared", rt.cache.len())
	}
}

type counter struct{ N int }

func (c *counter) Add(n int) int { c.N += n; return c.N }

func TestHostModuleAndExpose(t *testing.T) {
	rt := New(Options{Stdout: &bytes.Buffer{}})
	c := &counter{}
	rt.Expose("counter", c)
	rt.Register("greet", func(L *lua.LState) int {
		mod := L.NewTable()
		mod.RawSetString("hello", L.NewFunction(func(L *lua.LState) int { L.Push(lua.LString("hi " + L.CheckString(1))); return 1 }))
		L.Push(mod)
		return 1
	})
	_, err := rt.RunString(context.Background(), "host.lua", `assert(require("greet").hello("x") == "hi x"); counter:Add(2); counter:Add(3)`)
	if err != nil || c.N != 5 {
		t.Fatal(err, c.N)
	}
}

func TestAuditEvents(t *testing.T) {
	r := newRecorder(t)
	host, port, _ := net.SplitHostPort(r.Addr)
	var mu sync.Mutex
	var events []string
	audit := func(ev string, args ...any) {
		mu.Lock()
		events = append(events, ev+" "+fmt.Sprint(args...))
		mu.Unlock()
	}
	_, err, _ := run(t, Options{Audit: audit}, fmt.Sprintf(`
local M = require("imap").IMAP4(%q, %s)
M:login("user", "s3cret-pw")
M:logout()`, host, port))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(events, "\n")
	if !strings.HasPrefix(events[0], "imaplib.open 127.0.0.1") || !strings.Contains(all, "imaplib.send") ||
		!strings.Contains(all, "LOGIN user ***") || strings.Contains(all, "s3cret") {
		t.Fatalf("events:\n%s", all)
	}
}

func TestDryRunPOP3Dele(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	var got []string
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprint(c, "+OK ready\r\n")
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, strings.TrimSpace(line))
			mu.Unlock()
			fmt.Fprint(c, "+OK\r\n")
		}
	}()
	host, port, _ := net.SplitHostPort(l.Addr().String())
	res, err, _ := run(t, Options{DryRun: true}, fmt.Sprintf(`
local P = require("pop3").POP3(%q, %s)
P:user("u"); P:pass_("p")
assert(P:dele(3):find("^%%+OK"))
P:quit()`, host, port))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != "USER u,PASS p,QUIT" || len(res.Plan) != 1 || res.Plan[0].Command != "DELE" {
		t.Fatalf("%v %+v", got, res.Plan)
	}
}

// string.find takes Lua 5.1's plain-text shortcut without changing what
// it returns.
func TestStringFind(t *testing.T) {
	var out strings.Builder
	_, err := New(Options{Stdout: &out}).RunString(context.Background(), "find.lua", `
print(("an invoice"):find("invoice"))
print(("an invoice"):find("nothing"))
print(("a.b"):find("."))
print(("a.b"):find(".", 1, true))
print(("abcabc"):find("c", 4))
print(("x=1"):find("%d"))
print(string.find("hello", "l"))
print(("hello"):find(""))`)
	if err != nil {
		t.Fatal(err)
	}
	want := "4\t10\nnil\n1\t1\n2\t2\n6\t6\n3\t3\n3\t3\n1\t0\n"
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}
