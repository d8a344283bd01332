package trust_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/dovecot"
	"github.com/mailscript/mailscript/internal/selfsigned"
	"github.com/mailscript/mailscript/trust"
)

func TestMain(m *testing.M) { dovecot.Main(m) }

// TestTrustFetchDovecot reads Dovecot's chain over implicit TLS, IMAP
// STARTTLS and POP3 STLS, and checks it against its CA.
func TestTrustFetchDovecot(t *testing.T) {
	s := dovecot.Shared(t)
	ca, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	var fps []string
	for _, c := range []struct {
		port     int
		starttls bool
	}{{s.IMAPS, false}, {s.IMAP, true}, {s.POP3, true}, {s.POP3S, false}} {
		ch, err := trust.Fetch(context.Background(), dovecot.Addr(c.port), c.starttls, roots, 10*time.Second)
		if err != nil {
			t.Fatalf("port %d: %v", c.port, err)
		}
		if ch.VerifyErr != nil {
			t.Fatalf("port %d: %v", c.port, ch.VerifyErr)
		}
		fps = append(fps, trust.Fingerprint(ch.Certs[0]))
		var b strings.Builder
		ch.Describe(&b, time.Now())
		if !strings.Contains(b.String(), "names:       localhost, 127.0.0.1") || !strings.Contains(b.String(), "verification: ok") {
			t.Fatalf("describe:\n%s", b.String())
		}
	}
	for _, fp := range fps[1:] {
		if fp != fps[0] {
			t.Fatalf("one server, fingerprints %v", fps)
		}
	}
	// Without its CA the chain does not verify, and says why.
	ch, err := trust.Fetch(context.Background(), dovecot.Addr(s.IMAPS), false, x509.NewCertPool(), 10*time.Second)
	if err != nil || ch.VerifyErr == nil || !strings.Contains(ch.VerifyErr.Error(), "unknown authority") {
		t.Fatalf("without the CA: %v %v", err, ch)
	}
}

// TestTrustApply checks the pinned config: the pinned certificate
// passes (no CA needed), another is refused with both fingerprints,
// an unpinned host is verified normally, and a check with no name to
// verify is refused.
func TestTrustApply(t *testing.T) {
	a, _ := selfsigned.New()
	b, _ := selfsigned.New()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", a.Server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	leafA, _ := x509.ParseCertificate(a.Server.Certificates[0].Certificate[0])
	leafB, _ := x509.ParseCertificate(b.Server.Certificates[0].Certificate[0])
	pins := &trust.Pins{File: filepath.Join(t.TempDir(), "pins")}
	dial := func(cfg *tls.Config, host string) error {
		cfg, err := pins.Apply(cfg, host)
		if err != nil {
			return err
		}
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		defer nc.Close()
		cfg = cfg.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		return tls.Client(nc, cfg).Handshake()
	}
	// No pins: ordinary verification (fails without the CA, works with it).
	if err := dial(&tls.Config{}, "127.0.0.1"); err == nil {
		t.Fatal("a self-signed server verified with no pin and no CA")
	}
	if err := dial(&tls.Config{RootCAs: a.Roots}, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := pins.Add("127.0.0.1", trust.Fingerprint(leafA), "test"); err != nil {
		t.Fatal(err)
	}
	if err := dial(&tls.Config{}, "127.0.0.1"); err != nil {
		t.Fatalf("pinned: %v", err)
	}
	if err := pins.Add("other.example", trust.Fingerprint(leafB), ""); err != nil {
		t.Fatal(err)
	}
	// localhost is not pinned: verified against the roots, with its name.
	if err := dial(&tls.Config{RootCAs: a.Roots}, "localhost"); err != nil {
		t.Fatalf("unpinned host with its CA: %v", err)
	}
	if err := dial(&tls.Config{RootCAs: b.Roots}, "localhost"); err == nil {
		t.Fatal("unpinned host verified against the wrong CA")
	}
	// The pin of 127.0.0.1 is replaced by B's: A's certificate is refused.
	os.WriteFile(pins.File, []byte("127.0.0.1 "+trust.Fingerprint(leafB)+"\n"), 0o600)
	err = dial(&tls.Config{}, "127.0.0.1")
	var me *trust.MismatchError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), trust.Fingerprint(leafA)) || !strings.Contains(err.Error(), trust.Fingerprint(leafB)) {
		t.Fatalf("changed certificate: %v", err)
	}
	// Bad pin files are errors, not ignored.
	os.WriteFile(pins.File, []byte("127.0.0.1 md5:00\n"), 0o600)
	if _, err := pins.Apply(&tls.Config{}, "127.0.0.1"); err == nil {
		t.Fatal("a malformed pin file was accepted")
	}
}
