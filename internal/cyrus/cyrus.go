// Package cyrus starts a private Cyrus IMAP 3.6 (IMAP and POP3, plain,
// STARTTLS and implicit TLS) on 127.0.0.1 for integration tests.
//
// Each test binary gets its own instance: ports, config, spool, a syslog sink
// and a certificate from a test CA under a temporary folder. Users are made
// with [Server.AddUser] (or [Server.User]) and log in with [Password].
//
// The daemons come from Debian's cyrus-imapd and cyrus-pop3d, unpacked by
// scripts/servers.sh under [mailsrv.Root] because they conflict in apt with
// Dovecot's; master and the rest come from the installed cyrus-common.
//
// What tests meet on Cyrus: the namespace is altnamespace with "/" as
// separator (personal "", "Other Users/", "Shared Folders/"), so folders sit
// beside INBOX; INBOX, Drafts, Junk, Sent and Trash are created at first
// login, the last four with their special-use flags. MOVE, UIDPLUS, ESEARCH,
// CONDSTORE, QRESYNC, SPECIAL-USE, LITERAL+ and IDLE are offered. The spool
// is not a Maildir: seed over IMAP (APPEND). Cyrus logs only to syslog; it
// runs in a mount namespace whose /dev/log is the sink at Server.Dir/syslog.log.
// LOGIN works on the plain port (allowplaintext), yet the CAPABILITY sent
// after it there lists LOGINDISABLED. A wrong password is answered after
// about 3 s. The user "cyrus" is the admin (GETQUOTA is refused to others).
package cyrus

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/mailsrv"
)

// Password is the password of every user.
const Password = "pass"

// Server is a running Cyrus.
type Server struct {
	Dir                      string // config, spool, logs
	IMAP, IMAPS, POP3, POP3S int    // ports on 127.0.0.1
	CAFile                   string // PEM of the CA that signed the server certificate
	saslpasswd               string
	proc                     *mailsrv.Proc
	log                      *mailsrv.Syslog
	mu                       sync.Mutex
	users                    map[string]bool
}

const libexec = "/usr/lib/cyrus/bin"

// Start configures and starts a Cyrus in a new temporary folder (removed by
// [Server.Stop]). It fails with a clear message when a part is missing.
func Start() (*Server, error) {
	root := mailsrv.Root()
	imapd := filepath.Join(root, "cyrus-imapd", libexec, "imapd")
	idled := filepath.Join(root, "cyrus-imapd", libexec, "idled")
	pop3d := filepath.Join(root, "cyrus-pop3d", libexec, "pop3d")
	if err := mailsrv.Need("cyrus", imapd, idled, pop3d, libexec+"/master", libexec+"/ctl_cyrusdb"); err != nil {
		return nil, err
	}
	saslpasswd, err := exec.LookPath("saslpasswd2")
	if err != nil {
		return nil, errors.New("saslpasswd2 not installed: " + mailsrv.Install)
	}
	uid, gid, err := mailsrv.IDs("cyrus")
	if err != nil {
		return nil, err
	}
	if os.Getuid() != 0 {
		return nil, errors.New("cyrus: the tests must run as root (Cyrus runs as user cyrus, in a mount namespace)")
	}
	dir, err := os.MkdirTemp("", "mailscript-cyrus-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, CAFile: filepath.Join(dir, "ca.pem"), saslpasswd: saslpasswd, users: map[string]bool{}}
	ok := false
	defer func() {
		if !ok {
			s.Stop()
		}
	}()
	ports, err := mailsrv.FreePorts(4)
	if err != nil {
		return nil, err
	}
	s.IMAP, s.IMAPS, s.POP3, s.POP3S = ports[0], ports[1], ports[2], ports[3]
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	for _, d := range []string{"conf", "conf/socket", "conf/proc", "conf/lock", "spool", "sieve"} {
		p := filepath.Join(dir, d)
		if err := os.MkdirAll(p, 0o750); err != nil {
			return nil, err
		}
		if err := os.Chown(p, uid, gid); err != nil {
			return nil, err
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "dev"), 0o755); err != nil {
		return nil, err
	}
	cert, key, err := mailsrv.Certs(dir)
	if err != nil {
		return nil, err
	}
	if err := mailsrv.WriteOwned(filepath.Join(dir, "cert.pem"), cert, uid, gid); err != nil {
		return nil, err
	}
	if err := mailsrv.WriteOwned(filepath.Join(dir, "key.pem"), key, uid, gid); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "imapd.conf"), []byte(s.imapdConf()), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "cyrus.conf"), []byte(s.cyrusConf(imapd, idled, pop3d)), 0o644); err != nil {
		return nil, err
	}
	// The sasldb must exist (owned by cyrus) before the first login.
	if err := s.AddUser("cyrus"); err != nil {
		return nil, err
	}
	if s.log, err = mailsrv.ListenSyslog(dir); err != nil {
		return nil, err
	}
	script := mailsrv.SyslogMounts(filepath.Join(dir, "dev"), s.log.Socket) +
		fmt.Sprintf("exec %s/master -C %s -M %s -p %s -D\n", libexec,
			mailsrv.Quote(filepath.Join(dir, "imapd.conf")), mailsrv.Quote(filepath.Join(dir, "cyrus.conf")),
			mailsrv.Quote(filepath.Join(dir, "master.pid")))
	if s.proc, err = mailsrv.StartNS(script, filepath.Join(dir, "master.log")); err != nil {
		return nil, err
	}
	if err := mailsrv.WaitReady(s.proc, []int{s.IMAP, s.POP3}, []int{s.IMAPS, s.POP3S}, 15*time.Second); err != nil {
		return nil, fmt.Errorf("cyrus: %v\n%s", err, mailsrv.Tail(4000, filepath.Join(dir, "master.log"), s.log.File))
	}
	ok = true
	return s, nil
}

