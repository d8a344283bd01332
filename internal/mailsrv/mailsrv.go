// Package mailsrv holds what internal/cyrus, internal/courier and
// internal/dovecot share to run a real mail server for tests: free ports on
// 127.0.0.1, the lazily started shared server, the folder
// scripts/servers.sh unpacks the daemons into, a syslog sink, a test CA, and a
// process started in a private mount namespace and stopped by its pid.
package mailsrv

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mailscript/mailscript/internal/selfsigned"
)

// Install is the message that says how to get what is missing.
const Install = "run scripts/servers.sh (it installs the core packages and unpacks the daemons)"

// Root is the folder scripts/servers.sh unpacks the daemon packages into:
// $MAILSCRIPT_SERVERS, or /opt/mailscript-servers.
func Root() string {
	if r := os.Getenv("MAILSCRIPT_SERVERS"); r != "" {
		return r
	}
	return "/opt/mailscript-servers"
}

// Need returns an error naming the first of paths that does not exist.
func Need(what string, paths ...string) error {
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s not installed (%s missing): %s", what, p, Install)
		}
	}
	return nil
}

// IDs returns the uid and gid of a system user.
func IDs(name string) (uid, gid int, err error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, fmt.Errorf("system user %s missing: %s", name, Install)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, nil
}

// Addr is "127.0.0.1:port".
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// FreePorts returns n ports of 127.0.0.1 that were free a moment ago.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Certs writes a new test CA to dir/ca.pem and returns the PEM of a server
// certificate for localhost and 127.0.0.1 that it signed, and its key.
func Certs(dir string) (cert, key []byte, err error) {
	p, err := selfsigned.New()
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), p.CAPEM, 0o644); err != nil {
		return nil, nil, err
	}
	return p.CertPEM, p.KeyPEM, nil
}

// WriteOwned writes a file that only the user uid (and root) can read.
func WriteOwned(path string, b []byte, uid, gid int) error {
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return err
	}
	return os.Chown(path, uid, gid)
}

// Syslog receives what daemons send to /dev/log (bind its socket there in the
// namespace) and appends it to a file, one message a line.
type Syslog struct {
	Socket, File string
	conn         *net.UnixConn
	done         chan struct{}
}

// ListenSyslog opens a datagram socket at dir/log.sock writing to dir/syslog.log.
func ListenSyslog(dir string) (*Syslog, error) {
	s := &Syslog{Socket: filepath.Join(dir, "log.sock"), File: filepath.Join(dir, "syslog.log"), done: make(chan struct{})}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: s.Socket, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	// Daemons write as their own unprivileged users.
	if err := os.Chmod(s.Socket, 0o666); err != nil {
		c.Close()
		return nil, err
	}
	f, err := os.OpenFile(s.File, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.Close()
		return nil, err
	}
	s.conn = c
	go func() {
		defer close(s.done)
		defer f.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			f.Write(append(buf[:n:n], '\n'))
		}
	}()
	return s, nil
}

// Close stops receiving.
func (s *Syslog) Close() {
	s.conn.Close()
	<-s.done
}

// Tail returns the last n bytes of the files, for error messages.
func Tail(n int, files ...string) string {
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil || len(data) == 0 {
			continue
		}
		if len(data) > n {
			data = data[len(data)-n:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(f), data)
	}
	return b.String()
}

// Proc is a process tree run by "sh -c script" in a mount namespace of its own.
type Proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartNS runs script with sh in a private mount namespace (unshare -m), its
// output appended to logFile; mounts made by the script are seen by its
// processes only and go when they end.
func StartNS(script, logFile string) (*Proc, error) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return nil, errors.New("unshare (util-linux) not found")
	}
	out, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.Command(unshare, "-m", "--propagation", "private", "/bin/sh", "-ec", script)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = "/"
	// a process group of its own: Cyrus's master, shutting down, signals
	// its whole group, which would take every other server this test
	// binary started (and the binary's own group) with it
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{cmd: cmd, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Pid is the process id of the script's shell (or of what it exec'd).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the process has ended.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Stop sends SIGTERM to the pid, waits up to limit for it to end, then
// kills its process group (its own: see StartNS), children included.
func (p *Proc) Stop(limit time.Duration) {
	_ = syscall.Kill(p.Pid(), syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(limit):
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
		<-p.exited
	}
}

// WaitReady waits until each plain port answers with a greeting that starts
// with "* OK" or "+OK" and each TLS port accepts connections; it gives up
// when p exits or limit passes.
func WaitReady(p *Proc, plain, tlsPorts []int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	check := func(port int, greet bool) bool {
		c, err := net.DialTimeout("tcp", Addr(port), time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		if !greet {
			return true
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		b := make([]byte, 3)
		_, err = io.ReadFull(c, b)
		return err == nil && (string(b) == "* O" || string(b) == "+OK")
	}
	wait := func(port int, greet bool) error {
		for !check(port, greet) {
			select {
			case <-p.Exited():
				return fmt.Errorf("server exited before listening on port %d", port)
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("server did not answer on port %d within %v", port, limit)
			}
			time.Sleep(30 * time.Millisecond)
		}
		return nil
	}
	for _, port := range plain {
		if err := wait(port, true); err != nil {
			return err
		}
	}
	for _, port := range tlsPorts {
		if err := wait(port, false); err != nil {
			return err
		}
	}
	return nil
}

// SyslogMounts is shell that gives the namespace a /dev of its own whose
// "log" is sock: a tmpfs with links to every entry of the real /dev, which
// stays reachable under stash (an empty folder).
func SyslogMounts(stash, sock string) string {
	return fmt.Sprintf(`mount --rbind /dev %[1]s
mount -t tmpfs -o mode=755 tmpfs /dev
for f in %[1]s/* %[1]s/.[!.]*; do [ -e "$f" ] && ln -s "$f" /dev/; done
rm -f /dev/log
ln -s %[2]s /dev/log
`, Quote(stash), Quote(sock))
}

// Quote quotes s for sh.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Once is the lazily started server of a test binary (what Shared returns).
type Once[S any] struct {
	mu  sync.Mutex
	srv *S
	err error
}

// Get starts the server on first use and returns it, or the error it gave.
func (o *Once[S]) Get(start func() (*S, error)) (*S, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.srv == nil && o.err == nil {
		o.srv, o.err = start()
	}
	return o.srv, o.err
}

// Stop stops the server if one was started.
func (o *Once[S]) Stop(stop func(*S)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.srv != nil {
		stop(o.srv)
		o.srv = nil
	}
}
