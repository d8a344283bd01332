//go:build linux

package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mailscript/mailscript/internal/limit"
	"github.com/mailscript/mailscript/stdlib"
)

// ErrIsolation is what an isolated run cannot do; errors.Is finds it in
// the error of a run refused for it.
var ErrIsolation = errors.New("isolation does not support this")

// isolateLimits are a run's limits as the parent enforces them: under
// Sandbox, zero means the default; a negative value (and zero outside
// the sandbox) means none, returned as 0.
func (o *Options) isolateLimits() (mem int64, wall time.Duration, out int64, conns int) {
	pick := func(v, def int64) int64 {
		switch {
		case v < 0:
			return 0
		case v == 0 && o.Sandbox:
			return def
		}
		return v
	}
	return pick(o.MaxMemory, 256<<20), time.Duration(pick(int64(o.WallTime), int64(60*time.Second))),
		pick(o.MaxOutput, 1<<20), int(pick(int64(o.MaxConnections), 8))
}

// none turns "no limit" (0) into the child's explicit "none" (-1).
func none[T int | int64 | time.Duration](v T) T {
	if v == 0 {
		return -1
	}
	return v
}

// runIsolated runs the script in a child process of this binary (see
// the package doc) and waits for it; every failure of the child ends as
// a *ScriptError.
func (rt *Runtime) runIsolated(ctx context.Context, name, src string, args []string) (*Result, error) {
	rt.mu.Lock()
	opts := rt.opts
	dial := rt.dialer()
	loaders, modules, values, refuse := rt.crossing()
	if opts.TLS != nil { // a CertPool cannot cross
		refuse = append(refuse, "Options.TLS (Runtime.SetNetwork)")
	}
	if opts.OAuth != nil { // the child holds no refresh tokens
		refuse = append(refuse, "Options.OAuth (OAuth accounts)")
	}
	pins := ""
	if opts.Pins != nil {
		pins = opts.Pins.File
	}
	rt.mu.Unlock()
	if len(refuse) > 0 {
		return nil, fmt.Errorf("%w: %s; run the script in process", ErrIsolation, strings.Join(refuse, ", "))
	}
	mem, wall, maxOut, maxConns := opts.isolateLimits()
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("isolate: %w", err)
	}
	hctx, hstop := ctx, func() {}
	if wall > 0 {
		hctx, hstop = context.WithTimeout(ctx, wall+killGrace)
	}
	defer hstop()
	b := &broker{opts: &opts, store: rt.store(), dial: dial, maxConns: maxConns, locks: map[int64]func(){},
		out: limitWriter{w: opts.Stdout, max: maxOut}, err: limitWriter{w: opts.Stderr, max: maxOut},
		host: newHostModules(hctx, loaders, &opts), run: newRunID()}
	b.audit = auditHook(opts.Audit, opts.AuditRun, b.run)
	defer b.host.close()
	// the child's own fd 1 (io.write outside the sandbox) is its stdout too
	p := &child{errDone: make(chan struct{}), exited: make(chan struct{})}
	b.p = p
	if err := p.start(exe, mem, wall, maxConns, writerFunc(func(d []byte) (int, error) {
		b.write(&wireMsg{Stream: 1, Data: d})
		return len(d), nil
	})); err != nil {
		return nil, err
	}
	defer p.cleanup()
	cg := newCgroup(mem)
	if cg != nil {
		if err := cg.add(p.cmd.Process.Pid); err != nil {
			opts.Logger.Debug("isolate: no cgroup", "err", err)
		}
		defer cg.remove()
	}
	defer b.unlockAll()

	// ctx and the wall time (with a grace: the child stops its script
	// itself first) kill the child
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		var timeout <-chan time.Time
		if wall > 0 {
			t := time.NewTimer(wall + killGrace)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-ctx.Done():
			p.kill("stopped: " + ctx.Err().Error())
		case <-timeout:
			p.kill("time")
		case <-p.exited:
		case <-stop:
		}
	}()
	go b.serveDials(ctx)

	run := &wireRun{Name: name, Src: src, Args: args, Opts: wireOpts{
		Sandbox: opts.Sandbox, DryRun: opts.DryRun, Getenv: opts.Getenv != nil,
		WallTime: none(wall), Timeout: opts.Timeout, MaxConnections: none(maxConns),
		MaxOutput: none(maxOut), MaxMemory: none(mem), RegistryMax: opts.RegistryMax, CallStackMax: opts.CallStackMax,
		AllowHosts: opts.AllowHosts, Tenant: opts.Tenant, Debug: opts.Debug, PinsFile: pins,
	}, Modules: modules, Values: values}
	var result *wireMsg
	if err := writeFrame(p.ctl, &wireMsg{Op: "run", Run: run}); err == nil {
		result = b.serve()
	}
	// the child exits after its result; one that does not is killed
	select {
	case <-p.exited:
	case <-time.After(2 * time.Second):
		p.kill("")
		<-p.exited
	}
	b.closeProxies()
	res, err := p.outcome(result, name, mem, wall, maxOut, maxConns, cg)
	if res != nil {
		res.Run = b.run
	}
	if result == nil {
		opts.Logger.Debug("isolated child died", "err", p.waitErr, "stderr", p.stderr.String())
	}
	return res, err
}