// Stop ends master by its pid (it stops its children), waits for it and
// removes the folder.
func (s *Server) Stop() {
	if s.proc != nil {
		s.proc.Stop(10 * time.Second)
	}
	if s.log != nil {
		s.log.Close()
	}
	os.RemoveAll(s.Dir)
}

// Log is what Cyrus sent to syslog so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "syslog.log"))
	return string(b)
}

// AddUser makes a user with [Password]; its INBOX and special-use folders
// appear at its first login. Adding a user twice does nothing.
func (s *Server) AddUser(name string) error {
	if err := mailsrv.CheckUser("cyrus", name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[name] {
		return nil
	}
	db := filepath.Join(s.Dir, "sasldb2")
	cmd := exec.Command(s.saslpasswd, "-f", db, "-p", "-c", "-u", "localhost", name)
	cmd.Stdin = strings.NewReader(Password)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("cyrus: saslpasswd2 %s: %v: %s", name, err, out)
	}
	uid, gid, err := mailsrv.IDs("cyrus")
	if err != nil {
		return err
	}
	if err := os.Chown(db, uid, gid); err != nil {
		return err
	}
	s.users[name] = true
	return nil
}

// User adds name (see [Server.AddUser]) or fails t, and returns it.
func (s *Server) User(t testing.TB, name string) string {
	t.Helper()
	return mailsrv.User(t, s.AddUser, name)
}

func (s *Server) imapdConf() string {
	return fmt.Sprintf(`# written by internal/cyrus for tests
configdirectory: %[1]s/conf
proc_path: %[1]s/conf/proc
mboxname_lockpath: %[1]s/conf/lock
idlesocket: %[1]s/conf/socket/idle
notifysocket: %[1]s/conf/socket/notify
lmtpsocket: %[1]s/conf/socket/lmtp
partition-default: %[1]s/spool
defaultpartition: default
sievedir: %[1]s/sieve
temp_path: %[1]s/conf
servername: localhost
admins: cyrus
allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: %[1]s/sasldb2
sasl_mech_list: PLAIN LOGIN CRAM-MD5
autocreate_quota: 0
autocreate_inbox_folders: Drafts | Junk | Sent | Trash
autocreate_subscribe_folders: Drafts | Junk | Sent | Trash
xlist-drafts: Drafts
xlist-junk: Junk
xlist-sent: Sent
xlist-trash: Trash
tls_server_cert: %[1]s/cert.pem
tls_server_key: %[1]s/key.pem
imapidlepoll: 1
popminpoll: 0
maxlogins_per_user: 0
`, s.Dir)
}

func (s *Server) cyrusConf(imapd, idled, pop3d string) string {
	conf := s.Dir + "/imapd.conf"
	return fmt.Sprintf(`# written by internal/cyrus for tests
START {
  recover cmd="%[1]s/ctl_cyrusdb -C %[2]s -r"
}
SERVICES {
  imap cmd="%[3]s -C %[2]s" listen="127.0.0.1:%[6]d" prefork=1
  imaps cmd="%[3]s -C %[2]s -s" listen="127.0.0.1:%[7]d" prefork=0
  pop3 cmd="%[5]s -C %[2]s" listen="127.0.0.1:%[8]d" prefork=0
  pop3s cmd="%[5]s -C %[2]s -s" listen="127.0.0.1:%[9]d" prefork=0
}
DAEMON {
  idled cmd="%[4]s -C %[2]s"
}
`, libexec, conf, imapd, idled, pop3d, s.IMAP, s.IMAPS, s.POP3, s.POP3S)
}

var shared mailsrv.Once[Server]

// Shared returns the test binary's Cyrus, started on first use; it fails t
// with a clear message when Cyrus cannot run. Call [StopShared] (or use
// [Main]) after the tests.
func Shared(t testing.TB) *Server {
	t.Helper()
	return shared.Shared(t, "Cyrus", Start)
}

// Main is a test package's TestMain: it runs the tests, then stops the Cyrus
// Shared started, if any.
func Main(m *testing.M) { shared.Main(m, (*Server).Stop) }

// StopShared stops the Cyrus Shared started, if any.
func StopShared() { shared.Stop((*Server).Stop) }

// Addr is "127.0.0.1:port".
func Addr(port int) string { return mailsrv.Addr(port) }
