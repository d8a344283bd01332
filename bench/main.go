// Command bench compares mailscript with what users would pick instead —
// Python's imaplib and poplib, imapfilter, mbsync — and with a raw client
// that only sends pipelined commands and drains the replies (the server's
// floor), on a local Dovecot, directly on loopback and through a proxy
// adding 5 ms each way. It writes bench/results/latest.md, latest.json and
// latest.svg (the plot), and after a full run README.md's table.
//
//	go run ./bench            # full sizes, several runs each (tens of minutes)
//	go run ./bench --quick    # small sizes, one run: a smoke test
//	go run ./bench --readme   # the plot and README's table again, from latest.json
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/mailscript/mailscript/internal/dovecot"
	"github.com/mailscript/mailscript/internal/mailgen"
	"github.com/mailscript/mailscript/protocol/imap"
)

type sizes struct {
	W1, W2Small, W2, W3Small, W3, W4, W6Small, W6, Runs int
}

var (
	full  = sizes{W1: 10_000, W2Small: 10_000, W2: 50_000, W3Small: 10_000, W3: 50_000, W4: 5_000, W6Small: 10_000, W6: 100_000, Runs: 3}
	quick = sizes{W1: 500, W2Small: 500, W2: 2_500, W3Small: 500, W3: 2_500, W4: 300, W6Small: 500, W6: 5_000, Runs: 1}
)

// Result is one tool's figures on one workload and network, medians of its runs.
type Result struct {
	Workload, Network, Tool string
	Wall, CPU               float64 // seconds
	RSS                     int64   // peak, KiB
	Runs                    int
	Note                    string
}

type bench struct {
	sz        sizes
	dir       string
	srv       *dovecot.Server
	mailbin   string
	scripts   string
	results   []Result
	delayIMAP string // proxy addresses
	delayPOP3 string
	w1msgs    []mailgen.Message
	users     int
	only      string
	tools     []string // name filters (--tools)
	outDir    string
	watch     []watchFigure // WL and WS, for watch.md
	tty       bool          // stderr is a terminal: a progress line per workload
}

// wanted says whether --tools lets the named tool run.
func (b *bench) wanted(name string) bool {
	if len(b.tools) == 0 {
		return true
	}
	for _, t := range b.tools {
		if strings.Contains(name, t) {
			return true
		}
	}
	return false
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "raw" {
		os.Exit(rawMain(os.Args[2:]))
	}
	quickFlag := flag.Bool("quick", false, "small sizes and one run: a smoke test")
	noInstall := flag.Bool("no-install", false, "do not install missing peers with apt-get")
	only := flag.String("only", "", "run only workloads whose name starts with this (W1, W2, ...)")
	tools := flag.String("tools", "", "run only tools whose name contains one of these comma-separated words")
	out := flag.String("out", "", "write the results here instead of bench/results (for partial runs)")
	runs := flag.Int("runs", 0, "runs per tool (default 3, 1 with --quick)")
	readme := flag.Bool("readme", false, "only write latest.svg and README.md's table from latest.json (of --out, else bench/results)")
	flag.Parse()
	if *readme {
		root, err := repoRoot()
		dir := *out
		if dir == "" {
			dir = filepath.Join(root, "bench", "results")
		}
		if err == nil {
			err = writeReport(root, dir)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	b := &bench{sz: full, only: *only, outDir: *out, tty: isatty.IsTerminal(os.Stderr.Fd())}
	if *tools != "" {
		b.tools = strings.Split(*tools, ",")
	}
	if *quickFlag {
		b.sz = quick
	}
	if *runs > 0 {
		b.sz.Runs = *runs
	}
	if err := b.run(!*noInstall); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func (b *bench) run(install bool) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if install {
		if err := installPeers(); err != nil {
			return err
		}
	}
	b.dir, err = os.MkdirTemp("", "mailscript-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(b.dir)
	b.scripts = filepath.Join(root, "bench", "scripts")
	b.mailbin = filepath.Join(b.dir, "mailscript")
	log("building mailscript")
	build := exec.Command("go", "build", "-o", b.mailbin, "./cmd/mailscript")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // static, as README installs it
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	log("starting Dovecot")
	if b.srv, err = dovecot.StartWith(dovecot.Options{Connections: 1500, IdleNotify: 2 * time.Minute}); err != nil { // WS: 1,100 connections
		return err
	}
	defer b.srv.Stop()
	if b.delayIMAP, err = delayProxy(dovecot.Addr(b.srv.IMAP), 5*time.Millisecond); err != nil {
		return err
	}
	if b.delayPOP3, err = delayProxy(dovecot.Addr(b.srv.POP3), 5*time.Millisecond); err != nil {
		return err
	}
	start := time.Now()
	for _, w := range b.workloads() {
		if b.only != "" && !strings.HasPrefix(w.name, b.only) {
			continue
		}
		if err := w.fn(); err != nil {
			return fmt.Errorf("%s: %v", w.name, err)
		}
	}
	return b.write(root, time.Since(start))
}

type workload struct {
	name string
	fn   func() error
}

// workloads are what a full run runs, in order; a new one is one line here.
func (b *bench) workloads() []workload {
	return []workload{
		{"W1", b.w1},
		{"W2", b.w2},
		{"W3", b.w3},
		{"W4", b.w4},
		{"W5", b.w5},
		{"W6", b.w6},
		{"P", b.parser},
		{"S1", b.s1},
		{"WL", b.wl},
		{"WS", b.ws},
	}
}

// progress rewrites the terminal's progress line (stderr, only on a tty).
func (b *bench) progress(format string, args ...any) {
	if b.tty {
		fmt.Fprintf(os.Stderr, "\r\033[K%s", fmt.Sprintf(format, args...))
	}
}

func log(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

func installPeers() error {
	var missing []string
	for bin, pkg := range map[string]string{"imapfilter": "imapfilter", "mbsync": "isync", "python3": "python3"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, pkg)
		}
	}
	if _, err := exec.LookPath("dovecot"); err != nil {
		if _, err := os.Stat("/usr/sbin/dovecot"); err != nil {
			missing = append(missing, "dovecot-imapd", "dovecot-pop3d")
		}
	}
	if len(missing) == 0 {
		return nil
	}
	log("installing %v", missing)
	for _, args := range [][]string{{"update", "-q"}, append([]string{"install", "-y", "-q"}, missing...)} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %v: %v\n%s", args, err, out)
		}
	}
	return nil
}

