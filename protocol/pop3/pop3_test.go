package pop3

import (
	"crypto/md5"
	"encoding/hex"

	"bufio"
	"bytes"
	"context"
	"errors"
	"github.com/mailscript/mailscript/protocol/sasl"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

var bg = context.Background()

// The dummy server of CPython's test_poplib, as a scripted fake that
// records the exact lines the client sent.

const retrResp = "From: postmaster@python.org\r\nContent-Type: text/plain\r\nMIME-Version: 1.0\r\nSubject: Dummy\r\n\r\nline1\r\nline2\r\nline3\r\n.\r\n"

type fakeServer struct {
	addr string
	sent chan string
}

func startFake(t *testing.T, welcome string, handle func(cmd string, w io.Writer) bool) *fakeServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{addr: l.Addr().String(), sent: make(chan string, 100)}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, welcome)
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			f.sent <- line
			if !handle(strings.TrimRight(line, "\r\n"), c) {
				return
			}
		}
	}()
	return f
}

// dummy answers as test_poplib's DummyPOP3Handler does.
func dummy(cmd string, w io.Writer) bool {
	verb, arg, _ := strings.Cut(cmd, " ")
	reply := map[string]string{
		"USER": "+OK password required", "PASS": "+OK 22 messages", "STAT": "+OK 10 100",
		"DELE": "+OK message marked for removal", "NOOP": "+OK done nothing.", "RPOP": "+OK done nothing.",
		"APOP": "+OK done nothing.", "RSET": "+OK", "UTF8": "+OK I know RFC6856", "QUIT": "+OK closing.",
	}[verb]
	switch verb {
	case "LIST":
		if arg != "" {
			reply = "+OK " + arg + " " + arg
		} else {
			reply = "+OK\r\n1 1\r\n2 2\r\n3 3\r\n4 4\r\n5 5\r\n."
		}
	case "RETR", "TOP":
		reply = "+OK 116 bytes\r\n" + strings.TrimSuffix(retrResp, "\r\n")
	case "UIDL":
		if arg != "" {
			reply = "+OK " + arg + " 12345"
		} else {
			reply = "+OK\r\n1 a\r\n2 b\r\n."
		}
	case "CAPA":
		reply = "+OK Capability list follows\r\nIMPLEMENTATION python-testlib-pop-server\r\nTOP\r\nUSER\r\nPIPELINING\r\nUIDL\r\nUTF8\r\nSTLS\r\nSASL PLAIN LOGIN\r\n."
	case "ECHO":
		reply = arg
	case "AUTH":
		if strings.HasPrefix(arg, "PLAIN ") {
			reply = "+OK logged in"
		} else {
			reply = "+ VXNlcm5hbWU6"
		}
	}
	if reply == "" {
		reply = "-ERR unrecognized command"
	}
	io.WriteString(w, reply+"\r\n")
	return verb != "QUIT"
}

func dialDummy(t *testing.T) (*Client, *fakeServer) {
	t.Helper()
	f := startFake(t, "+OK dummy pop3 server ready. <timestamp>\r\n", dummy)
	c, err := Dial(bg, f.addr, &Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, f
}

func wantSent(t *testing.T, f *fakeServer, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-f.sent:
			if got != w+"\r\n" {
				t.Fatalf("client sent %q, want %q", got, w+"\r\n")
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("client sent nothing, want %q", w)
		}
	}
}

func wantErr(t *testing.T, err error, contains string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Text, contains) {
		t.Fatalf("error %v, want error_proto containing %q", err, contains)
	}
	return e
}

