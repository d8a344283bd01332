package imap

import (
	"bytes"
	"context"
	"errors"
	"github.com/mailscript/mailscript/protocol/sasl"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestGreetingCapabilityFromCode(t *testing.T) {
	addr := fake(t, func(s *session) {
		s.send(greeting)
		tag := s.expect("NOOP")
		s.send(tag + " OK done\r\n")
	})
	c := dialFake(t, addr)
	if c.State() != StateNonAuth || c.ProtocolVersion() != "IMAP4REV1" || !c.HasCap("IDLE") || !c.HasCap("idle") {
		t.Fatalf("state %s version %s caps %v", c.State(), c.ProtocolVersion(), c.Capabilities())
	}
	if !strings.Contains(c.Welcome(), "ready") {
		t.Fatalf("welcome %q", c.Welcome())
	}
	if _, err := c.Noop(bg); err != nil {
		t.Fatal(err)
	}
}

func TestGreetingAsksCapability(t *testing.T) {
	addr := fake(t, func(s *session) {
		s.send("* PREAUTH hello\r\n")
		tag := s.expect("CAPABILITY")
		s.send("* CAPABILITY IMAP4 AUTH=PLAIN\r\n", tag+" OK done\r\n")
	})
	c := dialFake(t, addr)
	if c.State() != StateAuth || c.ProtocolVersion() != "IMAP4" {
		t.Fatalf("state %s version %s", c.State(), c.ProtocolVersion())
	}
}

func TestGreetingErrors(t *testing.T) {
	// imaplib: BYE or another status is an error; a cut, garbled or
	// unterminated greeting an abort (CPython's test_issue5949).
	cases := []struct {
		name, greet, want string
		kind              Kind
	}{
		{"bye", "* BYE go away\r\n", "invalid greeting", KindError},
		{"no", "* NO not today\r\n", "invalid greeting", KindError},
		{"not imap4", "* OK [CAPABILITY SMTP] hi\r\n", "not IMAP4 compliant", KindError},
		{"too long", "* OK " + strings.Repeat("x", 2*DefaultMaxLine) + "\r\n", "got more than", KindError},
		{"garbage", "HTTP/1.1 400 Bad\r\n", "unexpected response", KindAbort},
		{"bare LF", "* OK hi\n", "unterminated line", KindAbort},
		{"cut", "* OK", "EOF", KindAbort},
		{"eof", "", "EOF", KindAbort},
		{"truncated literal", "* OK {65536}\r\nIMAP4rev1\r\n", "EOF", KindAbort},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := fake(t, func(s *session) { s.send(tc.greet) })
			_, err := Dial(bg, addr, &Options{Timeout: 2 * time.Second})
			wantKind(t, err, tc.kind, tc.want)
		})
	}
	// a greeting that never comes is a failure to connect
	addr := fake(t, func(s *session) { time.Sleep(time.Second) })
	_, err := Dial(bg, addr, &Options{Timeout: 200 * time.Millisecond})
	if e := wantKind(t, err, KindError, "greeting"); e.Cause != CauseTimeout {
		t.Fatal(e.Cause)
	}
}

// A greeting announcing a 9-exabyte literal is refused before anything
// is allocated.
func TestHugeLiteralGreeting(t *testing.T) {
	addr := fake(t, func(s *session) { s.send("* OK {9223372036854775807}\r\n") })
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Dial(bg, addr, &Options{Timeout: 2 * time.Second})
	runtime.ReadMemStats(&after)
	wantKind(t, err, KindAbort, "exceeds the limit")
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Fatalf("allocated %d bytes", grew)
	}
}

