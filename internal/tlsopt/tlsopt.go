// Package tlsopt turns the TLS settings users give (a CA file, a client
// certificate, a server name, a minimum version, an explicit insecure
// switch) into a *tls.Config. Both mail clients share it.
package tlsopt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// Options are the user's TLS settings. The zero value verifies the
// server's certificate and host name against the system roots.
type Options struct {
	CAFile     string // PEM file of extra trusted roots (instead of the system's)
	CertFile   string // client certificate, PEM
	KeyFile    string // its key, PEM
	ServerName string // name to verify, if not the dialed host
	MinVersion string // "1.2" (default) or "1.3"
	Insecure   bool   // skip verification: explicit, never the default
}

// Config builds the *tls.Config.
func (o Options) Config() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: o.ServerName, InsecureSkipVerify: o.Insecure, MinVersion: tls.VersionTLS12}
	switch strings.TrimPrefix(strings.ToLower(o.MinVersion), "tlsv") {
	case "", "1.2":
	case "1.3":
		cfg.MinVersion = tls.VersionTLS13
	default:
		return nil, fmt.Errorf("min_version %q: want 1.2 or 1.3", o.MinVersion)
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificates", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("cert_file and key_file go together")
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// ForHost returns a copy of cfg (or a new config) that verifies host
// unless a server name is set, with TLS 1.2 at least: the defaults both
// mail clients dial with.
func ForHost(cfg *tls.Config, host string) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// Handshake runs TLS's client side on nc with ForHost's defaults, for at
// most timeout when it is positive; on failure nc is left to the caller.
func Handshake(ctx context.Context, nc net.Conn, cfg *tls.Config, host string, timeout time.Duration) (*tls.Conn, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	tc := tls.Client(nc, ForHost(cfg, host))
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return tc, nil
}
