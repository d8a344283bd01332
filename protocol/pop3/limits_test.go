package pop3

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Hostile servers: endless replies, over-long lines, trickled bytes. Each
// ends with a clean error and the client holds no more than its budget.

// peakHeap runs f and returns the most heap in use, above what was in use
// before, that a sampler saw while f ran.
func peakHeap(t *testing.T, f func()) uint64 {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		var m runtime.MemStats
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(done)
	<-stopped
	if p := peak.Load(); p > base {
		return p - base
	}
	return 0
}

// flood answers every command with status, then chunk repeated until the
// client goes away (or 10 s pass).
func flood(status, chunk string) func(string, io.Writer) bool {
	return func(cmd string, w io.Writer) bool {
		if cmd == "QUIT" {
			return false
		}
		io.WriteString(w, status)
		block := strings.Repeat(chunk, max(1, 32<<10/len(chunk)))
		for {
			if _, err := io.WriteString(w, block); err != nil {
				return false
			}
		}
	}
}

const budget = 4 << 20

// heapBound is what a reply within budget may cost at its peak, garbage
// not yet collected included: the lines held in Go (the budget counts
// them), the buffer's growth, and the GC's headroom.
const heapBound = 3 * budget

func dialFlood(t *testing.T, status, chunk string, lim Limits) (*Client, *fakeServer) {
	t.Helper()
	f := startFake(t, "+OK hi\r\n", flood(status, chunk))
	c, err := Dial(bg, f.addr, &Options{Timeout: 5 * time.Second, Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, f
}

// wantUnusable checks that a reply cut short leaves the connection
// unusable: the next command fails without being sent.
func wantUnusable(t *testing.T, c *Client, f *fakeServer, first string) {
	t.Helper()
	wantSent(t, f, first)
	if c.broken == nil {
		t.Fatal("connection still usable mid-reply")
	}
	_, err := c.Noop(bg)
	if e := wantErr(t, err, ""); e.Command != "NOOP" {
		t.Fatalf("%+v", e)
	}
	select {
	case got := <-f.sent:
		t.Fatalf("client sent %q on a connection left mid-reply", got)
	default:
	}
}

func TestEndlessEmptyLines(t *testing.T) {
	for _, cmd := range []string{"RETR", "TOP"} {
		t.Run(cmd, func(t *testing.T) {
			c, f := dialFlood(t, "+OK\r\n", "\r\n", Limits{MaxMessage: budget})
			var err error
			peak := peakHeap(t, func() {
				if cmd == "RETR" {
					_, err = c.Retr(bg, "1")
				} else {
					_, err = c.Top(bg, "1", "10")
				}
			})
			t.Logf("peak heap %d KiB for a budget of %d KiB", peak>>10, budget>>10)
			if e := wantErr(t, err, "reply larger than 4194304 bytes"); e.Command != cmd {
				t.Fatalf("%+v", e)
			}
			if peak > heapBound {
				t.Fatalf("peak heap %d bytes, over %d", peak, heapBound)
			}
			arg := " 1"
			if cmd == "TOP" {
				arg = " 1 10"
			}
			wantUnusable(t, c, f, cmd+arg)
		})
	}
}

func TestEndlessListings(t *testing.T) {
	for _, tc := range []struct {
		cmd, chunk, want string
		lim              Limits
	}{
		{"LIST", "1 1\r\n", "reply of more than 10000 lines", Limits{MaxMessage: budget, MaxListItems: 10_000}},
		{"UIDL", "1 a\r\n", "reply of more than 10000 lines", Limits{MaxMessage: budget, MaxListItems: 10_000}},
		// the byte budget counts each line's cost, before the item cap
		{"LIST", "1 1\r\n", "reply larger than 4194304 bytes", Limits{MaxMessage: budget}},
		{"UIDL", "1 a\r\n", "reply larger than 4194304 bytes", Limits{MaxMessage: budget}},
		{"CAPA", "X\r\n", "reply of more than 1000 lines", Limits{MaxMessage: budget}},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			c, f := dialFlood(t, "+OK\r\n", tc.chunk, tc.lim)
			var err error
			peak := peakHeap(t, func() {
				switch tc.cmd {
				case "LIST":
					_, _, err = c.List(bg)
				case "UIDL":
					_, _, err = c.Uidl(bg)
				case "CAPA":
					_, err = c.Capa(bg)
				}
			})
			t.Logf("peak heap %d KiB for a budget of %d KiB", peak>>10, budget>>10)
			if e := wantErr(t, err, tc.want); e.Command != tc.cmd {
				t.Fatalf("%+v", e)
			}
			if peak > heapBound {
				t.Fatalf("peak heap %d bytes, over %d", peak, heapBound)
			}
			wantUnusable(t, c, f, tc.cmd)
		})
	}
}

