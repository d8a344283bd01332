package oauth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/dovecot"
	"github.com/mailscript/mailscript/internal/oauthsrv"
	"github.com/mailscript/mailscript/oauth"
	"github.com/mailscript/mailscript/protocol/imap"
	"github.com/mailscript/mailscript/protocol/pop3"
	"github.com/mailscript/mailscript/protocol/sasl"
)

// clock is a test clock shared by the authorization server and sources.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var (
	clk = &clock{t: time.Now()}
	as  *oauthsrv.Server
	dc  *dovecot.Server
)

const clientID = "mailscript-test-client"

func TestMain(m *testing.M) {
	var err error
	as, err = oauthsrv.Start(clientID, clk.Now)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	as.Lifetime = 10 * time.Minute
	dc, err = dovecot.StartWith(dovecot.Options{OAuth2Introspection: as.URL + "/introspect"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "Dovecot with the oauth2 passdb:", err, "(run scripts/test.sh)")
		os.Exit(1)
	}
	code := m.Run()
	dc.Stop()
	as.Close()
	os.Exit(code)
}

func provider() oauth.Provider {
	return oauth.Provider{Name: "generic", AuthURL: as.URL + "/authorize", TokenURL: as.URL + "/token",
		DeviceURL: as.URL + "/device", Scopes: []string{"mail", "offline_access"}}
}

