// Package courier starts a private Courier-IMAP 5.0 and Courier POP3 (plain,
// STARTTLS and implicit TLS) on 127.0.0.1 for integration tests.
//
// Each test binary gets its own instance: ports, authdaemond, userdb, mail
// and a certificate from a test CA under a temporary folder. Users are made
// with [Server.AddUser] (or [Server.User]) and log in with [Password].
//
// The daemons come from Debian's courier-imap and courier-pop, unpacked by
// scripts/servers.sh under [mailsrv.Root] because they conflict in apt with
// Dovecot's; couriertcpd, couriertls and authdaemond come from the installed
// courier-base and courier-authdaemon. Their paths /etc/courier and
// /run/courier are compiled in, so everything runs in a mount namespace of
// its own where the folder's etc and run are bound over them.
//
// What tests meet on Courier: the personal namespace is "INBOX." with "."
// as separator (a folder is INBOX.Name, a Maildir++ ".Name"; CREATE "Name"
// is refused); a "." in a name makes nested folders. INBOX.Drafts,
// INBOX.Junk, INBOX.Sent and INBOX.Trash exist from the start, without
// special-use flags. No MOVE, ESEARCH or CONDSTORE; UIDPLUS, IDLE (polling
// the Maildir about once a second), ENABLE and UTF8=ACCEPT are offered.
// SELECT sends no [UIDNEXT]. Commands written in the same packet as a
// successful LOGIN get no answer (imaplogin hands the connection to imapd
// and drops what it had read). Mail can be seeded straight into the Maildir
// ([Server.Maildir]; files with bare LF line ends, as Courier adds the CR:
// a CRLF file is served with CR CR LF) or over IMAP. A wrong password is answered after about
// 5 s. Logs are Server.Dir/*.log.
package courier

