// Package sasl holds the SASL mechanisms (RFC 4422) the mail clients
// offer: PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195), XOAUTH2 and
// OAUTHBEARER (RFC 7628), and the shape of a caller's own mechanism.
package sasl

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"
)

// AuthFunc is imaplib's authobject: it gets each decoded server challenge
// and returns the response to send (the client base64-encodes it), or
// ok=false to cancel the exchange with "*".
type AuthFunc func(challenge []byte) (response []byte, ok bool)

// Mechanism is a SASL mechanism. Initial, if set, gives the initial
// response a client sends with the command when the server allows it
// (IMAP SASL-IR, POP3 AUTH).
type Mechanism struct {
	Name    string
	Initial func() []byte
	Step    AuthFunc
}

// Plain is PLAIN.
func Plain(authzid, user, password string) Mechanism {
	msg := []byte(authzid + "\x00" + user + "\x00" + password)
	return Mechanism{Name: "PLAIN", Initial: func() []byte { return msg },
		Step: func([]byte) ([]byte, bool) { return msg, true }}
}

// Login is the LOGIN mechanism: the user name, then the password.
func Login(user, password string) Mechanism {
	n := 0
	return Mechanism{Name: "LOGIN", Step: func([]byte) ([]byte, bool) {
		n++
		if n == 1 {
			return []byte(user), true
		}
		return []byte(password), true
	}}
}

// CramMD5 is CRAM-MD5, as imaplib's login_cram_md5.
func CramMD5(user, password string) Mechanism {
	return Mechanism{Name: "CRAM-MD5", Step: func(ch []byte) ([]byte, bool) {
		m := hmac.New(md5.New, []byte(password))
		m.Write(ch)
		return []byte(user + " " + hex.EncodeToString(m.Sum(nil))), true
	}}
}

// bearer sends msg first; a later challenge carries the server's error
// and gets reply, as both OAuth mechanisms require.
func bearer(name string, msg, reply []byte) Mechanism {
	sent := false
	return Mechanism{Name: name,
		Initial: func() []byte { sent = true; return msg },
		Step: func([]byte) ([]byte, bool) {
			if !sent {
				sent = true
				return msg, true
			}
			return reply, true
		}}
}

// XOAuth2 is Google's and Microsoft's XOAUTH2.
func XOAuth2(user, token string) Mechanism {
	return bearer("XOAUTH2", []byte("user="+user+"\x01auth=Bearer "+token+"\x01\x01"), []byte{})
}

// OAuthBearer is OAUTHBEARER. The user goes in the GS2 header as
// RFC 5801 §4 says: "=" as "=3D" and "," as "=2C".
func OAuthBearer(user, token, host string, port int) Mechanism {
	user = strings.NewReplacer("=", "=3D", ",", "=2C").Replace(user)
	msg := fmt.Sprintf("n,a=%s,\x01host=%s\x01port=%d\x01auth=Bearer %s\x01\x01", user, host, port, token)
	return bearer("OAUTHBEARER", []byte(msg), []byte{0x01})
}
