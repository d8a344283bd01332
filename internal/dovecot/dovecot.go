// Package dovecot starts a private Dovecot 2.3 on 127.0.0.1 for integration tests.
//
// Each test binary gets its own instance (its own ports, config, mail and TLS
// certificate under a temporary folder), so test packages can run in
// parallel. Any user name logs in with the password [Password]; each test
// takes a user of its own so tests do not see each other's mail.
//
// Dovecot comes from Debian's packages (dovecot-imapd, dovecot-pop3d);
// scripts/test.sh installs them. Mail processes run as the system user
// "vmail", which the script creates too.
package dovecot

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
	"syscall"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/mailsrv"
	"github.com/mailscript/mailscript/internal/selfsigned"
)

// Password is the password of every user.
const Password = "pass"

// Server is a running Dovecot.
type Server struct {
	Dir                      string // config, logs, mail
	IMAP, IMAPS, POP3, POP3S int    // ports on 127.0.0.1
	CAFile                   string // PEM of the CA that signed the server certificate
	uid, gid                 int
	pidFile, bin             string
}

// Options add to what Start sets up.
type Options struct {
	// OAuth2Introspection, if set, adds Dovecot's oauth2 passdb for
	// XOAUTH2 and OAUTHBEARER, which checks each token at this URL
	// (introspection_mode = post; the reply's "active" must be "true" and
	// its "username" the user logging in). Passwords still work.
	OAuth2Introspection string
	// Connections, if set, raises the IMAP connection limits (per user and
	// in all) from their test defaults of 200 and 512 to this many.
	Connections int
	// IdleNotify, if set, is how often an IDLE connection is sent
	// "* OK Still here" (imap_idle_notify_interval): 1 s for tests, which
	// then see IDLE traffic soon; Dovecot's own default is 2 minutes.
	IdleNotify time.Duration
}

// Start configures and starts a Dovecot in a new temporary folder (readable
// by Dovecot's unprivileged processes, removed by [Server.Stop]). It fails
// with a clear message when Dovecot or the vmail user is missing.
func Start() (*Server, error) { return StartWith(Options{}) }

