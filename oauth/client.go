package oauth

import (
	"context"
	"strings"

	"github.com/mailscript/mailscript/protocol/imap"
	"github.com/mailscript/mailscript/protocol/pop3"
	"github.com/mailscript/mailscript/protocol/sasl"
)

// IMAP logs c in as user (the account's user when "") with mech, or,
// when mech is "", OAUTHBEARER if the server offers AUTH=OAUTHBEARER and
// XOAUTH2 otherwise. host and port are the server's, for OAUTHBEARER.
func (s *Source) IMAP(ctx context.Context, c *imap.Client, user, mech, host string, port int) error {
	if mech == "" {
		var offers []string
		for _, cp := range c.Capabilities() {
			if m, ok := strings.CutPrefix(strings.ToUpper(cp), "AUTH="); ok {
				offers = append(offers, m)
			}
		}
		mech = Mechanism(offers)
	}
	return s.Authenticate(ctx, user, strings.ToUpper(mech), host, port, func(m sasl.Mechanism) error {
		_, err := c.AuthenticateSASL(ctx, m)
		return err
	})
}

// POP3 is [Source.IMAP] for POP3: the mechanism comes from CAPA's SASL
// line (RFC 2449), XOAUTH2 when the server lists none.
func (s *Source) POP3(ctx context.Context, c *pop3.Client, user, mech, host string, port int) error {
	if mech == "" {
		caps, err := c.Capa(ctx)
		if err == nil {
			mech = Mechanism(caps["SASL"])
		} else {
			mech = "XOAUTH2"
		}
	}
	return s.Authenticate(ctx, user, strings.ToUpper(mech), host, port, func(m sasl.Mechanism) error {
		_, err := c.Auth(ctx, m)
		return err
	})
}
