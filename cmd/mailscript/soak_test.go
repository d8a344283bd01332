package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/dovecot"
	"github.com/mailscript/mailscript/internal/faultproxy"
	"github.com/mailscript/mailscript/protocol/imap"
)

// soakScript is watchScript with the timers a soak compresses: a stalled
// connection is noticed within seconds, and backoff stays short.
const soakScript = `
local account, watch = require("account"), require("watch")
local acct = account.connect{host = "localhost", port = tonumber(os.getenv("IMAP_PORT")),
  user = os.getenv("IMAP_USER"), password = account.secret("env:IMAP_PASSWORD"), timeout = 3}
watch.on(acct, {"INBOX"}, function(mbox, new)
  local f = assert(io.open(os.getenv("HANDLED"), "a"))
  for _, m in ipairs(new) do f:write(m.subject, "\n") end
  f:close()
end, {idle_renew = 2, reply_deadline = 2, backoff_max = 2, mode = os.getenv("WATCH_MODE")})
`

// soakFault is one fault the soak injects; run returns once the fault is
// over. A fault that breaks the connections must be counted as a reconnect.
type soakFault struct {
	name       string
	reconnects bool
	run        func(t *testing.T)
}

// TestWatchSoak runs `mailscript watch` through a Dovecot behind a fault
// proxy while mail arrives throughout, cycling through every fault the
// service must survive: RST, FIN, a silent stall, latency, refused
// connections, doveadm kick (BYE), a DNS failure and a Dovecot restart. After each fault
// every message delivered so far must be handled within a bound; at the
// end each exactly once, the process alive and its memory and goroutines
// flat. It runs with NOTIFY (one connection for the account) and with
// IDLE. MAILSCRIPT_SOAK_CYCLES sets the number of cycles (default 2).
func TestWatchSoak(t *testing.T) {
	cycles := 2
	if s := os.Getenv("MAILSCRIPT_SOAK_CYCLES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("MAILSCRIPT_SOAK_CYCLES=%q: want a positive number", s)
		}
		cycles = n
	}
	for _, mode := range []string{"notify", "idle"} {
		t.Run(mode, func(t *testing.T) { soak(t, mode, cycles) })
	}
}

