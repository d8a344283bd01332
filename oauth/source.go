package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/mailscript/mailscript/protocol/imap"
	"github.com/mailscript/mailscript/protocol/pop3"
	"github.com/mailscript/mailscript/protocol/sasl"
)

// DefaultMargin is how long before its expiry an access token is
// replaced: a token handed to a server must not run out in flight.
const DefaultMargin = 2 * time.Minute

// Source hands out access tokens for one stored account, refreshing
// them with the refresh token. It is safe for concurrent use; one Source
// serves every connection and reconnect of the account.
type Source struct {
	store *Store
	acct  *Account
	// Margin: a token is refreshed this long before it expires
	// (DefaultMargin when zero; capped at half the token's lifetime).
	Margin time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// HTTPClient makes the token requests (http.DefaultClient when nil).
	HTTPClient *http.Client

	mu      sync.Mutex
	access  string
	expires time.Time // zero: no known expiry
	renew   time.Time // refresh at or after this
}

// NewSource is the source of stored account a.
func NewSource(store *Store, a *Account) *Source { return &Source{store: store, acct: a} }

// Account is the stored account (the refresh token left out).
func (s *Source) Account() Account {
	a := *s.acct
	a.RefreshToken = ""
	return a
}

func (s *Source) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Token is a valid access token, refreshed first when the one held is
// within the margin of its expiry. fresh says it was just obtained.
func (s *Source) Token(ctx context.Context) (tok string, fresh bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.access != "" && s.now().Before(s.renew) {
		return s.access, false, nil
	}
	if err := s.refresh(ctx); err != nil {
		return "", false, err
	}
	return s.access, true, nil
}

// Refresh gets a new access token whatever the held one's expiry (a
// server refused it).
func (s *Source) Refresh(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refresh(ctx)
}

// Expiry is when the held access token expires (zero: none held or no
// expiry given).
func (s *Source) Expiry() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expires
}

func (s *Source) refresh(ctx context.Context) error {
	a := s.acct
	rt, err := s.store.RefreshToken(ctx, a)
	if err != nil {
		return err
	}
	if s.HTTPClient != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, s.HTTPClient)
	}
	start := s.now()
	t, err := a.config(a.ClientID, a.ClientSecret, "").TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	if err != nil {
		return tokenError(a.Name, "refresh", err)
	}
	if t.AccessToken == "" {
		return fmt.Errorf("oauth %s: the token endpoint sent no access token", a.Name)
	}
	s.access = t.AccessToken
	s.expires, s.renew = time.Time{}, start.Add(time.Hour) // no expires_in: assume RFC 6749's common hour
	if t.ExpiresIn > 0 {
		life := time.Duration(t.ExpiresIn) * time.Second
		margin := s.Margin
		if margin <= 0 {
			margin = DefaultMargin
		}
		margin = min(margin, life/2)
		s.expires, s.renew = start.Add(life), start.Add(life-margin)
	}
	if t.RefreshToken != "" && t.RefreshToken != rt { // rotated (Microsoft): keep the new one
		cp := *a
		cp.RefreshToken = t.RefreshToken
		if err := s.store.Save(ctx, &cp); err != nil {
			return fmt.Errorf("oauth %s: saving the new refresh token: %w", a.Name, err)
		}
		if a.Command == nil {
			a.RefreshToken = t.RefreshToken
		}
	}
	return nil
}

// SignInError says the stored sign-in no longer works: the user runs
// `mailscript login NAME` again.
type SignInError struct {
	Name   string
	Reason string
}

func (e *SignInError) Error() string {
	return fmt.Sprintf("oauth %s: %s: sign in again with: mailscript login %s", e.Name, e.Reason, e.Name)
}

// tokenError explains a failed token request. invalid_grant on a
// refresh is a revoked or expired refresh token (RFC 6749 §5.2).
func tokenError(name, what string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		reason := re.ErrorCode
		if re.ErrorDescription != "" {
			reason += ": " + re.ErrorDescription
		}
		if reason == "" && re.Response != nil {
			reason = re.Response.Status
		}
		if what == "refresh" && (re.ErrorCode == "invalid_grant" || re.ErrorCode == "unauthorized_client") {
			return &SignInError{Name: name, Reason: "the refresh token was refused (" + reason + ")"}
		}
		return fmt.Errorf("oauth %s: %s: the token endpoint said %s", name, what, reason)
	}
	return fmt.Errorf("oauth %s: %s: %w", name, what, err)
}

