package imap

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/courier"
	"github.com/mailscript/mailscript/internal/cyrus"
	"github.com/mailscript/mailscript/internal/tlsopt"
)

// Smoke tests against Cyrus IMAP 3.6 and Courier-IMAP 5.0 (see
// internal/cyrus and internal/courier): the test binary's shared servers,
// a user per test; TestMain stops them.

// realServer is what the smoke tests need to know of a server.
type realServer struct {
	imap, imaps   int
	caFile        string
	user, pass    string
	prefix        string   // of personal folders: "" or "INBOX."
	folders       []string // besides INBOX, as LIST shows them
	specialUse    bool     // LIST flags \Sent and the like
	greeting      string   // in the greeting
	hasMove       bool
	selectUIDNext bool // SELECT sends [UIDNEXT]
}

func startCyrus(t *testing.T) realServer {
	t.Helper()
	s := cyrus.Shared(t)
	return realServer{imap: s.IMAP, imaps: s.IMAPS, caFile: s.CAFile, user: s.User(t, strings.ToLower(t.Name())), pass: cyrus.Password,
		folders: []string{"Drafts", "Junk", "Sent", "Trash"}, specialUse: true,
		greeting: "Cyrus IMAP", hasMove: true, selectUIDNext: true}
}

func startCourier(t *testing.T) realServer {
	t.Helper()
	s := courier.Shared(t)
	return realServer{imap: s.IMAP, imaps: s.IMAPS, caFile: s.CAFile, user: s.User(t, strings.ToLower(t.Name())), pass: courier.Password,
		prefix: "INBOX.", folders: []string{"INBOX.Drafts", "INBOX.Junk", "INBOX.Sent", "INBOX.Trash"},
		greeting: "Courier-IMAP"}
}

func TestCyrusSmoke(t *testing.T) {
	t.Parallel()
	smokeIMAP(t, startCyrus(t))
}

func TestCourierSmoke(t *testing.T) {
	t.Parallel()
	smokeIMAP(t, startCourier(t))
}

