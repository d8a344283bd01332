package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/dovecot"
	"github.com/mailscript/mailscript/internal/oauthsrv"
	"github.com/mailscript/mailscript/internal/selfsigned"
	"github.com/mailscript/mailscript/trust"
)

// loginCLI runs mailscript login with args, playing the user: it reads
// the code the command prints and approves it at the server as user.
func loginCLI(t *testing.T, as *oauthsrv.Server, user string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"login"}, args...)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "DISPLAY=", "WAYLAND_DISPLAY=")
	pr, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	code := regexp.MustCompile(`enter the code (\S+)`)
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if m := code.FindStringSubmatch(sc.Text()); m != nil && !as.Approve(m[1], user) {
			t.Errorf("code %q unknown to the server", m[1])
		}
	}
	err = cmd.Wait()
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), status
}

func noTokensIn(t *testing.T, as *oauthsrv.Server, where, text string) {
	t.Helper()
	for _, tok := range as.Issued() {
		if strings.Contains(text, tok) {
			t.Fatalf("%s shows token %s...", where, oauthsrv.Fingerprint(tok))
		}
	}
}

func TestOAuthLoginAndScripts(t *testing.T) {
	as, err := oauthsrv.Start("cli-client", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer as.Close()
	as.Lifetime = 5 * time.Minute
	dc, err := dovecot.StartWith(dovecot.Options{OAuth2Introspection: as.URL + "/introspect"})
	if err != nil {
		t.Fatalf("Dovecot with the oauth2 passdb: %v (run scripts/test.sh)", err)
	}
	defer dc.Stop()
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	const user = "cli@example.org"
	if _, err := dc.Maildir(user); err != nil {
		t.Fatal(err)
	}

	out, errs, code := loginCLI(t, as, user, "--issuer", as.URL, "--client-id", "cli-client", "--user", user,
		"--imap-host", "127.0.0.1", "--imap-port", fmt.Sprint(dc.IMAP), "--scope", "mail", "work")
	if code != 0 || !strings.Contains(out, "Signed in: work") {
		t.Fatalf("login: %d\n%s\n%s", code, out, errs)
	}
	noTokensIn(t, as, "login's output", out+errs)
	file := filepath.Join(cfg, "mailscript", "oauth", "work.json")
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", err, fi)
	}
	if di, _ := os.Stat(filepath.Dir(file)); di.Mode().Perm() != 0o700 {
		t.Fatalf("token folder mode %v", di.Mode().Perm())
	}
	if _, errs, code := mailscript(t, "", "login", "--provider", "gmail", "--client-id", "x", "--device", "g"); code != 2 || !strings.Contains(errs, "does not grant the Gmail scope") {
		t.Fatalf("gmail --device: %d %s", code, errs)
	}
	if out, _, _ := mailscript(t, "", "login", "--list"); !strings.Contains(out, "work\tgeneric\t"+user) {
		t.Fatalf("login --list: %q", out)
	}

	// Every path a token could leak by: imap debug 5, pop3 debug 2,
	// --debug 5 on account.connect, --log.
	logFile := filepath.Join(t.TempDir(), "run.log")
	script := write(t, "oauth.lua", fmt.Sprintf(`
local account, imap, pop3 = require("account"), require("imap"), require("pop3")
local a = account.connect{auth = "oauth2", oauth = "work", tls = "none"}
print("account", a:mailbox("INBOX"):status().messages)
a:close()
local pa = account.pop3{auth = "oauth2", oauth = "work", host = "127.0.0.1", port = %[2]d, tls = "none"}
print("account.pop3", pa:stat())
pa:close()
local M = imap.IMAP4("127.0.0.1", %[1]d)
M.debug = 5
local typ = M:authenticate_oauth("work")
print("imap", typ, M.state)
M:logout()
local N = imap.IMAP4("127.0.0.1", %[1]d)
local ok, e = pcall(N.authenticate_oauth, N, "work", {user = "other@example.org", mechanism = "XOAUTH2"})
print("wrong", ok, tostring(e):match("server said status=%%S+"))
N:logout()
local P = pop3.POP3("127.0.0.1", %[2]d)
P:set_debuglevel(2)
print("pop3", P:auth_oauth("work", {mechanism = "XOAUTH2"}):sub(1, 3))
P:quit()
require("log").info("done")
`, dc.IMAP, dc.POP3))
	out, errs, code = mailscript(t, "", "run", "--debug", "5", "--log", logFile, script)
	if code != 0 || !strings.Contains(out, "account\t0") || !strings.Contains(out, "account.pop3\t0") || !strings.Contains(out, "imap\tOK\tAUTH") || !strings.Contains(out, "pop3\t+OK") ||
		!strings.Contains(out, "wrong\tfalse\tserver said status=") {
		t.Fatalf("script: %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "AUTHENTICATE OAUTHBEARER") || !strings.Contains(errs, "AUTH XOAUTH2") {
		t.Fatalf("the traces show no OAuth login:\n%s", errs)
	}
	logText, _ := os.ReadFile(logFile)
	noTokensIn(t, as, "the traces", out+errs)
	noTokensIn(t, as, "the --log file", string(logText))
	if len(logText) == 0 {
		t.Fatal("the --log file is empty")
	}

	// The server refuses the token (it ran out early): refreshed, retried.
	refreshes := as.Count("refresh")
	as.ExpireAccess()
	out, errs, code = mailscript(t, "", "run", "-e", `require("account").connect{auth = "oauth2", oauth = "work", tls = "none"}:close() print("ok")`)
	if code != 0 || out != "ok\n" || as.Count("refresh") != refreshes+1 {
		t.Fatalf("after the server dropped the tokens: %d %q %s (refreshes %d)", code, out, errs, as.Count("refresh")-refreshes)
	}

	// The sandbox: no OAuth accounts unless granted by name, never a path.
	connect := `require("account").connect{auth = "oauth2", oauth = %q, tls = "none"}:close() print("ok")`
	for _, c := range []struct {
		args []string
		name string
		want string
	}{
		{[]string{"--sandbox", "--in-process", "--allow-host", "127.0.0.1"}, "work", "no OAuth accounts are granted"},
		{[]string{"--sandbox", "--in-process", "--allow-host", "127.0.0.1", "--allow-oauth", "other"}, "work", "not granted"},
		{[]string{"--sandbox", "--in-process", "--allow-host", "127.0.0.1", "--allow-oauth", "work"}, "../oauth/work", "use letters, digits"},
		{[]string{"--sandbox", "--allow-oauth", "work"}, "work", "--allow-oauth goes with --sandbox --in-process"},
	} {
		_, errs, code := mailscript(t, "", append(append([]string{"run"}, c.args...), "-e", fmt.Sprintf(connect, c.name))...)
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Fatalf("%v %s: %d %s", c.args, c.name, code, errs)
		}
	}
	out, errs, code = mailscript(t, "", "run", "--sandbox", "--in-process", "--allow-host", "127.0.0.1", "--allow-oauth", "work", "-e", fmt.Sprintf(connect, "work"))
	if code != 0 || out != "ok\n" {
		t.Fatalf("granted in the sandbox: %d %s %s", code, out, errs)
	}

	// A revoked refresh token: sign in again.
	as.RevokeRefresh(user)
	_, errs, code = mailscript(t, "", "run", "-e", fmt.Sprintf(connect, "work"))
	if code != 1 || !strings.Contains(errs, "sign in again with: mailscript login work") {
		t.Fatalf("revoked: %d %s", code, errs)
	}
	noTokensIn(t, as, "the error", errs)

	if out, _, code := mailscript(t, "", "login", "--forget", "work"); code != 0 || !strings.Contains(out, "forgot work") {
		t.Fatal(out)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatal("the token file is still there")
	}
}

