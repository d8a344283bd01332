// Package trust is certificate pinning for the mail servers people run
// themselves (trust on first use, made explicit): it fetches and shows a
// server's certificate chain (RFC 5280 fields, SHA-256 fingerprints),
// over implicit TLS or STARTTLS (IMAP, RFC 3501 §6.2.1; POP3 STLS,
// RFC 2595), keeps pins in a file, and makes a *tls.Config that accepts
// a pinned host only with its pinned certificate.
package trust

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Fingerprint is cert's SHA-256 fingerprint as "SHA256:AB:CD:...".
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	var b strings.Builder
	b.WriteString("SHA256:")
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}

// Pins is the pin file: one "HOST FINGERPRINT" line per pinned
// certificate ('#' starts a comment). A pin belongs to the host name
// (the name verified in TLS), whatever the port.
type Pins struct {
	File string
}

// DefaultFile is $XDG_CONFIG_HOME/mailscript/pins (~/.config/mailscript/pins).
func DefaultFile() (string, error) {
	base := os.Getenv("XDG_CONFIG_HOME")
	if base == "" || !filepath.IsAbs(base) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		base = filepath.Join(home, ".config")
	}
	return filepath.Join(base, "mailscript", "pins"), nil
}

// MaxFile bounds the pin file.
const MaxFile = 1 << 20

// Load reads the pins: host (lower case) -> fingerprints. A missing
// file is no pins.
func (p *Pins) Load() (map[string][]string, error) {
	if p == nil || p.File == "" {
		return nil, nil
	}
	f, err := os.Open(p.File)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pins := map[string][]string{}
	sc := bufio.NewScanner(io.LimitReader(f, MaxFile))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fs := strings.Fields(line)
		if len(fs) == 0 {
			continue
		}
		if len(fs) != 2 || !strings.HasPrefix(strings.ToUpper(fs[1]), "SHA256:") {
			return nil, fmt.Errorf("%s:%d: want HOST SHA256:FINGERPRINT, got %q", p.File, n, sc.Text())
		}
		h := strings.ToLower(strings.Trim(fs[0], "[]"))
		pins[h] = append(pins[h], strings.ToUpper(fs[1]))
	}
	return pins, sc.Err()
}

// Add pins fingerprint for host (the file written atomically, mode 0600).
func (p *Pins) Add(host, fingerprint, comment string) error {
	old, err := os.ReadFile(p.File)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if _, err := p.Load(); err != nil {
		return err
	}
	line := strings.ToLower(strings.Trim(host, "[]")) + " " + fingerprint
	if comment != "" {
		line += " # " + strings.NewReplacer("\n", " ", "\r", " ").Replace(comment)
	}
	b := append(old, []byte(line+"\n")...)
	if len(old) > 0 && old[len(old)-1] != '\n' {
		b = append(append(old, '\n'), []byte(line+"\n")...)
	}
	dir := filepath.Dir(p.File)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".pins-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p.File)
}

// MismatchError is a pinned host whose certificate changed.
type MismatchError struct {
	Host   string
	Pinned []string
	Got    string
	File   string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("certificate of %s changed: pinned %s, server sent %s; refusing to connect (if the change is expected, check it with mailscript trust %s and pin again, or remove the line from %s)",
		e.Host, strings.Join(e.Pinned, " or "), e.Got, e.Host, e.File)
}

// Apply returns cfg set to enforce p's pins for a connection to host: a
// pinned host is accepted only with a pinned leaf certificate (its CA not
// consulted: that is what a pin of a self-signed server is for); any
// other host is verified as cfg says. cfg is returned unchanged when
// there are no pins. With host "", the name TLS sent (SNI) is looked up,
// which an IP address never is.
func (p *Pins) Apply(cfg *tls.Config, host string) (*tls.Config, error) {
	pins, err := p.Load()
	if err != nil || len(pins) == 0 {
		return cfg, err
	}
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg = cfg.Clone()
	insecure := cfg.InsecureSkipVerify
	roots := cfg.RootCAs
	file := p.File
	cfg.InsecureSkipVerify = true // the check is ours, below
	name := cfg.ServerName        // what crypto/tls would verify
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("tls: the server sent no certificate")
		}
		host := strings.ToLower(strings.Trim(host, "[]"))
		if host == "" {
			host = strings.ToLower(cs.ServerName)
		}
		if want := pins[host]; len(want) > 0 {
			got := Fingerprint(cs.PeerCertificates[0])
			for _, w := range want {
				if w == got {
					return nil
				}
			}
			return &MismatchError{Host: host, Pinned: want, Got: got, File: file}
		}
		if insecure {
			return nil
		}
		if name == "" {
			name = host
		}
		if name == "" {
			name = cs.ServerName
		}
		if name == "" { // never a chain checked without its name
			return errors.New("tls: no server name to verify the certificate against")
		}
		cs.ServerName = name
		return verify(cs, roots)
	}
	return cfg, nil
}

