// Package servers runs the same integration test over every real mail
// server the project supports: Dovecot 2.3, Cyrus IMAP 3.6 and
// Courier-IMAP 5.0 (internal/dovecot, internal/cyrus, internal/courier).
//
// A test ranges over [All] with [Each] (one subtest per server); what
// differs between servers is data in [Quirks], never a copy of the test.
// A server that cannot run fails its subtest with a message saying what to
// install; it is never skipped.
package servers

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/courier"
	"github.com/mailscript/mailscript/internal/cyrus"
	"github.com/mailscript/mailscript/internal/dovecot"
	"github.com/mailscript/mailscript/internal/mailgen"
	"github.com/mailscript/mailscript/internal/mailsrv"
	"github.com/mailscript/mailscript/protocol/imap"
	"github.com/mailscript/mailscript/protocol/pop3"
)

// Quirks is what a test may expect to differ between servers.
type Quirks struct {
	Prefix     string // of personal folders over IMAP: "" or "INBOX."
	Sep        string // hierarchy separator
	Move       bool   // MOVE (RFC 6851); without it a move is COPY + STORE + UID EXPUNGE
	SpecialUse bool   // LIST flags \Junk, \Trash and the like
	UIDNext    bool   // SELECT sends [UIDNEXT]
	ESearch    bool   // ESEARCH (RFC 4731)
	HeaderX    bool   // raw 8-bit bytes in a header are stored as "X" (Cyrus)
	FixCR      bool   // a bare CR is stored as CRLF (Cyrus)
	Greeting   string // in the greeting
	SlowNo     bool   // a wrong password is answered after seconds: matrix tests avoid it
	NoDot      bool   // a "." in a folder name is refused by the server (Dovecot's Maildir++)
}

// Stored is raw as the server keeps it (see [Quirks.HeaderX], [Quirks.FixCR]).
func (q Quirks) Stored(raw []byte) []byte {
	out := append([]byte(nil), raw...)
	if q.FixCR {
		out = bytes.ReplaceAll(out, []byte("\r\n"), []byte("\n"))
		out = bytes.ReplaceAll(out, []byte("\r"), []byte("\n"))
		out = bytes.ReplaceAll(out, []byte("\n"), []byte("\r\n"))
	}
	if !q.HeaderX {
		return out
	}
	end := bytes.Index(out, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(out)
	}
	for i := 0; i < end; i++ {
		if out[i] >= 0x80 {
			out[i] = 'X'
		}
	}
	return out
}

// Server is one running server as the tests see it.
type Server struct {
	Name                     string // "dovecot", "cyrus" or "courier"
	IMAP, IMAPS, POP3, POP3S int    // ports on 127.0.0.1
	CAFile                   string // PEM of the CA that signed its certificate
	Password                 string // every user's
	Quirks

	user    func(t testing.TB, name string) string
	maildir func(user, folder string) (string, error) // nil: seed over IMAP
	chown   func(string) error
	bareLF  bool // Maildir files with LF line ends (Courier adds the CR)
	// settle: SELECT after writing a Maildir, so that UIDs are given and
	// kept (Courier's EXAMINE gives UIDs it does not store; the next
	// session renumbers)
	settle bool
}

// All are the names of the servers every matrix test ranges over.
var All = []string{"dovecot", "cyrus", "courier"}

// Get returns the test binary's shared server name, started on first use;
// it fails t (with what to install) when the server cannot run.
func Get(t testing.TB, name string) *Server {
	t.Helper()
	switch name {
	case "dovecot":
		s := dovecot.Shared(t)
		return &Server{Name: name, IMAP: s.IMAP, IMAPS: s.IMAPS, POP3: s.POP3, POP3S: s.POP3S, CAFile: s.CAFile,
			Password: dovecot.Password, Quirks: Quirks{Sep: "/", Move: true, SpecialUse: true, UIDNext: true, ESearch: true, Greeting: "Dovecot", NoDot: true},
			user:    func(_ testing.TB, n string) string { return n },
			maildir: func(u, f string) (string, error) { return dovecotMaildir(s, u, f) }, chown: s.Chown}
	case "cyrus":
		s := cyrus.Shared(t)
		return &Server{Name: name, IMAP: s.IMAP, IMAPS: s.IMAPS, POP3: s.POP3, POP3S: s.POP3S, CAFile: s.CAFile,
			Password: cyrus.Password, Quirks: Quirks{Sep: "/", Move: true, SpecialUse: true, UIDNext: true, ESearch: true, HeaderX: true, FixCR: true, Greeting: "Cyrus IMAP", SlowNo: true},
			user: s.User}
	case "courier":
		s := courier.Shared(t)
		return &Server{Name: name, IMAP: s.IMAP, IMAPS: s.IMAPS, POP3: s.POP3, POP3S: s.POP3S, CAFile: s.CAFile,
			Password: courier.Password, Quirks: Quirks{Prefix: "INBOX.", Sep: ".", Greeting: "Courier-IMAP", SlowNo: true},
			user: s.User, maildir: func(u, f string) (string, error) {
				return s.Maildir(u, strings.ReplaceAll(f, "/", "."))
			}, chown: s.Chown, bareLF: true, settle: true}
	}
	t.Fatalf("servers: no server %q", name)
	return nil
}