// user makes a fresh Dovecot user holding msgs in INBOX plus the given
// empty folders, with the index built before anything is timed.
func (b *bench) user(prefix string, msgs []mailgen.Message, folders ...string) (string, error) {
	b.users++
	name := fmt.Sprintf("%s-%d", prefix, b.users)
	md, err := b.srv.Maildir(name)
	if err != nil {
		return "", err
	}
	if err := mailgen.WriteMessages(md, msgs, 0, 1, b.srv.Chown); err != nil {
		return "", err
	}
	ctx := context.Background()
	c, err := imap.Dial(ctx, dovecot.Addr(b.srv.IMAP), &imap.Options{Timeout: 5 * time.Minute})
	if err != nil {
		return "", err
	}
	defer c.Logout(ctx)
	if _, err := c.Login(ctx, name, dovecot.Password); err != nil {
		return "", err
	}
	for _, f := range folders {
		c.Create(ctx, f)
	}
	if _, _, err := c.Select(ctx, "INBOX", true); err != nil {
		return "", err
	}
	if _, _, err := c.Fetch(ctx, "1:*", "(FLAGS ENVELOPE RFC822.SIZE)", false); err != nil && len(msgs) > 0 {
		return "", err
	}
	return name, nil
}

func messages(seed uint64, n int) []mailgen.Message {
	g := mailgen.New(seed)
	out := make([]mailgen.Message, n)
	for i := range out {
		out[i] = g.Message(i)
	}
	return out
}

// tool is one way to run a workload.
type tool struct {
	name string
	cmd  func(env []string) *exec.Cmd
}

// mailscript runs a script; with BENCH_PROFILE_DIR set, each writes a
// CPU profile there (the last run's), for `go tool pprof`.
func (b *bench) mailscript(script string) func([]string) *exec.Cmd {
	return func(env []string) *exec.Cmd {
		if dir := os.Getenv("BENCH_PROFILE_DIR"); dir != "" {
			env = append(env, "MAILSCRIPT_CPUPROFILE="+filepath.Join(dir, strings.TrimSuffix(script, ".lua")+".prof"))
		}
		return b.command(env, b.mailbin, "run", filepath.Join(b.scripts, script))
	}
}

