package pop3

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/courier"
	"github.com/mailscript/mailscript/internal/cyrus"
	"github.com/mailscript/mailscript/internal/mailgen"
	"github.com/mailscript/mailscript/internal/tlsopt"
	"github.com/mailscript/mailscript/protocol/imap"
)

// Smoke tests against Cyrus 3.6 and Courier 5.0 POP3 (see internal/cyrus
// and internal/courier): each test starts a server of its own, seeds three
// messages and reads them with USER/PASS, STAT and RETR over plain, STLS
// and implicit TLS.

type realServer struct {
	pop3, pop3s int
	caFile      string
	user, pass  string
	greeting    string
}

const smokeMessages = 3

func TestCyrusPOP3Smoke(t *testing.T) {
	t.Parallel()
	s := cyrus.Shared(t)
	user := s.User(t, strings.ToLower(t.Name()))
	// Cyrus's spool is not a Maildir: seed over IMAP.
	c, err := imap.Dial(bg, cyrus.Addr(s.IMAP), &imap.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(bg, user, cyrus.Password); err != nil {
		t.Fatal(err)
	}
	msgs := make([]mailgen.Message, smokeMessages)
	g := mailgen.New(7)
	for i := range msgs {
		msgs[i] = g.Message(i)
		if _, _, err := c.Append(bg, "INBOX", "", "", msgs[i].Raw); err != nil {
			t.Fatal(err)
		}
	}
	c.Logout(bg)
	smokePOP3(t, realServer{s.POP3, s.POP3S, s.CAFile, user, cyrus.Password, "Cyrus POP3"}, msgs)
}

func TestCourierPOP3Smoke(t *testing.T) {
	t.Parallel()
	s := courier.Shared(t)
	user := s.User(t, strings.ToLower(t.Name()))
	md, err := s.Maildir(user, "")
	if err != nil {
		t.Fatal(err)
	}
	// Courier's Maildir files have bare LF line ends (it adds the CR).
	msgs := make([]mailgen.Message, smokeMessages)
	files := make([]mailgen.Message, smokeMessages)
	g := mailgen.New(7)
	for i := range msgs {
		msgs[i] = g.Message(i)
		files[i] = msgs[i]
		files[i].Raw = bytes.ReplaceAll(msgs[i].Raw, []byte("\r\n"), []byte("\n"))
	}
	if err := mailgen.WriteMessages(md, files, 0, 7, s.Chown); err != nil {
		t.Fatal(err)
	}
	smokePOP3(t, realServer{s.POP3, s.POP3S, s.CAFile, user, courier.Password, "+OK Hello there."}, msgs)
}

func smokePOP3(t *testing.T, srv realServer, msgs []mailgen.Message) {
	cfg, err := tlsopt.Options{CAFile: srv.caFile}.Config()
	if err != nil {
		t.Fatal(err)
	}
	opts := &Options{Timeout: 10 * time.Second, TLSConfig: cfg}
	var total int64
	for _, m := range msgs {
		total += int64(len(m.Raw))
	}
	// check logs in and reads every message.
	check := func(t *testing.T, c *Client) {
		t.Helper()
		if _, err := c.User(bg, srv.user); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Pass(bg, srv.pass); err != nil {
			t.Fatal(err)
		}
		n, size, err := c.Stat(bg)
		if err != nil || n != int64(len(msgs)) || size != total {
			t.Fatalf("STAT %d %d, want %d %d: %v", n, size, len(msgs), total, err)
		}
		for i, want := range msgs {
			m, err := c.Retr(bg, fmt.Sprint(i+1))
			if err != nil {
				t.Fatal(err)
			}
			got := append(bytes.Join(m.Lines, []byte("\r\n")), "\r\n"...)
			if !bytes.Equal(got, want.Raw) {
				t.Fatalf("RETR %d: %d bytes, want %d", i+1, len(got), len(want.Raw))
			}
		}
		if _, err := c.Quit(bg); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("plain", func(t *testing.T) {
		c, err := Dial(bg, cyrus.Addr(srv.pop3), opts)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		caps, err := c.Capa(bg)
		if err != nil || caps["STLS"] == nil || caps["USER"] == nil || !strings.Contains(c.Welcome(), srv.greeting) {
			t.Fatalf("welcome %q, CAPA %v %v", c.Welcome(), caps, err)
		}
		t.Logf("CAPA: %v", caps)
		check(t, c)
	})

	t.Run("stls", func(t *testing.T) {
		c, err := Dial(bg, cyrus.Addr(srv.pop3), opts)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Stls(bg, nil); err != nil || !c.TLS() {
			t.Fatal(err)
		}
		check(t, c)
	})

	t.Run("implicit-tls", func(t *testing.T) {
		c, err := DialTLS(bg, cyrus.Addr(srv.pop3s), opts)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if !c.TLS() {
			t.Fatal("not TLS")
		}
		check(t, c)
		// The system roots do not know the test CA.
		_, err = DialTLS(bg, cyrus.Addr(srv.pop3s), &Options{Timeout: 10 * time.Second})
		if e := wantErr(t, err, "certificate"); e.Cause != "tls" {
			t.Fatal(e.Cause)
		}
	})
}
