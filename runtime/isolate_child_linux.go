//go:build linux

package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	goruntime "runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mailscript/mailscript/internal/limit"
	"github.com/mailscript/mailscript/trust"
)

// childEnv, set in an isolated child's otherwise empty environment,
// makes this package's init run the child instead of the program. Its
// value is the limits: "MAXMEMORY:CPUSECONDS:NOFILE".
const childEnv = "MAILSCRIPT_ISOLATED_CHILD"

// Exit codes by which a child tells the parent which limit it hit.
const (
	exitMemory = 86
	exitCPU    = 87
	exitSetup  = 88
)

// childHook, set by this package's tests only, adds probes to a child's runtime.
var childHook func(*Runtime)

func init() {
	if spec, ok := os.LookupEnv(childEnv); ok {
		os.Exit(childMain(spec))
	}
}

// childMain limits this process, reads the run from fd 3, runs it and
// sends the result.
func childMain(spec string) int {
	var mem, cpu, nofile int64
	if _, err := fmt.Sscanf(spec, "%d:%d:%d", &mem, &cpu, &nofile); err != nil {
		fmt.Fprintln(os.Stderr, "mailscript: bad isolation spec:", err)
		return exitSetup
	}
	notes := applyChildLimits(mem, cpu, nofile)
	ctl := os.NewFile(3, "control")
	dial := os.NewFile(4, "dial")
	dc, err := net.FileConn(dial)
	dial.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mailscript: dial socket:", err)
		return exitSetup
	}
	c := &childConn{w: ctl, r: bufio.NewReader(ctl), dial: dc.(*net.UnixConn)}
	m, err := readFrame(c.r, 1<<30)
	if err != nil || m.Op != "run" || m.Run == nil {
		fmt.Fprintln(os.Stderr, "mailscript: no run from the parent:", err)
		return exitSetup
	}
	run := m.Run
	o := run.Opts
	opts := Options{
		Sandbox: o.Sandbox, DryRun: o.DryRun, WallTime: o.WallTime, Timeout: o.Timeout,
		MaxConnections: o.MaxConnections, MaxOutput: o.MaxOutput, MaxMemory: o.MaxMemory,
		RegistryMax: o.RegistryMax, CallStackMax: o.CallStackMax, AllowHosts: o.AllowHosts,
		Tenant: o.Tenant, Debug: o.Debug,
		Stdout: &frameWriter{c, 1}, Stderr: &frameWriter{c, 2},
		Logger: slog.New(slog.NewTextHandler(&frameWriter{c, 3}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Dial:   c.brokerDial, Audit: c.audit, State: &remoteStore{c},
	}
	if o.Getenv {
		opts.Getenv = c.getenv
	}
	if o.PinsFile != "" { // pins are checked in the child, where TLS runs
		opts.Pins = &trust.Pins{File: o.PinsFile}
	}
	for _, n := range notes {
		opts.Logger.Debug("isolate", "note", n)
	}
	rt := New(opts)
	c.proxyModules(rt, run.Modules)
	if err := exposeValues(rt, run.Values); err != nil {
		fmt.Fprintln(os.Stderr, "mailscript:", err)
		return exitSetup
	}
	if childHook != nil {
		childHook(rt)
	}
	res, err := rt.RunString(context.Background(), run.Name, run.Src, run.Args...)
	out := &wireMsg{Op: "result", Fail: toWire(err)}
	if res != nil {
		out.Plan, out.Reports = res.Plan, res.Reports
	}
	c.send(out)
	return 0
}

// applyChildLimits sets the rlimits, the Go memory limit, a heap
// watchdog and the seccomp filter; it returns what it could not do.
func applyChildLimits(mem, cpu, nofile int64) (notes []string) {
	if mem > 0 {
		debug.SetMemoryLimit(mem)
		debug.SetMaxStack(int(min(mem/2, 128<<20)))
		// the Go runtime has reserved address space already; what the
		// heap may grow by comes on top, with room for GC and stacks
		if vs := vmSize(); vs > 0 && !raceBuild {
			as := uint64(vs) + uint64(mem)*2 + 256<<20
			if err := unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: as, Max: as}); err != nil {
				notes = append(notes, "RLIMIT_AS: "+err.Error())
			}
		}
		go heapWatchdog(mem)
	}
	if cpu > 0 {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, unix.SIGXCPU)
		go func() {
			<-sig
			fmt.Fprintln(os.Stderr, "mailscript: CPU time limit exceeded")
			os.Exit(exitCPU)
		}()
		if err := unix.Setrlimit(unix.RLIMIT_CPU, &unix.Rlimit{Cur: uint64(cpu), Max: uint64(cpu) + 2}); err != nil {
			notes = append(notes, "RLIMIT_CPU: "+err.Error())
		}
	}
	if nofile > 0 {
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: uint64(nofile), Max: uint64(nofile)}); err != nil {
			notes = append(notes, "RLIMIT_NOFILE: "+err.Error())
		}
	}
	if err := installSeccomp(); err != nil {
		notes = append(notes, "seccomp filter not installed, rlimits only: "+err.Error())
	}
	return notes
}