// Each runs f as a parallel subtest per server of [All].
func Each(t *testing.T, f func(t *testing.T, s *Server)) {
	t.Helper()
	for _, name := range All {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, Get(t, name))
		})
	}
}

// Main is a test package's TestMain: it runs the tests, then stops every
// shared server started.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// StopShared stops the shared servers of all three kinds, if started.
func StopShared() {
	dovecot.StopShared()
	cyrus.StopShared()
	courier.StopShared()
}

// Addr is "127.0.0.1:port".
func Addr(port int) string { return mailsrv.Addr(port) }

// UserName turns a test's name into a user name every server takes.
func UserName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// User makes a user (a no-op on Dovecot, where any name logs in) and
// returns its name.
func (s *Server) User(t testing.TB, name string) string {
	t.Helper()
	return s.user(t, UserName(name))
}

// Folder is the server's name of a "/"-separated folder name.
func (s *Server) Folder(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	return s.Prefix + strings.ReplaceAll(name, "/", s.Sep)
}

// Dial connects over plain IMAP and logs user in; the connection is
// closed when t ends.
func (s *Server) Dial(t testing.TB, user string) *imap.Client {
	t.Helper()
	ctx := context.Background()
	c, err := imap.Dial(ctx, Addr(s.IMAP), &imap.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Logout(ctx) })
	if _, err := c.Login(ctx, user, s.Password); err != nil {
		t.Fatalf("%s: login %s: %v", s.Name, user, err)
	}
	return c
}

// DialPOP3 connects over plain POP3 and logs user in, in UTF8 mode where
// the server has it (Courier makes a notice of a message with 8-bit
// headers otherwise). The caller quits: some servers lock the maildrop
// for as long as a session lasts.
func (s *Server) DialPOP3(t testing.TB, user string) *pop3.Client {
	t.Helper()
	ctx := context.Background()
	c, err := pop3.Dial(ctx, Addr(s.POP3), &pop3.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.UTF8(ctx)
	c.User(ctx, user)
	if _, err := c.Pass(ctx, s.Password); err != nil {
		c.Quit(ctx)
		t.Fatalf("%s: POP3 login %s: %v", s.Name, user, err)
	}
	return c
}

// Seed puts msgs into folder ("" or "INBOX", else "/"-separated, created
// if missing) of user, with their \Seen and \Flagged flags: straight into
// the Maildir where the server has one, else by APPEND.
func (s *Server) Seed(t testing.TB, user, folder string, msgs []mailgen.Message) {
	t.Helper()
	if strings.EqualFold(folder, "INBOX") {
		folder = ""
	}
	if s.maildir != nil {
		md, err := s.maildir(user, folder)
		if err != nil {
			t.Fatal(err)
		}
		out := msgs
		if s.bareLF {
			out = make([]mailgen.Message, len(msgs))
			for i, m := range msgs {
				m.Raw = bytes.ReplaceAll(m.Raw, []byte("\r\n"), []byte("\n"))
				out[i] = m
			}
		}
		if err := mailgen.WriteMessages(md, out, 0, 1, s.chown); err != nil {
			t.Fatal(err)
		}
		if s.settle {
			box := "INBOX"
			if folder != "" {
				box = s.Folder(folder)
			}
			c := s.Dial(t, user)
			if res, _, err := c.Select(context.Background(), box, false); err != nil || res.Type != "OK" {
				t.Fatalf("%s: SELECT %s after seeding: %v %v", s.Name, box, res, err)
			}
			c.Logout(context.Background())
		}
		return
	}
	ctx := context.Background()
	c := s.Dial(t, user)
	box := "INBOX"
	if folder != "" {
		box = s.Folder(folder)
		c.Create(ctx, box) // may exist already
	}
	for _, m := range msgs {
		var fl []string
		if m.Seen {
			fl = append(fl, `\Seen`)
		}
		if m.Flagged {
			fl = append(fl, `\Flagged`)
		}
		flags := ""
		if len(fl) > 0 {
			flags = "(" + strings.Join(fl, " ") + ")"
		}
		if _, _, err := c.Append(ctx, box, flags, imap.Time2Internaldate(m.Date), m.Raw); err != nil {
			t.Fatalf("%s: seeding %s: %v", s.Name, box, err)
		}
	}
}

// dovecotMaildir is the Maildir of folder ("" for INBOX) of user on Dovecot
// (Maildir++: ".Name", "/" as ".").
func dovecotMaildir(s *dovecot.Server, user, folder string) (string, error) {
	md, err := s.Maildir(user)
	if err != nil || folder == "" {
		return md, err
	}
	box := filepath.Join(md, "."+strings.ReplaceAll(folder, "/", "."))
	for _, d := range []string{box, box + "/cur", box + "/new", box + "/tmp"} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", err
		}
		if err := s.Chown(d); err != nil {
			return "", fmt.Errorf("chown %s: %w", d, err)
		}
	}
	return box, nil
}
