package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/oauth"
	"github.com/mailscript/mailscript/trust"
)

// apply acts on the flags that set up the process: --ca.
func (rf *runFlags) apply() error {
	if len(rf.allowOAuth) > 0 && (!rf.sandbox || !rf.inProcess) {
		return errors.New("--allow-oauth goes with --sandbox --in-process (an isolated child holds no refresh tokens; a trusted script may use every signed-in account)")
	}
	if rf.ca == "" {
		return nil
	}
	pem, err := os.ReadFile(rf.ca)
	if err != nil {
		return fmt.Errorf("--ca: %v", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		return errors.New("--ca " + rf.ca + ": no PEM certificate in it")
	}
	abs, err := filepath.Abs(rf.ca)
	if err != nil {
		return fmt.Errorf("--ca: %v", err)
	}
	// Go reads SSL_CERT_FILE beside the system's certificate folders, once,
	// at the first TLS connection: the CA joins the roots for every module.
	os.Setenv("SSL_CERT_FILE", abs)
	return nil
}

// logTo tees stderr into the --log file; it returns the function that
// closes it, or nil (with the error reported) when it cannot be opened.
func (c *cli) logTo(rf *runFlags) func() {
	if rf.logFile == "" {
		return nil
	}
	f, err := os.OpenFile(rf.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintln(c.stderr, "mailscript: --log:", err)
		return nil
	}
	fmt.Fprintf(f, "--- mailscript %s %s\n", Version, time.Now().Format(time.RFC3339))
	c.stderr = io.MultiWriter(c.stderr, f)
	return func() { f.Close() }
}

// tlsHint says how to trust a server whose certificate does not verify,
// unless the message says so already (the modules' errors do).
func tlsHint(msg string) string {
	if bindings.TLSHint(msg) == "" || strings.Contains(msg, "ssl_context") || strings.Contains(msg, "mailscript trust") {
		return ""
	}
	return "hint: the server's certificate does not verify. Trust its CA with\n" +
		"  ssl_context = {ca_file = \"ca.pem\"} (or ca_pem = PEM text) in account.connect / IMAP4_SSL,\n" +
		"  or SSL_CERT_FILE=ca.pem in the environment, or mailscript run --ca ca.pem;\n" +
		"  or see its certificate with mailscript trust HOST[:PORT] and pin it with --pin"
}

// hostAccess is what scripts may use of the user's sign-ins and pins:
// every stored OAuth account for a trusted script, only the
// --allow-oauth names in the sandbox; the pin file always.
func (rf *runFlags) hostAccess() (func(string) (*oauth.Source, error), *trust.Pins) {
	var pins *trust.Pins
	if f, err := trust.DefaultFile(); err == nil {
		pins = &trust.Pins{File: f}
	}
	st, err := oauthStore()
	if err != nil || (rf.sandbox && len(rf.allowOAuth) == 0) {
		return nil, pins
	}
	srcs := &oauth.Sources{Store: st}
	if rf.sandbox {
		srcs.Allow = rf.allowOAuth
	}
	return srcs.Source, pins
}
