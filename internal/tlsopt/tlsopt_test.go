package tlsopt

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/selfsigned"
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

func TestPEMText(t *testing.T) {
	pair, err := selfsigned.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Options{CAPEM: string(pair.CAPEM)}.Config()
	if err != nil || cfg.RootCAs == nil {
		t.Fatal(err)
	}
	// the roots from the text verify the server the CA signed
	l, err := tls.Listen("tcp", "127.0.0.1:0", pair.Server)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := Handshake(context.Background(), nc, cfg, "localhost", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := (Options{CertPEM: string(pair.CertPEM), KeyPEM: string(pair.KeyPEM)}).Config(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Options{
		{CAPEM: "not pem"}, {CertPEM: string(pair.CertPEM)}, {CAPEM: strings.Repeat("x", MaxPEM+1)},
		{CAPEM: string(pair.CAPEM), CAFile: "/etc/hostname"},
	} {
		if _, err := bad.Config(); err == nil {
			t.Fatalf("%.40q accepted", bad.CAPEM)
		}
	}
}

// A path never blocks (a FIFO) nor reads without end (/dev/zero, a big file).
func TestFilesAreCapped(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.pem")
	os.WriteFile(big, make([]byte, MaxPEM+1), 0o600)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for path, want := range map[string]string{fifo: "not a regular file", "/dev/zero": "not a regular file", big: "more than", dir: "not a regular file"} {
			if _, err := (Options{CAFile: path}).Config(); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v", path, err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("reading a path blocked")
	}
}