// deviceLogin signs user in with the device flow, the test playing the
// user who reads the code and approves it.
func deviceLogin(t *testing.T, name, user string) (*oauth.Store, *oauth.Account) {
	t.Helper()
	st := &oauth.Store{Dir: filepath.Join(t.TempDir(), "oauth")}
	a := &oauth.Account{Name: name, Provider: provider(), ClientID: clientID, User: user}
	out := &approver{t: t, user: user}
	l := &oauth.Login{Account: a, Out: out}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Device(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(ctx, a); err != nil {
		t.Fatal(err)
	}
	return st, a
}

// approver reads the login's instructions and approves the user code.
type approver struct {
	t      *testing.T
	user   string
	deny   bool
	expire bool // let the code expire instead
	slow   int  // answer slow_down to this many polls first
	buf    bytes.Buffer
}

var codeRE = regexp.MustCompile(`enter the code (\S+)`)

func (a *approver) Write(p []byte) (int, error) {
	a.buf.Write(p)
	if m := codeRE.FindStringSubmatch(string(p)); m != nil {
		as.SlowDown(a.slow)
		if a.deny {
			as.Deny(m[1])
		} else if a.expire {
			as.ExpireDevice(m[1])
		} else if !as.Approve(m[1], a.user) {
			a.t.Errorf("user code %q unknown to the server", m[1])
		}
	}
	return len(p), nil
}

func TestOAuthDeviceFlow(t *testing.T) {
	polls := as.Count("device_poll")
	st, a := deviceLogin(t, "dev", "dev@example.org")
	if as.Count("device_poll") <= polls {
		t.Fatal("the client never polled the token endpoint")
	}
	got, err := st.Load("dev")
	if err != nil {
		t.Fatal(err)
	}
	if got.RefreshToken == "" || got.RefreshToken != a.RefreshToken || got.ClientID != clientID || got.TokenURL != as.URL+"/token" {
		t.Fatalf("stored account %+v", got.Provider)
	}
	fi, err := os.Stat(filepath.Join(st.Dir, "dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	di, _ := os.Stat(st.Dir)
	if di.Mode().Perm() != 0o700 {
		t.Fatalf("store folder mode %v, want 0700", di.Mode().Perm())
	}
}

func TestOAuthDeviceFlowDenied(t *testing.T) {
	a := &oauth.Account{Name: "no", Provider: provider(), ClientID: clientID}
	out := &approver{t: t, deny: true}
	err := (&oauth.Login{Account: a, Out: out}).Device(context.Background())
	if err == nil || !strings.Contains(err.Error(), "declined (access_denied)") {
		t.Fatalf("denied sign-in: %v", err)
	}
	if a.RefreshToken != "" {
		t.Fatal("a refresh token after a denied sign-in")
	}
	err = (&oauth.Login{Account: a, Out: &approver{t: t, expire: true}}).Device(context.Background())
	if err == nil || !strings.Contains(err.Error(), "expired before the sign-in finished (expired_token)") {
		t.Fatalf("expired code: %v", err)
	}
}

// TestOAuthDeviceFlowSlowDown: the server asks to poll slower once; the
// client waits longer and signs in (RFC 8628 §3.5).
func TestOAuthDeviceFlowSlowDown(t *testing.T) {
	a := &oauth.Account{Name: "slow", Provider: provider(), ClientID: clientID}
	polls := as.Count("device_poll")
	start := time.Now()
	if err := (&oauth.Login{Account: a, Out: &approver{t: t, user: "slow@example.org", slow: 1}}).Device(context.Background()); err != nil {
		t.Fatal(err)
	}
	if as.Count("device_poll")-polls != 2 || a.RefreshToken == "" {
		t.Fatalf("polls %d", as.Count("device_poll")-polls)
	}
	if d := time.Since(start); d < 6*time.Second { // 1 s interval, then 1+5 s
		t.Fatalf("the client did not slow down: signed in after %v", d)
	}
}

func TestOAuthLoginBrowserPKCE(t *testing.T) {
	a := &oauth.Account{Name: "web", Provider: provider(), ClientID: clientID, User: "web@example.org"}
	a.AuthParams = map[string]string{"login_hint": "web@example.org"}
	var out bytes.Buffer
	opened := ""
	l := &oauth.Login{Account: a, Out: &out, Open: func(u string) error {
		opened = u
		// The test plays the browser: it follows the provider's redirect
		// back to the loopback listener.
		go func() {
			resp, err := http.Get(u)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("redirect answered %s", resp.Status)
			}
		}()
		return nil
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := l.Browser(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(opened, "code_challenge_method=S256") || !strings.Contains(opened, "redirect_uri=http%3A%2F%2F127.0.0.1%3A") {
		t.Fatalf("authorization URL %s", opened)
	}
	if !strings.Contains(out.String(), opened) {
		t.Fatal("the URL was not printed for a user without a browser")
	}
	if a.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	// The token works at Dovecot.
	st := &oauth.Store{Dir: t.TempDir()}
	if err := st.Save(ctx, a); err != nil {
		t.Fatal(err)
	}
	c := dialIMAP(t, nil)
	if err := oauth.NewSource(st, a).IMAP(ctx, c, "", "", "127.0.0.1", dc.IMAP); err != nil {
		t.Fatal(err)
	}
}

func dialIMAP(t *testing.T, trace *bytes.Buffer) *imap.Client {
	t.Helper()
	o := &imap.Options{Timeout: 10 * time.Second}
	if trace != nil {
		o.Debug, o.DebugWriter = 5, trace
	}
	c, err := imap.Dial(context.Background(), dovecot.Addr(dc.IMAP), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func dialPOP3(t *testing.T, trace *bytes.Buffer) *pop3.Client {
	t.Helper()
	o := &pop3.Options{Timeout: 10 * time.Second}
	if trace != nil {
		o.Debug, o.DebugWriter = 2, trace
	}
	c, err := pop3.Dial(context.Background(), dovecot.Addr(dc.POP3), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func noTokens(t *testing.T, where, text string) {
	t.Helper()
	for _, tok := range as.Issued() {
		if strings.Contains(text, tok) {
			t.Fatalf("%s shows token %s...", where, oauthsrv.Fingerprint(tok))
		}
	}
}

func TestOAuthIMAPAndPOP3Mechanisms(t *testing.T) {
	st, a := deviceLogin(t, "mech", "mech@example.org")
	if _, err := dc.Maildir("mech@example.org"); err != nil {
		t.Fatal(err)
	}
	src := oauth.NewSource(st, a)
	ctx := context.Background()
	for _, mech := range []string{"XOAUTH2", "OAUTHBEARER", ""} {
		var trace bytes.Buffer
		c := dialIMAP(t, &trace)
		if err := src.IMAP(ctx, c, "", mech, "127.0.0.1", dc.IMAP); err != nil {
			t.Fatalf("IMAP %q: %v", mech, err)
		}
		if c.State() != imap.StateAuth {
			t.Fatalf("IMAP %q: state %s", mech, c.State())
		}
		want := mech
		if want == "" {
			want = "OAUTHBEARER" // Dovecot offers both: the standard one wins
		}
		if !strings.Contains(trace.String(), "AUTHENTICATE "+want) {
			t.Fatalf("IMAP %q: trace has no AUTHENTICATE %s:\n%s", mech, want, trace.String())
		}
		noTokens(t, "the IMAP trace", trace.String())

		trace.Reset()
		p := dialPOP3(t, &trace)
		if err := src.POP3(ctx, p, "", mech, "127.0.0.1", dc.POP3); err != nil {
			t.Fatalf("POP3 %q: %v", mech, err)
		}
		if _, _, err := p.Stat(ctx); err != nil {
			t.Fatalf("POP3 %q: STAT after AUTH: %v", mech, err)
		}
		if !strings.Contains(trace.String(), "AUTH "+want) {
			t.Fatalf("POP3 %q: trace has no AUTH %s:\n%s", mech, want, trace.String())
		}
		noTokens(t, "the POP3 trace", trace.String())
	}
	// The wrong user for the token: refused, the payload decoded and shown.
	c := dialIMAP(t, nil)
	err := src.IMAP(ctx, c, "someone-else@example.org", "XOAUTH2", "127.0.0.1", dc.IMAP)
	var ae *oauth.AuthError
	if !errors.As(err, &ae) || ae.Server == nil || ae.Server.Status == "" || !strings.Contains(err.Error(), "server said status=") {
		t.Fatalf("wrong user: %v", err)
	}
	noTokens(t, "the error", err.Error())
}

func TestOAuthRefreshBetweenConnections(t *testing.T) {
	st, a := deviceLogin(t, "exp", "exp@example.org")
	src := oauth.NewSource(st, a)
	src.Now = clk.Now
	ctx := context.Background()
	if err := src.IMAP(ctx, dialIMAP(t, nil), "", "", "127.0.0.1", dc.IMAP); err != nil {
		t.Fatal(err)
	}
	first := as.Count("refresh")
	// A second connection while the token is good reuses it.
	if err := src.IMAP(ctx, dialIMAP(t, nil), "", "", "127.0.0.1", dc.IMAP); err != nil {
		t.Fatal(err)
	}
	if as.Count("refresh") != first {
		t.Fatal("a valid token was refreshed")
	}
	// The token expires between two connections: the next one refreshes
	// first (the server would refuse the old token).
	clk.Add(as.Lifetime)
	if err := src.IMAP(ctx, dialIMAP(t, nil), "", "", "127.0.0.1", dc.IMAP); err != nil {
		t.Fatal(err)
	}
	if as.Count("refresh") != first+1 {
		t.Fatalf("refreshes %d, want %d", as.Count("refresh"), first+1)
	}
	// Within the margin of its expiry the token is replaced too.
	clk.Add(as.Lifetime - oauth.DefaultMargin + time.Second)
	if err := src.POP3(ctx, dialPOP3(t, nil), "", "", "127.0.0.1", dc.POP3); err != nil {
		t.Fatal(err)
	}
	if as.Count("refresh") != first+2 {
		t.Fatalf("a token within the margin of its expiry was used (refreshes %d)", as.Count("refresh")-first)
	}
}

func TestOAuthRejectedTokenRetried(t *testing.T) {
	st, a := deviceLogin(t, "rej", "rej@example.org")
	src := oauth.NewSource(st, a)
	src.Now = clk.Now
	ctx := context.Background()
	if err := src.IMAP(ctx, dialIMAP(t, nil), "", "", "127.0.0.1", dc.IMAP); err != nil {
		t.Fatal(err)
	}
	n := as.Count("refresh")
	for _, proto := range []string{"imap", "pop3"} {
		as.ExpireAccess() // the server ends the token early: the client still thinks it good
		var err error
		if proto == "imap" {
			err = src.IMAP(ctx, dialIMAP(t, nil), "", "XOAUTH2", "127.0.0.1", dc.IMAP)
		} else {
			err = src.POP3(ctx, dialPOP3(t, nil), "", "OAUTHBEARER", "127.0.0.1", dc.POP3)
		}
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		n++
		if as.Count("refresh") != n {
			t.Fatalf("%s: refreshes %d, want one more", proto, as.Count("refresh"))
		}
	}
}

func TestOAuthRevokedSignInAgain(t *testing.T) {
	st, a := deviceLogin(t, "rev", "rev@example.org")
	as.RevokeRefresh("rev@example.org")
	src := oauth.NewSource(st, a)
	n := as.Count("refresh")
	err := src.IMAP(context.Background(), dialIMAP(t, nil), "", "", "127.0.0.1", dc.IMAP)
	if as.Count("refresh") != n+1 {
		t.Fatalf("a refused refresh token was sent %d times", as.Count("refresh")-n)
	}
	var se *oauth.SignInError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "sign in again with: mailscript login rev") || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("revoked: %v", err)
	}
	noTokens(t, "the error", err.Error())
}

func TestOAuthRotatedRefreshTokenStored(t *testing.T) {
	st, a := deviceLogin(t, "rot", "rot@example.org")
	old := a.RefreshToken
	as.SetRotate(true)
	defer as.SetRotate(false)
	src := oauth.NewSource(st, a)
	if _, _, err := src.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := st.Load("rot")
	if err != nil {
		t.Fatal(err)
	}
	if got.RefreshToken == old || got.RefreshToken == "" {
		t.Fatal("the rotated refresh token was not stored")
	}
}

func TestOAuthTokenCommandStore(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "kept")
	st := &oauth.Store{Dir: filepath.Join(dir, "oauth")}
	a := &oauth.Account{Name: "cmd", Provider: provider(), ClientID: clientID, User: "cmd@example.org", RefreshToken: "rt-secret-value",
		Command: &oauth.TokenCommand{Store: "cat > " + keep, Load: "cat " + keep}}
	ctx := context.Background()
	if err := st.Save(ctx, a); err != nil {
		t.Fatal(err)
	}
	file, _ := os.ReadFile(filepath.Join(st.Dir, "cmd.json"))
	if strings.Contains(string(file), "rt-secret-value") {
		t.Fatal("the account file holds the token a command keeps")
	}
	got, err := st.Load("cmd")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := st.RefreshToken(ctx, got)
	if err != nil || tok != "rt-secret-value" {
		t.Fatalf("token from the load command: %v", err)
	}
	got.Command.Load = "echo rt-secret-value >&2; exit 3"
	if _, err := st.RefreshToken(ctx, got); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("failing load command: %v", err)
	}
}

func TestOAuthStoreNames(t *testing.T) {
	st := &oauth.Store{Dir: t.TempDir()}
	for _, bad := range []string{"../x", "a/b", "", ".hidden", "x..y", "/etc/passwd", "a\x00b"} {
		if _, err := st.Load(bad); err == nil || errors.Is(err, oauth.ErrNotFound) {
			t.Errorf("Load(%q): %v", bad, err)
		}
	}
	if _, err := st.Load("missing"); !errors.Is(err, oauth.ErrNotFound) || !strings.Contains(err.Error(), "mailscript login missing") {
		t.Fatalf("missing: %v", err)
	}
}

func TestOAuthDiscovery(t *testing.T) {
	p, err := oauth.Discover(context.Background(), nil, as.URL)
	if err != nil {
		t.Fatal(err)
	}
	if p.TokenURL != as.URL+"/token" || p.DeviceURL != as.URL+"/device" || p.AuthURL != as.URL+"/authorize" {
		t.Fatalf("discovered %+v", p)
	}
	if _, err := oauth.Discover(context.Background(), nil, "http://example.org"); err == nil {
		t.Fatal("discovery over clear-text http to a remote host")
	}
}

func TestOAuthServerErrorPayload(t *testing.T) {
	e := oauth.ParseServerError([]byte(`{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`))
	if e == nil || !e.Expired() || e.String() != "status=401 schemes=Bearer scope=https://mail.google.com/" {
		t.Fatalf("%+v", e)
	}
	if oauth.ParseServerError([]byte("not json")) != nil || oauth.ParseServerError(nil) != nil {
		t.Fatal("a non-payload parsed")
	}
	if e := oauth.ParseServerError([]byte(`{"status":"invalid_token"}`)); e == nil || !e.Expired() {
		t.Fatal("invalid_token")
	}
	if e := oauth.ParseServerError([]byte(`{"status":"insufficient_scope"}`)); e == nil || e.Expired() {
		t.Fatal("insufficient_scope is not an expiry")
	}
}

func TestOAuthUserInjection(t *testing.T) {
	st, a := deviceLogin(t, "inj", "inj@example.org")
	src := oauth.NewSource(st, a)
	called := false
	err := src.Authenticate(context.Background(), "x\x01auth=Bearer y", "XOAUTH2", "h", 1, func(sasl.Mechanism) error { called = true; return nil })
	if err == nil || called {
		t.Fatalf("a user with \\x01 was sent: %v", err)
	}
	m := sasl.OAuthBearer("a=b,c", "tok", "h", 1)
	if got := string(m.Initial()); !strings.HasPrefix(got, "n,a=a=3Db=2Cc,") {
		t.Fatalf("gs2 header %q", got)
	}
}

func ExampleParseServerError() {
	// The challenge a server sends before refusing a token (decoded).
	e := oauth.ParseServerError([]byte(`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`))
	fmt.Println(e, e.Expired())
	// Output: status=401 schemes=bearer scope=https://mail.google.com/ true
}

func ExampleMechanism() {
	fmt.Println(oauth.Mechanism([]string{"PLAIN", "XOAUTH2", "OAUTHBEARER"}), oauth.Mechanism([]string{"XOAUTH2"}))
	// Output: OAUTHBEARER XOAUTH2
}
