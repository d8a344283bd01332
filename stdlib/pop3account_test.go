package stdlib_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/mailgen"
	"github.com/mailscript/mailscript/internal/servers"
	"github.com/mailscript/mailscript/runtime"
)

func seedPOP3(t *testing.T, srv *servers.Server, name string, n int) (string, []mailgen.Message) {
	t.Helper()
	user := srv.User(t, name)
	msgs := make([]mailgen.Message, n)
	g := mailgen.New(17)
	for i := range msgs {
		msgs[i] = g.Message(i)
	}
	srv.Seed(t, user, "", msgs)
	return user, msgs
}

// remaining is what is left in the POP3 mailbox, by a fresh session.
func remaining(t *testing.T, srv *servers.Server, user string) [][]byte {
	t.Helper()
	ctx := context.Background()
	c := srv.DialPOP3(t, user)
	defer c.Quit(ctx)
	n, _, err := c.Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for i := 1; i <= int(n); i++ {
		var b bytes.Buffer
		if _, _, err := c.RetrTo(ctx, fmt.Sprint(i), &b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Bytes())
	}
	return out
}

const popLoop = `
local account = require("account")
local pop = account.pop3{host = "127.0.0.1", port = %d, user = %q, password = %q, tls = "none"}
print("pipelining", pop:pipelining())
local ok, err = pcall(function()
  for msg in pop:messages{delete = true} do
    if msg.num == %d then error("handler failed at " .. msg.num) end
    io.write("MSG ", msg.num, " ", #msg.raw, "\n", msg.raw, "END\n")
  end
end)
print(ok, err)
pop:close()
`

// Every message arrives in order and intact; a handler raising at
// message k leaves k and later on the server, and the close after the
// pcall commits the DELEs of those handled.
func TestPOP3AccountMessagesInOrderDeleteOnlyHandled(t *testing.T) {
	servers.Each(t, func(t *testing.T, srv *servers.Server) {
		const n, k = 40, 23
		user, msgs := seedPOP3(t, srv, "pop3acct-order", n)
		var out bytes.Buffer
		_, err := runtime.New(runtime.Options{Stdout: &out, Stderr: io.Discard, Timeout: time.Minute}).RunString(context.Background(), "p.lua",
			fmt.Sprintf(popLoop, srv.POP3, user, srv.Password, k))
		if err != nil {
			t.Fatal(err)
		}
		s := out.String()
		if !strings.HasPrefix(s, "pipelining\ttrue\n") {
			t.Fatalf("%s advertises PIPELINING; got %q", srv.Name, s[:min(len(s), 40)])
		}
		s = strings.TrimPrefix(s, "pipelining\ttrue\n")
		for i := 1; i < k; i++ {
			want := srv.Stored(msgs[i-1].Raw)
			head := fmt.Sprintf("MSG %d %d\n", i, len(want))
			if !strings.HasPrefix(s, head+string(want)+"END\n") {
				t.Fatalf("message %d: want %q..., got %q", i, head, s[:min(len(s), 80)])
			}
			s = s[len(head)+len(want)+4:]
		}
		if !strings.HasPrefix(s, "false\t") || !strings.Contains(s, fmt.Sprintf("handler failed at %d", k)) {
			t.Fatalf("after the messages: %q", s)
		}
		left := remaining(t, srv, user)
		if len(left) != n-k+1 {
			t.Fatalf("%d messages left, want %d (messages %d to %d)", len(left), n-k+1, k, n)
		}
		for i, raw := range left {
			if !bytes.Equal(raw, srv.Stored(msgs[k-1+i].Raw)) {
				t.Fatalf("left message %d is not message %d", i+1, k+i)
			}
		}
	})
}

// A run killed mid-loop (its context cancelled) never sent QUIT: every
// message is still there, the handled ones included.
func TestPOP3AccountKilledRunKeepsMailbox(t *testing.T) {
	servers.Each(t, func(t *testing.T, srv *servers.Server) {
		const n = 20
		user, _ := seedPOP3(t, srv, "pop3acct-kill", n)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		w := &cancelAt{mark: "handled 8\n", cancel: cancel}
		_, err := runtime.New(runtime.Options{Stdout: w, Stderr: io.Discard}).RunString(ctx, "k.lua", fmt.Sprintf(`
local account = require("account")
local pop = account.pop3{host = "127.0.0.1", port = %d, user = %q, password = %q, tls = "none"}
for msg in pop:messages{delete = true} do
  print("handled " .. msg.num)
  if msg.num == 8 then while true do end end
end
pop:close()`, srv.POP3, user, srv.Password))
		if err == nil {
			t.Fatal("the killed run ended without an error")
		}
		if left := remaining(t, srv, user); len(left) != n {
			t.Fatalf("%d messages left after the kill, want all %d", len(left), n)
		}
	})
}

type cancelAt struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	mark   string
	cancel func()
}

func (c *cancelAt) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.mark) {
		c.cancel()
	}
	return len(p), nil
}

// A server whose CAPA lacks PIPELINING gets one command at a time: the
// exact lines, none sent before the previous reply.
func TestPOP3AccountWithoutPipelining(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "+OK no pipelining here\r\n")
		r := bufio.NewReader(c)
		for {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond) // time for a client that does not wait to send more
			c.SetReadDeadline(time.Now().Add(time.Millisecond))
			if _, err := r.Peek(1); err == nil {
				lines <- "SENT AHEAD OF " + line
			}
			lines <- line
			verb, arg, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
			reply := map[string]string{
				"CAPA": "+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.", "USER": "+OK", "PASS": "+OK in", "DELE": "+OK marked",
				"UIDL": "+OK\r\n1 aaa\r\n2 bbb\r\n.", "RETR": "+OK\r\nSubject: " + arg + "\r\n\r\nbody\r\n.", "QUIT": "+OK bye",
			}[verb]
			if reply == "" {
				reply = "-ERR unknown"
			}
			io.WriteString(c, reply+"\r\n")
		}
	}()
	host, port, _ := net.SplitHostPort(l.Addr().String())
	var out bytes.Buffer
	_, err = runtime.New(runtime.Options{Stdout: &out, Stderr: io.Discard, Timeout: 10 * time.Second}).RunString(context.Background(), "np.lua", fmt.Sprintf(`
local account = require("account")
local pop = account.pop3{host = %q, port = %s, user = "u", password = "p", tls = "none"}
print(pop:pipelining())
for msg in pop:messages{delete = true} do print(msg.num, msg.uid, (msg.raw:gsub("\r\n", "|"))) end
pop:close()`, host, port))
	if err != nil {
		t.Fatal(err)
	}
	if want := "false\n1\taaa\tSubject: 1||body|\n2\tbbb\tSubject: 2||body|\n"; out.String() != want {
		t.Fatalf("output %q, want %q", out.String(), want)
	}
	var got []string
	for l := range lines {
		got = append(got, strings.TrimRight(l, "\r\n"))
	}
	want := []string{"CAPA", "USER u", "PASS p", "UIDL", "RETR 1", "DELE 1", "RETR 2", "DELE 2", "QUIT"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("sent %q, want %q", got, want)
	}
}
