package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mailscript/mailscript/internal/cyrus"
	"github.com/mailscript/mailscript/internal/dovecot"
	"github.com/mailscript/mailscript/protocol/imap"
)

// WL is the watch service's latency: the time from an APPEND (sent by
// the harness) to the handler's action done (a \Flagged the server
// confirmed), for `mailscript watch` and for imapfilter's
// enter_idle loop, through the same server. WS is its scale: one
// process watching 1,000 mailboxes (one account of 1,000 folders, and
// 100 accounts of 10), its memory per mailbox and its CPU while idle.

const wlScript = `
local account, watch = require("account"), require("watch")
local acct = account.connect{host = os.getenv("B_HOST"), port = tonumber(os.getenv("B_PORT")),
  user = os.getenv("B_USER"), password = account.secret("env:B_PASSWORD"), tls = "none"}
watch.on(acct, {"INBOX"}, function(mbox, new)
  new:flag("\\Flagged")
  acct:flush()
  for _, m in ipairs(new) do io.stderr:write("HANDLED ", m.uid, "\n") end
end)
`

// wlImapfilter is how imapfilter's users write an always-on filter.
const wlImapfilter = `
options.timeout = 60
options.starttls = false
options.certificates = false
local acct = IMAP { server = os.getenv("B_HOST"), port = tonumber(os.getenv("B_PORT")),
  username = os.getenv("B_USER"), password = os.getenv("B_PASSWORD") }
while true do
  local new = acct.INBOX:is_unflagged()
  new:mark_flagged()
  for _, m in ipairs(new) do
    local _, uid = table.unpack(m)
    io.stderr:write("HANDLED ", uid, "\n")
  end
  acct.INBOX:enter_idle()
end
`

// wsScript watches B_ACCOUNTS accounts (users B_USER-1 ...) of B_FOLDERS
// folders each (F0001 ...), in watch mode B_MODE.
const wsScript = `
local account, watch = require("account"), require("watch")
local n, folders = tonumber(os.getenv("B_ACCOUNTS")), tonumber(os.getenv("B_FOLDERS"))
local names = {}
for i = 1, folders do names[i] = string.format("F%04d", i) end
for a = 1, n do
  local user = os.getenv("B_USER") .. "-" .. a
  local acct = account.connect{host = os.getenv("B_HOST"), port = tonumber(os.getenv("B_PORT")),
    user = user, password = account.secret("env:B_PASSWORD"), tls = "none"}
  watch.on(acct, names, function(mbox, new)
    for _, m in ipairs(new) do io.stderr:write("HANDLED ", user, " ", mbox:name(), " ", m.uid, "\n") end
  end, {mode = os.getenv("B_MODE")})
end
`

const wlSamples = 50

// watchFigure is one row of watch.md.
type watchFigure struct {
	Workload, Network, Tool string
	Cells                   []string
}

// watched is a running watch process whose output lines starting with
// "HANDLED " arrive on handled.
type watched struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	handled chan string
	out     *strings.Builder // everything else, for errors
}

func startWatched(cmd *exec.Cmd) (*watched, error) {
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	w := &watched{cmd: cmd, exited: make(chan struct{}), handled: make(chan string, 4096), out: &strings.Builder{}}
	go func() {
		cmd.Wait()
		pw.Close()
		close(w.exited)
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "HANDLED "); ok {
				w.handled <- rest
			} else if w.out.Len() < 64<<10 {
				w.out.WriteString(sc.Text() + "\n")
			}
		}
		close(w.handled)
	}()
	return w, nil
}

// wait waits for the handled line want, failing after limit.
func (w *watched) wait(want string, limit time.Duration) error {
	deadline := time.After(limit)
	for {
		select {
		case got, ok := <-w.handled:
			if !ok {
				return fmt.Errorf("watcher ended before handling %s:\n%s", want, w.out.String())
			}
			if got == want {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("%s not handled within %s:\n%s", want, limit, w.out.String())
		}
	}
}

func (w *watched) stop() {
	w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.exited:
	case <-time.After(10 * time.Second):
		w.cmd.Process.Kill()
		<-w.exited
	}
}

func writeFile(dir, name, text string) (string, error) {
	p := filepath.Join(dir, name)
	return p, os.WriteFile(p, []byte(text), 0o644)
}

