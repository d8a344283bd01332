package main

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/mailscript/mailscript/internal/tlsopt"
	"github.com/mailscript/mailscript/trust"
)

const trustHelp = `Shows the certificate chain of a mail server (subject, issuer, validity,
names, SHA-256 fingerprint) and whether it verifies. With --pin, pins the
server's certificate: from then on connections to HOST accept that
certificate only (even self-signed), and a changed certificate is refused
with both fingerprints shown. Pins are kept in $XDG_CONFIG_HOME/mailscript/pins.
PORT defaults to 993 (143 with --starttls); 995/110 speak POP3.`

func (c *cli) trustCmd(args []string) int {
	fs := c.flags("trust", "HOST[:PORT]", trustHelp, nil)
	starttls := fs.Bool("starttls", false, "connect in clear text and upgrade with STARTTLS (IMAP) or STLS (POP3)")
	pin := fs.Bool("pin", false, "pin the certificate the server sent")
	ca := fs.String("ca", "", "verify against the CA certificates in this PEM file instead of the system's")
	fingerprint := fs.String("fingerprint", "", "with --pin: pin only if the server's fingerprint is this one (checked out of band)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(c.stderr, "mailscript trust: "+format+"\n", a...)
		return code
	}
	host, port := fs.Arg(0), 993
	if *starttls {
		port = 143
	}
	if h, p, err := net.SplitHostPort(host); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return fail(2, "bad port %q", p)
		}
		host, port = h, n
	}
	host = strings.Trim(host, "[]")
	var roots *x509.CertPool
	if *ca != "" {
		pem, err := tlsopt.ReadPEMFile(*ca)
		if err != nil {
			return fail(1, "--ca: %v", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fail(1, "--ca %s: no PEM certificate in it", *ca)
		}
	}
	ctx, _, stop := signalContext()
	defer stop()
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	chain, err := trust.Fetch(ctx, addr, *starttls, roots, *timeout)
	if err != nil {
		return fail(1, "%v", err)
	}
	fmt.Fprintf(c.stdout, "%s:\n", addr)
	chain.Describe(c.stdout, time.Now())
	file, err := trust.DefaultFile()
	if err != nil {
		return fail(1, "%v", err)
	}
	pins := &trust.Pins{File: file}
	have, err := pins.Load()
	if err != nil {
		return fail(1, "%v", err)
	}
	got := trust.Fingerprint(chain.Certs[0])
	for _, p := range have[strings.ToLower(host)] {
		if p == got {
			fmt.Fprintf(c.stdout, "pinned: yes (%s)\n", file)
			return 0
		}
	}
	if old := have[strings.ToLower(host)]; len(old) > 0 {
		fmt.Fprintf(c.stdout, "pinned: a DIFFERENT certificate: %s (the server sent %s)\n", strings.Join(old, ", "), got)
	}
	if !*pin {
		if chain.VerifyErr != nil {
			fmt.Fprintf(c.stdout, "\nTo trust this server: check the fingerprint with its admin, then run\n  mailscript trust --pin %s%s\nor, if you have its CA certificate, use --ca ca.pem (or ssl_context = {ca_file = \"ca.pem\"}).\n", starttlsFlag(*starttls), addr)
		}
		return 0
	}
	if *fingerprint != "" && !strings.EqualFold(strings.ReplaceAll(*fingerprint, " ", ""), got) {
		return fail(1, "the server sent %s, not the --fingerprint %s: not pinned", got, *fingerprint)
	}
	if err := pins.Add(host, got, chain.Certs[0].Subject.String()+", pinned "+time.Now().UTC().Format(time.DateOnly)); err != nil {
		return fail(1, "%v", err)
	}
	fmt.Fprintf(c.stdout, "pinned %s %s in %s\n", host, got, file)
	return 0
}

func starttlsFlag(on bool) string {
	if on {
		return "--starttls "
	}
	return ""
}