func TestOverlongLines(t *testing.T) {
	t.Run("body", func(t *testing.T) {
		c, f := dialFlood(t, "+OK\r\n", "x", Limits{MaxMessage: budget})
		var err error
		peak := peakHeap(t, func() { _, err = c.Retr(bg, "1") })
		t.Logf("peak heap %d KiB for a budget of %d KiB", peak>>10, budget>>10)
		wantErr(t, err, "reply larger than 4194304 bytes")
		if peak > heapBound {
			t.Fatalf("peak heap %d bytes, over %d", peak, heapBound)
		}
		wantUnusable(t, c, f, "RETR 1")
	})
	t.Run("listing", func(t *testing.T) {
		c, f := dialFlood(t, "+OK\r\n", "1 ", Limits{})
		_, _, err := c.List(bg)
		if e := wantErr(t, err, "line too long"); e.Command != "LIST" {
			t.Fatalf("%+v", e)
		}
		wantUnusable(t, c, f, "LIST")
	})
	t.Run("status", func(t *testing.T) {
		c, f := dialFlood(t, "+OK ", "y", Limits{})
		_, err := c.User(bg, "me")
		if e := wantErr(t, err, "line too long"); e.Command != "USER" {
			t.Fatalf("%+v", e)
		}
		wantUnusable(t, c, f, "USER me")
	})
	t.Run("greeting", func(t *testing.T) {
		f := startFake(t, "+OK "+strings.Repeat("z", 1<<20), dummy)
		_, err := Dial(bg, f.addr, &Options{Timeout: 5 * time.Second})
		wantErr(t, err, "line too long")
	})
}

// trickle sends status, then one byte of chunk every 20 ms, for up to 3 s.
func trickle(status, chunk string) func(string, io.Writer) bool {
	return func(cmd string, w io.Writer) bool {
		io.WriteString(w, status)
		for i := 0; i < 150; i++ {
			time.Sleep(20 * time.Millisecond)
			if _, err := io.WriteString(w, chunk[i%len(chunk):i%len(chunk)+1]); err != nil {
				return false
			}
		}
		return false
	}
}

func TestTrickledReplies(t *testing.T) {
	// Each read brings a byte well within the timeout; the reply as a
	// whole does not come within it.
	opts := &Options{Timeout: 300 * time.Millisecond}
	for _, tc := range []struct{ name, status, chunk string }{
		{"status", "", "+OK"},
		{"body", "+OK\r\n", "x\r\n"},
		{"long line", "+OK\r\n", "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, "+OK hi\r\n", trickle(tc.status, tc.chunk))
			c, err := Dial(bg, f.addr, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(bg, 10*time.Second)
			defer cancel()
			_, err = c.Retr(ctx, "1")
			if e := wantErr(t, err, ""); e.Cause != "timeout" || e.Command != "RETR" || ctx.Err() != nil {
				t.Fatalf("%+v (context: %v)", e, ctx.Err())
			}
		})
	}
	t.Run("greeting", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			defer nc.Close()
			trickle("", "+OK")("", nc)
		}()
		c, err := Dial(bg, l.Addr().String(), opts)
		if err == nil {
			c.Close()
		}
		if e := wantErr(t, err, ""); e.Cause != "timeout" {
			t.Fatalf("%+v", e)
		}
	})
}