func (b *bench) wl() error {
	mscript, err := writeFile(b.dir, "wl.lua", wlScript)
	if err != nil {
		return err
	}
	fscript, err := writeFile(b.dir, "wl_imapfilter.lua", wlImapfilter)
	if err != nil {
		return err
	}
	state := filepath.Join(b.dir, "wl-state")
	servers := []wlServer{{
		nets:    []struct{ name, addr string }{{"loopback", dovecot.Addr(b.srv.IMAP)}, {"10ms-rtt", b.delayIMAP}},
		newUser: func() (string, error) { return b.user("wl", nil) },
		direct:  dovecot.Addr(b.srv.IMAP),
	}}
	// Cyrus too: Dovecot tells an IDLE of new mail only after a delay of
	// its own (MAILBOX_NOTIFY_DELAY_MSECS, 500 ms, compiled in)
	if cy, err := cyrus.Start(); err != nil {
		log("WL on Cyrus not measured: %v", err)
	} else {
		defer cy.Stop()
		delayed, err := delayProxy(cyrus.Addr(cy.IMAP), 5*time.Millisecond)
		if err != nil {
			return err
		}
		servers = append(servers, wlServer{
			nets: []struct{ name, addr string }{{"loopback, Cyrus", cyrus.Addr(cy.IMAP)}, {"10ms-rtt, Cyrus", delayed}},
			newUser: func() (string, error) {
				b.users++
				name := fmt.Sprintf("wl-%d", b.users)
				return name, cy.AddUser(name)
			},
			direct: cyrus.Addr(cy.IMAP),
		})
	}
	tools := []tool{
		{"mailscript watch", func(env []string) *exec.Cmd {
			return b.command(append(env, "XDG_STATE_HOME="+state), b.mailbin, "watch", mscript)
		}},
		{"imapfilter enter_idle loop", func(env []string) *exec.Cmd {
			return b.command(env, "imapfilter", "-c", fscript)
		}},
		{"raw IDLE floor (plain Go)", b.self("watch")},
	}
	for _, srv := range servers {
		for _, nw := range srv.nets {
			for _, t := range tools {
				if !b.wanted(t.name) {
					continue
				}
				lat, err := b.latency(t, srv, nw.addr)
				if err != nil {
					return fmt.Errorf("%s %s: %v", t.name, nw.name, err)
				}
				slices.Sort(lat)
				ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", d.Seconds()*1000) }
				row := watchFigure{"WL", nw.name, t.name, []string{strconv.Itoa(len(lat)), ms(lat[len(lat)/2]), ms(lat[len(lat)*9/10]), ms(lat[len(lat)-1])}}
				b.watch = append(b.watch, row)
				log("WL %-15s %-27s median %s ms, p90 %s ms, max %s ms", nw.name, t.name, row.Cells[1], row.Cells[2], row.Cells[3])
			}
		}
	}
	return nil
}

// wlServer is a server WL runs against: the addresses watchers connect
// to (directly, through the delay proxy), how to make a user, and the
// server's own address, where the harness appends.
type wlServer struct {
	nets    []struct{ name, addr string }
	newUser func() (string, error)
	direct  string
}

// latency runs t's watcher for a new user of srv at addr, then appends
// wlSamples messages one at a time, each once the previous one was
// handled.
func (b *bench) latency(t tool, srv wlServer, addr string) ([]time.Duration, error) {
	user, err := srv.newUser()
	if err != nil {
		return nil, err
	}
	w, err := startWatched(t.cmd(b.env(addr, user)))
	if err != nil {
		return nil, err
	}
	defer w.stop()
	ctx := context.Background()
	c, err := imap.Dial(ctx, srv.direct, &imap.Options{Timeout: time.Minute})
	if err != nil {
		return nil, err
	}
	defer c.Logout(ctx)
	if _, err := c.Login(ctx, user, dovecot.Password); err != nil {
		return nil, err
	}
	var lat []time.Duration
	for i := range wlSamples + 1 {
		msg := fmt.Sprintf("From: a@example.org\r\nSubject: latency %d\r\nMessage-ID: <wl%d@example.org>\r\n\r\nbody\r\n", i, i)
		start := time.Now()
		_, au, err := c.Append(ctx, "INBOX", "", "", []byte(msg))
		if err != nil {
			return nil, err
		}
		if au == nil {
			return nil, fmt.Errorf("no APPENDUID")
		}
		if err := w.wait(strconv.Itoa(int(au.UID)), 30*time.Second); err != nil {
			return nil, err
		}
		if i > 0 { // the first one waits for the watcher to start
			lat = append(lat, time.Since(start))
		}
		time.Sleep(100 * time.Millisecond) // the watcher back in IDLE
	}
	return lat, nil
}

