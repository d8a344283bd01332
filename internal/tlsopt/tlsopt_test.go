package tlsopt

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfig(t *testing.T) {
	cfg, err := Options{}.Config()
	if err != nil || cfg.InsecureSkipVerify || cfg.MinVersion != tls.VersionTLS12 || cfg.RootCAs != nil {
		t.Fatalf("default: %v %+v", err, cfg)
	}
	cfg, err = Options{MinVersion: "1.3", Insecure: true, ServerName: "x"}.Config()
	if err != nil || cfg.MinVersion != tls.VersionTLS13 || !cfg.InsecureSkipVerify || cfg.ServerName != "x" {
		t.Fatalf("%v %+v", err, cfg)
	}
	for _, bad := range []Options{{MinVersion: "1.0"}, {CAFile: "/nonexistent"}, {CertFile: "a"}} {
		if _, err := bad.Config(); err == nil {
			t.Fatalf("%+v accepted", bad)
		}
	}
	p := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(p, []byte("not pem"), 0o600)
	if _, err := (Options{CAFile: p}).Config(); err == nil || !strings.Contains(err.Error(), "no PEM") {
		t.Fatal(err)
	}
}

func TestForHost(t *testing.T) {
	c := ForHost(nil, "imap.example.org")
	if c.ServerName != "imap.example.org" || c.MinVersion != tls.VersionTLS12 {
		t.Fatalf("%+v", c)
	}
	given := &tls.Config{ServerName: "other", MinVersion: tls.VersionTLS13}
	c = ForHost(given, "imap.example.org")
	if c.ServerName != "other" || c.MinVersion != tls.VersionTLS13 || c == given {
		t.Fatalf("%+v", c)
	}
}
