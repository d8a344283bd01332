package imap

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/mailscript/mailscript/protocol/sasl"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/courier"
	"github.com/mailscript/mailscript/internal/cyrus"
	"github.com/mailscript/mailscript/internal/dovecot"
	"github.com/mailscript/mailscript/internal/mailgen"
	"github.com/mailscript/mailscript/internal/tlsopt"
)

// Integration tests against a real Dovecot on 127.0.0.1, one per test
// binary, started by the first test that needs it; each test logs in as
// a user of its own.

// TestMain stops the shared Dovecot, Cyrus and Courier the tests started.
func TestMain(m *testing.M) {
	code := m.Run()
	dovecot.StopShared()
	cyrus.StopShared()
	courier.StopShared()
	os.Exit(code)
}

func userName(t *testing.T) string {
	return strings.ToLower(strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()))
}

// seed writes n generated messages into the test user's INBOX.
func seed(t *testing.T, user string, n int) []mailgen.Message {
	t.Helper()
	srv := dovecot.Shared(t)
	md, err := srv.Maildir(user)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := mailgen.New(42).WriteMaildir(md, 0, n, srv.Chown)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func caPool(t *testing.T) *x509.CertPool {
	srv := dovecot.Shared(t)
	pem, err := os.ReadFile(srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(pem)
	return p
}

// connect logs a new connection in as the test's user.
func connect(t *testing.T) *Client {
	t.Helper()
	srv := dovecot.Shared(t)
	c, err := Dial(bg, dovecot.Addr(srv.IMAP), &Options{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Logout(bg) })
	if _, err := c.Login(bg, userName(t), dovecot.Password); err != nil {
		t.Fatal(err)
	}
	return c
}

// must fails the test unless a command returned OK.
func must(t *testing.T) func(*Result, error) *Result {
	return func(res *Result, err error) *Result {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if res.Type != "OK" {
			t.Fatalf("%s: %+v", res.Type, res.Data)
		}
		return res
	}
}

func TestDovecotSession(t *testing.T) {
	t.Parallel()
	msgs := seed(t, userName(t), 30)
	c := connect(t)
	if !c.HasCap("MOVE") || !c.HasCap("QUOTA") || c.State() != StateAuth {
		t.Fatalf("caps after login %v", c.Capabilities())
	}
	_, caps, err := c.Capability(bg)
	if err != nil || len(caps) < 10 {
		t.Fatal(err, caps)
	}
	must(t)(c.Noop(bg))
	_, st, err := c.Select(bg, "INBOX", false)
	if err != nil || st.Exists != 30 || st.UIDValidity <= 0 || st.UIDNext != 31 || len(st.PermanentFlags) == 0 {
		t.Fatalf("%v %+v", err, st)
	}
	must(t)(c.Check(bg))

	// FETCH: every decoded item against what was delivered
	res, fm, err := c.Fetch(bg, "1:30", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[])", false)
	must(t)(res, err)
	if len(fm) != 30 {
		t.Fatalf("%d fetched", len(fm))
	}
	for i, m := range fm {
		want := msgs[i]
		if m.Seq != uint32(i+1) || m.UID != uint32(i+1) || !bytes.Equal(m.Body[""], want.Raw) || m.Size != int64(len(want.Raw)) {
			t.Fatalf("message %d: seq %d uid %d size %d/%d body equal %v", i, m.Seq, m.UID, m.Size, len(want.Raw), bytes.Equal(m.Body[""], want.Raw))
		}
		if m.Envelope.Subject != want.Subject || m.Envelope.From[0].Address != want.From || m.Envelope.MessageID == "" {
			t.Fatalf("message %d envelope %+v, want subject %q from %q", i, m.Envelope, want.Subject, want.From)
		}
		if !m.InternalTime.Equal(want.Date) {
			t.Fatalf("internaldate %v want %v", m.InternalTime, want.Date)
		}
		hasSeen := false
		for _, f := range m.Flags {
			hasSeen = hasSeen || f == `\Seen`
		}
		if hasSeen != want.Seen {
			t.Fatalf("message %d seen %v want %v", i, hasSeen, want.Seen)
		}
		if m.BodyStructure == nil || m.BodyStructure.Type == "" {
			t.Fatalf("no bodystructure")
		}
		if strings.Contains(string(want.Raw), "multipart/mixed") {
			bs := m.BodyStructure
			if bs.Subtype != "mixed" || len(bs.Parts) != 2 || bs.Parts[1].Disposition == nil || bs.Parts[1].Disposition.Type != "attachment" ||
				bs.Parts[1].Encoding != "base64" || bs.Parts[1].Part != "2" || bs.Parts[1].Disposition.Params["filename"] == "" {
				t.Fatalf("mixed bodystructure %+v %+v", bs, bs.Parts[1])
			}
		}
	}
	// BINARY and partial BODY
	_, fm, err = c.Fetch(bg, "1", "(BINARY.PEEK[1] BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.5>)", false)
	if err != nil || len(fm[0].Binary["1"]) == 0 || len(fm[0].Body["HEADER.FIELDS (SUBJECT)<0>"]) != 5 {
		t.Fatalf("%v %+v", err, fm)
	}

	// SEARCH, UID SEARCH, SORT, THREAD
	unseen := 0
	for _, m := range msgs {
		if !m.Seen {
			unseen++
		}
	}
	res, nums, err := c.Search(bg, "", []string{"UNSEEN"}, false)
	must(t)(res, err)
	if len(nums) != unseen || (unseen > 0 && res.Data[0].Text == "") {
		t.Fatalf("unseen %d want %d: %+v", len(nums), unseen, res.Data)
	}
	_, nums, err = c.Search(bg, "UTF-8", []string{"FROM", `"` + msgs[0].From + `"`}, true)
	if err != nil || len(nums) == 0 || nums[0] != 1 {
		t.Fatal(err, nums)
	}
	_, sorted, err := c.Sort(bg, "REVERSE ARRIVAL", "UTF-8", []string{"ALL"}, false)
	if err != nil || len(sorted) != 30 || sorted[0] != 30 {
		t.Fatal(err, sorted)
	}
	_, threads, err := c.Thread(bg, "REFERENCES", "UTF-8", []string{"ALL"}, true)
	if err != nil || len(threads) == 0 {
		t.Fatal(err, threads)
	}
	// UID via the generic entry point
	_, v, err := c.UID(bg, "SEARCH", "ALL")
	if err != nil || len(v.([]uint32)) != 30 {
		t.Fatal(err, v)
	}

	// STORE, COPY, MOVE, EXPUNGE, UID EXPUNGE
	_, fm, err = c.Store(bg, "1:2", "+FLAGS", `\Flagged`, false)
	if err != nil || len(fm) != 2 {
		t.Fatal(err, fm)
	}
	must(t)(c.Create(bg, "Archive/2024"))
	_, cu, err := c.Copy(bg, "1:3", "Archive/2024", false)
	if err != nil || cu == nil || len(cu.Dest) != 3 {
		t.Fatal(err, cu)
	}
	_, mu, err := c.Move(bg, "4:5", "Archive/2024", true)
	if err != nil || mu == nil || len(mu.Source) != 2 || mu.Source[0] != 4 {
		t.Fatal(err, mu)
	}
	c.Response("EXPUNGE") // MOVE's expunges, kept as imaplib keeps them
	res, _, err = c.Copy(bg, "1", "Nope", false)
	if err != nil || res.Type != "NO" || res.Status.Code != "TRYCREATE" {
		t.Fatalf("%v %+v", err, res.Status)
	}
	_, _, err = c.Store(bg, "1:2", "+FLAGS.SILENT", `\Deleted`, false)
	if err != nil {
		t.Fatal(err)
	}
	_, exp, err := c.Expunge(bg)
	if err != nil || len(exp) != 2 || exp[0]+exp[1] != 3 {
		t.Fatal(err, exp)
	}
	c.Store(bg, "10,11", "+FLAGS", `\Deleted`, true)
	_, exp, err = c.UIDExpunge(bg, "10")
	if err != nil || len(exp) != 1 {
		t.Fatal(err, exp)
	}
	res, err = c.Recent(bg)
	if err != nil {
		t.Fatal(err)
	}
	_, sd, err := c.Status(bg, "Archive/2024", "(MESSAGES UIDNEXT UNSEEN SIZE)")
	if err != nil || sd.Messages != 5 || sd.Mailbox != "Archive/2024" || sd.Size <= 0 {
		t.Fatal(err, sd)
	}
	must(t)(c.Unselect(bg))
	if c.State() != StateAuth {
		t.Fatal(c.State())
	}
	_, _, err = c.Select(bg, "Archive/2024", true)
	if err != nil || !c.IsReadOnly() {
		t.Fatal(err)
	}
	must(t)(c.CloseMailbox(bg))
}

func TestDovecotMailboxes(t *testing.T) {
	t.Parallel()
	c := connect(t)
	must(t)(c.Create(bg, "Entwürfe"))
	must(t)(c.Create(bg, "a b/c"))
	must(t)(c.Rename(bg, "a b/c", "a b/d"))
	must(t)(c.Subscribe(bg, "Entwürfe"))
	_, l, err := c.List(bg, "", "*")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]*ListEntry{}
	for _, e := range l {
		names[e.Name] = e
	}
	if e := names["Entwürfe"]; e == nil || e.RawName != "Entw&APw-rfe" || e.Delimiter != "/" {
		t.Fatalf("list %+v", l)
	}
	if names["a b/d"] == nil || names["Junk"] == nil {
		t.Fatalf("list %+v", names)
	}
	hasJunk := false
	for _, f := range names["Junk"].Flags {
		hasJunk = hasJunk || f == `\Junk`
	}
	if !hasJunk {
		t.Fatalf("special use: %+v", names["Junk"])
	}
	_, l, err = c.Lsub(bg, "", "*")
	if err != nil || len(l) != 1 || l[0].Name != "Entwürfe" {
		t.Fatal(err, l)
	}
	must(t)(c.Unsubscribe(bg, "Entwürfe"))
	must(t)(c.Delete(bg, "Entwürfe"))
	res, err := c.Delete(bg, "Entwürfe")
	if err != nil || res.Type != "NO" {
		t.Fatal(err, res)
	}
	_, ns, err := c.Namespace(bg)
	if err != nil || len(ns.Personal) != 1 || ns.Personal[0].Delimiter != "/" {
		t.Fatal(err, ns)
	}
	_, id, err := c.ID(bg, []string{"name", "mailscript"})
	if err != nil || id["name"] != "Dovecot" {
		t.Fatal(err, id)
	}
	_, enabled, err := c.Enable(bg, "CONDSTORE")
	if err != nil || len(enabled) != 1 || enabled[0] != "CONDSTORE" {
		t.Fatal(err, enabled)
	}
	_, enabled, err = c.Enable(bg, "UTF8=ACCEPT")
	if err != nil {
		t.Fatal(err)
	}
	if len(enabled) == 1 && !c.UTF8Enabled() {
		t.Fatal("UTF8=ACCEPT enabled but not switched on")
	}
}

func TestDovecotQuotaACL(t *testing.T) {
	t.Parallel()
	c := connect(t)
	_, qr, err := c.GetQuotaRoot(bg, "INBOX")
	if err != nil || len(qr.Roots) != 1 || qr.Roots[0] != "User quota" || len(qr.Quotas) != 1 || qr.Quotas[0].Resources[0].Name != "STORAGE" {
		t.Fatalf("%v %+v", err, qr)
	}
	_, q, err := c.GetQuota(bg, "User quota")
	if err != nil || len(q) != 1 || q[0].Resources[0].Limit != 10485760 {
		t.Fatal(err, q)
	}
	// Dovecot refuses SETQUOTA without extra configuration: the user gets NO
	res, _, err := c.SetQuota(bg, "User quota", "STORAGE 100")
	if err == nil && res.Type == "OK" {
		t.Fatal("SETQUOTA unexpectedly allowed")
	}
	_, acl, err := c.GetACL(bg, "INBOX")
	if err != nil || len(acl.Entries) == 0 || acl.Entries[0].Identifier != userName(t) {
		t.Fatal(err, acl)
	}
	_, mr, err := c.MyRights(bg, "INBOX")
	if err != nil || !strings.Contains(mr.Rights, "l") {
		t.Fatal(err, mr)
	}
	must(t)(c.SetACL(bg, "INBOX", "friend", "lr"))
	_, acl, _ = c.GetACL(bg, "INBOX")
	found := false
	for _, e := range acl.Entries {
		found = found || e.Identifier == "friend" && e.Rights == "lr"
	}
	if !found {
		t.Fatalf("%+v", acl)
	}
	must(t)(c.DeleteACL(bg, "INBOX", "friend"))
	// commands Dovecot does not offer: the user sees the server's refusal
	for name, f := range map[string]func() error{
		"GETANNOTATION": func() error { _, err := c.GetAnnotation(bg, "INBOX", "/comment", "value.shared"); return err },
		"SETANNOTATION": func() error { _, err := c.SetAnnotation(bg, "INBOX", `"/comment"`, `("value.shared" "x")`); return err },
		"PROXYAUTH":     func() error { _, err := c.ProxyAuth(bg, "other"); return err },
	} {
		err := f()
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindError || !strings.Contains(e.Text, "BAD") {
			t.Fatalf("%s: %v", name, err)
		}
	}
	c.Select(bg, "INBOX", false)
	_, _, err = c.Partial(bg, "1", "BODY[]", 0, 10)
	if err == nil {
		t.Fatal("PARTIAL unexpectedly accepted")
	}
}

func TestDovecotAppendLarge(t *testing.T) {
	t.Parallel()
	c := connect(t)
	var big bytes.Buffer
	big.WriteString("From: a@example.com\r\nSubject: big\r\n\r\n")
	line := strings.Repeat("0123456789", 7) + "\r\n"
	for big.Len() < 20<<20 {
		big.WriteString(line)
	}
	when := time.Date(2023, 5, 6, 7, 8, 9, 0, time.FixedZone("", 2*3600))
	res, au, err := c.Append(bg, "INBOX", `\Seen $Important`, Time2Internaldate(when), big.Bytes())
	must(t)(res, err)
	if au == nil || au.UID != 1 {
		t.Fatalf("%+v", au)
	}
	c.Select(bg, "INBOX", false)
	_, fm, err := c.Fetch(bg, "1", "(FLAGS INTERNALDATE BODY.PEEK[])", false)
	if err != nil || !bytes.Equal(fm[0].Body[""], big.Bytes()) || !fm[0].InternalTime.Equal(when) || len(fm[0].Flags) < 2 {
		t.Fatalf("%v size %d flags %v date %v", err, len(fm[0].Body[""]), fm[0].Flags, fm[0].InternalTime)
	}
}

func TestDovecotIdleWokenByAppend(t *testing.T) {
	t.Parallel()
	c := connect(t)
	c.Select(bg, "INBOX", false)
	idler, err := c.Idle(bg, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	addr := dovecot.Addr(dovecot.Shared(t).IMAP)
	go func() {
		time.Sleep(200 * time.Millisecond)
		o, err := Dial(bg, addr, &Options{Timeout: 10 * time.Second})
		if err != nil {
			t.Error(err)
			return
		}
		defer o.Logout(bg)
		o.Login(bg, userName(t), dovecot.Password)
		if _, _, err := o.Append(bg, "INBOX", "", "", []byte("Subject: wake\r\n\r\nup\r\n")); err != nil {
			t.Error(err)
		}
	}()
	start := time.Now()
	var got *Response
	for {
		r, err := idler.Next(bg)
		if err != nil || r == nil {
			t.Fatalf("idle ended: %v", err)
		}
		if r.Type == "EXISTS" {
			got = r
			break
		}
	}
	if got.Num != 1 || time.Since(start) > 5*time.Second {
		t.Fatalf("%+v after %v", got, time.Since(start))
	}
	if err := idler.Done(bg); err != nil {
		t.Fatal(err)
	}
	_, nums, err := c.Search(bg, "", []string{"ALL"}, false)
	if err != nil || len(nums) != 1 {
		t.Fatal(err, nums)
	}
}

func TestDovecotTLS(t *testing.T) {
	t.Parallel()
	srv := dovecot.Shared(t)
	cfg, err := tlsopt.Options{CAFile: srv.CAFile}.Config()
	if err != nil {
		t.Fatal(err)
	}
	c, err := DialTLS(bg, dovecot.Addr(srv.IMAPS), &Options{Timeout: 10 * time.Second, TLSConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if !c.TLS() {
		t.Fatal("not TLS")
	}
	must(t)(c.Login(bg, userName(t), dovecot.Password))
	c.Logout(bg)

	// system roots do not know the test CA: verification fails
	_, err = DialTLS(bg, dovecot.Addr(srv.IMAPS), &Options{Timeout: 10 * time.Second})
	e := wantKind(t, err, KindError, "certificate")
	if e.Cause != CauseTLS {
		t.Fatalf("cause %q", e.Cause)
	}
	// wrong host name fails too
	_, err = DialTLS(bg, dovecot.Addr(srv.IMAPS), &Options{Timeout: 10 * time.Second, TLSConfig: &tls.Config{RootCAs: caPool(t), ServerName: "other.example"}})
	wantKind(t, err, KindError, "certificate")

	// STARTTLS, then capabilities refreshed (LOGINDISABLED gone, AUTH=PLAIN stays)
	c, err = Dial(bg, dovecot.Addr(srv.IMAP), &Options{Timeout: 10 * time.Second, TLSConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Logout(bg)
	must(t)(c.StartTLS(bg, nil))
	if !c.TLS() || c.HasCap("STARTTLS") {
		t.Fatalf("caps after STARTTLS %v", c.Capabilities())
	}
	_, err = c.StartTLS(bg, nil)
	wantKind(t, err, KindAbort, "already established")
	must(t)(c.Login(bg, userName(t), dovecot.Password))
}

func TestDovecotAuthenticate(t *testing.T) {
	t.Parallel()
	srv := dovecot.Shared(t)
	user := userName(t)
	for _, m := range []sasl.Mechanism{sasl.Plain("", user, dovecot.Password), sasl.Login(user, dovecot.Password), sasl.CramMD5(user, dovecot.Password)} {
		c, err := Dial(bg, dovecot.Addr(srv.IMAP), &Options{Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		must(t)(c.AuthenticateSASL(bg, m))
		if c.State() != StateAuth || !c.HasCap("MOVE") {
			t.Fatalf("%s: %s %v", m.Name, c.State(), c.Capabilities())
		}
		c.Logout(bg)
	}
	c, _ := Dial(bg, dovecot.Addr(srv.IMAP), &Options{Timeout: 10 * time.Second})
	defer c.Logout(bg)
	must(t)(c.LoginCramMD5(bg, user, dovecot.Password))

	c2, _ := Dial(bg, dovecot.Addr(srv.IMAP), &Options{Timeout: 10 * time.Second})
	defer c2.Logout(bg)
	_, err := c2.Login(bg, user, "wrong")
	e := wantKind(t, err, KindError, "")
	if e.Code != "AUTHENTICATIONFAILED" {
		t.Fatalf("%+v", e)
	}
	_, err = c2.Authenticate(bg, "PLAIN", func([]byte) ([]byte, bool) { return []byte("\x00" + user + "\x00bad"), true })
	wantKind(t, err, KindError, "")
	if c2.State() != StateNonAuth {
		t.Fatal(c2.State())
	}
}

func TestDovecotPipelinedFetch(t *testing.T) {
	t.Parallel()
	seed(t, userName(t), 300)
	c := connect(t)
	c.Select(bg, "INBOX", true)
	var cmds []*Command
	for i := 1; i <= 300; i += 10 {
		cmds = append(cmds, &Command{Name: "UID FETCH", Args: []Arg{Set(fmt.Sprintf("%d:%d", i, i+9)), Raw("(UID FLAGS BODY.PEEK[HEADER])")}})
	}
	if err := c.Execute(bg, cmds...); err != nil {
		t.Fatal(err)
	}
	// Dovecot runs pipelined FETCHes in parallel, so responses are not
	// sorted by command: count them all, and each UID once.
	total := 0
	seen := map[uint32]bool{}
	for _, cmd := range cmds {
		if cmd.Err() != nil {
			t.Fatal(cmd.Err())
		}
		for _, r := range cmd.Untagged {
			m, err := decodeFetch(r, 0, false)
			if err != nil || len(m.Body["HEADER"]) == 0 || seen[m.UID] {
				t.Fatal(err, m.UID)
			}
			seen[m.UID] = true
			total++
		}
	}
	if total != 300 {
		t.Fatal(total)
	}
}

func TestDovecotStreamAndTimeout(t *testing.T) {
	t.Parallel()
	srv := dovecot.Shared(t)
	// IMAP4_stream through a TCP relay process: nc is not guaranteed, so
	// use the test binary's own shell with bash's /dev/tcp.
	port := srv.IMAP
	c, err := DialStream(bg, fmt.Sprintf(`exec bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d; cat <&3 & cat >&3'`, port), &Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	must(t)(c.Login(bg, userName(t), dovecot.Password))
	must(t)(c.Noop(bg))
	if res := c.Logout(bg); res.Type != "BYE" {
		t.Fatalf("%+v", res)
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	_, err = Dial(ctx, dovecot.Addr(srv.IMAP), nil)
	wantKind(t, err, KindError, "connect")
}
