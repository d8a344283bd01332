package imap

import (
	"context"
	"encoding/base64"
	"strings"

	"github.com/mailscript/mailscript/protocol/sasl"
)

// Authenticate runs AUTHENTICATE with imaplib's callback.
func (c *Client) Authenticate(ctx context.Context, mechanism string, auth sasl.AuthFunc) (*Result, error) {
	return c.AuthenticateSASL(ctx, sasl.Mechanism{Name: mechanism, Step: auth})
}

// AuthenticateSASL runs AUTHENTICATE with m, using SASL-IR when offered.
// Everything the client sends in the exchange shows as *** in traces.
func (c *Client) AuthenticateSASL(ctx context.Context, m sasl.Mechanism) (*Result, error) {
	if c.dead() != nil {
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
		c.storeDel(t)
	}
	if err := c.encode(cmd); err != nil {
		return nil, err
	}
	stop := c.watch(ctx)
	defer stop()
	c.pending = append(c.pending, cmd)
	if err := c.write(cmd); err != nil {
		return nil, c.fail(ctx, "AUTHENTICATE", err)
	}
	for {
		cont, err := c.awaitCont(cmd)
		if err != nil {
			return nil, c.fail(ctx, "AUTHENTICATE", err)
		}
		if cont == nil {
			break
		}
		ch, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cont.Text))
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
		return nil, statusError(KindError, "AUTHENTICATE", cmd.Status, "")
	}
	c.setStateAny(StateAuth)
	if err := c.refreshCaps(ctx, false); err != nil {
		return nil, err
	}
	return tagged(cmd), nil
}

// LoginCramMD5 authenticates with CRAM-MD5 (imaplib's login_cram_md5).
func (c *Client) LoginCramMD5(ctx context.Context, user, password string) (*Result, error) {
	return c.AuthenticateSASL(ctx, sasl.CramMD5(user, password))
}
