package imap

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// AuthFunc is imaplib's authobject: it gets each decoded server challenge
// and returns the response to send (base64-encoded by the client), or
// ok=false to cancel the exchange with "*".
type AuthFunc func(challenge []byte) (response []byte, ok bool)

// Mechanism is a SASL mechanism. Initial, if set, gives the initial
// response sent with SASL-IR when the server offers it.
type Mechanism struct {
	Name    string
	Initial func() []byte
	Step    AuthFunc
}

type authState struct{ cont *Response }

// PlainAuth is SASL PLAIN (RFC 4616).
func PlainAuth(authzid, user, password string) Mechanism {
	msg := []byte(authzid + "\x00" + user + "\x00" + password)
	return Mechanism{Name: "PLAIN", Initial: func() []byte { return msg },
		Step: func([]byte) ([]byte, bool) { return msg, true }}
}

// LoginAuth is the LOGIN mechanism: user name, then password.
func LoginAuth(user, password string) Mechanism {
	n := 0
	return Mechanism{Name: "LOGIN", Step: func([]byte) ([]byte, bool) {
		n++
		if n == 1 {
			return []byte(user), true
		}
		return []byte(password), true
	}}
}

// CramMD5Auth is CRAM-MD5 (RFC 2195), as imaplib's login_cram_md5.
func CramMD5Auth(user, password string) Mechanism {
	return Mechanism{Name: "CRAM-MD5", Step: func(ch []byte) ([]byte, bool) {
		m := hmac.New(md5.New, []byte(password))
		m.Write(ch)
		return []byte(user + " " + hex.EncodeToString(m.Sum(nil))), true
	}}
}

// XOAuth2Auth is Google's and Microsoft's XOAUTH2. An error challenge is
// answered with an empty response, as the mechanism requires.
func XOAuth2Auth(user, token string) Mechanism {
	msg := []byte("user=" + user + "\x01auth=Bearer " + token + "\x01\x01")
	first := true
	return Mechanism{Name: "XOAUTH2", Initial: func() []byte { first = false; return msg },
		Step: func([]byte) ([]byte, bool) {
			if first {
				first = false
				return msg, true
			}
			return []byte{}, true
		}}
}

// OAuthBearerAuth is OAUTHBEARER (RFC 7628).
func OAuthBearerAuth(user, token, host string, port int) Mechanism {
	msg := []byte(fmt.Sprintf("n,a=%s,\x01host=%s\x01port=%d\x01auth=Bearer %s\x01\x01", user, host, port, token))
	first := true
	return Mechanism{Name: "OAUTHBEARER", Initial: func() []byte { first = false; return msg },
		Step: func([]byte) ([]byte, bool) {
			if first {
				first = false
				return msg, true
			}
			return []byte{0x01}, true
		}}
}

// Authenticate runs AUTHENTICATE with imaplib's callback.
func (c *Client) Authenticate(ctx context.Context, mechanism string, auth AuthFunc) (*Result, error) {
	return c.AuthenticateSASL(ctx, Mechanism{Name: mechanism, Step: auth})
}

// AuthenticateSASL runs AUTHENTICATE with m, using SASL-IR when offered.
// Everything the client sends in the exchange shows as *** in traces.
func (c *Client) AuthenticateSASL(ctx context.Context, m Mechanism) (*Result, error) {
	if c.broken != nil {
		return nil, c.broken
	}
	if err := c.checkState("AUTHENTICATE"); err != nil {
		return nil, err
	}
	mech := strings.ToUpper(m.Name)
	args := []Arg{Atom(mech)}
	if m.Initial != nil && c.HasCap("SASL-IR") {
		ir := base64.StdEncoding.EncodeToString(m.Initial())
		if ir == "" {
			ir = "="
		}
		args = append(args, func(e *encoder) { e.write(ir, true) })
	}
	cmd := &Command{Name: "AUTHENTICATE", Args: args, keep: true}
	for _, t := range []string{"OK", "NO", "BAD"} {
		delete(c.store, t)
	}
	if err := c.encode(cmd); err != nil {
		return nil, err
	}
	stop := c.watch(ctx)
	defer stop()
	st := &authState{}
	c.authing = st
	defer func() { c.authing = nil }()
	c.pending = append(c.pending, cmd)
	if err := c.write(cmd); err != nil {
		return nil, c.fail(ctx, "AUTHENTICATE", err)
	}
	for {
		if err := c.readUntil(func() bool { return st.cont != nil || cmd.done }); err != nil {
			return nil, c.fail(ctx, "AUTHENTICATE", err)
		}
		if cmd.done {
			break
		}
		ch, err := base64.StdEncoding.DecodeString(strings.TrimSpace(st.cont.Text))
		st.cont = nil
		line := "*"
		if err == nil {
			if resp, ok := m.Step(ch); ok {
				line = base64.StdEncoding.EncodeToString(resp)
			}
		}
		c.trace(4, "> ***")
		if c.opts.Audit != nil {
			c.opts.Audit("imaplib.send", "***")
		}
		c.w.WriteString(line + "\r\n")
		if err := c.w.Flush(); err != nil {
			return nil, c.fail(ctx, "AUTHENTICATE", err)
		}
	}
	if err := c.checkBye("AUTHENTICATE"); err != nil {
		return nil, err
	}
	if cmd.Status.Type != "OK" {
		return nil, &Error{Kind: KindError, Command: "AUTHENTICATE", Code: cmd.Status.Code, Text: cmd.Status.Text}
	}
	c.state = StateAuth
	if err := c.refreshCaps(ctx, false); err != nil {
		return nil, err
	}
	return tagged(cmd), nil
}

// LoginCramMD5 authenticates with CRAM-MD5 (imaplib's login_cram_md5).
func (c *Client) LoginCramMD5(ctx context.Context, user, password string) (*Result, error) {
	return c.AuthenticateSASL(ctx, CramMD5Auth(user, password))
}