// verify is crypto/tls's own check of the chain and the name.
func verify(cs tls.ConnectionState, roots *x509.CertPool) error {
	opts := x509.VerifyOptions{Roots: roots, DNSName: cs.ServerName, Intermediates: x509.NewCertPool()}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(opts)
	if err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
	}
	return nil
}

// Chain is what a server presented.
type Chain struct {
	Certs []*x509.Certificate
	// VerifyErr is why the chain does not verify against the roots given
	// (nil: it verifies).
	VerifyErr error
}

// Fetch connects to addr (HOST:PORT), upgrading with STARTTLS (IMAP) or
// STLS (POP3, told by its "+OK" greeting) when starttls is set, and
// returns the chain the server sent, checked against roots (the
// system's when nil) for host.
func Fetch(ctx context.Context, addr string, starttls bool, roots *x509.CertPool, timeout time.Duration) (*Chain, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	if starttls {
		if err := upgrade(nc); err != nil {
			return nil, err
		}
	}
	var chain Chain
	tc := tls.Client(nc, &tls.Config{ServerName: host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			chain.Certs = cs.PeerCertificates
			if len(cs.PeerCertificates) > 0 {
				chain.VerifyErr = verify(cs, roots)
			}
			return nil
		}})
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	tc.Close()
	if len(chain.Certs) == 0 {
		return nil, fmt.Errorf("%s sent no certificate", addr)
	}
	return &chain, nil
}

// upgrade speaks just enough IMAP or POP3 to start TLS.
func upgrade(nc net.Conn) error {
	r := bufio.NewReaderSize(io.LimitReader(nc, 1<<16), 4096)
	greeting, err := r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	cmd, ok := "a STARTTLS\r\n", "a OK"
	if strings.HasPrefix(greeting, "+OK") {
		cmd, ok = "STLS\r\n", "+OK"
	} else if !strings.HasPrefix(greeting, "* OK") {
		return fmt.Errorf("not an IMAP or POP3 greeting: %q", strings.TrimSpace(greeting))
	}
	if _, err := io.WriteString(nc, cmd); err != nil {
		return err
	}
	for i := 0; i < 100; i++ {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
		if strings.HasPrefix(line, "* ") {
			continue
		}
		if strings.HasPrefix(line, ok) {
			if r.Buffered() > 0 {
				return errors.New("STARTTLS: the server sent data before the handshake")
			}
			return nil
		}
		return fmt.Errorf("STARTTLS refused: %q", strings.TrimSpace(line))
	}
	return errors.New("STARTTLS: no answer")
}

// Describe writes the chain for a person: each certificate's subject,
// issuer, validity, names and fingerprint.
func (c *Chain) Describe(w io.Writer, now time.Time) {
	for i, cert := range c.Certs {
		fmt.Fprintf(w, "certificate %d:\n", i)
		fmt.Fprintf(w, "  subject:     %s\n", cert.Subject)
		fmt.Fprintf(w, "  issuer:      %s\n", cert.Issuer)
		state := ""
		if now.Before(cert.NotBefore) {
			state = " (not yet valid)"
		} else if now.After(cert.NotAfter) {
			state = " (EXPIRED)"
		}
		fmt.Fprintf(w, "  valid:       %s to %s%s\n", cert.NotBefore.UTC().Format(time.DateTime), cert.NotAfter.UTC().Format(time.DateTime), state)
		var names []string
		names = append(names, cert.DNSNames...)
		for _, ip := range cert.IPAddresses {
			names = append(names, ip.String())
		}
		if len(names) > 0 {
			fmt.Fprintf(w, "  names:       %s\n", strings.Join(names, ", "))
		}
		fmt.Fprintf(w, "  fingerprint: %s\n", Fingerprint(cert))
	}
	if c.VerifyErr != nil {
		fmt.Fprintf(w, "verification: FAILED: %v\n", c.VerifyErr)
	} else {
		fmt.Fprintln(w, "verification: ok (the chain verifies against the trusted roots)")
	}
}