// child is a started child process and the parent's ends of its sockets.
type child struct {
	cmd     *exec.Cmd
	ctl     *net.UnixConn
	dial    *net.UnixConn
	stderr  bytes.Buffer // the head of what the Go runtime wrote: why it died
	errDone chan struct{}
	exited  chan struct{}
	waitErr error
	cpu     time.Duration
	why     atomic.Value // string: why the parent killed it
}

// killGrace is how long past its wall time a child may take to stop its
// script itself before the parent kills it.
const killGrace = time.Second

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// start starts the child process with its sockets.
func (p *child) start(exe string, mem int64, wall time.Duration, conns int, stdout io.Writer) error {
	ctlP, ctlC, err := socketPair(unix.SOCK_STREAM)
	if err != nil {
		return err
	}
	dialP, dialC, err := socketPair(unix.SOCK_SEQPACKET)
	if err != nil {
		ctlP.Close()
		ctlC.Close()
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		ctlP.Close()
		ctlC.Close()
		dialP.Close()
		dialC.Close()
		return err
	}
	var cpu int64
	if wall > 0 {
		cpu = int64((wall+5*time.Second)/time.Second) + 1
	}
	nofile := 64 + conns
	if conns == 0 {
		nofile = 1024
	}
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        []string{"mailscript-isolated"},
		Env:         childEnviron(fmt.Sprintf("%s=%d:%d:%d", childEnv, mem, cpu, nofile)),
		Dir:         "/",
		ExtraFiles:  []*os.File{ctlC, dialC},
		Stdout:      stdout,
		Stderr:      errW,
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true},
	}
	err = cmd.Start()
	ctlC.Close()
	dialC.Close()
	errW.Close()
	if err != nil {
		ctlP.Close()
		dialP.Close()
		errR.Close()
		return fmt.Errorf("isolate: start %s: %w", exe, err)
	}
	p.cmd = cmd
	var err1, err2 error
	p.ctl, err1 = fileConn(ctlP)
	p.dial, err2 = fileConn(dialP)
	if err := errors.Join(err1, err2); err != nil { // only when out of fds
		cmd.Process.Kill()
		cmd.Wait()
		errR.Close()
		if p.ctl != nil {
			p.ctl.Close()
		}
		if p.dial != nil {
			p.dial.Close()
		}
		return fmt.Errorf("isolate: %w", err)
	}
	go func() {
		io.Copy(&headWriter{&p.stderr, 8 << 10}, errR)
		errR.Close()
		close(p.errDone)
	}()
	go func() {
		p.waitErr = cmd.Wait()
		if ps := cmd.ProcessState; ps != nil {
			p.cpu = ps.UserTime() + ps.SystemTime()
		}
		close(p.exited)
	}()
	return nil
}

// childEnviron is the child's whole environment: its limits, and the
// host's TLS trust (SSL_CERT_FILE, SSL_CERT_DIR) so that the child
// verifies servers as the parent would.
func childEnviron(spec string) []string {
	env := []string{spec}
	for _, k := range []string{"SSL_CERT_FILE", "SSL_CERT_DIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func socketPair(typ int) (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("isolate: socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "isolate"), os.NewFile(uintptr(fds[1]), "isolate-child"), nil
}

func fileConn(f *os.File) (*net.UnixConn, error) {
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	return c.(*net.UnixConn), nil
}

// kill ends the child (once it has not exited yet), recording why.
func (p *child) kill(why string) {
	if why != "" {
		p.why.CompareAndSwap(nil, why)
	}
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Kill()
	}
}

func (p *child) cleanup() {
	p.kill("")
	<-p.exited
	p.ctl.Close()
	p.dial.Close()
	<-p.errDone
}

var stackRE = regexp.MustCompile(`goroutine stack exceeds (\d+)-byte limit`)

