package imap

import (
	"bufio"
	"crypto/tls"
	"testing"
	"time"

	"github.com/mailscript/mailscript/internal/selfsigned"
)

// What the server said before TLS (an injected "* LIST", capabilities)
// is forgotten after STARTTLS, and the capabilities are asked again
// (RFC 3501 §6.2.1).
func TestStartTLSForgetsPreTLSState(t *testing.T) {
	pair, err := selfsigned.New()
	if err != nil {
		t.Fatal(err)
	}
	addr := fake(t, func(s *session) {
		s.send(greeting)
		tag := s.expect("STARTTLS")
		s.send("* LIST () \"/\" Injected\r\n* CAPABILITY IMAP4rev1 STARTTLS INJECTED\r\n* 9 EXISTS\r\n", tag+" OK begin TLS\r\n")
		tc := tls.Server(s.c, pair.Server)
		if err := tc.Handshake(); err != nil {
			t.Errorf("handshake: %v", err)
			return
		}
		ts := &session{t: t, c: tc, r: bufio.NewReader(tc)}
		tag = ts.expect("CAPABILITY")
		ts.send("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n", tag+" OK done\r\n")
		tag = ts.expect(`LOGIN user "pw"`)
		ts.send(tag + " OK [CAPABILITY IMAP4rev1] logged in\r\n")
		tag = ts.expect(`LIST "" *`)
		ts.send("* LIST () \"/\" INBOX\r\n", tag+" OK done\r\n")
	})
	c := dialFake(t, addr)
	if _, err := c.StartTLS(bg, &tls.Config{RootCAs: pair.Roots}); err != nil {
		t.Fatal(err)
	}
	if c.HasCap("INJECTED") || c.HasCap("STARTTLS") || !c.HasCap("AUTH=PLAIN") {
		t.Fatalf("caps after STARTTLS: %v", c.Capabilities())
	}
	if u := c.Untagged(); len(u) != 0 {
		t.Fatalf("store after STARTTLS: %v", u)
	}
	login(t, c)
	_, list, err := c.List(bg, "", "*")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "INBOX" {
		for _, e := range list {
			t.Errorf("listed %q", e.Name)
		}
		t.Fatal("pre-TLS LIST leaked")
	}
}

// A server that accepts and says nothing (a TLS port spoken to in plain
// text) fails within GreetingTimeout, even with no command timeout, with
// a hint.
func TestNoGreetingHint(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	addr := fake(t, func(s *session) { <-release })
	done := make(chan error, 1)
	go func() {
		_, err := Dial(bg, addr, &Options{GreetingTimeout: 200 * time.Millisecond})
		done <- err
	}()
	select {
	case err := <-done:
		e := wantKind(t, err, KindError, "no greeting: is this a TLS port? use IMAP4_SSL or tls=")
		if e.Cause != CauseTimeout {
			t.Fatal(e.Cause)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Dial waited for a greeting past GreetingTimeout")
	}
}