func smokeIMAP(t *testing.T, srv realServer) {
	cfg, err := tlsopt.Options{CAFile: srv.caFile}.Config()
	if err != nil {
		t.Fatal(err)
	}
	opts := &Options{Timeout: 10 * time.Second, TLSConfig: cfg}
	addr, addrs := cyrus.Addr(srv.imap), cyrus.Addr(srv.imaps)

	t.Run("plain", func(t *testing.T) {
		c, err := Dial(bg, addr, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Logout(bg)
		if c.TLS() || !c.HasCap("STARTTLS") || !strings.Contains(c.Welcome(), srv.greeting) {
			t.Fatalf("greeting %q, caps %v", c.Welcome(), c.Capabilities())
		}
		must(t)(c.Login(bg, srv.user, srv.pass))
		t.Logf("capabilities after LOGIN: %s", strings.Join(c.Capabilities(), " "))
		if c.HasCap("MOVE") != srv.hasMove || !c.HasCap("UIDPLUS") || !c.HasCap("IDLE") {
			t.Fatalf("MOVE %v UIDPLUS IDLE expected: %v", srv.hasMove, c.Capabilities())
		}

		_, list, err := c.List(bg, "", "*")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]*ListEntry{}
		for _, e := range list {
			got[e.Name] = e
		}
		for _, name := range append([]string{"INBOX"}, srv.folders...) {
			if got[name] == nil {
				t.Fatalf("LIST has no %q: %v", name, got)
			}
		}
		sent := got[srv.prefix+"Sent"]
		if hasFlag(sent.Flags, `\Sent`) != srv.specialUse {
			t.Fatalf("special-use %v expected, Sent has %v", srv.specialUse, sent.Flags)
		}

		box := srv.prefix + "Smoke"
		must(t)(c.Create(bg, box))
		msg := []byte("From: a@example.org\r\nTo: b@example.org\r\nSubject: smoke\r\nMessage-ID: <smoke@example.org>\r\n\r\nHello.\r\n")
		res, au, err := c.Append(bg, box, `(\Seen)`, "", msg)
		must(t)(res, err)
		if au == nil || au.UID == 0 {
			t.Fatalf("no APPENDUID: %+v", res)
		}
		_, st, err := c.Select(bg, box, false)
		if err != nil {
			t.Fatal(err)
		}
		if st.Exists != 1 || (st.UIDNext > 0) != srv.selectUIDNext {
			t.Fatalf("SELECT: %+v", st)
		}
		_, fm, err := c.Fetch(bg, "1", "(UID FLAGS RFC822.SIZE BODY.PEEK[])", false)
		if err != nil {
			t.Fatal(err)
		}
		if len(fm) != 1 || fm[0].UID != au.UID || fm[0].Size != int64(len(msg)) || !bytes.Equal(fm[0].Body[""], msg) || !hasFlag(fm[0].Flags, `\Seen`) {
			t.Fatalf("FETCH: %+v", fm)
		}
	})

	t.Run("starttls", func(t *testing.T) {
		c, err := Dial(bg, addr, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Logout(bg)
		must(t)(c.StartTLS(bg, nil))
		if !c.TLS() || c.HasCap("STARTTLS") {
			t.Fatalf("TLS %v, caps after STARTTLS %v", c.TLS(), c.Capabilities())
		}
		must(t)(c.Login(bg, srv.user, srv.pass))
		_, st, err := c.Select(bg, "INBOX", true)
		if err != nil || st.Exists != 0 {
			t.Fatal(err, st)
		}
	})

	t.Run("implicit-tls", func(t *testing.T) {
		c, err := DialTLS(bg, addrs, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Logout(bg)
		if !c.TLS() {
			t.Fatal("not TLS")
		}
		must(t)(c.Login(bg, srv.user, srv.pass))
		_, list, err := c.List(bg, "", srv.prefix+"Smoke")
		if err != nil || len(list) != 1 {
			t.Fatal(err, list)
		}
		// The system roots do not know the test CA.
		_, err = DialTLS(bg, addrs, &Options{Timeout: 10 * time.Second})
		wantKind(t, err, KindError, "certificate")
	})

	t.Run("bad-password", func(t *testing.T) {
		c, err := Dial(bg, addr, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Logout(bg)
		_, err = c.Login(bg, srv.user, srv.pass+"x")
		if e := wantKind(t, err, KindError, "failed"); e.Command != "LOGIN" || c.State() != StateNonAuth {
			t.Fatalf("%+v in state %s", e, c.State())
		}
	})
}

func hasFlag(flags []string, want string) bool {
	for _, f := range flags {
		if strings.EqualFold(f, want) {
			return true
		}
	}
	return false
}

// TestCourierLoginPipeline pins the quirk behind issue 12's first bug:
// Courier answers nothing to a command sent in the same packet as a
// successful LOGIN, and answers it when sent after LOGIN's reply.
func TestCourierLoginPipeline(t *testing.T) {
	t.Parallel()
	srv := startCourier(t)
	c, err := Dial(bg, courier.Addr(srv.imap), &Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Logout(bg)
	if err := c.Send(bg, []byte(fmt.Sprintf("a LOGIN %s %s\r\nb NOOP\r\n", srv.user, srv.pass))); err != nil {
		t.Fatal(err)
	}
	line, err := c.ReadLine(bg)
	if err != nil || !strings.HasPrefix(string(line), "a OK") {
		t.Fatalf("%q %v", line, err)
	}
	// b is lost: c's NOOP is the next thing answered.
	if err := c.Send(bg, []byte("c NOOP\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err = c.ReadLine(bg)
	if err != nil || !strings.HasPrefix(string(line), "c OK") {
		t.Fatalf("after LOGIN: %q %v", line, err)
	}
}
