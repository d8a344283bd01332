package imap

import (
	"errors"
	"testing"
	"time"
)

// Typed commands: typed sets pick UID or not, flags are checked, two
// commands in flight complete out of order, and Wait gives NO as *Error.
func TestTypedCommandsPipelined(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		t1 := s.expect(`UID STORE 1:3,7 +FLAGS.SILENT (\Seen $Junk)`)
		t2 := s.expect(`COPY 2 Archive`)
		s.send(t2+" NO [TRYCREATE] no such mailbox\r\n", "* 1 FETCH (FLAGS (\\Seen))\r\n", t1+" OK stored\r\n")
		s.expectEOF()
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	store := StoreFlags(UIDSet{{1, 3}, {7, 7}}, "+FLAGS.SILENT", FlagSeen, "$Junk")
	cp := CopyTo(SeqSet{{2, 2}}, "Archive")
	for _, cmd := range []*Command{store, cp} {
		if err := c.SendCommand(bg, cmd); err != nil {
			t.Fatal(err)
		}
	}
	err := cp.Wait(bg)
	var e *Error
	if !errors.As(err, &e) || e.Type != "NO" || e.Code != "TRYCREATE" {
		t.Fatalf("COPY: %#v", err)
	}
	if err := store.Wait(bg); err != nil {
		t.Fatal(err)
	}
	if len(store.Untagged) != 1 || store.Untagged[0].Type != "FETCH" {
		t.Fatalf("STORE's untagged: %v", store.Untagged)
	}
	c.Close()
}

// Bad flags and empty sets are refused before anything is sent, and a
// command never sent cannot be waited for.
func TestTypedCommandsRefused(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		s.expectEOF()
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	for _, cmd := range []*Command{
		StoreFlags(SeqSet{{1, 1}}, "+FLAGS", `\Seen) (X`),
		StoreFlags(SeqSet{{1, 1}}, "+FLAGS", "{8+}"),
		MoveTo(UIDSet{}, "A"),
	} {
		if err := c.SendCommand(bg, cmd); !errors.Is(err, ErrError) || errors.Is(err, ErrAbort) {
			t.Fatalf("%s: %v", cmd.Name, err)
		}
	}
	if err := MoveTo(UIDSet{{1, 1}}, "A").Wait(bg); err == nil {
		t.Fatal("Wait on an unsent command")
	}
	c.Close()
}

// The state is typed, IDLING included.
func TestConnStateTyped(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		tag := s.expect("IDLE")
		s.send("+ idling\r\n")
		s.expectRaw("DONE\r\n")
		s.send(tag + " OK done\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	i, err := c.Idle(bg, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var st ConnState = c.State()
	if st != StateIdling {
		t.Fatalf("state %q", st)
	}
	if err := i.Done(bg); err != nil {
		t.Fatal(err)
	}
	if c.State() != StateSelected {
		t.Fatalf("state after IDLE %q", c.State())
	}
}

// A typed FETCH returns what was asked for: unsolicited FETCH responses
// outside its set are left out, split responses for one message merged;
// a SEARCH pipelined behind it decodes its numbers.
func TestTypedFetchAndSearch(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		t1 := s.expect(`UID FETCH 1:3 (UID FLAGS BODY.PEEK[])`)
		t2 := s.expect(`UID SEARCH UNSEEN`)
		s.send("* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n",
			"* 9 FETCH (FLAGS (\\Deleted) UID 30 BODY[] {2}\r\nxx)\r\n",
			"* 1 FETCH (UID 1 BODY[] {2}\r\nhi)\r\n",
			"* 2 FETCH (UID 3 FLAGS () BODY[] {3}\r\nabc)\r\n",
			t1+" OK done\r\n",
			"* SEARCH 3 1\r\n", t2+" OK done\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	fetch := FetchItems(UIDSet{{1, 3}}, "(UID FLAGS BODY.PEEK[])")
	search := SearchCriteria(true, "UNSEEN")
	if err := c.Execute(bg, fetch, search); err != nil {
		t.Fatal(err)
	}
	msgs, err := fetch.Messages()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].UID != 1 || string(msgs[0].Body[""]) != "hi" || len(msgs[0].Flags) != 1 ||
		msgs[1].UID != 3 || string(msgs[1].Body[""]) != "abc" {
		t.Fatalf("messages %+v", msgs)
	}
	nums, err := search.Numbers(10)
	if err != nil || len(nums) != 2 || nums[0] != 3 || nums[1] != 1 {
		t.Fatalf("numbers %v %v", nums, err)
	}
}
