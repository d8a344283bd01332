// Package oauthsrv is an OAuth 2.0 authorization server for tests, on
// 127.0.0.1: device authorization (RFC 8628), authorization code with
// PKCE S256 (RFC 7636), refresh (RFC 6749 §6), token introspection in
// the shape Dovecot's oauth2 passdb reads (RFC 7662, POST token=...),
// and an OpenID discovery document. Access tokens are short-lived and
// can be expired or revoked by the test.
package oauthsrv

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Server is a running authorization server.
type Server struct {
	URL      string // http://127.0.0.1:PORT
	ClientID string
	// Lifetime of access tokens (expires_in).
	Lifetime time.Duration
	// Interval is the device poll interval the server asks for (seconds).
	Interval int

	mu      sync.Mutex
	now     func() time.Time
	srv     *http.Server
	access  map[string]grant    // access token -> grant
	refresh map[string]string   // refresh token -> user
	codes   map[string]authCode // authorization code -> request
	devices map[string]*device  // device code -> state
	byUser  map[string]*device  // user code -> state
	counts  map[string]int      // "refresh", "introspect", "device_poll", ...
	seen    []string            // tokens handed out (for leak checks)
	rotate  bool                // every refresh returns a new refresh token
}

// SetRotate makes every refresh return a new refresh token (Microsoft\'s way).
func (s *Server) SetRotate(on bool) {
	s.mu.Lock()
	s.rotate = on
	s.mu.Unlock()
}

type grant struct {
	user    string
	expires time.Time
}

type authCode struct {
	user, challenge, redirect string
}

type device struct {
	user     string // set when approved
	denied   bool
	slowDown int // answer slow_down this many more polls
}

// Start starts a server whose client is clientID; now is the clock
// (time.Now when nil), shared with the test so expiry can be stepped.
func Start(clientID string, now func() time.Time) (*Server, error) {
	if now == nil {
		now = time.Now
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + ln.Addr().String(), ClientID: clientID, Lifetime: time.Hour, Interval: 1,
		now: now, access: map[string]grant{}, refresh: map[string]string{}, codes: map[string]authCode{},
		devices: map[string]*device{}, byUser: map[string]*device{}, counts: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", s.discovery)
	mux.HandleFunc("/device", s.deviceAuth)
	mux.HandleFunc("/authorize", s.authorize)
	mux.HandleFunc("/token", s.token)
	mux.HandleFunc("/introspect", s.introspect)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Count is how many requests of kind ("refresh", "introspect",
// "device_poll", "code") the server answered.
func (s *Server) Count(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[kind]
}

// Issued is every token (access and refresh) the server handed out.
func (s *Server) Issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// ExpireAccess makes every access token handed out so far invalid (the
// server's view), as if they had run out early.
func (s *Server) ExpireAccess() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access = map[string]grant{}
}

// RevokeRefresh revokes every refresh token of user.
func (s *Server) RevokeRefresh(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, u := range s.refresh {
		if u == user {
			delete(s.refresh, t)
		}
	}
}

// Approve plays the user who opened the verification URI, entered
// userCode and signed in as user; ok is false for an unknown code.
func (s *Server) Approve(userCode, user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.byUser[userCode]
	if d == nil {
		return false
	}
	d.user = user
	return true
}

// Deny plays the user who declined.
func (s *Server) Deny(userCode string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.byUser[userCode]
	if d == nil {
		return false
	}
	d.denied = true
	return true
}

// ExpireDevice makes userCode's device code expire (expired_token).
func (s *Server) ExpireDevice(userCode string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.byUser[userCode]
	for dc, x := range s.devices {
		if x == d {
			delete(s.devices, dc)
		}
	}
	return d != nil
}

// SlowDown makes the next n polls of every pending device answer slow_down.
func (s *Server) SlowDown(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		d.slowDown = n
	}
}

func random() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func oauthErr(w http.ResponseWriter, code int, e string) {
	writeJSON(w, code, map[string]string{"error": e})
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, map[string]any{"issuer": s.URL, "authorization_endpoint": s.URL + "/authorize",
		"token_endpoint": s.URL + "/token", "device_authorization_endpoint": s.URL + "/device",
		"introspection_endpoint": s.URL + "/introspect"})
}

