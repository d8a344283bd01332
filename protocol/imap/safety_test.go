package imap

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// Two clients' Xatom calls share no state: one client allowing XFOO in
// AUTH must not forbid it to another client in NONAUTH (and, under
// -race, the two goroutines must not race on a shared map).
func TestXatomStatePerClient(t *testing.T) {
	serve := func(s *session) {
		s.send(greeting)
		for {
			l := s.line()
			if l == "" {
				return
			}
			tag := strings.Fields(l)[0]
			if strings.Contains(l, "LOGIN") {
				s.send(tag + " OK [CAPABILITY IMAP4rev1] in\r\n")
				continue
			}
			s.send(tag + " OK done\r\n")
		}
	}
	a := dialFake(t, fake(t, serve))
	b := dialFake(t, fake(t, serve))
	login(t, a)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for _, c := range []*Client{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				name := "XFOO" + strings.Repeat("X", i%3)
				if _, err := c.Xatom(bg, name); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// The writer goroutine of a pipelined Execute reads the capabilities
// (LITERAL+) while the reader sets them from an incoming CAPABILITY;
// run with -race.
func TestCapsRaceWithPipelinedWriter(t *testing.T) {
	addr := fake(t, func(s *session) {
		s.send("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n")
		for {
			l := s.line()
			if l == "" {
				return
			}
			if strings.HasSuffix(l, "{65536+}\r\n") {
				s.readN(65536)
				s.line()
			}
			tag := strings.Fields(l)[0]
			s.send("* CAPABILITY IMAP4rev1 LITERAL+ X"+tag+"\r\n", tag+" OK done\r\n")
		}
	})
	c := dialFake(t, addr)
	var cmds []*Command
	lit := []byte(strings.Repeat("a", 65536))
	for range 200 { // enough that the writer is still writing when replies come
		cmds = append(cmds, &Command{Name: "XLIT", Args: []Arg{LiteralArg(lit, false)}})
	}
	if err := c.Execute(bg, cmds...); err != nil {
		t.Fatal(err)
	}
	if !c.HasCap("LITERAL+") {
		t.Fatal(c.Capabilities())
	}
}

// A pipelined writer blocked on a server that stops reading is woken
// when the read side fails, even with no timeout.
func TestWriterWokenWhenReadFails(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	addr := fake(t, func(s *session) {
		s.send(greeting)
		s.line() // the first command; then read nothing more
		s.send("this is not IMAP\r\n")
		select {
		case <-release:
		case <-time.After(8 * time.Second):
		}
	})
	c, err := Dial(bg, addr, &Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	big := strings.Repeat("x", 60_000)
	var cmds []*Command
	for range 400 { // 24 MB: more than the socket buffers hold
		cmds = append(cmds, &Command{Name: "NOOP", Args: []Arg{Raw(big)}})
	}
	done := make(chan error, 1)
	go func() { done <- c.Execute(context.Background(), cmds...) }()
	select {
	case err := <-done:
		wantKind(t, err, KindAbort, "not IMAP")
	case <-time.After(5 * time.Second):
		t.Error("Execute hung with its writer blocked after the read side failed")
		c.Close()
		<-done
	}
}

// How a pipelined command's literals go is decided before the writer
// goroutine starts: a CAPABILITY dropping LITERAL+ while it writes does
// not make it wait for a "+" (the reader would take it, and the writer
// would read the connection beside the reader).
func TestLiteralModeFixedBeforePipelinedWrite(t *testing.T) {
	const big = 8 << 20
	addr := fake(t, func(s *session) {
		s.send("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n")
		first := s.line()
		s.send("* CAPABILITY IMAP4rev1\r\n")
		time.Sleep(100 * time.Millisecond) // the reader takes it while the writer is blocked
		s.readN(big)
		s.line()
		second := s.line()
		if !strings.HasSuffix(first, "{8388608+}\r\n") || !strings.HasSuffix(second, "{5+}\r\n") {
			s.t.Errorf("client sent %q then %q", first, second)
		}
		s.readN(5)
		s.line()
		for _, l := range []string{first, second} {
			s.send(strings.Fields(l)[0] + " OK done\r\n")
		}
	})
	c := dialFake(t, addr)
	cmds := []*Command{
		{Name: "XLIT", Args: []Arg{LiteralArg(make([]byte, big), false)}},
		{Name: "XLIT", Args: []Arg{LiteralArg([]byte("hello"), false)}},
	}
	if err := c.Execute(bg, cmds...); err != nil {
		t.Fatal(err)
	}
	if c.HasCap("LITERAL+") {
		t.Fatal("the CAPABILITY response was not applied")
	}
}
