package imap

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

// byteConn serves fixed bytes as a server's whole output.
type byteConn struct{ r *bytes.Reader }

func (b byteConn) Read(p []byte) (int, error)       { return b.r.Read(p) }
func (b byteConn) Write(p []byte) (int, error)      { return len(p), nil }
func (b byteConn) Close() error                     { return nil }
func (b byteConn) SetReadDeadline(time.Time) error  { return nil }
func (b byteConn) SetWriteDeadline(time.Time) error { return nil }

// decodeAny runs every decoder that fits r.
func decodeAny(r *Response) {
	r.Data()
	r.Line()
	ParseFlags(r.CodeArg)
	appendUID(r)
	copyUID(&Command{Status: r}, DefaultMaxExpand)
	(&MailboxStatus{}).code(r)
	switch r.Type {
	case "FETCH":
		decodeFetch(r, 0, false)
	case "LIST", "LSUB":
		decodeList(r)
	case "STATUS":
		decodeStatus(r)
	case "SEARCH", "SORT", "ESEARCH":
		decodeSearch([]*Response{r}, DefaultMaxExpand)
	case "THREAD":
		decodeThread(r, 0)
	case "QUOTA":
		decodeQuota(r)
	case "QUOTAROOT":
		decodeQuotaRoot(r)
	case "ACL":
		decodeACL(r)
	case "MYRIGHTS":
		decodeMyRights(r)
	case "NAMESPACE":
		decodeNamespace(r)
	case "ID":
		decodeID(r)
	case "FLAGS":
		c := &Client{}
		c.mailboxStatus(&Command{Untagged: []*Response{r}})
	}
}

var responseSeeds = []string{
	"* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n",
	"* 3 FETCH (UID 30 FLAGS (\\Seen) BODY[HEADER.FIELDS (SUBJECT)] {15}\r\nSubject: hi\r\n\r\n)\r\n",
	`* 1 FETCH (UID 1 RFC822.SIZE 2100 INTERNALDATE "01-Jan-2024 08:00:00 +0000" ENVELOPE ("Mon, 1 Jan 2024 08:00:00 +0000" "=?UTF-8?Q?caf=C3=A9?=" (("Alice" NIL "alice" "example.com")) (("Alice" NIL "alice" "example.com")) NIL ((NIL NIL "bob" "example.org")) NIL NIL NIL "<1@x>") MODSEQ (12345678901234))` + "\r\n",
	`* 2 FETCH (BODYSTRUCTURE (("text" "plain" ("charset" "UTF-8") NIL NIL "quoted-printable" 120 4 NIL NIL NIL NIL)("application" "octet-stream" ("name" "a.pdf") NIL NIL "base64" 2000 NIL ("attachment" ("filename" "a.pdf")) NIL NIL) "mixed" ("boundary" "xx") NIL NIL NIL))` + "\r\n",
	`* 4 FETCH (BODYSTRUCTURE ("message" "rfc822" NIL NIL NIL "7bit" 300 ("d" "s" NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" NIL NIL NIL "7bit" 10 1) 12 NIL NIL NIL NIL) BINARY[1] ~{3}` + "\r\nabc BINARY.SIZE[1] 3)\r\n",
	`* LIST (\HasNoChildren \Junk) "/" "Entw&APw-rfe"` + "\r\n",
	`* LIST () "." {5}` + "\r\nINBOX\r\n",
	`* STATUS INBOX (MESSAGES 3 UIDNEXT 4 UNSEEN 1 SIZE 100 HIGHESTMODSEQ 99)` + "\r\n",
	"* SEARCH 1 2 3 (MODSEQ 5)\r\n",
	"* ESEARCH (TAG \"A1\") UID MIN 1 MAX 9 COUNT 3 ALL 1:3,9\r\n",
	"* SORT 3 1 2\r\n",
	"* THREAD (2)(3 6 (4 23)(44 7 96))\r\n",
	`* QUOTA "User quota" (STORAGE 10 512 MESSAGE 1 100)` + "\r\n",
	`* QUOTAROOT INBOX "User quota"` + "\r\n",
	"* ACL INBOX bob lrwstipekxacd friend lr\r\n",
	"* MYRIGHTS INBOX lr\r\n",
	`* NAMESPACE (("" "/")) (("Other/" "/" "X-PARAM" ("a" "b"))) NIL` + "\r\n",
	`* ID ("name" "Dovecot")` + "\r\n",
	"* FLAGS (\\Answered \\Flagged [test])\r\n* OK [PERMANENTFLAGS (\\Seen \\*)] ok\r\n",
	"A1 OK [COPYUID 7 1:3 10:12] done\r\nA2 OK [APPENDUID 7 4] done\r\n",
	"+ Y2hhbGxlbmdl\r\n",
	"* BYE bye\r\n",
	"* 5 EXPUNGE\r\n* 2 EXISTS\r\n\r\n* 0 RECENT\r\n",
	"* OK {9223372036854775807}\r\n",
}