// tlsIMAP is a TLS server that greets as IMAP and answers LOGOUT, with
// a certificate the test can change.
type tlsIMAP struct {
	ln   net.Listener
	mu   sync.Mutex
	cert tls.Certificate
	ca   []byte
}

func newTLSIMAP(t *testing.T) *tlsIMAP {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &tlsIMAP{ln: ln}
	s.rotate(t)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(nc)
		}
	}()
	return s
}

func (s *tlsIMAP) rotate(t *testing.T) {
	p, err := selfsigned.New()
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.cert, s.ca = p.Server.Certificates[0], p.CAPEM
	s.mu.Unlock()
}

func (s *tlsIMAP) serve(nc net.Conn) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	s.mu.Lock()
	cfg := &tls.Config{Certificates: []tls.Certificate{s.cert}}
	s.mu.Unlock()
	tc := tls.Server(nc, cfg)
	if tc.Handshake() != nil {
		return
	}
	io.WriteString(tc, "* OK [CAPABILITY IMAP4rev1] test\r\n")
	r := bufio.NewReader(tc)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		tag, cmd, _ := strings.Cut(strings.TrimSpace(line), " ")
		if strings.EqualFold(cmd, "LOGOUT") {
			io.WriteString(tc, "* BYE bye\r\n"+tag+" OK LOGOUT done\r\n")
			return
		}
		io.WriteString(tc, tag+" BAD no\r\n")
	}
}

