package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// Provider is an authorization server and the mail servers behind it.
type Provider struct {
	Name      string   `json:"provider"`
	AuthURL   string   `json:"auth_url,omitempty"`   // authorization endpoint (browser flow)
	TokenURL  string   `json:"token_url"`            // token endpoint
	DeviceURL string   `json:"device_url,omitempty"` // device authorization endpoint (RFC 8628)
	Scopes    []string `json:"scopes,omitempty"`
	// AuthParams are extra authorization request parameters (Google's
	// access_type=offline).
	AuthParams map[string]string `json:"auth_params,omitempty"`
	IMAPHost   string            `json:"imap_host,omitempty"`
	IMAPPort   int               `json:"imap_port,omitempty"`
	POP3Host   string            `json:"pop3_host,omitempty"`
	POP3Port   int               `json:"pop3_port,omitempty"`
	// NoDevice says the provider's device flow cannot grant mail scopes.
	NoDevice string `json:"-"`
}

// Gmail is Google's preset.
//
// Quirks: the client is an OAuth client of type "Desktop app" made in
// the user's own Google Cloud project; Google sends its (not
// confidential) client secret with every token request, so one is
// needed. Google's device flow ("OAuth 2.0 for TV and Limited-Input
// Device Applications") allows only a short list of scopes, which does
// not include https://mail.google.com/: Gmail signs in with the browser
// flow (https://developers.google.com/identity/protocols/oauth2/limited-input-device#allowedscopes).
// The loopback redirect on 127.0.0.1 with any port is what Google
// documents for desktop apps
// (https://developers.google.com/identity/protocols/oauth2/native-app).
// An app left in "Testing" publishing status gets refresh tokens that
// expire after 7 days. The SASL user is the Gmail address; Gmail
// offers AUTH=XOAUTH2 and AUTH=OAUTHBEARER
// (https://developers.google.com/gmail/imap/xoauth2-protocol).
func Gmail() Provider {
	return Provider{Name: "gmail",
		AuthURL:    "https://accounts.google.com/o/oauth2/v2/auth",
		TokenURL:   "https://oauth2.googleapis.com/token",
		DeviceURL:  "https://oauth2.googleapis.com/device/code",
		Scopes:     []string{"https://mail.google.com/"},
		AuthParams: map[string]string{"access_type": "offline", "prompt": "consent"},
		IMAPHost:   "imap.gmail.com", IMAPPort: 993, POP3Host: "pop.gmail.com", POP3Port: 995,
		NoDevice: "Google's device flow does not grant the Gmail scope https://mail.google.com/; use --browser (on a machine without a browser, open the printed URL elsewhere and forward the port, see the README)",
	}
}

// Microsoft is Microsoft 365's (Exchange Online) preset for tenant
// ("common" when empty; "organizations", "consumers" or a tenant id).
//
// Quirks: the app is registered in Microsoft Entra ID as a public
// client ("Mobile and desktop applications", redirect http://localhost,
// "Allow public client flows" on for the device flow) with the
// delegated permissions IMAP.AccessAsUser.All, POP.AccessAsUser.All and
// offline_access; no client secret. The SASL user must be the mailbox's
// address. Exchange offers AUTH=XOAUTH2 only, and on a bad token says
// just "AUTHENTICATE failed." with no error payload. Each refresh may
// return a new refresh token, which replaces the stored one. IMAP or
// POP3 must be enabled for the mailbox by its admin
// (https://learn.microsoft.com/en-us/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth).
func Microsoft(tenant string) Provider {
	if tenant == "" {
		tenant = "common"
	}
	base := "https://login.microsoftonline.com/" + url.PathEscape(tenant) + "/oauth2/v2.0/"
	return Provider{Name: "microsoft",
		AuthURL:   base + "authorize",
		TokenURL:  base + "token",
		DeviceURL: base + "devicecode",
		Scopes: []string{"https://outlook.office.com/IMAP.AccessAsUser.All",
			"https://outlook.office.com/POP.AccessAsUser.All", "offline_access"},
		IMAPHost: "outlook.office365.com", IMAPPort: 993, POP3Host: "outlook.office365.com", POP3Port: 995,
	}
}

// Preset is the provider named name: "gmail", "microsoft" (or
// "microsoft365", "outlook"); ok is false for any other name.
func Preset(name, tenant string) (Provider, bool) {
	switch strings.ToLower(name) {
	case "gmail", "google":
		return Gmail(), true
	case "microsoft", "microsoft365", "m365", "outlook", "office365":
		return Microsoft(tenant), true
	}
	return Provider{}, false
}

// MaxDiscovery bounds an OpenID configuration document.
const MaxDiscovery = 1 << 20

// Discover reads issuer's OpenID Connect Discovery document
// (ISSUER/.well-known/openid-configuration) into a generic provider.
// The issuer must be https, or http on a loopback address.
func Discover(ctx context.Context, hc *http.Client, issuer string) (Provider, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return Provider{}, fmt.Errorf("issuer %q: not an absolute URL", issuer)
	}
	if err := checkEndpoint("issuer", issuer); err != nil {
		return Provider{}, err
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	where := strings.TrimRight(issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, "GET", where, nil)
	if err != nil {
		return Provider{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Provider{}, fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return Provider{}, fmt.Errorf("discovery: %s answered %s", where, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDiscovery+1))
	if err != nil {
		return Provider{}, fmt.Errorf("discovery: %w", err)
	}
	if len(body) > MaxDiscovery {
		return Provider{}, fmt.Errorf("discovery: %s is larger than %d bytes", where, MaxDiscovery)
	}
	var doc struct {
		Issuer   string   `json:"issuer"`
		Auth     string   `json:"authorization_endpoint"`
		Token    string   `json:"token_endpoint"`
		Device   string   `json:"device_authorization_endpoint"`
		Supports []string `json:"scopes_supported"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return Provider{}, fmt.Errorf("discovery: %s: %v", where, err)
	}
	p := Provider{Name: "generic", AuthURL: doc.Auth, TokenURL: doc.Token, DeviceURL: doc.Device}
	if err := p.Check(); err != nil {
		return Provider{}, fmt.Errorf("discovery: %s: %w", where, err)
	}
	return p, nil
}

// Check reports a provider that cannot work: no token endpoint, an
// endpoint that is neither https nor loopback http.
func (p Provider) Check() error {
	if p.TokenURL == "" {
		return errors.New("no token endpoint (give --token-url or --issuer)")
	}
	if p.AuthURL == "" && p.DeviceURL == "" {
		return errors.New("no authorization or device endpoint (give --auth-url or --device-url, or --issuer)")
	}
	for _, e := range [][2]string{{"token_url", p.TokenURL}, {"auth_url", p.AuthURL}, {"device_url", p.DeviceURL}} {
		if e[1] != "" {
			if err := checkEndpoint(e[0], e[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkEndpoint wants https, or http to a loopback address (tests, a
// local authorization server): a token never crosses a network in clear.
func checkEndpoint(what, s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s %q: not an absolute URL", what, s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return fmt.Errorf("%s %q: must be https (or http on 127.0.0.1)", what, s)
}

// config is the x/oauth2 configuration of p for a client. The client
// goes in the request body (RFC 6749 §2.3.1), as public clients must and
// Google and Microsoft accept: x/oauth2's auto-detection would send a
// failed request twice (a second poll after slow_down, a second try of a
// refused refresh token).
func (p Provider) config(clientID, clientSecret, redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirect, Scopes: p.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: p.AuthURL, TokenURL: p.TokenURL, DeviceAuthURL: p.DeviceURL, AuthStyle: oauth2.AuthStyleInParams}}
}
