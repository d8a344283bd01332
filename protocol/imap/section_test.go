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
	m, err := DecodeFetch(r, 10)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Body["HEADER.FIELDS (SUBJECT)"]) != "Subject: hi\r\n\r\n" {
		t.Fatalf("%q", m.Body)
	}
}