func TestTrustPinning(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	srv := newTLSIMAP(t)
	addr := srv.ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	connect := `local M = require("imap").IMAP4_SSL("127.0.0.1", ` + port + `) M:logout() print("ok")`

	// Unpinned and self-signed: refused, the hint names trust and --ca.
	_, errs, code := mailscript(t, "", "run", "-e", connect)
	if code != 1 || !strings.Contains(errs, "mailscript trust") || !strings.Contains(errs, "--ca") {
		t.Fatalf("unpinned: %d %s", code, errs)
	}
	// trust shows the chain and its fingerprint.
	out, errs, code := mailscript(t, "", "trust", addr)
	if code != 0 || !strings.Contains(out, "subject:") || !strings.Contains(out, "names:       localhost, 127.0.0.1") ||
		!strings.Contains(out, "verification: FAILED") || !strings.Contains(out, "mailscript trust --pin") {
		t.Fatalf("trust: %d\n%s\n%s", code, out, errs)
	}
	first := regexp.MustCompile(`fingerprint: (SHA256:\S+)`).FindStringSubmatch(out)[1]
	// --ca with the right CA: verifies.
	caFile := write(t, "ca.pem", string(srv.ca))
	if out, _, _ := mailscript(t, "", "trust", "--ca", caFile, addr); !strings.Contains(out, "verification: ok") {
		t.Fatalf("trust --ca: %s", out)
	}
	// Pin it: the script connects.
	if out, errs, code := mailscript(t, "", "trust", "--pin", addr); code != 0 || !strings.Contains(out, "pinned 127.0.0.1 "+first) {
		t.Fatalf("pin: %d %s %s", code, out, errs)
	}
	pinFile := filepath.Join(cfg, "mailscript", "pins")
	if fi, err := os.Stat(pinFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("pin file: %v", err)
	}
	if out, errs, code := mailscript(t, "", "run", "-e", connect); code != 0 || out != "ok\n" {
		t.Fatalf("pinned: %d %s %s", code, out, errs)
	}
	// The certificate changes: refused with both fingerprints, also in
	// an isolated sandbox run.
	srv.rotate(t)
	out, _, _ = mailscript(t, "", "trust", addr)
	second := regexp.MustCompile(`fingerprint: (SHA256:\S+)`).FindStringSubmatch(out)[1]
	if second == first {
		t.Fatal("the certificate did not change")
	}
	for _, args := range [][]string{{"run"}, {"run", "--sandbox", "--allow-host", "127.0.0.1"}} {
		_, errs, code = mailscript(t, "", append(args, "-e", connect)...)
		if code != 1 || !strings.Contains(errs, "certificate of 127.0.0.1 changed: pinned "+first) || !strings.Contains(errs, "server sent "+second) {
			t.Fatalf("%v changed certificate: %d %s", args, code, errs)
		}
	}
	var pins trust.Pins
	pins.File = pinFile
	if p, err := pins.Load(); err != nil || len(p["127.0.0.1"]) != 1 {
		t.Fatalf("pins %v %v", p, err)
	}
}
