package imap

import "testing"

// Courier echoes HEADER.FIELDS ("SUBJECT"); Dovecot the names as asked:
// both give the key the docs show.
func TestCourierSectionKeysNormalised(t *testing.T) {
	for in, want := range map[string]string{
		`BODY[HEADER.FIELDS ("SUBJECT")]`:           "HEADER.FIELDS (SUBJECT)",
		`BODY[HEADER.FIELDS ("Subject" "From")]<0>`: "HEADER.FIELDS (SUBJECT FROM)<0>",
		`BODY[header.fields (subject)]`:             "HEADER.FIELDS (SUBJECT)",
		`BODY[1.HEADER.FIELDS.NOT  ( "X-A"  x-b )]`: "1.HEADER.FIELDS.NOT (X-A X-B)",
		`BODY[HEADER.FIELDS ("a\"b")]`:              `HEADER.FIELDS (A"B)`,
		`BODY[HEADER.FIELDS ("unterminated)]`:       "HEADER.FIELDS (UNTERMINATED)",
		`BODY[]`:                                    "",
		`BODY[1.2]<0>`:                              "1.2<0>",
		`BODY[text]`:                                "TEXT",
		`BINARY[1]`:                                 "1",
	} {
		if got := sectionKey(in); got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
	r := one(t, "* 1 FETCH (UID 4 BODY[HEADER.FIELDS (\"SUBJECT\")] {15}\r\nSubject: hi\r\n\r\n)\r\n")
	m, err := decodeFetch(r, 10, false)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Body["HEADER.FIELDS (SUBJECT)"]) != "Subject: hi\r\n\r\n" {
		t.Fatalf("%q", m.Body)
	}
}

// Courier offers UTF8=ACCEPT yet refuses APPEND's UTF8 (~{n}) form with a
// bare NO before the literal: the message goes again as a plain literal.
// A NO with a response code (a real refusal) is not retried.
func TestCourierUTF8AppendFallsBackToPlainLiteral(t *testing.T) {
	msg := "Subject: café\r\n\r\nhi\r\n"
	addr := fake(t, func(s *session) {
		s.send("* OK [CAPABILITY IMAP4rev1 ENABLE UTF8=ACCEPT] hi\r\n")
		tag := s.expect(`LOGIN user "pw"`)
		s.send(tag + " OK ok\r\n")
		tag = s.expect("CAPABILITY")
		s.send("* CAPABILITY IMAP4rev1 ENABLE UTF8=ACCEPT UIDPLUS\r\n", tag+" OK ok\r\n")
		tag = s.expect("ENABLE UTF8=ACCEPT")
		s.send("* ENABLED UTF8=ACCEPT\r\n", tag+" OK ok\r\n")
		tag = s.expect("APPEND INBOX UTF8 (~{22}")
		s.send(tag + " NO Error in IMAP command received by server.\r\n")
		tag = s.expect("APPEND INBOX {22}")
		s.send("+ OK\r\n")
		if got := s.readN(22); got != msg {
			t.Errorf("literal %q", got)
		}
		s.expectRaw("\r\n")
		s.send(tag + " OK [APPENDUID 7 1] APPEND Ok.\r\n")
		tag = s.expect("APPEND Full UTF8 (~{22}")
		s.send(tag + " NO [OVERQUOTA] full\r\n")
		tag = s.expect("NOOP")
		s.send(tag + " OK ok\r\n")
	})
	c := dialFake(t, addr)
	login(t, c)
	if _, _, err := c.Enable(bg, "UTF8=ACCEPT"); err != nil || !c.UTF8Enabled() {
		t.Fatal(err)
	}
	res, uid, err := c.Append(bg, "INBOX", "", "", []byte(msg))
	if err != nil || res.Type != "OK" || uid == nil || uid.UID != 1 {
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