// mailscriptIsolated runs a script as an untrusted one: --sandbox, so in
// a child process of its own, dialling only the benchmark's host (through
// the parent) and reading only its B_ variables.
// mailscriptSandbox runs script under --sandbox (the env the harness
// passes let through), isolated in a child or in process.
func (b *bench) mailscriptSandbox(script string, isolated bool) func([]string) *exec.Cmd {
	return func(env []string) *exec.Cmd {
		args := []string{"run", "--sandbox", "--allow-host", "127.0.0.1"}
		if !isolated {
			args = append(args, "--in-process")
		}
		for _, v := range []string{"B_HOST", "B_PORT", "B_USER", "B_PASSWORD"} {
			args = append(args, "--env", v)
		}
		return b.command(env, b.mailbin, append(args, filepath.Join(b.scripts, script))...)
	}
}

func (b *bench) python(script string) func([]string) *exec.Cmd {
	return func(env []string) *exec.Cmd { return b.command(env, "python3", filepath.Join(b.scripts, script)) }
}

func (b *bench) command(env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = b.dir
	return cmd
}

func (b *bench) self(args ...string) func([]string) *exec.Cmd {
	exe, _ := os.Executable()
	return func(env []string) *exec.Cmd { return b.command(env, exe, append([]string{"raw"}, args...)...) }
}

