// Package tlsopt turns the TLS settings users give (CA roots and a client
// certificate, as files or PEM text; a server name, a minimum version, an
// explicit insecure switch) into a *tls.Config. Both mail clients share it.
package tlsopt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// Options are the user's TLS settings. The zero value verifies the
// server's certificate and host name against the system roots.
type Options struct {
	CAFile     string // PEM file of extra trusted roots (instead of the system's)
	CertFile   string // client certificate, PEM
	KeyFile    string // its key, PEM
	CAPEM      string // trusted roots as PEM text, instead of CAFile
	CertPEM    string // client certificate as PEM text, instead of CertFile
	KeyPEM     string // its key as PEM text, instead of KeyFile
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
	ca, err := pemOf("ca", o.CAFile, o.CAPEM)
	if err != nil {
		return nil, err
	}
	if ca != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, errors.New("ca: no PEM certificates")
		}
		cfg.RootCAs = pool
	}
	cert, err := pemOf("cert", o.CertFile, o.CertPEM)
	if err != nil {
		return nil, err
	}
	key, err := pemOf("key", o.KeyFile, o.KeyPEM)
	if err != nil {
		return nil, err
	}
	if (cert == nil) != (key == nil) {
		return nil, errors.New("a client certificate and its key go together (cert_file/cert_pem and key_file/key_pem)")
	}
	if cert != nil {
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// MaxPEM is the largest PEM text or file accepted (a CA bundle is ~200 KB).
const MaxPEM = 1 << 20

// HasFiles reports whether o names files to read.
func (o Options) HasFiles() bool { return o.CAFile != "" || o.CertFile != "" || o.KeyFile != "" }

// pemOf is the PEM text of what (ca, cert, key), given as a file or as
// text but not both; nil when neither.
func pemOf(what, file, text string) ([]byte, error) {
	switch {
	case file != "" && text != "":
		return nil, fmt.Errorf("%s_file and %s_pem: give one", what, what)
	case text != "":
		if len(text) > MaxPEM {
			return nil, fmt.Errorf("%s_pem: more than %d bytes", what, MaxPEM)
		}
		return []byte(text), nil
	case file != "":
		b, err := ReadPEMFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s_file: %w", what, err)
		}
		return b, nil
	}
	return nil, nil
}

// ReadPEMFile reads a regular file of at most MaxPEM bytes; it never
// blocks on a FIFO or device (opened non-blocking, refused unless
// regular) nor reads past the cap.
func ReadPEMFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() > MaxPEM {
		return nil, fmt.Errorf("%s: more than %d bytes", path, MaxPEM)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxPEM+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxPEM {
		return nil, fmt.Errorf("%s: more than %d bytes", path, MaxPEM)
	}
	return b, nil
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