// FuzzResponses feeds arbitrary server output through the response
// reader and every decoder: no panic, no hang.
func FuzzResponses(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newClient(byteConn{bytes.NewReader(data)}, "", withDefaults(&Options{MaxLine: 4096, MaxLiteral: 1 << 16, MaxDepth: 20}))
		for i := 0; i < 100; i++ {
			r, err := c.readResponse()
			if err != nil {
				return
			}
			decodeAny(r)
		}
	})
}

// FuzzFetch decodes arbitrary FETCH data.
func FuzzFetch(f *testing.F) {
	for _, s := range responseSeeds {
		if i := strings.Index(s, "FETCH "); i >= 0 {
			f.Add([]byte(s[i+6:]))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newClient(byteConn{bytes.NewReader(append([]byte("* 1 FETCH "), data...))}, "", withDefaults(&Options{MaxLiteral: 1 << 16, MaxDepth: 20}))
		r, err := c.readResponse()
		if err != nil {
			return
		}
		m, err := decodeFetch(r, 20, false)
		if err == nil && m.Seq != 1 {
			t.Fatal("sequence number lost")
		}
		// the lazy decoding, resolved, must say what the eager one says
		lazy, lerr := decodeFetch(r, 20, true)
		if lerr == nil {
			lerr = lazy.Resolve()
		}
		if (err == nil) != (lerr == nil) {
			if err == nil { // the lazy scan may only fail where the eager one does
				t.Fatalf("lazy: %v, eager: ok", lerr)
			}
			return
		}
		if err == nil && !reflect.DeepEqual(m, lazy) {
			t.Fatalf("lazy %+v\neager %+v", lazy, m)
		}
	})
}

// FuzzValues parses arbitrary text as IMAP values; whatever parses must
// render and parse again to the same values.
func FuzzValues(f *testing.F) {
	for _, s := range []string{`(a "b\"c" NIL (1 2) BODY[1.2]<0>)`, `\Seen \[x] ()`, `"unterminated`, `((((((x))))))`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsAny(s, "\r\n{~") {
			return
		}
		vs, err := parseValues(s)
		if err != nil {
			return
		}
		for _, v := range vs {
			if v.Kind == VQuoted && strings.ContainsAny(v.S, "\r\n") {
				continue
			}
			again, err := parseValues(v.String())
			if v.Kind == VAtom || v.Kind == VList {
				continue // atoms with brackets do not round-trip through String
			}
			if err != nil || len(again) != 1 || again[0].S != v.S {
				t.Fatalf("%q: %+v then %+v (%v)", s, v, again, err)
			}
		}
	})
}

// FuzzUTF7 checks that encoding then decoding gives the name back, and
// that decoding arbitrary input never panics.
func FuzzUTF7(f *testing.F) {
	for _, s := range []string{"Entwürfe", "Tom & Jerry", "日本語", "&Jjo-!", "a&-b", "&AGEAYgBj-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		DecodeUTF7(s)
		if !isValidUTF8Printable(s) {
			return
		}
		enc := EncodeUTF7(s)
		dec, err := DecodeUTF7(enc)
		if err != nil || dec != s {
			t.Fatalf("%q -> %q -> %q (%v)", s, enc, dec, err)
		}
	})
}

func isValidUTF8Printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

// FuzzEncoder checks that any argument either is refused or encodes to
// exactly one value that parses back to it, with no CR or LF outside a
// literal: no argument can start a second command.
func FuzzEncoder(f *testing.F) {
	for _, s := range []string{"INBOX", "a b", `"x"`, "a\r\nb", "Müller", `\`, `"`, "()", "%*"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, utf8 bool) {
		e := &encoder{utf8: utf8}
		AString(s)(e)
		if e.err != nil {
			if !strings.ContainsAny(s, "\x00\r\n") {
				t.Fatalf("%q refused: %v", s, e.err)
			}
			return
		}
		var line []byte
		var lits []part
		for _, p := range e.pieces {
			if p.isLit {
				lits = append(lits, part{text: append(line, "{1}"...), lit: p.lit, hasLit: true})
				line = nil
				continue
			}
			if bytes.ContainsAny(p.text, "\r\n\x00") {
				t.Fatalf("%q: control byte outside a literal", s)
			}
			line = append(line, p.text...)
		}
		parts := append(lits, part{text: line})
		vs, err := newDecoder(parts, 0, 0).rest()
		if err != nil || len(vs) != 1 {
			t.Fatalf("%q encodes to %q: %v %d values", s, line, err, len(vs))
		}
		if !isQuoted(s) && vs[0].S != s && !(vs[0].Kind == VNil && strings.EqualFold(s, "NIL")) {
			t.Fatalf("%q encodes to a value reading %q", s, vs[0].S)
		}
	})
}