import (
	"crypto/sha1"
	"encoding/base64"
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

// Folders are the folders every user has besides INBOX (as Maildir++ names
// without the leading dot; over IMAP they are "INBOX." + name).
var Folders = []string{"Drafts", "Junk", "Sent", "Trash"}

// Server is a running Courier.
type Server struct {
	Dir                      string // etc, run, mail, logs
	IMAP, IMAPS, POP3, POP3S int    // ports on 127.0.0.1
	CAFile                   string // PEM of the CA that signed the server certificate
	uid, gid                 int    // of the mail user
	proc                     *mailsrv.Proc
	mu                       sync.Mutex
	users                    map[string]bool
}

// Start configures and starts Courier in a new temporary folder (removed by
// [Server.Stop]). It fails with a clear message when a part is missing.
func Start() (*Server, error) {
	root := mailsrv.Root()
	imap := filepath.Join(root, "courier-imap", "usr")
	pop := filepath.Join(root, "courier-pop", "usr")
	bins := map[string]string{
		"imaplogin": imap + "/lib/courier/courier/imaplogin",
		"imapd":     imap + "/bin/imapd",
		"poplogin":  pop + "/lib/courier/courier/courierpop3login",
		"pop3d":     pop + "/lib/courier/courier/courierpop3d",
		"tcpd":      "/usr/sbin/couriertcpd",
		"tls":       "/usr/bin/couriertls",
		"authd":     "/usr/lib/courier/courier-authlib/authdaemond",
		"makeudb":   "/usr/sbin/makeuserdb",
	}
	for _, k := range []string{"imaplogin", "imapd", "poplogin", "pop3d", "tcpd", "tls", "authd", "makeudb"} {
		if err := mailsrv.Need("courier", bins[k]); err != nil {
			return nil, err
		}
	}
	// The mount points of the namespace.
	if err := mailsrv.Need("courier", "/etc/courier", "/run/courier"); err != nil {
		return nil, err
	}
	if os.Getuid() != 0 {
		return nil, errors.New("courier: the tests must run as root (authdaemond and the mount namespace need it)")
	}
	cuid, cgid, err := mailsrv.IDs("courier")
	if err != nil {
		return nil, err
	}
	uid, gid, err := mailsrv.IDs("vmail")
	if err != nil {
		return nil, errors.New("system user vmail missing: run scripts/test.sh (it creates it)")
	}
	dir, err := os.MkdirTemp("", "mailscript-courier-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, CAFile: filepath.Join(dir, "ca.pem"), uid: uid, gid: gid, users: map[string]bool{}}
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
	for _, d := range []string{"etc", "etc/shared", "run", "run/authdaemon", "mail"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	// authdaemond's socket folder: root and the login processes only.
	if err := os.Chmod(filepath.Join(dir, "run/authdaemon"), 0o750); err != nil {
		return nil, err
	}
	cert, key, err := mailsrv.Certs(dir)
	if err != nil {
		return nil, err
	}
	// couriertls wants key and certificate in one file that only it reads.
	if err := mailsrv.WriteOwned(filepath.Join(dir, "etc/server.pem"), append(key, cert...), cuid, cgid); err != nil {
		return nil, err
	}
	rc := "authmodulelist=\"authuserdb\"\ndaemons=3\nauthdaemonvar=/run/courier/authdaemon\nDEBUG_LOGIN=0\nDEFAULTOPTIONS=\"\"\nLOGGEROPTS=\"\"\n"
	if err := os.WriteFile(filepath.Join(dir, "etc/authdaemonrc"), []byte(rc), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "etc/userdb"), nil, 0o600); err != nil {
		return nil, err
	}
	if err := s.makeUserdb(); err != nil {
		return nil, err
	}
	if s.proc, err = mailsrv.StartNS(s.script(bins), filepath.Join(dir, "start.log")); err != nil {
		return nil, err
	}
	if err := mailsrv.WaitReady(s.proc, []int{s.IMAP, s.POP3}, []int{s.IMAPS, s.POP3S}, 15*time.Second); err != nil {
		return nil, fmt.Errorf("courier: %v\n%s", err, s.logs())
	}
	ok = true
	return s, nil
}

func (s *Server) logs() string {
	var files []string
	for _, f := range []string{"start", "authdaemond", "imapd", "pop3d"} {
		files = append(files, filepath.Join(s.Dir, f+".log"))
	}
	return mailsrv.Tail(3000, files...)
}

// script is the namespace's shell: it binds the folder over Courier's fixed
// paths, starts authdaemond and a couriertcpd per port, and on SIGTERM stops
// them.
func (s *Server) script(b map[string]string) string {
	q := mailsrv.Quote
	d := s.Dir
	tls := "COURIERTLS=" + b["tls"] + " TLS_CERTFILE=/etc/courier/server.pem TLS_VERIFYPEER=NONE"
	caps := "IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE"
	imapEnv := fmt.Sprintf("%s IMAP_CAPABILITY='%s' IMAP_CAPABILITY_TLS='%s AUTH=PLAIN' IMAP_KEYWORDS=1 IMAP_ACL=1 "+
		"IMAP_IDLE_TIMEOUT=1 IMAP_MAILBOX_SANITY_CHECK=1 IMAP_ENHANCEDIDLE=0 IMAP_USELOCKS=1 IMAP_TRASHFOLDERNAME=Trash "+
		"IMAP_STARTTLS=YES IMAP_TLS_REQUIRED=0 IMAP_SHAREDINDEXFILE=/etc/courier/shared/index IMAP_UMASK=022", tls, caps, caps)
	popEnv := tls + " POP3AUTH='PLAIN LOGIN' POP3AUTH_TLS='PLAIN LOGIN' POP3_STARTTLS=YES POP3_TLS_REQUIRED=0"
	tcpd := b["tcpd"] + " -address=127.0.0.1 -maxprocs=200 -maxperip=200 -nodnslookup -noidentlookup"
	imapProg := q(b["imaplogin"]) + " " + q(b["imapd"]) + " Maildir"
	popProg := q(b["poplogin"]) + " " + q(b["pop3d"]) + " Maildir"
	over := b["tls"] + " -server -tcpd -user=courier "
	return fmt.Sprintf(`mount --bind %[1]s/etc /etc/courier
mount --bind %[1]s/run /run/courier
(exec %[2]s) >>%[1]s/authdaemond.log 2>&1 &
pids=$!
(exec env %[3]s %[5]s %[7]d %[8]s) >>%[1]s/imapd.log 2>&1 &
pids="$pids $!"
(exec env %[3]s %[5]s %[9]d %[6]s%[8]s) >>%[1]s/imapd.log 2>&1 &
pids="$pids $!"
(exec env %[4]s %[5]s %[10]d %[11]s) >>%[1]s/pop3d.log 2>&1 &
pids="$pids $!"
(exec env %[4]s %[5]s %[12]d %[6]s%[11]s) >>%[1]s/pop3d.log 2>&1 &
pids="$pids $!"
echo $pids >%[1]s/pids
trap 'kill $pids 2>/dev/null; wait; exit 0' TERM INT
wait
`, q(d), b["authd"], imapEnv, popEnv, tcpd, over, s.IMAP, imapProg, s.IMAPS, s.POP3, popProg, s.POP3S)
}

// Stop ends the namespace's shell by its pid (it stops the daemons), waits
// for it and removes the folder.
func (s *Server) Stop() {
	if s.proc != nil {
		s.proc.Stop(10 * time.Second)
	}
	os.RemoveAll(s.Dir)
}

// AddUser makes a user with [Password], an empty INBOX and [Folders].
// Adding a user twice does nothing.
func (s *Server) AddUser(name string) error {
	if err := mailsrv.CheckUser("courier", name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[name] {
		return nil
	}
	home := filepath.Join(s.Dir, "mail", name)
	md := filepath.Join(home, "Maildir")
	dirs := []string{home}
	for _, f := range append([]string{""}, Folders...) {
		box := md
		if f != "" {
			box = filepath.Join(md, "."+f)
		}
		dirs = append(dirs, box, box+"/cur", box+"/new", box+"/tmp")
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		if err := os.Chown(d, s.uid, s.gid); err != nil {
			return err
		}
	}
	for _, f := range Folders {
		p := filepath.Join(md, "."+f, "maildirfolder")
		if err := mailsrv.WriteOwned(p, nil, s.uid, s.gid); err != nil {
			return err
		}
	}
	sum := sha1.Sum([]byte(Password))
	line := fmt.Sprintf("%s\tuid=%d|gid=%d|home=%s|mail=%s|systempw={SHA}%s\n", name, s.uid, s.gid, home, md,
		base64.StdEncoding.EncodeToString(sum[:]))
	f, err := os.OpenFile(filepath.Join(s.Dir, "etc/userdb"), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line)
	if e := f.Close(); err == nil {
		err = e
	}
	if err != nil {
		return err
	}
	if err := s.makeUserdb(); err != nil {
		return err
	}
	s.users[name] = true
	return nil
}

// makeUserdb rebuilds userdb.dat, which authdaemond reopens when it changes.
func (s *Server) makeUserdb() error {
	out, err := exec.Command("/usr/sbin/makeuserdb", "-f", filepath.Join(s.Dir, "etc/userdb")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("courier: makeuserdb: %v: %s", err, out)
	}
	return nil
}

// User adds name (see [Server.AddUser]) or fails t, and returns it.
func (s *Server) User(t testing.TB, name string) string {
	t.Helper()
	return mailsrv.User(t, s.AddUser, name)
}

// Maildir is the Maildir of user's INBOX (the user must exist), or with
// folder, of "INBOX."+folder (created if missing, owned by the mail user).
func (s *Server) Maildir(user, folder string) (string, error) {
	md := filepath.Join(s.Dir, "mail", user, "Maildir")
	if _, err := os.Stat(md); err != nil {
		return "", fmt.Errorf("courier: no user %q: %w", user, err)
	}
	if folder == "" {
		return md, nil
	}
	if strings.ContainsAny(folder, "/\x00") || strings.HasPrefix(folder, ".") {
		return "", fmt.Errorf("courier: folder name %q", folder)
	}
	box := filepath.Join(md, "."+folder)
	for _, d := range []string{box, box + "/cur", box + "/new", box + "/tmp"} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", err
		}
		if err := os.Chown(d, s.uid, s.gid); err != nil {
			return "", err
		}
	}
	if err := mailsrv.WriteOwned(box+"/maildirfolder", nil, s.uid, s.gid); err != nil {
		return "", err
	}
	return box, nil
}

// Chown gives path to the mail user, so Courier can read and change it.
func (s *Server) Chown(path string) error { return os.Chown(path, s.uid, s.gid) }

var shared mailsrv.Once[Server]

// Shared returns the test binary's Courier, started on first use; it fails t
// with a clear message when Courier cannot run. Call [StopShared] (or use
// [Main]) after the tests.
func Shared(t testing.TB) *Server {
	t.Helper()
	return shared.Shared(t, "Courier", Start)
}

// Main is a test package's TestMain: it runs the tests, then stops the
// Courier Shared started, if any.
func Main(m *testing.M) { shared.Main(m, (*Server).Stop) }

// StopShared stops the Courier Shared started, if any.
func StopShared() { shared.Stop((*Server).Stop) }

// Addr is "127.0.0.1:port".
func Addr(port int) string { return mailsrv.Addr(port) }
