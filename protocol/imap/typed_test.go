package imap

import (
	"errors"
	"strings"
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

// Search takes its criteria as arguments: a header value is quoted, an
// injection refused, "*" sent from Star; no criteria at all is refused.
func TestTypedSearchArgs(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		t1 := s.expect(`UID SEARCH UID 5:*`)
		t2 := s.expect(`SEARCH HEADER Message-ID "<a b@c>"`)
		s.send("* SEARCH 4\r\n", t1+" OK done\r\n", "* SEARCH 2 3\r\n", t2+" OK done\r\n")
		s.expectEOF()
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	from := Search(true, Atom("UID"), SetArg(UIDSet{{5, Star}}))
	hdr := Search(false, Atom("HEADER"), Atom("Message-ID"), AString("<a b@c>"))
	if err := c.Execute(bg, from, hdr); err != nil {
		t.Fatal(err)
	}
	if n, err := from.Numbers(10); err != nil || len(n) != 1 || n[0] != 4 {
		t.Fatalf("UID 5:* %v %v", n, err)
	}
	if n, err := hdr.Numbers(10); err != nil || len(n) != 2 {
		t.Fatalf("HEADER %v %v", n, err)
	}
	for _, cmd := range []*Command{Search(true), Search(true, Atom("HEADER"), Atom("Subject"), AString("x\r\nA1 LOGOUT"))} {
		if err := c.SendCommand(bg, cmd); !errors.Is(err, ErrError) || errors.Is(err, ErrAbort) {
			t.Fatalf("%v: %v", cmd.Args, err)
		}
	}
	c.Close()
}

// NAMESPACE and LIST go pipelined and decode; a malformed LIST line
// costs its own mailbox only, and a server without NAMESPACE gives nil.
func TestTypedListAndNamespace(t *testing.T) {
	addr := fake(t, func(s *session) {
		loggedIn(s)
		t1 := s.expect(`NAMESPACE`)
		t2 := s.expect(`LIST "" *`)
		s.send(`* NAMESPACE (("INBOX." ".")) NIL (("#shared." "."))`+"\r\n", t1+" OK done\r\n",
			`* LIST (\HasNoChildren) "." INBOX`+"\r\n",
			`* LIST (\Junk) "." "INBOX.&AMk-t&AOk-"`+"\r\n",
			`* LIST "." broken`+"\r\n",
			`* LIST (\Trash) "." INBOX.Trash`+"\r\n",
			t2+" OK done\r\n")
		t3 := s.expect(`NAMESPACE`)
		t4 := s.expect(`LIST INBOX %`)
		s.send(t3+" BAD unknown command\r\n", t4+" OK done\r\n")
	})
	c := dialFake(t, addr)
	login(t, c)
	ns, list := ListNamespaces(), ListMailboxes("", "*")
	if err := c.Execute(bg, ns, list); err != nil {
		t.Fatal(err)
	}
	n, err := ns.Namespaces()
	if err != nil || len(n.Personal) != 1 || n.Personal[0].Prefix != "INBOX." || n.Other != nil || len(n.Shared) != 1 {
		t.Fatalf("namespaces %+v %v", n, err)
	}
	boxes, err := list.Mailboxes()
	var pe *ParseError
	if !errors.As(err, &pe) || len(boxes) != 3 || boxes[1].Name != "INBOX.Été" || boxes[1].Flags[0] != `\Junk` || boxes[2].Name != "INBOX.Trash" {
		t.Fatalf("mailboxes %+v %v", boxes, err)
	}
	ns, list = ListNamespaces(), ListMailboxes("INBOX", "%")
	if err := c.Execute(bg, ns, list); err != nil {
		t.Fatal(err)
	}
	if n, err := ns.Namespaces(); n != nil || err != nil || ns.Err() == nil {
		t.Fatalf("NAMESPACE refused: %+v %v", n, err)
	}
	if boxes, err := list.Mailboxes(); len(boxes) != 0 || err != nil {
		t.Fatalf("empty LIST: %v %v", boxes, err)
	}
}

// An OnUntagged callback decodes each response as it comes: the FETCH of
// UID FETCH *, a STATUS, SEARCH numbers within their limit.
func TestResponseDecoders(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		tag := s.expect(`UID FETCH * (UID)`)
		s.send("* 3 FETCH (UID 17)\r\n", "* STATUS Sent (MESSAGES 4 UIDNEXT 12)\r\n", tag+" OK done\r\n")
		tag = s.expect(`UID SEARCH ALL`)
		s.send("* SEARCH 1 2 3\r\n", "* ESEARCH (TAG \"x\") UID ALL 4:5\r\n", tag+" OK done\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	var uid uint32
	var box string
	last := FetchItems(UIDSet{{Star, Star}}, "(UID)")
	last.OnUntagged = func(r *Response) {
		switch r.Type {
		case "FETCH":
			if m, err := r.Fetch(); err == nil {
				uid = m.UID
			}
			if _, err := r.StatusData(); err == nil {
				t.Error("a FETCH decoded as STATUS")
			}
		case "STATUS":
			if sd, err := r.StatusData(); err == nil && sd.Messages == 4 && sd.UIDNext == 12 && sd.Unseen == -1 {
				box = sd.Mailbox
			}
		}
	}
	if err := c.Execute(bg, last); err != nil {
		t.Fatal(err)
	}
	if uid != 17 || box != "Sent" {
		t.Fatalf("UID %d, STATUS of %q", uid, box)
	}
	var got [][]uint32
	var errs []error
	search := Search(true, Atom("ALL"))
	search.OnUntagged = func(r *Response) {
		n, err := r.SearchNumbers(2)
		got, errs = append(got, n), append(errs, err)
	}
	if err := c.Execute(bg, search); err != nil {
		t.Fatal(err)
	}
	// three numbers are over the limit of two; ESEARCH's ALL expands
	if len(got) != 2 || errs[0] == nil || !strings.Contains(errs[0].Error(), "MaxExpand") ||
		errs[1] != nil || len(got[1]) != 2 || got[1][0] != 4 {
		t.Fatalf("numbers %v errors %v", got, errs)
	}
}

// FetchLazy leaves ENVELOPE for Resolve; SearchNumbers and ESearch refuse
// a response of another type.
func TestResponseFetchLazy(t *testing.T) {
	r := one(t, `* 2 FETCH (UID 7 ENVELOPE (NIL "Hi" NIL NIL NIL NIL NIL NIL NIL "<m@x>"))`+"\r\n")
	m, err := r.FetchLazy()
	if err != nil || m.UID != 7 || m.Envelope != nil {
		t.Fatalf("lazy %+v %v", m, err)
	}
	if err := m.Resolve(); err != nil || m.Envelope == nil || m.Envelope.MessageID != "<m@x>" {
		t.Fatalf("resolved %+v %v", m.Envelope, err)
	}
	if m, err := r.Fetch(); err != nil || m.Envelope == nil || m.Envelope.Subject != "Hi" {
		t.Fatalf("fetch %+v %v", m, err)
	}
	if _, err := r.SearchNumbers(10); err == nil {
		t.Fatal("a FETCH decoded as SEARCH")
	}
	if _, err := r.ESearch(); err == nil {
		t.Fatal("a FETCH decoded as ESEARCH")
	}
	es, err := one(t, "* ESEARCH (TAG \"a\") UID MIN 3 COUNT 2\r\n").ESearch()
	if err != nil || !es.UID || es.Min != 3 || es.Count != 2 {
		t.Fatalf("esearch %+v %v", es, err)
	}
}

// Star sends as "*" and may be any number, so a typed FETCH of "*"
// keeps whatever the server answers with.
func TestSeqSetStar(t *testing.T) {
	s, last, plain := SeqSet{{1, 3}, {9, Star}}, UIDSet{{Star, Star}}, SeqSet{{1, 3}}
	if s.String() != "1:3,9:*" || last.String() != "*" {
		t.Fatalf("rendered %q %q", s, last)
	}
	if !s.Contains(2) || !s.Contains(4) || !last.Ranges().Contains(1) || plain.Contains(4) {
		t.Fatal("Contains")
	}
}

// StatusItems sends its items as atoms and refuses what is not one;
// Statuses decodes the replies, skipping a malformed one.
func TestTypedStatus(t *testing.T) {
	addr := fake(t, func(s *session) {
		loggedIn(s)
		tag := s.expect(`STATUS "Lists/Go lang" (UIDNEXT UIDVALIDITY)`)
		s.send(`* STATUS "Lists/Go lang" (UIDNEXT 12 UIDVALIDITY 7)`+"\r\n", "* STATUS broken\r\n", tag+" OK done\r\n")
	})
	c := dialFake(t, addr)
	login(t, c)
	cmd := StatusItems("Lists/Go lang", "UIDNEXT", "UIDVALIDITY")
	if err := c.Execute(bg, cmd); err != nil {
		t.Fatal(err)
	}
	sds, err := cmd.Statuses()
	if err == nil || len(sds) != 1 || sds[0].Mailbox != "Lists/Go lang" || sds[0].UIDNext != 12 || sds[0].UIDValidity != 7 {
		t.Fatalf("%+v %v", sds, err)
	}
	if err := c.Execute(bg, StatusItems("INBOX", "UIDNEXT)")); err == nil || !strings.Contains(err.Error(), "bad atom") {
		t.Fatalf("an item that is no atom: %v", err)
	}
}
