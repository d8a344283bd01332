package imap

import (
	"errors"
	"strings"
	"testing"
)

// NO and BAD reach a Go caller as *Error carrying the reply: BAD as the
// call's error, NO through Result.Err (imaplib returns it as data).
func TestStatusErrorsTyped(t *testing.T) {
	addr := fake(t, func(s *session) {
		loggedIn(s)
		tag := s.expect("CREATE x")
		s.send(tag + " BAD [CLIENTBUG] syntax\r\n")
		tag = s.expect("CREATE y")
		s.send(tag + " NO [ALREADYEXISTS] exists\r\n")
		tag = s.expect("NOOP")
		s.send(tag + " OK fine\r\n")
	})
	c := dialFake(t, addr)
	login(t, c)
	_, err := c.Create(bg, "x")
	var e *Error
	if !errors.As(err, &e) || e.Type != "BAD" || e.Code != "CLIENTBUG" || e.Command != "CREATE" {
		t.Fatalf("BAD: %#v", err)
	}
	res, err := c.Create(bg, "y")
	if err != nil {
		t.Fatal(err)
	}
	err = res.Err()
	if !errors.As(err, &e) || e.Type != "NO" || e.Code != "ALREADYEXISTS" || !strings.Contains(e.Text, "exists") {
		t.Fatalf("NO: %#v", err)
	}
	if !errors.Is(err, ErrError) {
		t.Fatal("a NO is an imaplib error")
	}
	res, err = c.Noop(bg)
	if err != nil || res.Err() != nil {
		t.Fatalf("OK: %v %v", err, res.Err())
	}
}

// A BYE ending a command is an abort carrying Type BYE.
func TestByeErrorTyped(t *testing.T) {
	addr := fake(t, func(s *session) {
		loggedIn(s)
		s.expect("NOOP")
		s.send("* BYE [UNAVAILABLE] going down\r\n")
	})
	c := dialFake(t, addr)
	login(t, c)
	_, err := c.Noop(bg)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindAbort || e.Type != "BYE" || e.Code != "UNAVAILABLE" {
		t.Fatalf("BYE: %#v", err)
	}
}

// Malformed input is an abort wrapping a *ParseError that quotes the
// line with %q.
func TestMalformedQuotesLine(t *testing.T) {
	addr := fake(t, func(s *session) {
		loggedIn(s)
		s.expect("NOOP")
		s.send("\x01bad \"line\r\n")
	})
	c := dialFake(t, addr)
	login(t, c)
	_, err := c.Noop(bg)
	var pe *ParseError
	if !errors.As(err, &pe) || string(pe.Line) != "\x01bad \"line" {
		t.Fatalf("err %#v", err)
	}
	if !strings.Contains(err.Error(), `"\x01bad \"line"`) {
		t.Fatalf("message %q does not quote the line", err.Error())
	}
}