func (b *bench) ws() error {
	script, err := writeFile(b.dir, "ws.lua", wsScript)
	if err != nil {
		return err
	}
	type shape struct{ accounts, folders int }
	for _, mode := range []struct{ name, label string }{{"idle", "IDLE per mailbox"}, {"notify", "NOTIFY per account"}} {
		base, err := b.watchScale(script, mode.name, 1, 1)
		if err != nil {
			return fmt.Errorf("%s, 1 mailbox: %v", mode.name, err)
		}
		for _, s := range []shape{{1, 1000}, {100, 10}} {
			f, err := b.watchScale(script, mode.name, s.accounts, s.folders)
			if err != nil {
				return fmt.Errorf("%s, %d accounts of %d: %v", mode.name, s.accounts, s.folders, err)
			}
			n := s.accounts * s.folders
			per := float64(f.rss-base.rss) / float64(n-1)
			row := watchFigure{"WS", "loopback", fmt.Sprintf("mailscript watch, %s, %d account(s) of %d folders", mode.label, s.accounts, s.folders), []string{
				strconv.Itoa(n), fmt.Sprintf("%.1f", f.connect.Seconds()), fmt.Sprintf("%.1f", float64(f.rss)/1024),
				fmt.Sprintf("%.1f", per), fmt.Sprintf("%.1f", float64(f.heap-base.heap)/float64(n-1)), fmt.Sprintf("%.2f", f.idleCPU*100)}}
			b.watch = append(b.watch, row)
			log("WS %s: connected in %s s, RSS %s MiB, %s KiB per mailbox (heap %s KiB), idle CPU %s%%", row.Tool, row.Cells[1], row.Cells[2], row.Cells[3], row.Cells[4], row.Cells[5])
		}
	}
	return nil
}

type scaleFigures struct {
	connect time.Duration
	rss     int64   // KiB, once every watcher is connected and idle
	heap    int64   // KiB of Go heap in use then
	idleCPU float64 // fraction of one core over the idle period
}

// wsIdle is how long the idle CPU is measured, wsSettle how long after
// the last watcher connected.
const wsIdle, wsSettle = 30 * time.Second, 90 * time.Second

// watchScale watches accounts×folders mailboxes, waits until every one
// is connected (the status endpoint's gauge), checks that new mail in
// the last folder of the last account is handled, and measures.
func (b *bench) watchScale(script, mode string, accounts, folders int) (scaleFigures, error) {
	var f scaleFigures
	b.users++
	prefix := fmt.Sprintf("ws%d", b.users)
	names := make([]string, folders)
	for i := range names {
		names[i] = fmt.Sprintf("F%04d", i+1)
	}
	for a := 1; a <= accounts; a++ {
		if err := b.namedUser(fmt.Sprintf("%s-%d", prefix, a), names); err != nil {
			return f, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return f, err
	}
	status := ln.Addr().String()
	ln.Close()
	env := b.env(dovecot.Addr(b.srv.IMAP), prefix,
		"B_ACCOUNTS="+strconv.Itoa(accounts), "B_FOLDERS="+strconv.Itoa(folders), "B_MODE="+mode,
		"XDG_STATE_HOME="+filepath.Join(b.dir, prefix+"-state"))
	w, err := startWatched(b.command(env, b.mailbin, "watch", "--status", status, script))
	if err != nil {
		return f, err
	}
	defer w.stop()
	start := time.Now()
	want := accounts * folders
	for {
		n, err := connectedGauge(status)
		if err == nil && n == want {
			break
		}
		if time.Since(start) > 5*time.Minute {
			return f, fmt.Errorf("%d of %d watchers connected after 5 minutes:\n%s", n, want, w.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	f.connect = time.Since(start)
	// every watcher works: mail in the last one is handled
	ctx := context.Background()
	user := fmt.Sprintf("%s-%d", prefix, accounts)
	c, err := imap.Dial(ctx, dovecot.Addr(b.srv.IMAP), &imap.Options{Timeout: time.Minute})
	if err != nil {
		return f, err
	}
	defer c.Logout(ctx)
	if _, err := c.Login(ctx, user, dovecot.Password); err != nil {
		return f, err
	}
	last := names[len(names)-1]
	_, au, err := c.Append(ctx, last, "", "", []byte("Subject: scale\r\n\r\nbody\r\n"))
	if err != nil || au == nil {
		return f, fmt.Errorf("append: %v", err)
	}
	if err := w.wait(fmt.Sprintf("%s %s %d", user, last, au.UID), time.Minute); err != nil {
		return f, err
	}
	// settle: the start's garbage is collected and returned to the
	// system in the background for a minute or so, which is not idling
	time.Sleep(wsSettle)
	pid := w.cmd.Process.Pid
	t0, c0 := time.Now(), cpuTicks(pid)
	time.Sleep(wsIdle)
	f.idleCPU = float64(cpuTicks(pid)-c0) / 100 / time.Since(t0).Seconds() // USER_HZ is 100 on Linux
	f.rss = vmRSS(pid)
	f.heap, err = heapInUse(status)
	return f, err
}

// namedUser makes user with empty folders (no messages).
func (b *bench) namedUser(user string, folders []string) error {
	ctx := context.Background()
	c, err := imap.Dial(ctx, dovecot.Addr(b.srv.IMAP), &imap.Options{Timeout: 5 * time.Minute})
	if err != nil {
		return err
	}
	defer c.Logout(ctx)
	if _, err := c.Login(ctx, user, dovecot.Password); err != nil {
		return err
	}
	cmds := make([]*imap.Command, len(folders))
	for i, f := range folders {
		cmds[i] = &imap.Command{Name: "CREATE", Args: []imap.Arg{imap.Mailbox(f)}}
	}
	return c.Execute(ctx, cmds...)
}

// connectedGauge sums mailscript_mailbox_connected from the status endpoint.
func connectedGauge(addr string) (int, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "mailscript_mailbox_connected{") && strings.HasSuffix(l, " 1") {
			n++
		}
	}
	return n, sc.Err()
}

// heapInUse is the Go heap in use (KiB) from the status endpoint.
func heapInUse(addr string) (int64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_heap_inuse_bytes "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			return n / 1024, err
		}
	}
	return 0, fmt.Errorf("no go_memstats_heap_inuse_bytes in /metrics")
}