func TestLiteralOverCap(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		tag := s.expect("FETCH 1 (BODY[])")
		s.send("* 1 FETCH (BODY[] {2000}\r\n")
		_ = tag
	})
	c, err := Dial(bg, addr, &Options{Timeout: 2 * time.Second, MaxLiteral: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	selectInbox(t, c)
	_, _, err = c.Fetch(bg, "1", "BODY[]", false)
	wantKind(t, err, KindAbort, "exceeds the limit of 1000")
}

func TestLoginQuotingAndState(t *testing.T) {
	addr := fake(t, func(s *session) {
		s.send(greeting)
		tag := s.expect(`LOGIN "user name" "p\"a\\ss"`)
		s.send(tag + " NO [AUTHENTICATIONFAILED] bad\r\n")
		tag = s.expect(`LOGIN joe "secret"`)
		s.send(tag + " OK [CAPABILITY IMAP4rev1 MOVE] ok\r\n")
	})
	c := dialFake(t, addr)
	_, err := c.Login(bg, "user name", `p"a\ss`)
	e := wantKind(t, err, KindError, "bad")
	if e.Code != "AUTHENTICATIONFAILED" || e.Command != "LOGIN" {
		t.Fatalf("code %q command %q", e.Code, e.Command)
	}
	if _, err := c.Login(bg, "joe", "secret"); err != nil {
		t.Fatal(err)
	}
	if c.State() != StateAuth || !c.HasCap("MOVE") || c.HasCap("IDLE") {
		t.Fatalf("state %s caps %v", c.State(), c.Capabilities())
	}
}

// NUL, CR and LF in any argument are refused before anything is sent.
func TestInjectionRefused(t *testing.T) {
	addr := fake(t, func(s *session) {
		loggedIn(s)
		s.expectEOF()
	})
	c := dialFake(t, addr)
	login(t, c)
	for _, bad := range []string{"INBOX\r\nA1 DELETE INBOX", "a\x00b", "x\ny", "x\rDELETE y"} {
		_, err := c.Create(bg, bad)
		wantKind(t, err, KindError, "control characters")
		_, _, err = c.Status(bg, "INBOX", "MESSAGES\r\nX LOGOUT")
		wantKind(t, err, KindError, "control characters")
		_, err = c.Xatom(bg, "XFOO", bad)
		wantKind(t, err, KindError, "control characters")
		c.state = StateNonAuth
		_, err = c.Login(bg, "u", bad)
		wantKind(t, err, KindError, "control characters")
		c.state = StateAuth
	}
	_, _, err := c.Copy(bg, "1 INBOX", "x", false)
	wantKind(t, err, KindError, "illegal in state")
	c.state = StateSelected
	_, _, err = c.Copy(bg, "1 INBOX", "x", false)
	wantKind(t, err, KindError, "bad message set")
	c.Close()
}

func TestArgumentQuoting(t *testing.T) {
	addr := fake(t, func(s *session) {
		loggedIn(s)
		for _, want := range []string{
			`CREATE "a b"`, `CREATE "with\"quote"`, `CREATE "already quoted"`,
			`CREATE "(paren"`, `CREATE ""`, `CREATE Entw&APw-rfe`, `CREATE Tom&-Jerry`,
			`CREATE "Tom &- Jerry"`, `CREATE Entw&APw-rfe`, `CREATE "%"`,
			`LIST "" %`, `LIST "" "a b*"`, `STATUS INBOX (MESSAGES UNSEEN)`, `STATUS INBOX (MESSAGES)`,
		} {
			tag := s.expect(want)
			s.send(tag + " OK done\r\n")
		}
	})
	c := dialFake(t, addr)
	login(t, c)
	for _, mb := range []string{"a b", `with"quote`, `"already quoted"`, "(paren", "", "Entwürfe", "Tom&Jerry", "Tom & Jerry", "Entw&APw-rfe"} {
		if _, err := c.Create(bg, mb); err != nil {
			t.Fatal(err)
		}
	}
	c.Create(bg, "%") // % is not an atom-char: quoted
	c.List(bg, "", "%")
	c.List(bg, "", "a b*")
	c.Status(bg, "INBOX", "(MESSAGES UNSEEN)")
	c.Status(bg, "INBOX", "MESSAGES")
}

func TestSelectAndReadOnly(t *testing.T) {
	addr := fake(t, func(s *session) {
		loggedIn(s)
		tag := s.expect("SELECT INBOX")
		s.send("* 172 EXISTS\r\n* 1 RECENT\r\n* OK [UNSEEN 12] x\r\n* OK [UIDVALIDITY 3857529045] x\r\n",
			"* OK [UIDNEXT 4392] x\r\n* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
			"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n", tag+" OK [READ-WRITE] SELECT completed\r\n")
		tag = s.expect("EXAMINE Archive")
		s.send("* 5 EXISTS\r\n", tag+" OK [READ-ONLY] done\r\n")
		tag = s.expect("SELECT Shared")
		s.send("* 2 EXISTS\r\n", tag+" OK [READ-ONLY] done\r\n")
		tag = s.expect("SELECT Missing")
		s.send(tag + " NO [NONEXISTENT] no such mailbox\r\n")
	})
	c := dialFake(t, addr)
	login(t, c)
	res, st, err := c.Select(bg, "INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Type != "OK" || len(res.Data) != 1 || res.Data[0].Text != "172" {
		t.Fatalf("select data %+v", res)
	}
	if st.Exists != 172 || st.Recent != 1 || st.Unseen != 12 || st.UIDValidity != 3857529045 || st.UIDNext != 4392 ||
		len(st.Flags) != 5 || strings.Join(st.PermanentFlags, " ") != `\Deleted \Seen \*` || st.ReadOnly {
		t.Fatalf("status %+v", st)
	}
	if c.State() != StateSelected {
		t.Fatal(c.State())
	}
	_, st, err = c.Select(bg, "Archive", true)
	if err != nil || !st.ReadOnly || st.Exists != 5 {
		t.Fatalf("examine: %v %+v", err, st)
	}
	_, _, err = c.Select(bg, "Shared", false)
	wantKind(t, err, KindReadOnly, `"Shared" is not writable`)
	if !errors.Is(err, ErrAbort) || !errors.Is(err, ErrError) || errors.Is(&Error{Kind: KindAbort}, ErrReadOnly) {
		t.Fatal("readonly must be an abort and an error")
	}
	res, _, err = c.Select(bg, "Missing", false)
	if err != nil || res.Type != "NO" || c.State() != StateAuth || !strings.Contains(res.Data[0].Text, "no such") {
		t.Fatalf("select NO: %v %+v %s", err, res, c.State())
	}
}

// Once a writable mailbox turns READ-ONLY, the next command raises readonly.
func TestReadOnlyChange(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		tag := s.expect("NOOP")
		s.send("* OK [READ-ONLY] now read-only\r\n", tag+" OK done\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	if _, err := c.Noop(bg); err != nil {
		t.Fatal(err)
	}
	_, err := c.Noop(bg)
	wantKind(t, err, KindReadOnly, "mailbox status changed to READ-ONLY")
}

func TestFetchLiteralsSplitAcrossWrites(t *testing.T) {
	body := "Subject: hi\r\n\r\n"
	addr := fake(t, func(s *session) {
		selected(s)
		tag := s.expect("FETCH 3,7 (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
		// the literal arrives in pieces, with pauses
		s.send("* 3 FETCH (UID 30 FLAGS (\\Seen) BODY[HEADER.FIELDS (SUBJECT)] {15}\r\n")
		time.Sleep(20 * time.Millisecond)
		s.send(body[:4])
		time.Sleep(20 * time.Millisecond)
		s.send(body[4:], ")\r\n")
		s.send("* 7 FETCH (UID 70 FLAGS () BODY[HEADER.FIELDS (SUBJECT)] {0}\r\n)\r\n")
		s.send(tag + " OK done\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	res, msgs, err := c.Fetch(bg, "3,7", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Data) != 4 || !res.Data[0].HasLiteral || res.Data[0].Text != `3 (UID 30 FLAGS (\Seen) BODY[HEADER.FIELDS (SUBJECT)] {15}` ||
		string(res.Data[0].Literal) != body || res.Data[1].Text != ")" || res.Data[1].HasLiteral {
		t.Fatalf("data %+v", res.Data)
	}
	if len(msgs) != 2 || msgs[0].Seq != 3 || msgs[0].UID != 30 || msgs[0].Flags[0] != `\Seen` ||
		string(msgs[0].Body["HEADER.FIELDS (SUBJECT)"]) != body || msgs[1].UID != 70 || len(msgs[1].Flags) != 0 {
		t.Fatalf("msgs %+v %+v", msgs[0], msgs[1])
	}
}

func TestByeMidCommand(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		s.expect("FETCH 1:* (FLAGS)")
		s.send("* 1 FETCH (FLAGS ())\r\n* BYE server shutting down\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	_, _, err := c.Fetch(bg, "1:*", "FLAGS", false)
	e := wantKind(t, err, KindAbort, "")
	if e.Cause != CauseEOF && !strings.Contains(e.Text, "shutting down") {
		t.Fatalf("err %+v", e)
	}
	_, err = c.Noop(bg)
	wantKind(t, err, KindAbort, "")
}

func TestByeBeforeTaggedReply(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		tag := s.expect("NOOP")
		s.send("* BYE autologout\r\n", tag+" OK done\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	_, err := c.Noop(bg)
	wantKind(t, err, KindAbort, "autologout")
}

func TestOverLongLine(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		s.expect("SEARCH ALL")
		s.send("* SEARCH " + strings.Repeat("1 ", 600_000) + "\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	_, _, err := c.Search(bg, "", []string{"ALL"}, false)
	wantKind(t, err, KindError, "got more than 1000000 bytes")
}

func TestBareLFAborts(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		tag := s.expect("NOOP")
		s.send("* 4 EXISTS\n", tag+" OK done\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	_, err := c.Noop(bg)
	wantKind(t, err, KindAbort, "unterminated line")
}

func TestUnknownTagAborts(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		s.expect("NOOP")
		s.send("ZZZZ1 OK who?\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	_, err := c.Noop(bg)
	wantKind(t, err, KindAbort, "unexpected tagged response")
}

func TestGarbageAborts(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		s.expect("NOOP")
		s.send("\x01\x02garbage\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	_, err := c.Noop(bg)
	wantKind(t, err, KindAbort, "unexpected response")
}

func TestBadRaisesNoReturns(t *testing.T) {
	addr := fake(t, func(s *session) {
		loggedIn(s)
		tag := s.expect("CREATE x")
		s.send(tag + " BAD [CLIENTBUG] syntax\r\n")
		tag = s.expect("CREATE y")
		s.send(tag + " NO [ALREADYEXISTS] exists\r\n")
	})
	c := dialFake(t, addr)
	login(t, c)
	_, err := c.Create(bg, "x")
	e := wantKind(t, err, KindError, "CREATE command error: BAD")
	if e.Code != "CLIENTBUG" {
		t.Fatal(e.Code)
	}
	res, err := c.Create(bg, "y")
	if err != nil || res.Type != "NO" || res.Data[0].Text != "[ALREADYEXISTS] exists" || res.Status.Code != "ALREADYEXISTS" {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestStateTable(t *testing.T) {
	addr := fake(t, func(s *session) { s.send(greeting); s.expectEOF() })
	c := dialFake(t, addr)
	for _, f := range []func() error{
		func() error { _, _, err := c.Fetch(bg, "1", "FLAGS", false); return err },
		func() error { _, _, err := c.List(bg, "", "*"); return err },
		func() error { _, _, err := c.Search(bg, "", []string{"ALL"}, false); return err },
		func() error { _, err := c.Check(bg); return err },
	} {
		wantKind(t, f(), KindError, "illegal in state NONAUTH")
	}
	c.Close()
}

func TestSyncLiteralWaitsForContinuation(t *testing.T) {
	msg := "From: a@b\r\n\r\nhello\r\n"
	addr := fake(t, func(s *session) {
		s.send("* OK [CAPABILITY IMAP4rev1] hi\r\n")
		tag := s.expect(`LOGIN user "pw"`)
		s.send(tag + " OK ok\r\n")
		tag = s.expect("CAPABILITY")
		s.send("* CAPABILITY IMAP4rev1 UIDPLUS\r\n", tag+" OK ok\r\n")
		tag = s.expect(`APPEND INBOX (\Seen) "01-Jan-2020 10:00:00 +0000" {20}`)
		s.send("+ go ahead\r\n")
		if got := s.readN(20); got != msg {
			t.Errorf("literal %q", got)
		}
		s.expectRaw("\r\n")
		s.send(tag + " OK [APPENDUID 38505 3955] APPEND completed\r\n")
		tag = s.expect(`APPEND Full {20}`)
		s.send(tag + " NO [OVERQUOTA] full\r\n")
		tag = s.expect("NOOP")
		s.send(tag + " OK ok\r\n")
	})
	c := dialFake(t, addr)
	login(t, c)
	when := time.Date(2020, 1, 1, 10, 0, 0, 0, time.UTC)
	res, uid, err := c.Append(bg, "INBOX", `\Seen`, Time2Internaldate(when), []byte("From: a@b\n\nhello\n"))
	if err != nil || res.Type != "OK" || uid == nil || uid.UIDValidity != 38505 || uid.UID != 3955 {
		t.Fatalf("%v %+v %+v", err, res, uid)
	}
	res, _, err = c.Append(bg, "Full", "", "", []byte(msg))
	if err != nil || res.Type != "NO" || res.Status.Code != "OVERQUOTA" {
		t.Fatalf("%v %+v", err, res)
	}
	if _, err := c.Noop(bg); err != nil {
		t.Fatal(err)
	}
}

func TestEightBitSearchBecomesLiteral(t *testing.T) {
	addr := fake(t, func(s *session) {
		s.send("* OK [CAPABILITY IMAP4rev1 LITERAL+ ENABLE] hi\r\n")
		tag := s.expect(`LOGIN user "pw"`)
		s.send(tag + " OK ok\r\n")
		tag = s.expect("CAPABILITY")
		s.send("* CAPABILITY IMAP4rev1 LITERAL+ ENABLE\r\n", tag+" OK ok\r\n")
		tag = s.expect("SELECT INBOX")
		s.send(tag + " OK ok\r\n")
		l := s.line()
		if !tagRE.MatchString(l) || l[len(tagRE.FindString(l)):] != "SEARCH CHARSET UTF-8 FROM {7+}\r\n" {
			t.Errorf("client sent %q", l)
		}
		if got := s.readN(7); got != "Müller" {
			t.Errorf("literal %q", got)
		}
		s.expectRaw(" SUBJECT {3+}\r\n")
		if got := s.readN(5); got != "é\"\r\n" {
			t.Errorf("literal+CRLF %q", got)
		}
		s.send("* SEARCH 2 5\r\n", strings.TrimSpace(tagRE.FindString(l))+" OK ok\r\n")
		tag = s.expect("ENABLE UTF8=ACCEPT")
		s.send("* ENABLED UTF8=ACCEPT\r\n", tag+" OK ok\r\n")
		tag = s.expect(`SEARCH FROM "Müller"`)
		s.send("* SEARCH\r\n", tag+" OK ok\r\n")
		tag = s.expect(`CREATE "Entwürfe"`)
		s.send(tag + " OK ok\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	res, nums, err := c.Search(bg, "UTF-8", []string{`FROM "Müller"`, `SUBJECT "é\""`}, false)
	if err != nil || len(nums) != 2 || nums[1] != 5 || res.Data[0].Text != "2 5" {
		t.Fatalf("%v %v %+v", err, nums, res)
	}
	c.state = StateAuth
	_, enabled, err := c.Enable(bg, "UTF8=ACCEPT")
	if err != nil || !c.UTF8Enabled() || len(enabled) != 1 {
		t.Fatalf("%v %v", err, enabled)
	}
	c.state = StateSelected
	_, _, err = c.Search(bg, "UTF-8", []string{"ALL"}, false)
	wantKind(t, err, KindError, "charset not valid in UTF8 mode")
	res, nums, err = c.Search(bg, "", []string{`FROM "Müller"`}, false)
	if err != nil || len(nums) != 0 || len(res.Data) != 1 || res.Data[0].Text != "" {
		t.Fatalf("%v %v %+v", err, nums, res)
	}
	if _, err := c.Create(bg, "Entwürfe"); err != nil {
		t.Fatal(err)
	}
}

func TestIdleSplitResponseAcrossDelayedPackets(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		tag := s.expect("IDLE")
		s.send("* 4 EXISTS\r\n+ idling\r\n")
		time.Sleep(50 * time.Millisecond)
		// a FETCH with a literal, split, the second half after the idle
		// duration's end: it must arrive whole
		s.send("* 4 FETCH (BODY[] {10}\r\n01234")
		time.Sleep(400 * time.Millisecond)
		s.send("56789)\r\n")
		s.send("* 5 EXISTS\r\n* 6 EXISTS\r\n")
		s.expectRaw("DONE\r\n")
		s.send("* 7 EXISTS\r\n", tag+" OK idle done\r\n")
		tag = s.expect("NOOP")
		s.send(tag + " OK ok\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	idler, err := c.Idle(bg, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if c.State() != "IDLING" {
		t.Fatal(c.State())
	}
	r, err := idler.Next(bg)
	if err != nil || r == nil || r.Type != "EXISTS" || r.Num != 4 {
		t.Fatalf("first: %v %+v", err, r)
	}
	r, err = idler.Next(bg)
	if err != nil || r == nil || r.Type != "FETCH" {
		t.Fatalf("second: %v %+v", err, r)
	}
	if d := r.Data(); len(d) != 2 || string(d[0].Literal) != "0123456789" || d[1].Text != ")" {
		t.Fatalf("fetch data %+v", d)
	}
	// duration over: iteration ends, nothing lost
	if r, err := idler.Next(bg); err != nil || r != nil {
		t.Fatalf("after duration: %v %+v", err, r)
	}
	if err := idler.Done(bg); err != nil {
		t.Fatal(err)
	}
	// imaplib's select() leaves EXISTS in the store: "3" comes first
	items, _ := c.Response("EXISTS")
	if len(items) != 4 || items[0].Text != "3" || items[1].Text != "5" || items[3].Text != "7" {
		t.Fatalf("leftovers %+v", items)
	}
	if _, err := c.Noop(bg); err != nil || c.State() != StateSelected {
		t.Fatal(err, c.State())
	}
}

func TestIdleBurstAndDoneByNextCommand(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		tag := s.expect("IDLE")
		s.send("+ idling\r\n")
		time.Sleep(30 * time.Millisecond)
		s.send("* 1 EXPUNGE\r\n")
		time.Sleep(10 * time.Millisecond)
		s.send("* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n")
		time.Sleep(400 * time.Millisecond)
		s.send("* 9 EXISTS\r\n")
		s.expectRaw("DONE\r\n")
		s.send(tag + " OK done\r\n")
		tag = s.expect("NOOP")
		s.send(tag + " OK ok\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	idler, err := c.Idle(bg, 0)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := idler.Burst(bg, 150*time.Millisecond)
	if err != nil || len(batch) != 3 || batch[2].Type != "EXPUNGE" {
		t.Fatalf("burst %v %d", err, len(batch))
	}
	time.Sleep(600 * time.Millisecond)
	if _, err := c.Noop(bg); err != nil { // DONE sent first
		t.Fatal(err)
	}
	if items, _ := c.Response("EXISTS"); len(items) != 2 || items[1].Text != "9" {
		t.Fatalf("leftover %+v", items)
	}
}

func TestIdleDeniedAndUnsupported(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		tag := s.expect("IDLE")
		s.send(tag + " NO not now\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	_, err := c.Idle(bg, time.Second)
	wantKind(t, err, KindError, "idle denied")
	c.caps = []string{"IMAP4REV1"}
	_, err = c.Idle(bg, time.Second)
	wantKind(t, err, KindError, "does not support IMAP4 IDLE")
}

func TestIdleCancel(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		s.expect("IDLE")
		s.send("+ idling\r\n")
		time.Sleep(3 * time.Second)
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	idler, err := c.Idle(bg, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = idler.Next(ctx)
	if time.Since(start) > 2*time.Second {
		t.Fatal("cancel did not end the wait")
	}
	wantKind(t, err, KindAbort, "")
}

func TestAuthenticateCallbackAndCancel(t *testing.T) {
	addr := fake(t, func(s *session) {
		s.send("* OK [CAPABILITY IMAP4rev1 AUTH=CRAM-MD5 AUTH=XFOO] hi\r\n")
		tag := s.expect("AUTHENTICATE XFOO")
		s.send("+ Y2hhbGxlbmdl\r\n") // "challenge"
		s.expectRaw("YW5zd2Vy\r\n")  // "answer"
		s.send("+ \r\n")
		s.expectRaw("*\r\n")
		s.send(tag + " BAD canceled\r\n")
		tag = s.expect("AUTHENTICATE CRAM-MD5")
		s.send("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n")
		s.expectRaw("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n")
		s.send(tag + " OK [CAPABILITY IMAP4rev1 X-AFTER] ok\r\n")
	})
	var trace bytes.Buffer
	c, err := Dial(bg, addr, &Options{Timeout: 5 * time.Second, Debug: 5, DebugWriter: &trace})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n := 0
	_, err = c.Authenticate(bg, "XFOO", func(ch []byte) ([]byte, bool) {
		n++
		if n == 1 {
			if string(ch) != "challenge" {
				t.Errorf("challenge %q", ch)
			}
			return []byte("answer"), true
		}
		return nil, false
	})
	wantKind(t, err, KindError, "canceled")
	// RFC 2195's example
	if _, err := c.LoginCramMD5(bg, "tim", "tanstaaftanstaaf"); err != nil {
		t.Fatal(err)
	}
	if c.State() != StateAuth || !c.HasCap("X-AFTER") {
		t.Fatal(c.State(), c.Capabilities())
	}
	if strings.Contains(trace.String(), "YW5zd2Vy") || strings.Contains(trace.String(), "dGltIGI5") {
		t.Fatalf("secret in trace:\n%s", trace.String())
	}
}

func TestSASLIRAndTraceRedaction(t *testing.T) {
	addr := fake(t, func(s *session) {
		s.send(greeting)
		tag := s.expect("AUTHENTICATE PLAIN AHVzZXIAcGFzc3dvcmQ=")
		s.send(tag + " OK ok\r\n")
		tag = s.expect("CAPABILITY")
		s.send("* CAPABILITY IMAP4rev1\r\n", tag+" OK ok\r\n")
		tag = s.expect(`LOGIN user "password"`)
		s.send(tag + " BAD already\r\n")
	})
	var trace bytes.Buffer
	c, err := Dial(bg, addr, &Options{Timeout: 5 * time.Second, Debug: 4, DebugWriter: &trace})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.AuthenticateSASL(bg, sasl.Plain("", "user", "password")); err != nil {
		t.Fatal(err)
	}
	c.state = StateNonAuth
	c.Login(bg, "user", "password")
	tr := trace.String()
	if strings.Contains(tr, "password") || strings.Contains(tr, "AHVzZXIAcGFzc3dvcmQ") {
		t.Fatalf("secret in trace:\n%s", tr)
	}
	if !strings.Contains(tr, "LOGIN user ***") || !strings.Contains(tr, "AUTHENTICATE PLAIN ***") {
		t.Fatalf("trace lacks redacted lines:\n%s", tr)
	}
}

func TestScriptedOnlyCommands(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		tag := s.expect("PARTIAL 1 BODY[TEXT] 0 10")
		s.send("* 1 FETCH (BODY[TEXT]<0> {10}\r\n0123456789)\r\n", tag+" OK ok\r\n")
		tag = s.expect("PROXYAUTH other")
		s.send(tag + " OK ok\r\n")
		tag = s.expect(`GETANNOTATION INBOX /comment value.shared`)
		s.send(`* ANNOTATION INBOX "/comment" ("value.shared" "hi")`+"\r\n", tag+" OK ok\r\n")
		tag = s.expect(`SETANNOTATION INBOX "/comment" ("value.shared" "x")`)
		s.send(tag + " OK ok\r\n")
		tag = s.expect(`SETQUOTA "" (STORAGE 512)`)
		s.send(`* QUOTA "" (STORAGE 10 512)`+"\r\n", tag+" OK ok\r\n")
		tag = s.expect(`XFOO bar (1 2)`)
		s.send("* XFOO data\r\n", tag+" OK ok\r\n")
		tag = s.expect(`ID ("name" "mailscript")`)
		s.send(`* ID ("name" "Dovecot")`+"\r\n", tag+" OK ok\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	res, msgs, err := c.Partial(bg, "1", "BODY[TEXT]", 0, 10)
	if err != nil || len(msgs) != 1 || string(msgs[0].Body["TEXT<0>"]) != "0123456789" || len(res.Data) != 2 {
		t.Fatalf("%v %+v", err, msgs)
	}
	c.state = StateAuth
	if _, err := c.ProxyAuth(bg, "other"); err != nil {
		t.Fatal(err)
	}
	res, err = c.GetAnnotation(bg, "INBOX", "/comment", "value.shared")
	if err != nil || len(res.Data) != 1 || !strings.Contains(res.Data[0].Text, "hi") {
		t.Fatalf("%v %+v", err, res)
	}
	if _, err := c.SetAnnotation(bg, "INBOX", `"/comment"`, `("value.shared" "x")`); err != nil {
		t.Fatal(err)
	}
	_, q, err := c.SetQuota(bg, "", "STORAGE 512")
	if err != nil || len(q) != 1 || q[0].Resources[0].Limit != 512 {
		t.Fatalf("%v %+v", err, q)
	}
	if _, err := c.Xatom(bg, "XFOO", "bar", "(1 2)"); err != nil {
		t.Fatal(err)
	}
	if items, _ := c.Response("XFOO"); len(items) != 1 || items[0].Text != "data" {
		t.Fatalf("%+v", items)
	}
	_, id, err := c.ID(bg, []string{"name", "mailscript"})
	if err != nil || id["name"] != "Dovecot" {
		t.Fatalf("%v %v", err, id)
	}
}

// CPython's test_bracket_flags: "]" inside flags survives.
func TestBracketFlags(t *testing.T) {
	addr := fake(t, func(s *session) {
		loggedIn(s)
		tag := s.expect("SELECT test")
		s.send(`* FLAGS (Answered \Flagged \Deleted \Seen \Draft)`+"\r\n", "* 2 EXISTS\r\n",
			`* OK [PERMANENTFLAGS Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted.`+"\r\n",
			tag+" OK [READ-WRITE] SELECT completed.\r\n")
		tag = s.expect("STORE 1 +FLAGS ([test])")
		s.send(`* 1 FETCH (FLAGS (Answered \Flagged \Deleted \Seen \Draft [test]))`+"\r\n", tag+" OK STORE completed.\r\n")
		tag = s.expect("NOOP")
		s.send(`* OK [PERMANENTFLAGS Answered \Flagged \Deleted \Seen \Draft [test] \*)] Flags permitted.`+"\r\n", tag+" OK ok\r\n")
	})
	c := dialFake(t, addr)
	login(t, c)
	if _, _, err := c.Select(bg, "test", false); err != nil {
		t.Fatal(err)
	}
	if items, _ := c.Response("PERMANENTFLAGS"); len(items) != 1 || !strings.HasSuffix(items[0].Text, `\Draft \*)`) {
		t.Fatalf("%+v", items)
	}
	_, msgs, err := c.Store(bg, "1", "+FLAGS", "[test]", false)
	if err != nil || len(msgs) != 1 || msgs[0].Flags[5] != "[test]" {
		t.Fatalf("%v %+v", err, msgs)
	}
	c.Noop(bg)
	items, _ := c.Response("PERMANENTFLAGS")
	if len(items) != 1 || !strings.Contains(items[0].Text, "[test]") {
		t.Fatalf("%+v", items)
	}
}

func TestPipelining(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		var tags []string
		for i := 1; i <= 3; i++ {
			tags = append(tags, s.expect("UID FETCH "+string(rune('0'+i))+" (FLAGS)"))
		}
		// all three arrived before any reply was sent: one round trip
		for i, tag := range tags {
			s.send("* "+string(rune('1'+i))+" FETCH (UID "+string(rune('1'+i))+" FLAGS ())\r\n", tag+" OK ok\r\n")
		}
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	var cmds []*Command
	for _, set := range []string{"1", "2", "3"} {
		cmds = append(cmds, &Command{Name: "UID FETCH", Args: []Arg{Set(set), Raw("(FLAGS)")}})
	}
	if err := c.Execute(bg, cmds...); err != nil {
		t.Fatal(err)
	}
	for i, cmd := range cmds {
		if cmd.Err() != nil || len(cmd.Untagged) != 1 || cmd.Untagged[0].Num != uint32(i+1) {
			t.Fatalf("cmd %d: %v %+v", i, cmd.Err(), cmd.Untagged)
		}
	}
}

// LoginThen and SelectThen send their followers before any reply: the
// server sees every command before it answers one.
func TestLoginThenSelectThen(t *testing.T) {
	addr := fake(t, func(s *session) {
		s.send(greeting)
		login := s.expect(`LOGIN user "pw"`)
		ns := s.expect("NAMESPACE")
		s.send(login+" OK [CAPABILITY IMAP4rev1 MOVE] in\r\n", "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n", ns+" OK ns\r\n")
		sel := s.expect("SELECT INBOX")
		search := s.expect("UID SEARCH UNSEEN")
		s.send("* 3 EXISTS\r\n", sel+" OK [READ-WRITE] done\r\n", "* SEARCH 2 3\r\n", search+" OK found\r\n")
		sel = s.expect("SELECT Nope")
		search = s.expect("UID SEARCH ALL")
		s.send(sel+" NO no such mailbox\r\n", search+" BAD no mailbox selected\r\n")
	})
	c, err := Dial(bg, addr, &Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ns := &Command{Name: "NAMESPACE"}
	if _, err := c.LoginThen(bg, "user", "pw", ns); err != nil {
		t.Fatal(err)
	}
	if ns.Err() != nil || len(ns.Untagged) != 1 || !c.HasCap("MOVE") || c.State() != StateAuth {
		t.Fatalf("namespace %v %v, caps %v, state %s", ns.Err(), ns.Untagged, c.Capabilities(), c.State())
	}
	search := &Command{Name: "UID SEARCH", Args: []Arg{Atom("UNSEEN")}}
	res, st, err := c.SelectThen(bg, "INBOX", false, search)
	if err != nil || res.Type != "OK" || st.Exists != 3 || c.State() != StateSelected {
		t.Fatalf("select: %v %+v %+v %s", err, res, st, c.State())
	}
	if uids, err := decodeSearch(search.Untagged, DefaultMaxExpand); err != nil || len(uids) != 2 {
		t.Fatalf("search: %v %v", uids, err)
	}
	search = &Command{Name: "UID SEARCH", Args: []Arg{Atom("ALL")}}
	res, _, err = c.SelectThen(bg, "Nope", false, search)
	if err != nil || res.Type != "NO" || search.Err() == nil || c.State() != StateAuth {
		t.Fatalf("failed select: %v %+v, follower %v, state %s", err, res, search.Err(), c.State())
	}
}

// A server may answer a pipelined SEARCH before the STORE ahead of it
// completes (Dovecot does): the SEARCH data still goes to the SEARCH.
func TestUntaggedGoesToItsCommand(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		store := s.expect(`UID STORE 1 +FLAGS.SILENT (\Seen)`)
		search := s.expect("UID SEARCH ID")
		s.send("* SEARCH 4 5\r\n", search+" OK searched\r\n", "* 1 FETCH (FLAGS (\\Seen))\r\n", store+" OK stored\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	store := &Command{Name: "UID STORE", Args: []Arg{Set("1"), Atom("+FLAGS.SILENT"), Paren(`\Seen`)}}
	search := &Command{Name: "UID SEARCH", Args: []Arg{Atom("ID")}}
	if err := c.Execute(bg, store, search); err != nil {
		t.Fatal(err)
	}
	if uids, err := decodeSearch(search.Untagged, DefaultMaxExpand); err != nil || len(uids) != 2 || len(store.Untagged) != 1 || store.Untagged[0].Type != "FETCH" {
		t.Fatalf("search %v %v, store got %v", uids, err, store.Untagged)
	}
}

// Start sends a second batch before the first one's replies are read;
// Wait reads each home, whatever order the caller waits in.
func TestStartWait(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		a := s.expect("UID FETCH 1 (FLAGS)")
		b := s.expect("UID FETCH 2 (FLAGS)")
		s.send("* 1 FETCH (UID 1 FLAGS ())\r\n", a+" OK ok\r\n", "* 2 FETCH (UID 2 FLAGS ())\r\n", b+" NO gone\r\n")
		s.expectEOF()
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	first := &Command{Name: "UID FETCH", Args: []Arg{Set("1"), Raw("(FLAGS)")}}
	second := &Command{Name: "UID FETCH", Args: []Arg{Set("2"), Raw("(FLAGS)")}}
	if err := c.Start(bg, first); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(bg, second); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(bg, second); err != nil {
		t.Fatal(err)
	}
	if first.Err() != nil || len(first.Untagged) != 1 || second.Err() == nil || len(second.Untagged) != 1 {
		t.Fatalf("first %v %v, second %v %v", first.Err(), first.Untagged, second.Err(), second.Untagged)
	}
	if err := c.Wait(bg, first); err != nil {
		t.Fatal(err)
	}
	// a literal that would wait for "+" (no LITERAL+ here) is refused unsent
	err := c.Start(bg, &Command{Name: "APPEND", Args: []Arg{Mailbox("INBOX"), LiteralArg([]byte("x"), false)}})
	if e, ok := err.(*Error); !ok || !strings.Contains(e.Text, "Execute") {
		t.Fatalf("sync literal: %v", err)
	}
}

func TestStartTLSDiscardsInjectedBytes(t *testing.T) {
	// The reply to STARTTLS carries an injected "* BYE" after it in the
	// same packet: it must never be read as if it came over TLS.
	addr := fake(t, func(s *session) {
		s.send(greeting)
		tag := s.expect("STARTTLS")
		s.send(tag + " OK begin TLS\r\n* BYE injected\r\n")
		// the handshake then fails against this plain fake
	})
	c := dialFake(t, addr)
	_, err := c.StartTLS(bg, nil)
	e := wantKind(t, err, KindAbort, "TLS handshake")
	if strings.Contains(e.Error(), "injected") {
		t.Fatal(e)
	}
}

func TestTimeout(t *testing.T) {
	addr := fake(t, func(s *session) {
		selected(s)
		s.expect("NOOP")
		time.Sleep(1500 * time.Millisecond)
	})
	c, err := Dial(bg, addr, &Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	selectInbox(t, c)
	_, err = c.Noop(bg)
	e := wantKind(t, err, KindAbort, "")
	if e.Cause != CauseTimeout {
		t.Fatalf("cause %q", e.Cause)
	}
}

func TestLogoutReturnsBye(t *testing.T) {
	addr := fake(t, func(s *session) {
		s.send(greeting)
		s.expect("LOGOUT")
		s.send("* BYE see you\r\n")
	})
	c := dialFake(t, addr)
	res := c.Logout(bg)
	if res.Type != "BYE" || res.Data[0].Text != "see you" || c.State() != StateLogout {
		t.Fatalf("%+v %s", res, c.State())
	}
}

func TestStream(t *testing.T) {
	c, err := DialStream(bg, `printf '* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n'; read line; printf '* BYE bye\r\n'`, &Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if c.State() != StateAuth {
		t.Fatal(c.State())
	}
	res := c.Logout(bg)
	if res.Type != "BYE" {
		t.Fatalf("%+v", res)
	}
}

func TestConnectErrors(t *testing.T) {
	_, err := Dial(bg, "127.0.0.1:1", &Options{Timeout: time.Second})
	e := wantKind(t, err, KindError, "connect")
	if e.Cause != CauseRefused {
		t.Fatalf("cause %q", e.Cause)
	}
	_, err = Dial(bg, "no-such-host.invalid:143", &Options{Timeout: 2 * time.Second})
	e = wantKind(t, err, KindError, "connect")
	if e.Cause != CauseDNS {
		t.Fatalf("cause %q", e.Cause)
	}
}