// vmSize is this process's virtual memory size in bytes, 0 if unknown.
func vmSize() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmSize:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// heapWatchdog ends the process when the live heap stays above max
// after a collection: Go cannot fail one allocation, only the process.
func heapWatchdog(max int64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	over := func() bool {
		metrics.Read(s)
		return s[0].Value.Kind() == metrics.KindUint64 && int64(s[0].Value.Uint64()) > max
	}
	for range time.Tick(5 * time.Millisecond) {
		if over() {
			goruntime.GC()
			if over() {
				fmt.Fprintln(os.Stderr, "mailscript: memory limit exceeded")
				os.Exit(exitMemory)
			}
		}
	}
}

// childConn is the child's end of the control and dial sockets.
type childConn struct {
	mu   sync.Mutex // one frame, or one call and its reply, at a time
	w    *os.File
	r    *bufio.Reader
	dmu  sync.Mutex
	dial *net.UnixConn
	seq  int64
}

// send writes m unanswered; a parent gone means nobody waits for the run.
func (c *childConn) send(m *wireMsg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := writeFrame(c.w, m); err != nil {
		os.Exit(1)
	}
}

// call writes m and returns the parent's reply.
func (c *childConn) call(m *wireMsg) (*wireMsg, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := writeFrame(c.w, m); err != nil {
		os.Exit(1)
	}
	r, err := readFrame(c.r, 1<<30)
	if err != nil {
		os.Exit(1)
	}
	if r.Err != "" {
		return r, errors.New(r.Err)
	}
	return r, nil
}

// frameWriter sends what is written to the parent as "out" frames.
type frameWriter struct {
	c      *childConn
	stream int
}

func (f *frameWriter) Write(b []byte) (int, error) {
	for off := 0; off < len(b); off += maxWriteChunk {
		f.c.send(&wireMsg{Op: "out", Stream: f.stream, Data: b[off:min(off+maxWriteChunk, len(b))]})
	}
	return len(b), nil
}

func (c *childConn) audit(event string, args ...any) {
	plain := make([]any, len(args))
	for i, a := range args {
		switch a.(type) {
		case nil, bool, string, int, int64, uint16, uint32, float64:
			plain[i] = a
		default:
			plain[i] = fmt.Sprint(a)
		}
	}
	c.send(&wireMsg{Op: "audit", Name: event, Args: plain})
}

func (c *childConn) getenv(name string) string {
	r, err := c.call(&wireMsg{Op: "getenv", Name: name})
	if err != nil {
		return ""
	}
	return string(r.Data)
}

// remoteStore is the parent's state store, called over the pipe.
type remoteStore struct{ c *childConn }

func (s *remoteStore) Load(name string) ([]byte, error) {
	r, err := s.c.call(&wireMsg{Op: "load", Name: name})
	if err != nil || r.Nil {
		return nil, err
	}
	return r.Data, nil
}

func (s *remoteStore) Save(name string, data []byte) error {
	if len(data) > maxChildFrame/2 {
		return fmt.Errorf("state: document %q of %d bytes is too large for an isolated run", name, len(data))
	}
	_, err := s.c.call(&wireMsg{Op: "save", Name: name, Data: data})
	return err
}

func (s *remoteStore) Lock(name string) (func(), error) {
	r, err := s.c.call(&wireMsg{Op: "lock", Name: name})
	if err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { s.c.send(&wireMsg{Op: "unlock", ID: r.ID}) }) }, nil
}

// dialRequest and dialReply cross the dial socket, one packet each; the
// reply carries the connected socket as SCM_RIGHTS.
type dialRequest struct {
	ID            int64
	Network, Addr string
}

type dialReply struct {
	ID         int64
	Err        string
	Host       string // the refused address of a *HostError
	Limit, Max string // a *limit.Error
}

// brokerDial asks the parent to dial and returns the socket it passes.
func (c *childConn) brokerDial(ctx context.Context, network, addr string) (net.Conn, error) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.seq++
	req, _ := json.Marshal(dialRequest{ID: c.seq, Network: network, Addr: addr})
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Time{}
	}
	c.dial.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { c.dial.SetDeadline(time.Now()) })
	defer stop()
	if _, err := c.dial.Write(req); err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := c.dial.ReadMsgUnix(buf, oob)
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		fd := -1
		if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(cms) > 0 {
			if fds, err := unix.ParseUnixRights(&cms[0]); err == nil && len(fds) > 0 {
				fd = fds[0]
				for _, extra := range fds[1:] {
					unix.Close(extra)
				}
			}
		}
		var rep dialReply
		if err := json.Unmarshal(buf[:n], &rep); err != nil || rep.ID != c.seq {
			if fd >= 0 {
				unix.Close(fd) // the late answer to a dial given up
			}
			continue
		}
		switch {
		case rep.Host != "":
			return nil, &HostError{Addr: rep.Host}
		case rep.Limit != "":
			return nil, &limit.Error{Limit: rep.Limit, Max: rep.Max}
		case rep.Err != "":
			return nil, errors.New(rep.Err)
		case fd < 0:
			return nil, fmt.Errorf("dial %s: no socket from the parent", addr)
		}
		f := os.NewFile(uintptr(fd), addr)
		conn, err := net.FileConn(f)
		f.Close()
		return conn, err
	}
}
