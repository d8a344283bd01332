package stdlib_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/servers"
	"github.com/mailscript/mailscript/protocol/imap"
	"github.com/mailscript/mailscript/runtime"
	"github.com/mailscript/mailscript/stdlib"
)

// dropProxy forwards to target and cuts every connection but the first
// after the given time, once: the watch's IDLE connections drop.
func dropProxy(t *testing.T, target string, after time.Duration) (string, *atomic.Int32) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var n, cut atomic.Int32
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
			go io.Copy(s, c)
			go io.Copy(c, s)
			if n.Add(1) == 2 { // the first IDLE connection
				go func() {
					time.Sleep(after)
					cut.Add(1)
					c.Close()
					s.Close()
				}()
			}
		}
	}()
	return l.Addr().String(), &cut
}

// On every server: a watch whose connection drops reconnects, re-issues
// IDLE and reports the message that came meanwhile, and only it.
func TestWatchReconnectsAndReissues(t *testing.T) {
	t.Cleanup(stdlib.SetIdleFor(800 * time.Millisecond)) // re-issued several times
	servers.Each(t, testWatchReconnects)
}

func testWatchReconnects(t *testing.T, srv *servers.Server) {
	user := srv.User(t, "watch-reconnect")
	seedMessages(t, srv, user, 1)
	addr, cut := dropProxy(t, servers.Addr(srv.IMAP), 1200*time.Millisecond)
	go func() {
		time.Sleep(3 * time.Second) // after the drop and the reconnect
		ctx := context.Background()
		c, err := imap.Dial(ctx, servers.Addr(srv.IMAP), &imap.Options{Timeout: 5 * time.Second})
		if err != nil {
			return
		}
		defer c.Logout(ctx)
		c.Login(ctx, user, srv.Password)
		c.Append(ctx, "INBOX", "", "", []byte("Subject: after the drop\r\n\r\nhi\r\n"))
	}()
	_, port, _ := net.SplitHostPort(addr)
	var out bytes.Buffer // print writes from the script goroutine only
	_, err := runtime.New(runtime.Options{Stdout: &out, Stderr: io.Discard}).RunString(context.Background(), "watch.lua", fmt.Sprintf(`
local account = require("account")
local acct = account.connect{host = "127.0.0.1", port = %s, user = %q, password = %q, tls = "none"}
local stopped = acct:watch({"INBOX"}, function(mbox, msgs)
  for _, m in ipairs(msgs) do print(m.subject) end
  return true
end, {duration = 10})
print(stopped)
acct:close()`, port, user, srv.Password))
	if err != nil {
		t.Fatal(err)
	}
	if cut.Load() != 1 || out.String() != "after the drop\ntrue\n" {
		t.Fatalf("cut %d, output %q", cut.Load(), out.String())
	}
}
