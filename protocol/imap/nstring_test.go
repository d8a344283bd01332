package imap

import "testing"

// NIL and "" are told apart in the decoded values.
func TestNStringNil(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		tag := s.expect("FETCH 1 (ENVELOPE)")
		s.send(`* 1 FETCH (ENVELOPE (NIL "" ((NIL NIL "a" "b")) ((""  NIL "c" NIL)) NIL NIL NIL NIL "" NIL))`+"\r\n", tag+" OK done\r\n")
		tag = s.expect(`LIST "" *`)
		s.send(`* LIST () NIL INBOX`+"\r\n", `* LIST () "" flat`+"\r\n", tag+" OK done\r\n")
		tag = s.expect("NAMESPACE")
		s.send(`* NAMESPACE (("" NIL)) NIL NIL`+"\r\n", tag+" OK done\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	_, msgs, err := c.Fetch(bg, "1", "(ENVELOPE)", false)
	if err != nil || len(msgs) != 1 {
		t.Fatal(msgs, err)
	}
	e := msgs[0].Envelope
	if !e.DateNil || e.SubjectNil || !e.MessageIDNil || e.InReplyToNil {
		t.Fatalf("envelope %+v", e)
	}
	if a := e.From[0]; !a.NameNil || a.MailboxNil || a.HostNil || a.Address != "a@b" {
		t.Fatalf("from %+v", a)
	}
	if a := e.Sender[0]; a.NameNil || a.Name != "" || !a.HostNil {
		t.Fatalf("sender %+v", a)
	}
	_, list, err := c.List(bg, "", "*")
	if err != nil || len(list) != 2 || !list[0].DelimiterNil || list[1].DelimiterNil {
		t.Fatalf("%+v %v", list, err)
	}
	_, ns, err := c.Namespace(bg)
	if err != nil || !ns.Personal[0].DelimiterNil {
		t.Fatalf("%+v %v", ns, err)
	}
}