func (s *Server) client(w http.ResponseWriter, r *http.Request) bool {
	id := r.PostFormValue("client_id")
	if u, _, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(u)
	}
	if id != s.ClientID {
		oauthErr(w, 401, "invalid_client")
		return false
	}
	return true
}

func (s *Server) deviceAuth(w http.ResponseWriter, r *http.Request) {
	if !s.client(w, r) {
		return
	}
	s.mu.Lock()
	dc, uc := random(), strings.ToUpper(random()[:8])
	d := &device{}
	s.devices[dc], s.byUser[uc] = d, d
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"device_code": dc, "user_code": uc, "verification_uri": s.URL + "/verify",
		"expires_in": 600, "interval": s.Interval})
}

// authorize plays the provider's sign-in page: the user (login_hint, or
// "user@example.org") is signed in at once and redirected back.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	ru, err := url.Parse(redirect)
	if err != nil || ru.Scheme != "http" || ru.Hostname() != "127.0.0.1" || q.Get("client_id") != s.ClientID {
		http.Error(w, "bad client or redirect_uri", 400)
		return
	}
	back := ru.Query()
	back.Set("state", q.Get("state"))
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		back.Set("error", "invalid_request")
	} else {
		user := q.Get("login_hint")
		if user == "" {
			user = "user@example.org"
		}
		code := random()
		s.mu.Lock()
		s.codes[code] = authCode{user: user, challenge: q.Get("code_challenge"), redirect: redirect}
		s.mu.Unlock()
		back.Set("code", code)
	}
	ru.RawQuery = back.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}

func (s *Server) issue(w http.ResponseWriter, user, oldRefresh string) {
	at, rt := random(), oldRefresh
	if rt == "" || s.rotate {
		if rt != "" {
			delete(s.refresh, rt)
		}
		rt = random()
	}
	s.access[at] = grant{user: user, expires: s.now().Add(s.Lifetime)}
	s.refresh[rt] = user
	s.seen = append(s.seen, at, rt)
	resp := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": int(s.Lifetime / time.Second)}
	if rt != oldRefresh {
		resp["refresh_token"] = rt
	}
	writeJSON(w, 200, resp)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != "POST" || !s.client(w, r) {
		if r.Method != "POST" {
			oauthErr(w, 405, "invalid_request")
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.PostFormValue("grant_type") {
	case "urn:ietf:params:oauth:grant-type:device_code":
		s.counts["device_poll"]++
		d := s.devices[r.PostFormValue("device_code")]
		switch {
		case d == nil:
			oauthErr(w, 400, "expired_token")
		case d.denied:
			oauthErr(w, 400, "access_denied")
		case d.slowDown > 0:
			d.slowDown--
			oauthErr(w, 400, "slow_down")
		case d.user == "":
			oauthErr(w, 400, "authorization_pending")
		default:
			delete(s.devices, r.PostFormValue("device_code"))
			s.issue(w, d.user, "")
		}
	case "authorization_code":
		s.counts["code"]++
		c, ok := s.codes[r.PostFormValue("code")]
		delete(s.codes, r.PostFormValue("code"))
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		switch {
		case !ok, c.redirect != r.PostFormValue("redirect_uri"):
			oauthErr(w, 400, "invalid_grant")
		case base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge:
			oauthErr(w, 400, "invalid_grant") // PKCE: the verifier does not match
		default:
			s.issue(w, c.user, "")
		}
	case "refresh_token":
		s.counts["refresh"]++
		rt := r.PostFormValue("refresh_token")
		user, ok := s.refresh[rt]
		if !ok {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "the refresh token was revoked"})
			return
		}
		s.issue(w, user, rt)
	default:
		oauthErr(w, 400, "unsupported_grant_type")
	}
}

// introspect answers Dovecot (introspection_mode = post).
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	tok := r.PostFormValue("token")
	s.mu.Lock()
	s.counts["introspect"]++
	g, ok := s.access[tok]
	s.mu.Unlock()
	if !ok || !s.now().Before(g.expires) {
		writeJSON(w, 200, map[string]any{"active": "false"})
		return
	}
	writeJSON(w, 200, map[string]any{"active": "true", "username": g.user, "exp": g.expires.Unix()})
}

// Fingerprint is a short digest of tok, for messages that must not show it.
func Fingerprint(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:4])
}
