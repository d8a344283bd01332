package bindings_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/protocol/pop3"
)

// The pop3 module against scripted hostile servers: what a reply costs in
// Lua is bounded by the connection's limits, and errors carry the command
// and the response code.

// pop3Fake answers each command line with reply(verb), written until the
// client goes away.
func pop3Fake(t *testing.T, reply func(verb string, w io.Writer) error) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "+OK hi\r\n")
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			verb, _, _ := strings.Cut(strings.TrimSpace(line), " ")
			if reply(verb, c) != nil {
				return
			}
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// endless writes status, then chunk forever.
func endless(status, chunk string) func(string, io.Writer) error {
	return func(_ string, w io.Writer) error {
		io.WriteString(w, status)
		block := strings.Repeat(chunk, 32<<10/len(chunk))
		for {
			if _, err := io.WriteString(w, block); err != nil {
				return err
			}
		}
	}
}

// runPOP3 runs script with the pop3 module, PORT set, and returns its
// results and the peak heap in use above what was in use before.
func runPOP3(t *testing.T, lim pop3.Limits, port int, script string) ([]lua.LValue, uint64) {
	t.Helper()
	L := lua.NewState()
	defer L.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	L.SetContext(ctx)
	bindings.Preload(L, &bindings.Env{Timeout: 5 * time.Second, POP3Limits: lim})
	L.SetGlobal("PORT", lua.LNumber(port))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	top := L.GetTop()
	err := L.DoString(script)
	close(done)
	<-stopped
	if err != nil {
		t.Fatal(err)
	}
	var out []lua.LValue
	for i := top + 1; i <= L.GetTop(); i++ {
		out = append(out, L.Get(i))
	}
	return out, max(peak.Load(), base) - base
}

const luaBudget = 4 << 20

func TestPOP3LuaRepliesBounded(t *testing.T) {
	lines := func(n int, line string) func(string, io.Writer) error {
		return func(_ string, w io.Writer) error {
			_, err := io.WriteString(w, "+OK\r\n"+strings.Repeat(line, n)+".\r\n")
			return err
		}
	}
	for _, tc := range []struct {
		name   string
		reply  func(string, io.Writer) error
		lim    pop3.Limits
		call   string
		want   string // the error's message, or the number of lines returned
		bound  uint64
		expect string
	}{
		// a reply of empty lines just within the budget: every line a Lua string
		{"retr within", lines(55_000, "\r\n"), pop3.Limits{MaxMessage: luaBudget}, "retr(1)", "55000", 3 * luaBudget, ""},
		{"retr endless", endless("+OK\r\n", "\r\n"), pop3.Limits{MaxMessage: luaBudget}, "retr(1)", "reply larger than 4194304 bytes", 3 * luaBudget, "RETR"},
		{"top endless", endless("+OK\r\n", "\r\n"), pop3.Limits{MaxMessage: luaBudget}, "top(1, 5)", "reply larger than 4194304 bytes", 3 * luaBudget, "TOP"},
		// a listing at its item cap: lines and parsed entries in Lua
		{"list within", lines(10_000, "1 1\r\n"), pop3.Limits{MaxListItems: 10_000}, "list()", "10000", 3 * luaBudget, ""},
		{"uidl within", lines(10_000, "1 abcdefgh\r\n"), pop3.Limits{MaxListItems: 10_000}, "uidl()", "10000", 3 * luaBudget, ""},
		{"list endless", endless("+OK\r\n", "1 1\r\n"), pop3.Limits{MaxListItems: 10_000}, "list()", "reply of more than 10000 lines", 3 * luaBudget, "LIST"},
		{"uidl endless", endless("+OK\r\n", "1 a\r\n"), pop3.Limits{MaxListItems: 10_000}, "uidl()", "reply of more than 10000 lines", 3 * luaBudget, "UIDL"},
		// the byte budget counts the parsed entries Lua builds
		{"list over budget", endless("+OK\r\n", "1 1\r\n"), pop3.Limits{MaxMessage: luaBudget}, "list()", "reply larger than 4194304 bytes", 3 * luaBudget, "LIST"},
		{"list budget", lines(4_000, "1 1\r\n"), pop3.Limits{MaxMessage: luaBudget}, "list()", "4000", 3 * luaBudget, ""},
		{"capa endless", endless("+OK\r\n", "X\r\n"), pop3.Limits{}, "capa()", "reply of more than 1000 lines", 3 * luaBudget, "CAPA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := pop3Fake(t, tc.reply)
			out, peak := runPOP3(t, tc.lim, port, `
				local pop3 = require("pop3")
				local P = pop3.POP3("127.0.0.1", PORT)
				local ok, a, b = pcall(function() return P:`+tc.call+` end)
				if not ok then return a.message, a.command, pop3.error_proto:is(a) end
				return type(b) == "table" and #b or 0, "", true`)
			t.Logf("peak heap %d KiB", peak>>10)
			if got := lua.LVAsString(out[0]); got != tc.want || lua.LVAsString(out[1]) != tc.expect || out[2] != lua.LTrue {
				t.Fatalf("got %v, want %q from %q", out, tc.want, tc.expect)
			}
			if peak > tc.bound {
				t.Fatalf("peak heap %d bytes, over %d", peak, tc.bound)
			}
		})
	}
}

func TestPOP3LuaErrorFields(t *testing.T) {
	port := pop3Fake(t, func(verb string, w io.Writer) error {
		reply := map[string]string{"USER": "+OK", "PASS": "-ERR [AUTH] invalid password", "RETR": "-ERR [SYS/TEMP] try later",
			"DELE": "-ERR no such message"}[verb]
		_, err := io.WriteString(w, reply+"\r\n")
		return err
	})
	out, _ := runPOP3(t, pop3.Limits{}, port, `
		local pop3 = require("pop3")
		local P = pop3.POP3("127.0.0.1", PORT)
		P:user("me")
		local r = {}
		for _, f in ipairs{function() P:pass_("s3cret") end, function() P:retr(1) end, function() P:dele(2) end} do
			local ok, e = pcall(f)
			r[#r + 1] = tostring(e.command) .. "|" .. tostring(e.code) .. "|" .. e.message .. "|" .. tostring(e)
		end
		return table.concat(r, "\n")`)
	want := strings.Join([]string{
		"PASS|AUTH|-ERR [AUTH] invalid password|pop3.error_proto: -ERR [AUTH] invalid password",
		"RETR|SYS/TEMP|-ERR [SYS/TEMP] try later|pop3.error_proto: -ERR [SYS/TEMP] try later",
		"DELE|nil|-ERR no such message|pop3.error_proto: -ERR no such message",
	}, "\n")
	if got := lua.LVAsString(out[0]); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(lua.LVAsString(out[0]), "s3cret") {
		t.Fatal("secret in an error")
	}
}
