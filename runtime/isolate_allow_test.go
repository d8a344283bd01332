package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
)

func TestAllowed(t *testing.T) {
	allow := []string{"imap.example.org", "pop.example.org:995", "[::1]:143", "Mixed.Example.ORG."}
	for addr, ok := range map[string]bool{
		"imap.example.org:993": true, "IMAP.example.org:143": true, "[imap.example.org]:993": true,
		"pop.example.org:995": true, "pop.example.org:110": false, "[::1]:143": true, "[::1]:993": false,
		"mixed.example.org:1": true, "evil.example.org:993": false, "imap.example.org.evil:993": false,
		"10.0.0.1:993": false, "no-port": false,
	} {
		err := allowed(allow, addr)
		var he *HostError
		if ok != (err == nil) || !ok && !errors.As(err, &he) {
			t.Errorf("%s: %v", addr, err)
		}
	}
	err := allowed(nil, "[imap.example.org]:993")
	if err == nil || err.Error() != "imap.example.org:993 is not an allowed host: add --allow-host imap.example.org:993 (runtime.Options.AllowHosts)" {
		t.Fatal(err)
	}
}

// In process, the sandbox checks the same list, before Options.Dial
// (and so before any name is resolved).
func TestSandboxAllowHostsInProcess(t *testing.T) {
	r := newRecorder(t)
	host, port := r.HostPort()
	var dialled []string
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialled = append(dialled, addr)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	src := `local M = require("imap").IMAP4(%q, %s) M:logout() print("ok")`
	if _, err, out := run(t, Options{Sandbox: true, AllowHosts: []string{r.Addr}, Dial: dial}, fmt.Sprintf(src, host, port)); err != nil || out != "ok\n" {
		t.Fatal(err, out)
	}
	_, err, _ := run(t, Options{Sandbox: true, AllowHosts: []string{r.Addr}, Dial: dial}, fmt.Sprintf(src, "imap.example.org", "993"))
	if err == nil || !strings.Contains(err.Error(), "add --allow-host imap.example.org:993") {
		t.Fatal(err)
	}
	if _, err, _ := run(t, Options{Sandbox: true, Dial: dial}, fmt.Sprintf(src, host, port)); err == nil || !strings.Contains(err.Error(), "not an allowed host") {
		t.Fatal(err)
	}
	if len(dialled) != 1 || dialled[0] != r.Addr {
		t.Fatalf("dialled %q", dialled)
	}
}