func soak(t *testing.T, mode string, cycles int) {
	d, err := dovecot.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	p, err := faultproxy.New(dovecot.Addr(d.IMAPS))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	dir := t.TempDir()
	handledPath := filepath.Join(dir, "handled")
	status := freePort(t)
	// The service has an /etc/hosts of its own (a mount namespace), so
	// that emptying it is a DNS failure for "localhost".
	hosts := filepath.Join(dir, "hosts")
	const resolvable = "127.0.0.1 localhost\n"
	if err := os.WriteFile(hosts, []byte(resolvable), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, errb := startService(t, exec.Command("unshare", "-m", "--propagation", "private", "/bin/sh", "-ec",
		`mount --bind "$SOAK_HOSTS" /etc/hosts; exec "$@"`, "sh", bin, "watch", "--log-format", "json",
		"--status", status, "--state", filepath.Join(dir, "state"), write(t, "soak.lua", soakScript)),
		append(os.Environ(), "SSL_CERT_FILE="+d.CAFile, "IMAP_PORT="+strconv.Itoa(p.Port()), "IMAP_USER=soak",
			"IMAP_PASSWORD="+dovecot.Password, "HANDLED="+handledPath, "XDG_STATE_HOME="+dir, "NO_COLOR=1", "WATCH_MODE="+mode,
			"SOAK_HOSTS="+hosts))
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	dl := &deliverer{d: d}
	defer dl.close()
	ctx, stop := context.WithCancel(context.Background())
	delivering := make(chan struct{})
	go func() { defer close(delivering); dl.run(ctx, t) }()
	defer func() { stop(); <-delivering }()

	handled := func() []string {
		b, err := os.ReadFile(handledPath)
		if err != nil || len(b) == 0 {
			return nil
		}
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	// caughtUp waits until a message delivered after now, and every one
	// before it, is handled: only a connection made after a fault sees it.
	const bound = 20 * time.Second
	caughtUp := func(after string) time.Duration {
		t.Helper()
		start := time.Now()
		want := dl.count() + 1
		for dl.count() < want {
			if time.Since(start) > bound {
				t.Fatalf("after %s: no delivery for %v", after, bound)
			}
			time.Sleep(10 * time.Millisecond)
		}
		for {
			if n := len(handled()); n >= want {
				return time.Since(start)
			}
			select {
			case err := <-exited:
				t.Fatalf("the service exited after %s: %v\n%s", after, err, errb.String())
			default:
			}
			if time.Since(start) > bound {
				t.Fatalf("after %s: %d of %d messages handled within %v\nstderr:\n%s", after, len(handled()), want, bound, tail(errb.String(), 40))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	hold := func(d time.Duration) { time.Sleep(d) }
	faults := []soakFault{
		{"RST", true, func(t *testing.T) { p.Reset() }},
		{"FIN", true, func(t *testing.T) { p.Cut() }},
		{"a silent stall", true, func(t *testing.T) { p.Stall(true); hold(7 * time.Second); p.Stall(false) }},
		{"300 ms latency", false, func(t *testing.T) { p.Delay(300 * time.Millisecond); hold(4 * time.Second); p.Delay(0) }},
		{"refused connections", true, func(t *testing.T) { p.Refuse(true); p.Reset(); hold(4 * time.Second); p.Refuse(false) }},
		{"doveadm kick", true, func(t *testing.T) {
			dl.pause(func() {
				if out, err := exec.Command("doveadm", "-c", filepath.Join(d.Dir, "dovecot.conf"), "kick", "soak").CombinedOutput(); err != nil {
					t.Fatalf("doveadm kick: %v\n%s", err, out)
				}
			})
		}},
		{"a DNS failure", true, func(t *testing.T) {
			// Go reads /etc/hosts again once its copy is 5 s old: cut then
			if err := os.WriteFile(hosts, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			hold(5500 * time.Millisecond)
			mark := len(errb.String())
			p.Reset()
			for deadline := time.Now().Add(bound); !strings.Contains(errb.String()[mark:], "lookup localhost"); time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no failed lookup logged with /etc/hosts empty:\n%s", errb.String()[mark:])
				}
			}
			if err := os.WriteFile(hosts, []byte(resolvable), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"a Dovecot restart", true, func(t *testing.T) {
			dl.pause(func() {
				if err := d.Restart(); err != nil {
					t.Fatalf("restarting Dovecot: %v", err)
				}
			})
		}},
	}

	caughtUp("the start")
	var rss, goroutines []int
	var slowest time.Duration
	for c := range cycles {
		for _, f := range faults {
			hold(time.Second) // mail arrives before the fault
			before, start := metric(t, status, "mailscript_reconnects_total"), time.Now()
			t.Logf("%s at %s", f.name, time.Now().Format("15:04:05.000"))
			mark := len(errb.String())
			f.run(t)
			if took := caughtUp(f.name); took > slowest {
				slowest = took
			}
			// mail may be handled on the handlers' connection, redialled,
			// before the watch connection is back
			for f.reconnects && metric(t, status, "mailscript_reconnects_total") == before {
				if time.Since(start) > bound {
					t.Fatalf("%s: no reconnect counted within %v\n%s", f.name, bound, errb.String()[mark:])
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		rss = append(rss, rssKiB(t, cmd.Process.Pid))
		goroutines = append(goroutines, metric(t, status, "go_goroutines"))
		t.Logf("cycle %d: %d delivered, RSS %d KiB, %d goroutines, slowest catch-up %v", c+1, dl.count(), rss[c], goroutines[c], slowest)
	}
	stop()
	<-delivering
	start := time.Now()
	for want := dl.count(); len(handled()) < want; time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > bound {
			t.Fatalf("%d of %d messages handled %v after the last delivery", len(handled()), want, bound)
		}
	}

	time.Sleep(time.Second) // a duplicate would show by now
	seen := map[string]int{}
	for _, s := range handled() {
		seen[s]++
	}
	for i := 1; i <= dl.count(); i++ {
		if n := seen["s"+strconv.Itoa(i)]; n != 1 {
			t.Errorf("message s%d handled %d times", i, n)
		}
	}
	if len(seen) != dl.count() {
		t.Errorf("handled %d distinct messages, delivered %d", len(seen), dl.count())
	}
	// flat: the later cycles hold what the first did, give or take the GC
	last := len(rss) - 1
	if rss[last] > rss[0]*3/2+4<<10 {
		t.Errorf("RSS grew from %d KiB after cycle 1 to %d KiB after cycle %d", rss[0], rss[last], last+1)
	}
	if goroutines[last] > goroutines[0]+5 {
		t.Errorf("goroutines grew from %d after cycle 1 to %d after cycle %d", goroutines[0], goroutines[last], last+1)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, tail(errb.String(), 40))
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit 15 s after SIGTERM\n%s", tail(errb.String(), 40))
	}
}

// deliverer appends a message every 100 ms straight to Dovecot (not
// through the proxy), counting only those whose APPEND was confirmed.
type deliverer struct {
	d  *dovecot.Server
	mu sync.Mutex // held while delivering and while Dovecot restarts
	c  *imap.Client
	n  int
}

func (dl *deliverer) run(ctx context.Context, t *testing.T) {
	for ctx.Err() == nil {
		dl.mu.Lock()
		err := dl.deliver(ctx)
		dl.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			t.Errorf("delivering: %v", err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (dl *deliverer) deliver(ctx context.Context) error {
	if dl.c == nil {
		c, err := imap.Dial(ctx, dovecot.Addr(dl.d.IMAP), &imap.Options{Timeout: 10 * time.Second})
		if err != nil {
			return err
		}
		if _, err := c.Login(ctx, "soak", dovecot.Password); err != nil {
			c.Close()
			return err
		}
		dl.c = c
	}
	subject := "s" + strconv.Itoa(dl.n+1)
	msg := "From: a@example.org\r\nTo: soak@example.org\r\nSubject: " + subject + "\r\nMessage-ID: <" + subject + "@soak>\r\n\r\nbody\r\n"
	if _, _, err := dl.c.Append(ctx, "INBOX", "", "", []byte(msg)); err != nil {
		return err
	}
	dl.n++
	return nil
}

// pause runs f with no delivery in flight and the connection closed, so
// a kick or restart cuts no APPEND (whether its message arrived would be
// unknown); the next delivery reconnects.
func (dl *deliverer) pause(f func()) {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	dl.closeLocked()
	f()
}

func (dl *deliverer) count() int {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	return dl.n
}

func (dl *deliverer) close() {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	dl.closeLocked()
}

func (dl *deliverer) closeLocked() {
	if dl.c != nil {
		dl.c.Close()
		dl.c = nil
	}
}

// rssKiB is the resident set size of process pid.
func rssKiB(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}

// metric is the value of an unlabelled metric on the status endpoint.
func metric(t *testing.T, addr, name string) int {
	t.Helper()
	_, body := get(t, "http://"+addr+"/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %q", name, line)
			}
			return int(n)
		}
	}
	t.Fatalf("/metrics has no %s:\n%s", name, body)
	return 0
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
