package stdlib_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/servers"
	"github.com/mailscript/mailscript/runtime"
	"github.com/mailscript/mailscript/stdlib"
)

// capProxy forwards to target with the capabilities in hide blanked out
// of what the server says, and counts the connections made through it.
func capProxy(t *testing.T, target string, hide ...string) (port string, conns *atomic.Int32) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	conns = new(atomic.Int32)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			conns.Add(1)
			go func() { io.Copy(s, c); s.Close() }()
			go func() {
				buf := make([]byte, 32<<10)
				for {
					n, err := s.Read(buf)
					out := buf[:n]
					for _, h := range hide { // replies here are short: a capability is never split
						out = bytes.ReplaceAll(out, []byte(" "+h), bytes.Repeat([]byte(" "), len(h)+1))
					}
					if _, werr := c.Write(out); werr != nil || err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	_, port, _ = net.SplitHostPort(l.Addr().String())
	return port, conns
}

// pollWatch runs a watch service with opts on INBOX through port until
// want is in its output (a message appended once it started), then
// stops it; it returns the output and the run's error.
func pollWatch(t *testing.T, srv *servers.Server, user, port, opts, want string) (string, error) {
	var out syncBuffer
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := runtime.New(runtime.Options{Stdout: &out, Stderr: io.Discard, State: &stdlib.MemStore{},
			Watch: &stdlib.WatchMode{Service: true, Stop: stop}}).RunString(context.Background(), "watch.lua", fmt.Sprintf(`
local account, watch = require("account"), require("watch")
local acct = account.connect{host = "127.0.0.1", port = %s, user = %q, password = %q, tls = "none"}
watch.on(acct, {"INBOX"}, function(mbox, new)
  for _, m in ipairs(new) do print(m.subject) end
end, %s)
print("started")`, port, user, srv.Password, opts))
		done <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	appended := false
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			return out.String(), err
		case <-time.After(50 * time.Millisecond):
		}
		if !appended && strings.Contains(out.String(), "started") {
			appended = true
			time.Sleep(500 * time.Millisecond) // after the catch-up
			c := srv.Dial(t, user)
			if _, _, err := c.Append(context.Background(), "INBOX", "", "", []byte("Subject: "+want+"\r\n\r\nhi\r\n")); err != nil {
				t.Fatal(err)
			}
			c.Logout(context.Background())
		}
		if strings.Contains(out.String(), want) {
			break
		}
	}
	close(stop)
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(20 * time.Second):
		t.Fatalf("the watch did not stop; output %q", out.String())
		return "", nil
	}
}

// A server without IDLE (nor NOTIFY) is polled: new mail is handled, and
// the watch opens no connection but the account's own.
func TestWatchPollsWithoutIdle(t *testing.T) {
	srv := servers.Get(t, "dovecot")
	user := srv.User(t, "watch-poll")
	port, conns := capProxy(t, servers.Addr(srv.IMAP), "IDLE", "NOTIFY")
	out, err := pollWatch(t, srv, user, port, "{poll_interval = 0.3}", "polled in")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "polled in") || conns.Load() != 1 {
		t.Fatalf("connections %d (want the account's one), output %q", conns.Load(), out)
	}
}

// mode = "poll" polls a server that offers IDLE too.
func TestWatchModePoll(t *testing.T) {
	srv := servers.Get(t, "dovecot")
	user := srv.User(t, "watch-mode-poll")
	port, conns := capProxy(t, servers.Addr(srv.IMAP))
	out, err := pollWatch(t, srv, user, port, `{mode = "poll", poll_interval = 0.3}`, "asked to poll")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "asked to poll") || conns.Load() != 1 {
		t.Fatalf("connections %d (want the account's one), output %q", conns.Load(), out)
	}
}

// mode = "idle" on a server without IDLE is a clear error, not a loop of
// failing IDLEs.
func TestWatchModeIdleWithoutIdleFails(t *testing.T) {
	srv := servers.Get(t, "dovecot")
	user := srv.User(t, "watch-mode-idle")
	port, _ := capProxy(t, servers.Addr(srv.IMAP), "IDLE")
	_, err := pollWatch(t, srv, user, port, `{mode = "idle"}`, "never")
	if err == nil || !strings.Contains(err.Error(), `mode "idle", but the server offers no IDLE`) {
		t.Fatalf("want the mode's error, got %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the script's writes and the
// test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