// StartWith is [Start] with options.
func StartWith(o Options) (*Server, error) {
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		for _, p := range []string{"/usr/sbin/dovecot", "/usr/local/sbin/dovecot"} {
			if _, e := os.Stat(p); e == nil {
				bin, err = p, nil
			}
		}
		if err != nil {
			return nil, errors.New("dovecot not installed: run scripts/test.sh (it installs dovecot-imapd and dovecot-pop3d)")
		}
	}
	dir, err := os.MkdirTemp("", "mailscript-dovecot-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, uid: os.Getuid(), gid: os.Getgid()}
	if s.uid == 0 {
		u, err := user.Lookup("vmail")
		if err != nil {
			return nil, errors.New("system user vmail missing: run scripts/test.sh (it creates it)")
		}
		s.uid, _ = strconv.Atoi(u.Uid)
		s.gid, _ = strconv.Atoi(u.Gid)
	}
	ports, err := mailsrv.FreePorts(4)
	if err != nil {
		return nil, err
	}
	s.IMAP, s.IMAPS, s.POP3, s.POP3S = ports[0], ports[1], ports[2], ports[3]
	for _, d := range []string{"run", "state", "mail"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chown(filepath.Join(dir, "mail"), s.uid, s.gid); err != nil {
		return nil, err
	}
	s.CAFile = filepath.Join(dir, "ca.pem")
	if err := writeCerts(dir); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "dovecot.conf")
	text := s.config(max(o.Connections, 200), max(o.Connections, 512))
	if o.IdleNotify > 0 {
		text = strings.Replace(text, "imap_idle_notify_interval = 1 secs", fmt.Sprintf("imap_idle_notify_interval = %d secs", int(o.IdleNotify.Seconds())), 1)
	}
	if o.OAuth2Introspection != "" {
		if text, err = s.oauth2(text, o.OAuth2Introspection); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, err
	}
	s.pidFile = filepath.Join(dir, "run", "master.pid")
	s.bin = bin
	if err := s.launch(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// launch starts the master process and waits until every port answers.
func (s *Server) launch() error {
	// Output goes to a file: a pipe would stay open in the daemon and never end.
	out, err := os.Create(filepath.Join(s.Dir, "start.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "-c", filepath.Join(s.Dir, "dovecot.conf"))
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	out.Close()
	if err != nil {
		msg, _ := os.ReadFile(out.Name())
		return fmt.Errorf("dovecot: %v: %s", err, msg)
	}
	if err := s.waitReady(10 * time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.Dir, "dovecot.log"))
		return fmt.Errorf("%v\n%s", err, log)
	}
	return nil
}

// Restart stops the server, as a crash or an upgrade would (every
// connection drops), and starts it again with the same ports and mail.
func (s *Server) Restart() error {
	s.kill()
	return s.launch()
}

// Stop ends the server by its pid, waits for it to go and removes its folder.
func (s *Server) Stop() {
	defer os.RemoveAll(s.Dir)
	s.kill()
}

// kill ends the master process by its pid and waits for it to go.
func (s *Server) kill() {
	b, err := os.ReadFile(s.pidFile)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return
	}
	// The master exits on SIGTERM before its mail processes do, and
	// those have been seen to outlive it with their clients still
	// connected; shutdown_clients means they end too, so they are told
	// to as well.
	procs := append(children(pid), pid)
	for _, p := range procs {
		_ = syscall.Kill(p, syscall.SIGTERM)
	}
	for i := 0; i < 200; i++ {
		alive := false
		for _, p := range procs {
			alive = alive || running(p)
		}
		if !alive {
			break
		}
		if i == 100 {
			for _, p := range procs {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	// a dead master left unreaped (no init reaps it in some containers)
	// still answers kill(pid, 0), which is how Dovecot checks its pid file
	_ = os.Remove(s.pidFile)
}

// stat is the fields of /proc/pid/stat after the command name: the
// state first, then the parent's pid.
func stat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// running says whether pid is a live process, not gone or a zombie.
func running(pid int) bool {
	f := stat(pid)
	return syscall.Kill(pid, 0) == nil && len(f) > 0 && f[0] != "Z"
}

// children is every process whose parent is pid.
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := stat(p); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// Addr is "127.0.0.1:port".
func Addr(port int) string { return mailsrv.Addr(port) }

// Maildir is the Maildir folder of user's INBOX (created, owned by the mail user).
func (s *Server) Maildir(user string) (string, error) {
	home := filepath.Join(s.Dir, "mail", user)
	md := filepath.Join(home, "Maildir")
	for _, d := range []string{home, md, filepath.Join(md, "cur"), filepath.Join(md, "new"), filepath.Join(md, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", err
		}
		if err := os.Chown(d, s.uid, s.gid); err != nil {
			return "", err
		}
	}
	return md, nil
}

// Chown gives path to the mail user, so Dovecot can read and change it.
func (s *Server) Chown(path string) error { return os.Chown(path, s.uid, s.gid) }

func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	// A greeting on the plain ports shows the login processes work too.
	for _, p := range []int{s.IMAP, s.IMAPS, s.POP3, s.POP3S} {
		for {
			c, err := net.DialTimeout("tcp", Addr(p), time.Second)
			if err == nil {
				ok := true
				if p == s.IMAP || p == s.POP3 {
					c.SetReadDeadline(time.Now().Add(2 * time.Second))
					b := make([]byte, 3)
					_, err := io.ReadFull(c, b)
					ok = err == nil && (string(b) == "* O" || string(b) == "+OK")
				}
				c.Close()
				if ok {
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("dovecot did not listen on port %d within %v", p, limit)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func (s *Server) config(perUser, processes int) string {
	d := s.Dir
	return fmt.Sprintf(`# written by internal/dovecot for tests
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <%[1]s/cert.pem
ssl_key = <%[1]s/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5
mail_location = maildir:~/Maildir
mail_uid = %[2]d
mail_gid = %[3]d
first_valid_uid = %[2]d
last_valid_uid = %[2]d
first_valid_gid = %[3]d
last_valid_gid = %[3]d
mail_plugins = quota acl
protocol imap {
  mail_plugins = $mail_plugins imap_quota imap_acl
  mail_max_userip_connections = %[9]d
}
protocol pop3 {
  pop3_uidl_format = %%08Xu%%08Xv
  mail_max_userip_connections = 200
}
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=10G
  acl = vfile
}
imap_idle_notify_interval = 1 secs
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    auto = create
    special_use = \Drafts
  }
  mailbox Junk {
    auto = create
    special_use = \Junk
  }
  mailbox Sent {
    auto = create
    special_use = \Sent
  }
  mailbox Trash {
    auto = create
    special_use = \Trash
  }
}
passdb {
  driver = static
  args = password=%[8]s
}
userdb {
  driver = static
  args = uid=%[2]d gid=%[3]d home=%[1]s/mail/%%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[4]d
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[5]d
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %[6]d
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = %[7]d
    ssl = yes
  }
}
service anvil {
  chroot =
}
service imap {
  process_limit = %[10]d
}
service pop3 {
  process_limit = 512
}
default_client_limit = %[11]d
`, d, s.uid, s.gid, s.IMAP, s.IMAPS, s.POP3, s.POP3S, Password, perUser, processes, 2*processes+100)
}

// oauth2 adds the oauth2 passdb to conf; the static passdb keeps the
// password mechanisms, so a token is never taken for the password.
func (s *Server) oauth2(conf, introspection string) (string, error) {
	ext := filepath.Join(s.Dir, "dovecot-oauth2.conf.ext")
	if err := os.WriteFile(ext, []byte("introspection_url = "+introspection+"\nintrospection_mode = post\n"+
		"force_introspection = yes\nusername_attribute = username\nactive_attribute = active\nactive_value = true\n"), 0o644); err != nil {
		return "", err
	}
	conf = strings.Replace(conf, "auth_mechanisms = plain login cram-md5", "auth_mechanisms = plain login cram-md5 xoauth2 oauthbearer", 1)
	return strings.Replace(conf, "passdb {\n  driver = static\n", "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = "+ext+"\n}\n"+
		"passdb {\n  driver = static\n  mechanisms = plain login cram-md5\n", 1), nil
}

// writeCerts makes a CA (ca.pem) and a server certificate for localhost and
// 127.0.0.1 signed by it (cert.pem, key.pem).
func writeCerts(dir string) error {
	p, err := selfsigned.New()
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{"ca.pem": p.CAPEM, "cert.pem": p.CertPEM, "key.pem": p.KeyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

var shared mailsrv.Once[Server]

// Shared returns the test binary's Dovecot, started on first use; it
// fails t with a clear message when Dovecot cannot run. Call StopShared
// from TestMain after m.Run.
func Shared(t testing.TB) *Server {
	t.Helper()
	return shared.Shared(t, "Dovecot", Start)
}

// Main is a test package's TestMain: it runs the tests, then stops the
// Dovecot Shared started, if any.
func Main(m *testing.M) { shared.Main(m, (*Server).Stop) }

// StopShared stops the Dovecot Shared started, if any.
func StopShared() { shared.Stop((*Server).Stop) }