// measure runs cmd and returns wall, CPU seconds and peak RSS (KiB). The
// peak is the child's own VmHWM, sampled from /proc while it runs: Go
// starts children with vfork, so rusage's maxrss would count this
// harness's memory too.
func measure(cmd *exec.Cmd) (float64, float64, int64, string, error) {
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, 0, "", err
	}
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		for {
			if kb := vmHWM(status); kb > peak.Load() {
				peak.Store(kb)
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	wall := time.Since(start).Seconds()
	if err != nil {
		return 0, 0, 0, out.String(), fmt.Errorf("%s: %v\n%s", cmd.Path, err, out.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	return wall, cpu, peak.Load(), out.String(), nil
}

// vmHWM reads a process's peak resident set (KiB) from its status file.
func vmHWM(path string) int64 { return statusField(path, "VmHWM:") }

// statusField reads a figure (KiB) of a /proc status file.
func statusField(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// runAll runs each tool runs times, alternating tools, prepare giving
// each run its environment (a fresh mailbox where the work changes it)
// and check confirming the work was done.
func (b *bench) runAll(workload, network string, tools []tool, runs int, prepare func(t tool) ([]string, error), check func(t tool, env []string, out string) error) error {
	walls := map[string][]float64{}
	cpus := map[string][]float64{}
	rss := map[string][]float64{}
	notes := map[string]string{}
	total, done := 0, 0
	for _, t := range tools {
		if b.wanted(t.name) {
			total += runs
		}
	}
	began := time.Now()
	for r := 0; r < runs; r++ {
		for _, t := range tools {
			if !b.wanted(t.name) {
				continue
			}
			b.progress("%s, %s: run %d/%d, %s (%.0f s)", workload, network, done+1, total, t.name, time.Since(began).Seconds())
			done++
			env, err := prepare(t)
			if err != nil {
				return err
			}
			wall, cpu, peak, out, err := measure(t.cmd(env))
			if err != nil {
				return fmt.Errorf("%s %s %s: %v", workload, network, t.name, err)
			}
			if check != nil {
				if err := check(t, env, out); err != nil {
					notes[t.name] = err.Error()
				}
			}
			walls[t.name] = append(walls[t.name], wall)
			cpus[t.name] = append(cpus[t.name], cpu)
			rss[t.name] = append(rss[t.name], float64(peak))
			if !b.tty {
				log("%s %-9s %-22s run %d: %.3f s wall, %.3f s CPU, %d MiB", workload, network, t.name, r+1, wall, cpu, peak/1024)
			}
		}
	}
	if b.tty {
		fmt.Fprintf(os.Stderr, "\r\033[K%s %s, %s: %d runs in %.1f s\n", time.Now().Format("15:04:05"), workload, network, total, time.Since(began).Seconds())
	}
	for _, t := range tools {
		if !b.wanted(t.name) {
			continue
		}
		b.results = append(b.results, Result{Workload: workload, Network: network, Tool: t.name,
			Wall: median(walls[t.name]), CPU: median(cpus[t.name]), RSS: int64(median(rss[t.name])), Runs: runs, Note: notes[t.name]})
	}
	return nil
}

func (b *bench) env(addr, user string, extra ...string) []string {
	host, port, _ := net.SplitHostPort(addr)
	return append([]string{"B_HOST=" + host, "B_PORT=" + port, "B_USER=" + user, "B_PASSWORD=" + dovecot.Password}, extra...)
}

func (b *bench) networks() []struct{ name, imap, pop3 string } {
	return []struct{ name, imap, pop3 string }{
		{"loopback", dovecot.Addr(b.srv.IMAP), dovecot.Addr(b.srv.POP3)},
		{"10ms-rtt", b.delayIMAP, b.delayPOP3},
	}
}

// w1 is the triage workload.
func (b *bench) w1() error {
	msgs := messages(10, b.sz.W1)
	plan := w1Plan(msgs)
	log("W1: %d messages, %d unseen, %d to move, %d to flag", len(msgs), len(plan.unseen), len(plan.lists)+len(plan.news)+len(plan.receipts), len(plan.vip))
	planFile := filepath.Join(b.dir, "w1plan.json")
	pb, _ := json.Marshal(plan.export())
	os.WriteFile(planFile, pb, 0o600)
	imapfilterCfg := filepath.Join(b.scripts, "w1_imapfilter.lua")
	tools := []tool{
		{"mailscript (library)", b.mailscript("w1_stdlib.lua")},
		{"mailscript (library, isolated)", b.mailscriptSandbox("w1_stdlib.lua", true)},
		{"mailscript (library, sandbox in process)", b.mailscriptSandbox("w1_stdlib.lua", false)},
		{"mailscript (imap module)", b.mailscript("w1_lowlevel.lua")},
		{"Python imaplib", b.python("w1_imaplib.py")},
		{"imapfilter", func(env []string) *exec.Cmd { return b.command(env, "imapfilter", "-c", imapfilterCfg) }},
		{"raw pipelined floor", b.self("w1", planFile)},
	}
	for _, nw := range b.networks() {
		var user string
		err := b.runAll("W1 triage", nw.name, tools, b.sz.Runs, func(tool) ([]string, error) {
			var err error
			user, err = b.user("w1", msgs, "Lists", "Newsletters", "Receipts")
			return b.env(nw.imap, user), err
		}, func(t tool, env []string, _ string) error {
			return b.checkW1(user, plan)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

type w1plan struct {
	unseen, vip, lists, news, receipts []uint32
}

func (p w1plan) export() map[string]string {
	return map[string]string{"unseen": seqSet(p.unseen), "vip": seqSet(p.vip), "Lists": seqSet(p.lists),
		"Newsletters": seqSet(p.news), "Receipts": seqSet(p.receipts)}
}

// w1Plan classifies as every W1 script does; UID i+1 is message i.
func w1Plan(msgs []mailgen.Message) w1plan {
	var p w1plan
	for i, m := range msgs {
		if m.Seen {
			continue
		}
		uid := uint32(i + 1)
		p.unseen = append(p.unseen, uid)
		if strings.Contains(m.From, "corp.example") {
			p.vip = append(p.vip, uid)
		}
		switch {
		case strings.Contains(m.ListID, "golang") || strings.Contains(m.ListID, "dovecot"):
			p.lists = append(p.lists, uid)
		case strings.Contains(m.From, "shop.example"):
			p.news = append(p.news, uid)
		case strings.Contains(m.Subject, "invoice") || strings.Contains(m.Subject, "order"):
			p.receipts = append(p.receipts, uid)
		}
	}
	return p
}

func seqSet(uids []uint32) string {
	var b strings.Builder
	for i := 0; i < len(uids); {
		j := i
		for j+1 < len(uids) && uids[j+1] == uids[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(uids[i])))
		if j > i {
			b.WriteString(":" + strconv.Itoa(int(uids[j])))
		}
		i = j + 1
	}
	return b.String()
}

// checkW1 confirms a run moved and flagged what the plan says.
func (b *bench) checkW1(user string, p w1plan) error {
	ctx := context.Background()
	c, err := imap.Dial(ctx, dovecot.Addr(b.srv.IMAP), &imap.Options{Timeout: time.Minute})
	if err != nil {
		return err
	}
	defer c.Logout(ctx)
	c.Login(ctx, user, dovecot.Password)
	for name, want := range map[string]int{"Lists": len(p.lists), "Newsletters": len(p.news), "Receipts": len(p.receipts)} {
		_, st, err := c.Status(ctx, name, "(MESSAGES)")
		if err != nil {
			return err
		}
		if int(st.Messages) != want {
			return fmt.Errorf("%s holds %d, want %d", name, st.Messages, want)
		}
	}
	return nil
}

func (b *bench) w2() error {
	for _, n := range []int{b.sz.W2Small, b.sz.W2} {
		msgs := messages(20, n)
		user, err := b.user("w2", msgs)
		if err != nil {
			return err
		}
		tools := []tool{
			{"mailscript (library)", b.mailscript("w2_mailscript.lua")},
			{"Python imaplib", b.python("w2_imaplib.py")},
			{"raw drain", b.self("w2")},
		}
		for _, nw := range b.networks() {
			name := fmt.Sprintf("W2 header scan %dk", n/1000)
			if n < 1000 {
				name = fmt.Sprintf("W2 header scan %d", n)
			}
			err := b.runAll(name, nw.name, tools, b.sz.Runs, func(tool) ([]string, error) {
				return b.env(nw.imap, user), nil
			}, func(t tool, _ []string, out string) error {
				if strings.HasPrefix(t.name, "mailscript") && !strings.HasPrefix(strings.TrimSpace(out), strconv.Itoa(n)) {
					return fmt.Errorf("read %q, want %d messages", strings.TrimSpace(out), n)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *bench) w3() error {
	for _, n := range []int{b.sz.W3Small, b.sz.W3} {
		msgs := messages(30, n)
		user, err := b.user("w3", msgs)
		if err != nil {
			return err
		}
		outDir := func() (string, error) {
			d, err := os.MkdirTemp(b.dir, "maildir-")
			if err != nil {
				return "", err
			}
			for _, s := range []string{"cur", "new", "tmp"} {
				os.MkdirAll(filepath.Join(d, s), 0o700)
			}
			return d, nil
		}
		mbsync := func(env []string) *exec.Cmd {
			var out, host, port string
			for _, e := range env {
				k, v, _ := strings.Cut(e, "=")
				switch k {
				case "B_OUT":
					out = v
				case "B_HOST":
					host = v
				case "B_PORT":
					port = v
				}
			}
			cfg := filepath.Join(out, "mbsyncrc")
			os.WriteFile(cfg, []byte(fmt.Sprintf(`IMAPAccount bench
Host %s
Port %s
User %s
Pass %s
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path %s/
Inbox %s/inbox

Channel bench
Far :remote:INBOX
Near :local:INBOX
Sync Pull
Create Near
SyncState *
`, host, port, user, dovecot.Password, out, out)), 0o600)
			return b.command(env, "mbsync", "-q", "-c", cfg, "bench")
		}
		tools := []tool{
			{"mailscript (library)", b.mailscript("w3_mailscript.lua")},
			{"Python imaplib", b.python("w3_imaplib.py")},
			{"mbsync", mbsync},
			{"raw download floor", b.self("w3")},
		}
		total := 0
		for _, m := range msgs {
			total += len(m.Raw)
		}
		for _, nw := range b.networks() {
			name := fmt.Sprintf("W3 download %dk", n/1000)
			if n < 1000 {
				name = fmt.Sprintf("W3 download %d", n)
			}
			defer b.throughput(name, nw.name, total)
			err := b.runAll(name, nw.name, tools, b.sz.Runs, func(tool) ([]string, error) {
				// the last run's files and removals written back now, not charged to this run
				syscall.Sync()
				d, err := outDir()
				return b.env(nw.imap, user, "B_OUT="+d), err
			}, func(t tool, env []string, _ string) error {
				for _, e := range env {
					if d, ok := strings.CutPrefix(e, "B_OUT="); ok {
						files, _ := filepath.Glob(filepath.Join(d, "*", "*"))
						inbox, _ := filepath.Glob(filepath.Join(d, "inbox", "*", "*"))
						if got := len(files) + len(inbox) - 1; got < n && len(files)+len(inbox) < n {
							return fmt.Errorf("wrote %d files, want %d", got, n)
						}
						os.RemoveAll(d)
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// throughput notes the write throughput of each tool on a download.
func (b *bench) throughput(workload, network string, bytes int) {
	for i := range b.results {
		r := &b.results[i]
		if r.Workload == workload && r.Network == network && r.Wall > 0 {
			note := fmt.Sprintf("%.0f MB/s", float64(bytes)/1e6/r.Wall)
			if r.Note != "" {
				note += "; " + r.Note
			}
			r.Note = note
		}
	}
}

func (b *bench) w4() error {
	msgs := messages(40, b.sz.W4)
	user, err := b.user("w4", msgs)
	if err != nil {
		return err
	}
	tools := []tool{
		{"mailscript (library)", b.mailscript("w4_library.lua")},
		{"mailscript (pop3 module)", b.mailscript("w4_mailscript.lua")},
		{"Python poplib", b.python("w4_poplib.py")},
	}
	for _, nw := range b.networks() {
		err := b.runAll("W4 POP3 retrieve", nw.name, tools, b.sz.Runs, func(tool) ([]string, error) {
			return b.env(nw.pop3, user), nil
		}, nil)
		if err != nil {
			return err
		}
	}
	return nil
}

// goBench runs go test benchmarks and returns ns/op by name.
func goBench(pkg, pattern, benchtime string) (map[string]float64, error) {
	root, _ := repoRoot()
	cmd := exec.Command("go", "test", "-run", "XXX", "-bench", pattern, "-benchtime", benchtime, "-benchmem", pkg)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%v\n%s", err, out)
	}
	res := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 4 && strings.HasPrefix(f[0], "Benchmark") && f[3] == "ns/op" {
			v, _ := strconv.ParseFloat(f[2], 64)
			name := strings.TrimPrefix(f[0], "Benchmark")
			if i := strings.LastIndexByte(name, '-'); i > 0 {
				name = name[:i]
			}
			res[name] = v
			for i := 4; i+1 < len(f); i += 2 {
				if f[i+1] == "MB/s" || f[i+1] == "allocs/op" || f[i+1] == "B/op" {
					v, _ := strconv.ParseFloat(f[i], 64)
					res[name+" "+f[i+1]] = v
				}
			}
		}
	}
	return res, nil
}

func (b *bench) w5() error {
	n := "300x"
	if b.sz.Runs == 1 {
		n = "50x"
	}
	cold, err := goBench("./cmd/mailscript", "ColdStart", n)
	if err != nil {
		return err
	}
	call, err := goBench("./runtime", "BindingCall|EmptyGoFunction", "2000000x")
	if err != nil {
		return err
	}
	var py []float64
	for i := 0; i < 20; i++ {
		start := time.Now()
		exec.Command("python3", "-c", "pass").Run()
		py = append(py, time.Since(start).Seconds())
	}
	b.results = append(b.results,
		Result{Workload: "W5 cold start", Network: "-", Tool: "mailscript run (empty script)", Wall: cold["ColdStartEmptyScript"] / 1e9},
		Result{Workload: "W5 cold start", Network: "-", Tool: "Go hello-world binary", Wall: cold["ColdStartGoHelloWorld"] / 1e9},
		Result{Workload: "W5 cold start", Network: "-", Tool: "python3 -c pass", Wall: median(py)},
		Result{Workload: "W5 per call", Network: "-", Tool: "binding method (imap.Int2AP)", Wall: call["BindingCall"] / 1e9},
		Result{Workload: "W5 per call", Network: "-", Tool: "empty Go function", Wall: call["EmptyGoFunction"] / 1e9},
	)
	return nil
}

func (b *bench) parser() error {
	res, err := goBench("./protocol/imap", "ReadFetch|DecodeFetch|DecodeEnvelopeOnly", "20000x")
	if err != nil {
		return err
	}
	for _, name := range []string{"ReadFetch", "DecodeFetch", "DecodeEnvelopeOnly"} {
		b.results = append(b.results, Result{Workload: "Parser", Network: "-", Tool: name, Wall: res[name] / 1e9,
			Note: fmt.Sprintf("%.0f MB/s, %.0f allocs per response", res[name+" MB/s"], res[name+" allocs/op"])})
	}
	return nil
}

func (b *bench) find(workload, network, tool string) *Result {
	for i := range b.results {
		r := &b.results[i]
		if strings.HasPrefix(r.Workload, workload) && r.Network == network && r.Tool == tool {
			return r
		}
	}
	return nil
}

func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		mem = strings.Fields(strings.SplitN(string(b), "\n", 2)[0])[1] + " kB"
	}
	version := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			return name + " (not found)"
		}
		return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	return fmt.Sprintf("%d cores (%s), %s memory, %s; Dovecot %s; %s; imapfilter %s; %s",
		runtime.NumCPU(), cpu, mem, runtime.Version(), version("dovecot", "--version"), version("python3", "--version"),
		version("imapfilter", "-V"), version("mbsync", "-v"))
}

func (b *bench) write(root string, took time.Duration) error {
	dir := filepath.Join(root, "bench", "results")
	if b.outDir != "" {
		dir = b.outDir
	}
	os.MkdirAll(dir, 0o755)
	if err := b.writeWatch(dir); err != nil {
		return err
	}
	if len(b.results) == 0 { // only WL or WS ran
		return nil
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# Benchmarks\n\nRun %s with `go run ./bench%s` in %s.\n\nMachine: %s.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), map[bool]string{true: " --quick", false: ""}[b.sz.Runs == 1], took.Round(time.Second), machine())
	fmt.Fprintf(&md, "Each figure is the median of %d run(s); tools alternate; every W1 run gets a freshly seeded mailbox and is checked afterwards. "+
		"`10ms-rtt` runs go through a proxy adding 5 ms each way. Ratios are the tool's wall time over mailscript's in the same table (below 1: faster than mailscript).\n\n", b.sz.Runs)
	var cur string
	for _, r := range b.results {
		key := r.Workload + " / " + r.Network
		if key != cur {
			cur = key
			fmt.Fprintf(&md, "\n### %s", r.Workload)
			if r.Network != "-" {
				fmt.Fprintf(&md, " — %s", r.Network)
			}
			md.WriteString("\n\n| tool | wall (s) | CPU (s) | peak RSS (MiB) | vs mailscript | note |\n|---|---|---|---|---|---|\n")
		}
		ratio := ""
		if base := b.baseline(r); base != nil && base.Wall > 0 {
			ratio = fmt.Sprintf("%.2fx", r.Wall/base.Wall)
		}
		rss := ""
		if r.RSS > 0 {
			rss = fmt.Sprintf("%.1f", float64(r.RSS)/1024)
		}
		wall := fmt.Sprintf("%.3f", r.Wall)
		if r.Wall < 0.001 {
			wall = fmt.Sprintf("%.1f µs", r.Wall*1e6)
		}
		fmt.Fprintf(&md, "| %s | %s | %s | %s | %s | %s |\n", r.Tool, wall, fmtCPU(r.CPU), rss, ratio, r.Note)
	}
	md.WriteString("\n## Targets\n\n")
	for _, line := range b.targets() {
		md.WriteString("- " + line + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	raw, _ := json.MarshalIndent(b.results, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "latest.json"), raw, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.svg"), []byte(svgPlot(b.results)), 0o644); err != nil {
		return err
	}
	if b.outDir == "" && b.sz != quick && b.only == "" && len(b.tools) == 0 { // a full run: the README shows it
		if err := writeReport(root, dir); err != nil {
			return err
		}
	}
	io.WriteString(os.Stdout, md.String())
	return nil
}

func fmtCPU(c float64) string {
	if c == 0 {
		return ""
	}
	return fmt.Sprintf("%.3f", c)
}

// baseline is the mailscript row a result is compared with.
func (b *bench) baseline(r Result) *Result {
	for _, name := range []string{"mailscript (library)", "mailscript", "mailscript run (empty script)", "binding method (imap.Int2AP)", "mailscript sieve run"} {
		if x := b.find(r.Workload, r.Network, name); x != nil {
			return x
		}
	}
	return nil
}

// targets states each target of the benchmark issue as met or missed.
func (b *bench) targets() []string {
	var out []string
	ratio := func(w, n, num, den string) (float64, bool) {
		a, c := b.find(w, n, num), b.find(w, n, den)
		if a == nil || c == nil || c.Wall == 0 {
			return 0, false
		}
		return a.Wall / c.Wall, true
	}
	check := func(desc string, v float64, ok bool, want float64, atMost bool) {
		if !ok {
			out = append(out, desc+": not measured")
			return
		}
		met := v <= want
		if !atMost {
			met = v >= want
		}
		out = append(out, fmt.Sprintf("%s: %.2fx (target %s %sx) — %s", desc, v, map[bool]string{true: "≤", false: "≥"}[atMost], strconv.FormatFloat(want, 'f', -1, 64), map[bool]string{true: "met", false: "missed"}[met]))
	}
	v, ok := ratio("W1", "loopback", "mailscript (library)", "raw pipelined floor")
	check("W1 library vs raw floor, loopback", v, ok, 1.2, true)
	v, ok = ratio("W1", "10ms-rtt", "mailscript (library)", "raw pipelined floor")
	check("W1 library vs raw floor, 10 ms", v, ok, 1.3, true)
	v, ok = ratio("W1", "loopback", "mailscript (library, isolated)", "mailscript (library)")
	check("W1 library isolated vs in process, loopback", v, ok, 1.1, true)
	v, ok = ratio("W1", "10ms-rtt", "mailscript (library, isolated)", "mailscript (library)")
	check("W1 library isolated vs in process, 10 ms", v, ok, 1.1, true)
	// the cost of the child alone: the same sandbox and limits in process
	v, ok = ratio("W1", "loopback", "mailscript (library, isolated)", "mailscript (library, sandbox in process)")
	check("W1 library isolated vs sandboxed in process, loopback", v, ok, 1.1, true)
	v, ok = ratio("W1", "10ms-rtt", "mailscript (library, isolated)", "mailscript (library, sandbox in process)")
	check("W1 library isolated vs sandboxed in process, 10 ms", v, ok, 1.1, true)
	v, ok = ratio("W1", "10ms-rtt", "Python imaplib", "mailscript (library)")
	check("W1 library speed-up over imaplib, 10 ms", v, ok, 1.8, false)
	v, ok = ratio("W1", "10ms-rtt", "imapfilter", "mailscript (library)")
	check("W1 library speed-up over imapfilter, 10 ms", v, ok, 50, false)
	v, ok = ratio("W1", "loopback", "Python imaplib", "mailscript (imap module)")
	check("W1 imap module speed-up over imaplib, loopback", v, ok, 1.6, false)
	v, ok = ratio("W1", "10ms-rtt", "Python imaplib", "mailscript (imap module)")
	check("W1 imap module speed-up over imaplib, 10 ms", v, ok, 1.3, false)
	for _, n := range []string{"loopback", "10ms-rtt"} {
		for _, r := range b.results {
			if strings.HasPrefix(r.Workload, "W2") && r.Network == n && r.Tool == "mailscript (library)" {
				raw := b.find(r.Workload, n, "raw drain")
				if raw != nil {
					check(r.Workload+" vs raw drain, "+n, r.Wall/raw.Wall, true, 1.2, true)
				}
			}
		}
	}
	rssRatio := func(prefix string) {
		var small, big *Result
		for i := range b.results {
			r := &b.results[i]
			if strings.HasPrefix(r.Workload, prefix) && r.Network == "loopback" && r.Tool == "mailscript (library)" {
				if small == nil {
					small = r
				} else {
					big = r
				}
			}
		}
		if small != nil && big != nil && small.RSS > 0 {
			check(prefix+" peak RSS, large vs small mailbox", float64(big.RSS)/float64(small.RSS), true, 1.3, true)
		}
	}
	rssRatio("W2")
	rssRatio("W3")
	v, ok = ratio("W4", "loopback", "Python poplib", "mailscript (library)")
	check("W4 library speed-up over poplib, loopback", v, ok, 2, false)
	v, ok = ratio("W4", "10ms-rtt", "Python poplib", "mailscript (library)")
	check("W4 library speed-up over poplib, 10 ms", v, ok, 20, false)
	for _, n := range []string{"loopback", "10ms-rtt"} {
		for _, r := range b.results {
			if strings.HasPrefix(r.Workload, "W3") && r.Network == n && r.Tool == "mailscript (library)" {
				if raw := b.find(r.Workload, n, "raw download floor"); raw != nil && raw.Wall > 0 {
					check(r.Workload+" library vs raw floor, "+n, r.Wall/raw.Wall, true, 1.3, true)
				}
			}
		}
	}
	b.growthTargets(check)
	v, ok = ratio("W5 cold", "-", "mailscript run (empty script)", "Go hello-world binary")
	check("W5 cold start vs Go hello-world", v, ok, 3, true)
	v, ok = ratio("W5 per", "-", "binding method (imap.Int2AP)", "empty Go function")
	check("W5 per-call cost vs empty Go function", v, ok, 2, true)
	return out
}
