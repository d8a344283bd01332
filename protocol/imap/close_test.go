package imap

import (
	"testing"
	"time"
)

// closeDuring runs call on a goroutine against a server that answers
// nothing after the client's line ready, and Closes the client from the
// test's goroutine while call is blocked (Timeout 0: only Close can end it).
func closeDuring(t *testing.T, ready string, call func(c *Client) error) {
	t.Helper()
	arrived := make(chan struct{})
	addr := fake(t, func(s *session) {
		loggedIn(s)
		for {
			l := s.line()
			if l == "" {
				return
			}
			if len(l) > 0 && tagRE.FindString(l) != "" && l[len(tagRE.FindString(l)):] == ready+"\r\n" {
				if ready == "IDLE" {
					s.send("+ idling\r\n")
				}
				close(arrived)
			}
		}
	})
	c, err := Dial(bg, addr, &Options{})
	if err != nil {
		t.Fatal(err)
	}
	login(t, c)
	errc := make(chan error, 1)
	go func() { errc <- call(c) }()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatalf("the server never saw %s", ready)
	}
	time.Sleep(20 * time.Millisecond) // let the call block in its read
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-errc:
		wantKind(t, err, KindAbort, "")
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not return after Close")
	}
	// Close again, and a call after Close, fail cleanly.
	c.Close()
	if _, err := c.Noop(bg); err == nil {
		t.Fatal("NOOP after Close succeeded")
	}
}

func TestCloseDuringCommand(t *testing.T) {
	closeDuring(t, "NOOP", func(c *Client) error {
		_, err := c.Noop(bg)
		return err
	})
}

func TestCloseDuringIdle(t *testing.T) {
	closeDuring(t, "IDLE", func(c *Client) error {
		i, err := c.Idle(bg, 0)
		if err != nil {
			return err
		}
		for {
			if _, err := i.Next(bg); err != nil {
				return err
			}
		}
	})
}