// cpuTicks is a process's user+system time in clock ticks.
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// the fields after the command name, which may hold spaces
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}

// vmRSS is a process's resident set now (KiB).
func vmRSS(pid int) int64 {
	return statusField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
}

// writeWatch writes watch.md from the WL and WS figures of this run.
func (b *bench) writeWatch(dir string) error {
	if len(b.watch) == 0 {
		return nil
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# The watch service: latency and scale\n\nWritten by `go run ./bench` (workloads WL and WS; `--only WL` or `--only WS` runs one) on %s. Machine: %s.\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), machine())
	heads := map[string]string{
		"WL": fmt.Sprintf("\n## WL: APPEND to the handler's action\n\nThe harness appends a message, then waits for the watcher to report it flagged (the STORE confirmed by the server); %d samples per row, one message at a time. `10ms-rtt`: the watcher connects through the proxy adding 5 ms each way. Dovecot, unless the row says Cyrus (3.6): Dovecot tells an IDLE connection of new mail only after a delay of its own, 500 ms (MAILBOX_NOTIFY_DELAY_MSECS, compiled in; `mailscript watch` uses NOTIFY there, which comes about 100 ms sooner), Cyrus at once.\n\n| network | tool | samples | median (ms) | p90 (ms) | max (ms) |\n|---|---|---|---|---|---|\n", wlSamples),
		"WS": fmt.Sprintf("\n## WS: many mailboxes in one process\n\nOne `mailscript watch` process, in two modes: `mode = \"idle\"`, one IDLE connection per mailbox, and `mode = \"notify\"`, one NOTIFY connection per account (RFC 5465; what `auto` picks on Dovecot); each account has its own connection for the handlers besides. Dovecot sends IDLE keepalives at its default interval, 2 minutes. Per mailbox: (resident set − that of a process watching one mailbox) / (mailboxes − 1), once all are connected; the same for the Go heap in use (the rest of the resident set is garbage not yet returned to the system, stacks and the runtime). Idle CPU: the process's CPU time over %s with no mail arriving, from %s after the last watcher connected, as a share of one core. imapfilter cannot do this job (its enter_idle watches one mailbox at a time).\n\n| network | setup | mailboxes | all connected after (s) | RSS (MiB) | per mailbox (KiB) | heap per mailbox (KiB) | idle CPU (%%) |\n|---|---|---|---|---|---|---|---|\n", wsIdle, wsSettle),
	}
	sections := map[string]string{} // a workload not run this time keeps its section
	if old, err := os.ReadFile(filepath.Join(dir, "watch.md")); err == nil {
		for _, part := range strings.Split(string(old), "\n## ")[1:] {
			if w, _, ok := strings.Cut(part, ":"); ok {
				sections[w] = "\n## " + part
			}
		}
	}
	for _, w := range []string{"WL", "WS"} {
		var rows strings.Builder
		for _, r := range b.watch {
			if r.Workload == w {
				fmt.Fprintf(&rows, "| %s | %s | %s |\n", r.Network, r.Tool, strings.Join(r.Cells, " | "))
			}
		}
		if rows.Len() > 0 {
			sections[w] = heads[w] + rows.String()
		}
		md.WriteString(sections[w])
	}
	return os.WriteFile(filepath.Join(dir, "watch.md"), []byte(md.String()), 0o644)
}