// outcome is the run's result, or why the child died, as a ScriptError.
func (p *child) outcome(result *wireMsg, name string, mem int64, wall time.Duration, maxOut int64, conns int, cg *cgroup) (*Result, error) {
	<-p.errDone
	why, _ := p.why.Load().(string)
	switch why {
	case "time":
		return nil, childLimitError("time", wall.String())
	case "output":
		return nil, childLimitError("output", limit.Bytes(maxOut))
	case "protocol":
		return nil, &ScriptError{Message: "script process died: it broke the isolation protocol"}
	}
	if msg, ok := strings.CutPrefix(why, "stopped: "); ok {
		return nil, &ScriptError{Message: "script stopped: " + msg}
	}
	if result != nil {
		res := &Result{Plan: result.Plan, Reports: result.Reports}
		if result.Fail != nil {
			return res, result.Fail.scriptError()
		}
		return res, nil
	}
	stderr := p.stderr.String()
	code := -1
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) {
		code = ee.ExitCode()
	}
	switch {
	case code == exitMemory, mem > 0 && strings.Contains(stderr, "out of memory"), cg != nil && cg.oomKilled():
		return nil, childLimitError("memory", limit.Bytes(mem))
	case code == exitCPU, wall > 0 && p.cpu >= wall+5*time.Second:
		return nil, childLimitError("time", wall.String())
	}
	if m := stackRE.FindStringSubmatch(stderr); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		return nil, childLimitError("stack", limit.Bytes(n))
	}
	msg := "script process died"
	if p.waitErr != nil {
		msg += ": " + p.waitErr.Error()
	} else {
		msg += " without a result"
	}
	if line := firstFatal(stderr); line != "" {
		msg += " (" + line + ")"
	}
	return nil, &ScriptError{Message: msg, File: name}
}

