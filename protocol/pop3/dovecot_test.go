package pop3

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/courier"
	"github.com/mailscript/mailscript/internal/cyrus"
	"github.com/mailscript/mailscript/internal/dovecot"
	"github.com/mailscript/mailscript/internal/mailgen"
	"github.com/mailscript/mailscript/internal/tlsopt"
	"github.com/mailscript/mailscript/protocol/sasl"
)

// Integration tests against a real Dovecot pop3d on 127.0.0.1, one per
// test binary, started by the first test that needs it.

// TestMain stops the shared Dovecot, Cyrus and Courier the tests started.
func TestMain(m *testing.M) {
	code := m.Run()
	dovecot.StopShared()
	cyrus.StopShared()
	courier.StopShared()
	os.Exit(code)
}

func userName(t *testing.T) string { return "pop-" + strings.ToLower(t.Name()) }

func seed(t *testing.T, n int) []mailgen.Message {
	t.Helper()
	srv := dovecot.Shared(t)
	md, err := srv.Maildir(userName(t))
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := mailgen.New(5).WriteMaildir(md, 0, n, srv.Chown)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func login(t *testing.T) *Client {
	t.Helper()
	c, err := Dial(bg, dovecot.Addr(dovecot.Shared(t).POP3), &Options{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.User(bg, userName(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pass(bg, dovecot.Password); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDovecotRetrieveAll(t *testing.T) {
	t.Parallel()
	const n = 5000
	msgs := seed(t, n)
	c := login(t)
	defer c.Quit(bg)
	count, size, err := c.Stat(bg)
	total := int64(0)
	for _, m := range msgs {
		total += int64(len(m.Raw))
	}
	if err != nil || count != n || size != total {
		t.Fatalf("stat %d %d (want %d %d) %v", count, size, n, total, err)
	}
	_, list, err := c.List(bg)
	if err != nil || len(list) != n || list[n-1].Size != int64(len(msgs[n-1].Raw)) {
		t.Fatal(err, len(list))
	}
	var buf bytes.Buffer
	for i := 1; i <= n; i++ {
		buf.Reset()
		if _, _, err := c.RetrTo(bg, fmt.Sprint(i), &buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), msgs[i-1].Raw) {
			t.Fatalf("message %d differs: %d bytes, want %d", i, buf.Len(), len(msgs[i-1].Raw))
		}
	}
	// poplib's form too, on a few
	for _, i := range []int{1, n / 2, n} {
		m, err := c.Retr(bg, fmt.Sprint(i))
		joined := append(bytes.Join(m.Lines, []byte("\r\n")), "\r\n"...)
		if err != nil || !bytes.Equal(joined, msgs[i-1].Raw) || m.Octets != len(msgs[i-1].Raw) {
			t.Fatalf("retr %d: %v octets %d", i, err, m.Octets)
		}
	}
	top, err := c.Top(bg, "1", "0")
	if err != nil || !bytes.HasPrefix(msgs[0].Raw, bytes.Join(top.Lines, []byte("\r\n"))) {
		t.Fatal(err)
	}
}

func TestDovecotDeleteAndUIDL(t *testing.T) {
	t.Parallel()
	seed(t, 5)
	c := login(t)
	_, uids1, err := c.Uidl(bg)
	if err != nil || len(uids1) != 5 {
		t.Fatal(err)
	}
	_, one, err := c.UidlOne(bg, "2")
	if err != nil || one.UID != uids1[1].UID {
		t.Fatal(err, one)
	}
	c.Dele(bg, "1")
	c.Rset(bg) // keeps message 1
	c.Dele(bg, "2")
	if _, err := c.Retr(bg, "2"); err == nil {
		t.Fatal("retrieved a deleted message")
	}
	if _, err := c.Quit(bg); err != nil {
		t.Fatal(err)
	}
	c = login(t)
	defer c.Quit(bg)
	_, uids2, err := c.Uidl(bg)
	if err != nil || len(uids2) != 4 {
		t.Fatal(err, len(uids2))
	}
	// UIDs stable across sessions: the survivors keep theirs
	if uids2[0].UID != uids1[0].UID || uids2[1].UID != uids1[2].UID || uids2[3].UID != uids1[4].UID {
		t.Fatalf("%v vs %v", uids1, uids2)
	}
}

func TestDovecotTLSAndSTLS(t *testing.T) {
	t.Parallel()
	srv := dovecot.Shared(t)
	seed(t, 1)
	cfg, err := tlsopt.Options{CAFile: srv.CAFile}.Config()
	if err != nil {
		t.Fatal(err)
	}
	c, err := DialTLS(bg, dovecot.Addr(srv.POP3S), &Options{Timeout: 10 * time.Second, TLSConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Auth(bg, sasl.Plain("", userName(t), dovecot.Password)); err != nil {
		t.Fatal(err)
	}
	if n, _, err := c.Stat(bg); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	c.Quit(bg)

	_, err = DialTLS(bg, dovecot.Addr(srv.POP3S), &Options{Timeout: 10 * time.Second})
	if e := wantErr(t, err, "certificate"); e.Cause != "tls" {
		t.Fatal(e.Cause)
	}

	c, err = Dial(bg, dovecot.Addr(srv.POP3), &Options{Timeout: 10 * time.Second, TLSConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit(bg)
	if _, err := c.Stls(bg, nil); err != nil || !c.TLS() {
		t.Fatal(err)
	}
	_, err = c.Stls(bg, nil)
	wantErr(t, err, "already established")
	caps, err := c.Capa(bg)
	if err != nil || caps["STLS"] != nil || caps["UIDL"] == nil {
		t.Fatal(caps, err)
	}
	if _, err := c.Auth(bg, sasl.Login(userName(t), dovecot.Password)); err != nil {
		t.Fatal(err)
	}
}

func TestDovecotAuthFailures(t *testing.T) {
	t.Parallel()
	srv := dovecot.Shared(t)
	c, err := Dial(bg, dovecot.Addr(srv.POP3), &Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.User(bg, userName(t))
	_, err = c.Pass(bg, "wrong")
	if e := wantErr(t, err, "-ERR [AUTH]"); e.Command != "PASS" || e.Code != "AUTH" {
		t.Fatalf("%+v", e)
	}
	_, err = c.Auth(bg, sasl.Plain("", userName(t), "wrong"))
	if e := wantErr(t, err, "-ERR"); e.Command != "AUTH" || e.Code != "AUTH" {
		t.Fatalf("%+v", e)
	}
	_, err = c.Apop(bg, userName(t), "x") // Dovecot's welcome has no APOP timestamp
	wantErr(t, err, "APOP not supported")
	if _, err := c.Auth(bg, sasl.CramMD5(userName(t), dovecot.Password)); err != nil {
		t.Fatal(err)
	}
}