func TestSlowButSteadyReply(t *testing.T) {
	// 200 KiB in 64 KiB-and-more pieces, each within the timeout but the
	// whole over it: progress keeps the reply alive.
	f := startFake(t, "+OK hi\r\n", func(cmd string, w io.Writer) bool {
		io.WriteString(w, "+OK\r\n")
		line := strings.Repeat("a", 998) + "\r\n"
		for i := 0; i < 4; i++ {
			io.WriteString(w, strings.Repeat(line, 70))
			time.Sleep(150 * time.Millisecond)
		}
		io.WriteString(w, ".\r\n")
		return true
	})
	c, err := Dial(bg, f.addr, &Options{Timeout: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := c.Retr(bg, "1")
	if err != nil || len(m.Lines) != 280 {
		t.Fatal(err)
	}
}

func TestErrorCommandAndCode(t *testing.T) {
	f := startFake(t, "+OK hi <1.2@x>\r\n", func(cmd string, w io.Writer) bool {
		verb, _, _ := strings.Cut(cmd, " ")
		reply := map[string]string{
			"USER": "+OK",
			"PASS": "-ERR [AUTH] invalid password",
			"APOP": "-ERR [IN-USE] mailbox locked",
			"AUTH": "-ERR [LOGIN-DELAY] wait 10 minutes",
			"RETR": "-ERR [SYS/TEMP] try later",
			"DELE": "-ERR [bad code",
			"LIST": "-ERR [] empty",
			"UIDL": "-ERR no such message",
			"CAPA": "-ERR [SYS/PERM] no",
		}[verb]
		io.WriteString(w, reply+"\r\n")
		return true
	})
	c, err := Dial(bg, f.addr, &Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		call               func() error
		command, code, txt string
	}{
		{func() error { _, err := c.Pass(bg, "s3cret"); return err }, "PASS", "AUTH", "-ERR [AUTH] invalid password"},
		{func() error { _, err := c.Apop(bg, "me", "s3cret"); return err }, "APOP", "IN-USE", "-ERR [IN-USE] mailbox locked"},
		{func() error { _, err := c.Auth(bg, plain("me", "s3cret")); return err }, "AUTH", "LOGIN-DELAY", "-ERR [LOGIN-DELAY] wait 10 minutes"},
		{func() error { _, err := c.Retr(bg, "1"); return err }, "RETR", "SYS/TEMP", "-ERR [SYS/TEMP] try later"},
		{func() error { _, err := c.Dele(bg, "1"); return err }, "DELE", "", "-ERR [bad code"},
		{func() error { _, _, err := c.List(bg); return err }, "LIST", "", "-ERR [] empty"},
		{func() error { _, _, err := c.UidlOne(bg, "9"); return err }, "UIDL", "", "-ERR no such message"},
		{func() error { _, err := c.Capa(bg); return err }, "CAPA", "SYS/PERM", "-ERR CAPA not supported by server"},
		{func() error { _, err := c.User(bg, "a\r\nb"); return err }, "USER", "", "control characters"},
	} {
		err := tc.call()
		var e *Error
		if !errors.As(err, &e) || e.Command != tc.command || e.Code != tc.code || !strings.Contains(e.Text, tc.txt) {
			t.Errorf("%s: %+v, want command %q code %q text %q", tc.command, err, tc.command, tc.code, tc.txt)
			continue
		}
		if strings.Contains(e.Error(), "s3cret") || strings.Contains(e.Command, " ") {
			t.Errorf("%s: a secret or an argument in %+v", tc.command, e)
		}
	}
}

func TestRespCode(t *testing.T) {
	for line, want := range map[string]string{
		"-ERR [AUTH] bad":        "AUTH",
		"-ERR [SYS/TEMP] later":  "SYS/TEMP",
		"-ERR [IN-USE]":          "IN-USE",
		"-ERR [LOGIN-DELAY] 900": "LOGIN-DELAY",
		"-ERR [SYS//TEMP] x":     "",
		"-ERR [/X] x":            "",
		"-ERR [A B] x":           "",
		"-ERR [] x":              "",
		"-ERR [AUTH":             "",
		"-ERR AUTH] x":           "",
		"+OK [AUTH] x":           "",
		"-ERR [\x01] x":          "",
	} {
		if got := RespCode(line); got != want {
			t.Errorf("RespCode(%q) = %q, want %q", line, got, want)
		}
	}
}