// firstFatal is the line of a Go crash that says what it was.
func firstFatal(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") || strings.HasPrefix(line, "mailscript: ") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// headWriter keeps the first max bytes written and drops the rest.
type headWriter struct {
	b   *bytes.Buffer
	max int
}

func (h *headWriter) Write(p []byte) (int, error) {
	if room := h.max - h.b.Len(); room > 0 {
		h.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// broker serves one child: its output, audit events, state calls and dials.
type broker struct {
	opts     *Options
	store    stdlib.Store // the run's: one per run under Sandbox with no Tenant
	p        *child
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	maxConns int
	conns    atomic.Int64
	outMu    sync.Mutex
	out, err limitWriter // stdout and stderr, sharing one count

	mu      sync.Mutex
	locks   map[int64]func()
	lockID  int64
	proxies []io.Closer

	host  *hostModules // the run's host modules, called from serve only
	run   string       // the run's id ([Result.Run])
	audit func(string, ...any)
}

// serve handles the child's frames until its result (returned) or its end.
func (b *broker) serve() *wireMsg {
	for {
		m, err := readFrame(b.p.ctl, maxChildFrame)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				b.p.kill("protocol")
			}
			return nil
		}
		switch m.Op {
		case "result":
			return m
		case "out":
			b.write(m)
		case "audit":
			if b.audit != nil {
				b.audit(m.Name, plainArgs(m.Args)...)
			}
		case "unlock":
			b.mu.Lock()
			unlock := b.locks[m.ID]
			delete(b.locks, m.ID)
			b.mu.Unlock()
			if unlock != nil {
				unlock()
			}
		case "getenv", "load", "save", "lock":
			if err := writeFrame(b.p.ctl, b.answer(m)); err != nil {
				return nil
			}
		case "require", "call":
			if err := writeFrame(b.p.ctl, b.host.answer(m)); err != nil {
				return nil
			}
		default:
			b.p.kill("protocol")
			return nil
		}
	}
}

// limitWriter fails once more than max bytes were written.
type limitWriter struct {
	w   io.Writer
	n   int64
	max int64
}

var errOutputLimit = errors.New("output limit reached")

func (l *limitWriter) Write(b []byte) (int, error) {
	if l.max > 0 && l.n+int64(len(b)) > l.max {
		return 0, errOutputLimit
	}
	l.n += int64(len(b))
	return l.w.Write(b)
}

// write passes the child's output on, within the output limit.
func (b *broker) write(m *wireMsg) {
	b.outMu.Lock()
	defer b.outMu.Unlock()
	var err error
	switch m.Stream {
	case 1:
		_, err = b.out.Write(m.Data)
	case 2:
		b.err.n = b.out.n
		_, err = b.err.Write(m.Data)
		b.out.n = b.err.n
	case 3:
		b.opts.Logger.Debug("isolated child: " + strings.TrimSpace(string(m.Data)))
	}
	if errors.Is(err, errOutputLimit) {
		b.p.kill("output")
	}
}

// answer runs a call of the child against the parent's resources.
func (b *broker) answer(m *wireMsg) *wireMsg {
	r := &wireMsg{Op: "reply"}
	fail := func(err error) *wireMsg {
		if err != nil {
			r.Err = err.Error()
		}
		return r
	}
	switch m.Op {
	case "getenv":
		if b.opts.Getenv != nil {
			r.Data = []byte(b.opts.Getenv(m.Name))
		}
	case "load":
		data, err := b.store.Load(m.Name)
		r.Data, r.Nil = data, data == nil
		return fail(err)
	case "save":
		return fail(b.store.Save(m.Name, m.Data))
	case "lock":
		unlock, err := b.store.Lock(m.Name)
		if err != nil {
			return fail(err)
		}
		b.mu.Lock()
		b.lockID++
		r.ID = b.lockID
		b.locks[r.ID] = unlock
		b.mu.Unlock()
	}
	return r
}

// unlockAll releases the locks a run still held when it ended.
func (b *broker) unlockAll() {
	b.mu.Lock()
	locks := b.locks
	b.locks = map[int64]func(){}
	b.mu.Unlock()
	for _, unlock := range locks {
		unlock()
	}
}

// plainArgs gives back integers that JSON made float64.
func plainArgs(args []any) []any {
	for i, a := range args {
		if f, ok := a.(float64); ok && f == float64(int64(f)) {
			args[i] = int(f)
		}
	}
	return args
}

// serveDials answers the child's dial requests until its socket closes.
func (b *broker) serveDials(ctx context.Context) {
	buf := make([]byte, 4096)
	for {
		n, err := b.p.dial.Read(buf)
		if err != nil {
			return
		}
		var req dialRequest
		if err := json.Unmarshal(buf[:n], &req); err != nil {
			b.p.kill("protocol")
			return
		}
		rep, conn := b.dialFor(ctx, req)
		b.handOver(rep, conn)
	}
}

func (b *broker) dialFor(ctx context.Context, req dialRequest) (dialReply, net.Conn) {
	rep := dialReply{ID: req.ID}
	switch req.Network {
	case "tcp", "tcp4", "tcp6":
	default:
		rep.Err = "dial " + req.Network + ": only tcp is brokered"
		return rep, nil
	}
	if n := b.conns.Add(1); b.maxConns > 0 && n > int64(b.maxConns) {
		rep.Limit, rep.Max = "connection", strconv.Itoa(b.maxConns)
		return rep, nil
	}
	timeout := b.opts.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dial := b.dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conn, err := dial(dctx, req.Network, req.Addr)
	if err != nil {
		var he *HostError
		if errors.As(err, &he) {
			rep.Host = he.Addr
		} else {
			rep.Err = err.Error()
		}
		return rep, nil
	}
	return rep, conn
}

// handOver sends the reply with the connection's socket; a connection
// without one (a TLS conn, net.Pipe) is relayed through a socketpair.
func (b *broker) handOver(rep dialReply, conn net.Conn) {
	msg, _ := json.Marshal(rep)
	if conn == nil {
		b.p.dial.Write(msg)
		return
	}
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			var werr error
			if err := raw.Control(func(fd uintptr) {
				_, _, werr = b.p.dial.WriteMsgUnix(msg, unix.UnixRights(int(fd)), nil)
			}); err == nil && werr == nil {
				return
			}
		}
	}
	mine, theirs, err := socketPair(unix.SOCK_STREAM)
	if err != nil {
		rep.Err = err.Error()
		msg, _ = json.Marshal(rep)
		b.p.dial.Write(msg)
		return
	}
	_, _, err = b.p.dial.WriteMsgUnix(msg, unix.UnixRights(int(theirs.Fd())), nil)
	theirs.Close()
	uc, ferr := fileConn(mine)
	if err != nil || ferr != nil {
		return
	}
	inner := conn
	conn = nil // the relay closes it
	b.mu.Lock()
	b.proxies = append(b.proxies, uc, inner)
	b.mu.Unlock()
	go func() {
		io.Copy(inner, uc)
		inner.Close()
	}()
	go func() {
		io.Copy(uc, inner)
		uc.CloseWrite()
	}()
}

func (b *broker) closeProxies() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.proxies {
		c.Close()
	}
	b.proxies = nil
}