func TestDummyCommands(t *testing.T) {
	c, f := dialDummy(t)
	if c.Welcome() != "+OK dummy pop3 server ready. <timestamp>" {
		t.Fatal(c.Welcome())
	}
	if r, err := c.User(bg, "guido"); err != nil || r != "+OK password required" {
		t.Fatal(r, err)
	}
	if r, err := c.Pass(bg, "python"); err != nil || r != "+OK 22 messages" {
		t.Fatal(r, err)
	}
	n, size, err := c.Stat(bg)
	if err != nil || n != 10 || size != 100 {
		t.Fatal(n, size, err)
	}
	m, l, err := c.List(bg)
	if err != nil || m.Resp != "+OK" || len(m.Lines) != 5 || string(m.Lines[4]) != "5 5" || m.Octets != 25 || l[2].Size != 3 {
		t.Fatalf("%+v %+v %v", m, l, err)
	}
	r, one, err := c.ListOne(bg, "1")
	if err != nil || r != "+OK 1 1" || one.Num != 1 {
		t.Fatal(r, err)
	}
	m, err = c.Retr(bg, "1")
	want := []string{"From: postmaster@python.org", "Content-Type: text/plain", "MIME-Version: 1.0", "Subject: Dummy", "", "line1", "line2", "line3"}
	if err != nil || m.Resp != "+OK 116 bytes" || m.Octets != 113 || len(m.Lines) != len(want) {
		t.Fatalf("%+v %v", m, err)
	}
	for i, w := range want {
		if string(m.Lines[i]) != w {
			t.Fatalf("line %d %q", i, m.Lines[i])
		}
	}
	var buf bytes.Buffer
	r, octets, err := c.RetrTo(bg, "1", &buf)
	if err != nil || octets != 113 || buf.String() != strings.TrimSuffix(retrResp, ".\r\n") || r != "+OK 116 bytes" {
		t.Fatalf("%q %d %v", buf.String(), octets, err)
	}
	m, err = c.Top(bg, "1", "1")
	if err != nil || len(m.Lines) != 8 {
		t.Fatal(m, err)
	}
	m, u, err := c.Uidl(bg)
	if err != nil || len(m.Lines) != 2 || u[1].UID != "b" {
		t.Fatal(m, u, err)
	}
	r, uo, err := c.UidlOne(bg, "1")
	if err != nil || r != "+OK 1 12345" || uo.UID != "12345" {
		t.Fatal(r, uo, err)
	}
	for _, f := range []func(context.Context) (string, error){c.Noop, c.Rset, c.UTF8} {
		if _, err := f(bg); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Dele(bg, "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Rpop(bg, "foo"); err != nil {
		t.Fatal(err)
	}
	caps, err := c.Capa(bg)
	if err != nil || len(caps["SASL"]) != 2 || caps["USER"] == nil || len(caps["USER"]) != 0 {
		t.Fatal(caps, err)
	}
	if r, err := c.Quit(bg); err != nil || r != "+OK closing." {
		t.Fatal(r, err)
	}
	wantSent(t, f, "USER guido", "PASS python", "STAT", "LIST", "LIST 1", "RETR 1", "RETR 1", "TOP 1 1", "UIDL", "UIDL 1",
		"NOOP", "RSET", "UTF8", "DELE 1", "RPOP foo", "CAPA", "QUIT")
}

func TestErrAndTooLong(t *testing.T) {
	c, _ := dialDummy(t)
	_, err := c.shortCmd(bg, "ECHO -ERR boom", "ECHO -ERR boom")
	wantErr(t, err, "-ERR boom")
	_, err = c.shortCmd(bg, "ECHO garbage", "ECHO garbage")
	wantErr(t, err, "garbage")
	// a status line over 2,048 bytes
	_, err = c.shortCmd(bg, "ECHO +"+strings.Repeat("a", MaxLine+10), "ECHO")
	wantErr(t, err, "line too long")
}

func TestControlCharactersRefused(t *testing.T) {
	c, f := dialDummy(t)
	for _, cc := range []string{"\x00", "\r", "\n", "\x01", "\x1f", "\x7f", "\r\nDELE 1"} {
		_, err := c.User(bg, "user"+cc)
		wantErr(t, err, "control characters")
		_, err = c.Pass(bg, "pw"+cc)
		wantErr(t, err, "control characters")
		_, err = c.Apop(bg, "user"+cc, "x")
		wantErr(t, err, "control characters")
		_, err = c.Rpop(bg, cc)
		wantErr(t, err, "control characters")
	}
	if _, err := c.Noop(bg); err != nil {
		t.Fatal(err)
	}
	wantSent(t, f, "NOOP") // nothing before it
}

func TestApop(t *testing.T) {
	c, f := dialDummy(t)
	if _, err := c.Apop(bg, "foo", "dummypassword"); err != nil {
		t.Fatal(err)
	}
	// md5("<timestamp>dummypassword")
	wantSent(t, f, "APOP foo "+md5hex("<timestamp>dummypassword"))
	// CPython's REDOS test: a million "<" and no ">" is matched at once
	start := time.Now()
	if _, ok := APOPTimestamp("+OK" + strings.Repeat("<", 1_000_000)); ok {
		t.Fatal("matched")
	}
	if time.Since(start) > time.Second {
		t.Fatal("APOP match is not linear")
	}
	c.welcome = "+OK no timestamp here"
	_, err := c.Apop(bg, "a", "kb")
	wantErr(t, err, "APOP not supported")
	if ts, ok := APOPTimestamp("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>"); !ok || ts != "<1896.697170952@dbc.mtview.ca.us>" {
		t.Fatal(ts)
	}
}

func TestAuthAndTrace(t *testing.T) {
	f := startFake(t, "+OK hi\r\n", dummy)
	var trace bytes.Buffer
	c, err := Dial(bg, f.addr, &Options{Timeout: 5 * time.Second, Debug: 2, DebugWriter: &trace})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Auth(bg, plain("me", "sekrit")); err != nil {
		t.Fatal(err)
	}
	c.Pass(bg, "sekrit")
	if strings.Contains(trace.String(), "sekrit") || strings.Contains(trace.String(), "AG1lAHNla3JpdA") {
		t.Fatalf("secret in trace:\n%s", trace.String())
	}
	if !strings.Contains(trace.String(), "PASS ***") || !strings.Contains(trace.String(), "*get*") {
		t.Fatalf("trace:\n%s", trace.String())
	}
	wantSent(t, f, "AUTH PLAIN AG1lAHNla3JpdA==", "PASS sekrit")
}

func TestLFLineEndings(t *testing.T) {
	f := startFake(t, "+OK hi\n", func(cmd string, w io.Writer) bool {
		io.WriteString(w, "+OK\n..dot\nx\n.\n")
		return true
	})
	c, err := Dial(bg, f.addr, &Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := c.Retr(bg, "1")
	if err != nil || len(m.Lines) != 2 || string(m.Lines[0]) != ".dot" || m.Octets != 7 {
		t.Fatalf("%+v %v", m, err)
	}
}

func TestLongBodyLinesAndCap(t *testing.T) {
	long := strings.Repeat("x", 100_000)
	f := startFake(t, "+OK hi\r\n", func(cmd string, w io.Writer) bool {
		io.WriteString(w, "+OK\r\n"+long+"\r\n.\r\n")
		return true
	})
	c, err := Dial(bg, f.addr, &Options{Timeout: 5 * time.Second, Limits: Limits{MaxMessage: 200_000}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Retr(bg, "1")
	if err != nil || len(m.Lines[0]) != 100_000 {
		t.Fatal(err)
	}
	c.opts.MaxMessage = 50_000
	_, err = c.Retr(bg, "1")
	wantErr(t, err, "larger than 50000")
	c.Close()
}

func TestTimeoutAndEOF(t *testing.T) {
	f := startFake(t, "+OK hi\r\n", func(cmd string, w io.Writer) bool {
		if cmd == "NOOP" {
			time.Sleep(time.Second)
			return true
		}
		return false // close on anything else
	})
	c, err := Dial(bg, f.addr, &Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Noop(bg)
	if e := wantErr(t, err, ""); e.Cause != "timeout" {
		t.Fatalf("%+v", e)
	}
	_, _, err = c.Stat(bg)
	wantErr(t, err, "") // unusable after a timeout

	f = startFake(t, "+OK hi\r\n", func(string, io.Writer) bool { return false })
	c, _ = Dial(bg, f.addr, &Options{Timeout: 2 * time.Second})
	_, _, err = c.Stat(bg)
	wantErr(t, err, "-ERR EOF")

	_, err = Dial(bg, "127.0.0.1:1", &Options{Timeout: time.Second})
	if e := wantErr(t, err, "connect"); e.Cause != "refused" {
		t.Fatal(e.Cause)
	}
	f = startFake(t, "-ERR go away\r\n", dummy)
	_, err = Dial(bg, f.addr, nil)
	wantErr(t, err, "-ERR go away")
}

func TestStlsRules(t *testing.T) {
	c, f := dialDummy(t)
	c.Pass(bg, "x")
	_, err := c.Stls(bg, nil)
	wantErr(t, err, "only allowed before login")
	c.loggedIn = false
	c.tls = true
	_, err = c.Stls(bg, nil)
	wantErr(t, err, "already established")
	wantSent(t, f, "PASS x")
}

func TestStlsInjectedBytesDiscarded(t *testing.T) {
	f := startFake(t, "+OK hi\r\n", func(cmd string, w io.Writer) bool {
		switch cmd {
		case "CAPA":
			io.WriteString(w, "+OK\r\nSTLS\r\n.\r\n")
		case "STLS":
			io.WriteString(w, "+OK begin\r\n+OK injected\r\n")
			return false
		}
		return true
	})
	c, _ := Dial(bg, f.addr, &Options{Timeout: 2 * time.Second})
	_, err := c.Stls(bg, nil)
	e := wantErr(t, err, "TLS handshake")
	if strings.Contains(e.Text, "injected") || e.Cause != "tls" {
		t.Fatal(e)
	}
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func plain(user, pw string) sasl.Mechanism { return sasl.Plain("", user, pw) }