// ServerError is a mail server's SASL error payload for XOAUTH2 or
// OAUTHBEARER (RFC 7628 §3.2.2): base64 JSON such as
// {"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}.
type ServerError struct {
	Status  string `json:"status"`
	Schemes string `json:"schemes"`
	Scope   string `json:"scope"`
}

func (e *ServerError) String() string {
	parts := []string{"status=" + e.Status}
	if e.Schemes != "" {
		parts = append(parts, "schemes="+e.Schemes)
	}
	if e.Scope != "" {
		parts = append(parts, "scope="+e.Scope)
	}
	return strings.Join(parts, " ")
}

// Expired says the payload means the token is not (or no longer)
// accepted: worth one refresh and retry.
func (e *ServerError) Expired() bool {
	switch strings.ToLower(e.Status) {
	case "401", "invalid_token":
		return true
	}
	return false
}

// ParseServerError decodes a challenge that carries an error payload
// (already base64-decoded by the client); nil when it is not one.
func ParseServerError(ch []byte) *ServerError {
	var e ServerError
	if len(ch) == 0 || len(ch) > 4096 || json.Unmarshal(ch, &e) != nil || e.Status == "" {
		// some servers base64 it twice
		if b, err := base64.StdEncoding.DecodeString(string(ch)); err == nil && len(b) > 0 && len(ch) <= 4096 {
			if json.Unmarshal(b, &e) == nil && e.Status != "" {
				return &e
			}
		}
		return nil
	}
	return &e
}

// AuthError is a failed OAuth SASL login: the server's reply and, when
// it sent one, its decoded error payload.
type AuthError struct {
	Name      string
	Mechanism string
	Server    *ServerError // nil when the server sent none
	Err       error        // the client's error (the tagged NO, -ERR)
}

func (e *AuthError) Error() string {
	s := fmt.Sprintf("oauth %s: %s login refused: %v", e.Name, e.Mechanism, e.Err)
	if e.Server != nil {
		s += " (server said " + e.Server.String() + ")"
	}
	return s
}

func (e *AuthError) Unwrap() error { return e.Err }

// Mechanism picks OAUTHBEARER when the server offers it, else XOAUTH2
// (offers: the server's SASL mechanism names, upper case).
func Mechanism(offers []string) string {
	for _, m := range offers {
		if strings.EqualFold(m, "OAUTHBEARER") {
			return "OAUTHBEARER"
		}
	}
	return "XOAUTH2"
}

// Authenticate logs in over auth (a client's SASL exchange) as user
// with mech ("XOAUTH2" or "OAUTHBEARER"; host and port go into
// OAUTHBEARER's message). When the server refuses a token that was not
// just obtained, saying it is invalid or saying nothing, the token is
// refreshed and the login tried once more.
func (s *Source) Authenticate(ctx context.Context, user, mech, host string, port int, auth func(sasl.Mechanism) error) error {
	if user == "" {
		user = s.acct.User
	}
	if user == "" {
		return fmt.Errorf("oauth %s: no user: give user= (the mailbox's address) or sign in with --user", s.acct.Name)
	}
	if strings.ContainsFunc(user+host, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("oauth %s: user %q: control characters cannot go in a SASL message", s.acct.Name, user)
	}
	for try := 0; ; try++ {
		tok, fresh, err := s.Token(ctx)
		if err != nil {
			return err
		}
		var m sasl.Mechanism
		if mech == "OAUTHBEARER" {
			m = sasl.OAuthBearer(user, tok, host, port)
		} else {
			m = sasl.XOAuth2(user, tok)
		}
		var payload *ServerError
		step := m.Step
		m.Step = func(ch []byte) ([]byte, bool) {
			if e := ParseServerError(ch); e != nil {
				payload = e
			}
			return step(ch)
		}
		err = auth(m)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		aerr := &AuthError{Name: s.acct.Name, Mechanism: mech, Server: payload, Err: err}
		if try > 0 || fresh || (payload != nil && !payload.Expired()) || !isAuthRefusal(err) {
			return aerr
		}
		if err := s.Refresh(ctx); err != nil {
			return err
		}
	}
}

// isAuthRefusal tells a server's refusal (IMAP NO, POP3 -ERR) from a
// broken connection: only a refusal is worth a retry on the same one.
func isAuthRefusal(err error) bool {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return ie.Type == "NO"
	}
	var pe *pop3.Error
	if errors.As(err, &pe) {
		return pe.Cause == "" && strings.HasPrefix(pe.Text, "-ERR")
	}
	return false
}
