package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"time"

	"golang.org/x/oauth2"
)

// Login is one sign-in: the account to store (its Provider, client and
// user set) and where to talk to the user.
type Login struct {
	Account *Account
	// Out gets the instructions: the verification URI and user code, or
	// the URL to open. Never a token.
	Out io.Writer
	// Open opens a URL in a browser; nil uses [OpenBrowser]. It returns
	// an error when there is no browser (the URL is printed anyway).
	Open func(url string) error
	// HTTPClient makes the token requests (http.DefaultClient when nil).
	HTTPClient *http.Client
}

func (l *Login) ctx(ctx context.Context) context.Context {
	if l.HTTPClient != nil {
		return context.WithValue(ctx, oauth2.HTTPClient, l.HTTPClient)
	}
	return ctx
}

func (l *Login) out() io.Writer {
	if l.Out == nil {
		return io.Discard
	}
	return l.Out
}

// Device runs the device authorization grant (RFC 8628): it shows the
// verification URI and user code, then polls the token endpoint at the
// server's interval (5 s when unset; 5 s more on slow_down, §3.5) until
// the user approves, declines (access_denied) or the code expires
// (expired_token). It sets the account's refresh token.
func (l *Login) Device(ctx context.Context) error {
	a := l.Account
	if a.DeviceURL == "" {
		return fmt.Errorf("%s has no device authorization endpoint: use --browser (or give --device-url)", a.Provider.Name)
	}
	cfg := a.config(a.ClientID, a.ClientSecret, "")
	ctx = l.ctx(ctx)
	da, err := cfg.DeviceAuth(ctx, l.authParams()...)
	if err != nil {
		return tokenError(a.Name, "device authorization", err)
	}
	if da.VerificationURI == "" || da.UserCode == "" || da.DeviceCode == "" {
		return fmt.Errorf("oauth %s: the device endpoint sent no verification_uri, user_code or device_code", a.Name)
	}
	fmt.Fprintf(l.out(), "To sign in, open %s and enter the code %s\n", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(l.out(), "(or open %s)\n", da.VerificationURIComplete)
	}
	fmt.Fprintln(l.out(), "Waiting for the sign-in to finish...")
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		var re *oauth2.RetrieveError
		switch {
		case errors.As(err, &re) && re.ErrorCode == "access_denied":
			return fmt.Errorf("oauth %s: the sign-in was declined (access_denied)", a.Name)
		case errors.As(err, &re) && re.ErrorCode == "expired_token",
			errors.Is(err, context.DeadlineExceeded) && !da.Expiry.IsZero() && time.Now().After(da.Expiry):
			return fmt.Errorf("oauth %s: the code expired before the sign-in finished (expired_token): run mailscript login %s again", a.Name, a.Name)
		}
		return tokenError(a.Name, "device token", err)
	}
	return l.keep(tok)
}

func (l *Login) authParams() []oauth2.AuthCodeOption {
	var opts []oauth2.AuthCodeOption
	for k, v := range l.Account.AuthParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	return opts
}

func (l *Login) keep(tok *oauth2.Token) error {
	if tok.RefreshToken == "" {
		return fmt.Errorf("oauth %s: the provider gave no refresh token (ask for the offline_access scope, or Google's access_type=offline)", l.Account.Name)
	}
	l.Account.RefreshToken = tok.RefreshToken
	return nil
}

// Browser runs the authorization code grant with PKCE (RFC 7636, S256)
// and a loopback redirect (RFC 8252 §7.3): it listens on 127.0.0.1 on a
// free port, opens the authorization URL in a browser (or prints it),
// takes the code from the redirect, checks state and exchanges the code
// with the verifier. It sets the account's refresh token.
func (l *Login) Browser(ctx context.Context) error {
	a := l.Account
	if a.AuthURL == "" {
		return fmt.Errorf("%s has no authorization endpoint: use --device (or give --auth-url)", a.Provider.Name)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("loopback redirect: %w", err)
	}
	defer ln.Close()
	redirect := "http://" + ln.Addr().String() + "/"
	cfg := a.config(a.ClientID, a.ClientSecret, redirect)
	verifier := oauth2.GenerateVerifier()
	state := randomState()
	opts := append(l.authParams(), oauth2.S256ChallengeOption(verifier))
	authURL := cfg.AuthCodeURL(state, opts...)

	type result struct {
		code string
		err  error
	}
	done := make(chan result, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/" || (q.Get("code") == "" && q.Get("error") == "") {
			http.NotFound(w, r)
			return
		}
		var res result
		switch {
		case q.Get("state") != state:
			res.err = errors.New("the redirect's state does not match (a stale or forged request)")
		case q.Get("error") != "":
			res.err = fmt.Errorf("the provider said %s %s", q.Get("error"), q.Get("error_description"))
		default:
			res.code = q.Get("code")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if res.err != nil {
			fmt.Fprintf(w, "<p>mailscript: sign-in failed: %s</p>", html.EscapeString(res.err.Error()))
		} else {
			fmt.Fprint(w, "<p>mailscript: signed in. You can close this window.</p>")
		}
		select {
		case done <- res:
		default:
		}
	})}
	go srv.Serve(ln)
	defer func() {
		// Shutdown lets the handler's page reach the browser before the
		// listener goes; Close would cut it off mid-reply.
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	}()

	open := l.Open
	if open == nil {
		open = OpenBrowser
	}
	fmt.Fprintf(l.out(), "To sign in, open this URL in a browser on this machine:\n\n  %s\n\n", authURL)
	if err := open(authURL); err == nil {
		fmt.Fprintln(l.out(), "(a browser was opened)")
	}
	fmt.Fprintln(l.out(), "Waiting for the sign-in to finish...")
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, BrowserTimeout)
		defer cancel()
	}
	var res result
	select {
	case <-ctx.Done():
		return fmt.Errorf("oauth %s: no sign-in came back to %s: %w", a.Name, redirect, ctx.Err())
	case res = <-done:
	}
	if res.err != nil {
		return fmt.Errorf("oauth %s: %w", a.Name, res.err)
	}
	tok, err := cfg.Exchange(l.ctx(ctx), res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return tokenError(a.Name, "code exchange", err)
	}
	return l.keep(tok)
}

// BrowserTimeout bounds the wait for the browser's redirect when the
// caller's context has no deadline.
const BrowserTimeout = 10 * time.Minute

func randomState() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// OpenBrowser opens u with the desktop's opener (xdg-open, open, or
// rundll32), when there is a desktop: an error otherwise.
func OpenBrowser(u string) error {
	if _, err := url.ParseRequestURI(u); err != nil {
		return err
	}
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return errors.New("no desktop")
		}
		cmd = exec.Command("xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}
