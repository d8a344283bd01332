package imap

import (
	"bytes"
	"github.com/mailscript/mailscript/protocol/sasl"
	"strings"
	"testing"
	"time"
)

// responses reads every response of a server's output.
func responses(t *testing.T, s string) []*Response {
	t.Helper()
	c := newClient(byteConn{bytes.NewReader([]byte(s))}, "", withDefaults(nil))
	var out []*Response
	for {
		r, err := c.readResponse()
		if err != nil {
			return out
		}
		out = append(out, r)
	}
}

func one(t *testing.T, s string) *Response {
	t.Helper()
	rs := responses(t, s)
	if len(rs) != 1 {
		t.Fatalf("%d responses from %q", len(rs), s)
	}
	return rs[0]
}

func TestDecodeEnvelope(t *testing.T) {
	r := one(t, `* 12 FETCH (UID 99 ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "=?ISO-8859-1?Q?Caf=E9?= =?KOI8-R?B?8NLJ18XU?=" (("=?UTF-8?B?SsO8cmdlbg==?=" NIL "jurgen" "example.de")) NIL NIL ((NIL NIL "list" NIL)(NIL NIL "a" "b.example")(NIL NIL NIL NIL)) NIL NIL "<x@y>" "<B27397-0100000@cac.washington.edu>"))`+"\r\n")
	m, err := decodeFetch(r, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	e := m.Envelope
	if e.Subject != "CaféПривет" || e.From[0].Name != "Jürgen" || e.From[0].Address != "jurgen@example.de" {
		t.Fatalf("%+v", e)
	}
	if len(e.Sender) != 0 || e.Sender == nil || len(e.To) != 3 || e.To[0].Address != "list" || e.To[1].Address != "a@b.example" {
		t.Fatalf("%+v", e)
	}
	if e.InReplyTo != "<x@y>" || e.MessageID != "<B27397-0100000@cac.washington.edu>" || m.UID != 99 || m.Seq != 12 {
		t.Fatalf("%+v", e)
	}
}

func TestDecodeBodyStructureNested(t *testing.T) {
	// multipart/mixed > (multipart/alternative > text, html), message/rfc822 > multipart, attachment
	bs := `(((("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 10 1 NIL NIL NIL NIL)` +
		`("text" "html" ("charset" "utf-8") NIL NIL "quoted-printable" 20 2 NIL NIL NIL NIL) "alternative" ("boundary" "b1") NIL NIL NIL)` +
		`("message" "rfc822" NIL NIL NIL "7bit" 500 (NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL) (("text" "plain" NIL NIL NIL "7bit" 5 1)("image" "png" ("name" "x.png") "<cid>" "a picture" "base64" 100) "mixed") 20 "md5sum" ("inline" NIL) ("en" "de") "http://loc" "ext1" (1 2))` +
		`("APPLICATION" "PDF" ("NAME" "=?UTF-8?Q?=C3=9Cbersicht.pdf?=") NIL NIL "BASE64" -1 NIL ("ATTACHMENT" ("FILENAME" "report.pdf")) NIL NIL) "MIXED" ("boundary" "b0") NIL NIL NIL))`
	r := one(t, "* 1 FETCH (BODYSTRUCTURE "+bs+")\r\n")
	m, err := decodeFetch(r, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	top := m.BodyStructure.Parts[0]
	if top.Type != "multipart" || top.Subtype != "mixed" || len(top.Parts) != 3 || top.Params["boundary"] != "b0" {
		t.Fatalf("%+v", top)
	}
	alt := top.Parts[0]
	if alt.Subtype != "alternative" || alt.Parts[1].Subtype != "html" || alt.Parts[1].Part != "1.1.2" || alt.Parts[1].Lines != 2 || alt.Parts[1].Encoding != "quoted-printable" {
		t.Fatalf("%+v %+v", alt, alt.Parts[1])
	}
	msg := top.Parts[1]
	if msg.Type != "message" || msg.Envelope.Subject != "inner" || msg.Body.Subtype != "mixed" || msg.Lines != 20 || msg.MD5 != "md5sum" ||
		msg.Disposition.Type != "inline" || strings.Join(msg.Language, ",") != "en,de" || msg.Location != "http://loc" || len(msg.Extension) != 2 {
		t.Fatalf("%+v", msg)
	}
	if img := msg.Body.Parts[1]; img.ID != "<cid>" || img.Description != "a picture" || img.Params["name"] != "x.png" || img.Part != "1.2.2" {
		t.Fatalf("%+v", img)
	}
	pdf := top.Parts[2]
	if pdf.Type != "application" || pdf.Subtype != "pdf" || pdf.Size != -1 || pdf.Params["name"] != "Übersicht.pdf" ||
		pdf.Disposition.Type != "attachment" || pdf.Disposition.Params["filename"] != "report.pdf" || pdf.Encoding != "base64" {
		t.Fatalf("%+v %+v", pdf, pdf.Disposition)
	}
}

// Nesting past the cap is an error, not a stack overflow.
func TestNestingCap(t *testing.T) {
	deep := "* 1 FETCH (BODY " + strings.Repeat("(", 5000) + strings.Repeat(")", 5000) + ")\r\n"
	_, err := decodeFetch(one(t, deep), 0, false)
	if err == nil || !strings.Contains(err.Error(), "nesting deeper") {
		t.Fatal(err)
	}
}

func TestDecodeMisc(t *testing.T) {
	rs := responses(t, "* ESEARCH (TAG \"A1\") UID MIN 2 MAX 9 COUNT 4 ALL 2:3,8:9\r\n"+
		"* THREAD (2)(3 6 (4 23)(44 7 96))\r\n"+
		`* NAMESPACE (("" "/")("~" "/")) NIL (("#shared/" "/" "X-EXT" ("a")))`+"\r\n"+
		`* STATUS "Entw&APw-rfe" (MESSAGES 18446744073709551615 UNSEEN 3)`+"\r\n"+
		"* 4 FETCH (MODSEQ (18446744073709551615) UID 4)\r\n"+
		"* ID NIL\r\n")
	nums, err := decodeSearch(rs[:1], DefaultMaxExpand)
	if err != nil || len(nums) != 4 || nums[0] != 2 || nums[3] != 9 { // ALL only: MIN, MAX and COUNT are no hits
		t.Fatal(err, nums)
	}
	th, err := decodeThread(rs[1], 0)
	if err != nil || len(th) != 2 || th[1].List[0].Num != 3 || th[1].List[2].List[0].Num != 4 || th[1].List[3].List[2].Num != 96 {
		t.Fatalf("%v %+v", err, th)
	}
	ns, err := decodeNamespace(rs[2])
	if err != nil || len(ns.Personal) != 2 || ns.Other != nil || ns.Shared[0].Extensions["X-EXT"][0] != "a" {
		t.Fatalf("%v %+v", err, ns)
	}
	st, err := decodeStatus(rs[3])
	if err != nil || st.Mailbox != "Entwürfe" || st.Items["MESSAGES"] != 1<<64-1 || st.Unseen != 3 {
		t.Fatalf("%v %+v", err, st)
	}
	m, err := decodeFetch(rs[4], 0, false)
	if err != nil || m.ModSeq != 1<<64-1 || m.UID != 4 {
		t.Fatalf("%v %+v", err, m)
	}
	id, err := decodeID(rs[5])
	if err != nil || len(*id) != 0 {
		t.Fatal(err)
	}
}

func TestMalformedIsParseError(t *testing.T) {
	for _, s := range []string{
		"* 1 FETCH (UID)\r\n", "* 1 FETCH (UID x)\r\n", "* 1 FETCH (ENVELOPE (1 2))\r\n",
		"* 1 FETCH (FLAGS (\\Seen)\r\n", `* 1 FETCH (BODY[] "open)` + "\r\n",
	} {
		_, err := decodeFetch(one(t, s), 0, false)
		pe, ok := err.(*ParseError)
		if !ok || len(pe.Line) == 0 || !strings.Contains(pe.Error(), "FETCH") {
			t.Fatalf("%q: %T %v", s, err, err)
		}
	}
}

// Quirks servers show: blank lines between responses (imaplib skips
// them), an empty trailer line inside open parentheses, a trailing space.
func TestQuirks(t *testing.T) {
	rs := responses(t, "\r\n* 1 EXISTS \r\n\r\n* 1 FETCH (BODY[] {3}\r\nabc\r\n)\r\n")
	if len(rs) != 2 || rs[0].Type != "EXISTS" || rs[1].Type != "FETCH" {
		t.Fatalf("%+v", rs)
	}
	m, err := decodeFetch(rs[1], 0, false)
	if err != nil || string(m.Body[""]) != "abc" {
		t.Fatal(err, m)
	}
}

func TestUtilities(t *testing.T) {
	if Int2AP(0) != "" || Int2AP(4096) != "BAAA" || Int2AP(65535) != "PPPP" {
		t.Fatal(Int2AP(4096), Int2AP(65535))
	}
	if f := ParseFlags(`1 (FLAGS (\Seen \Answered))`); len(f) != 2 || f[1] != `\Answered` {
		t.Fatal(f)
	}
	if f := ParseFlags("nothing"); len(f) != 0 {
		t.Fatal(f)
	}
	tm, ok := Internaldate2Time(`25 (INTERNALDATE " 1-Jan-2020 00:00:00 +0130")`)
	if !ok || !tm.Equal(time.Date(2019, 12, 31, 22, 30, 0, 0, time.UTC)) {
		t.Fatal(tm, ok)
	}
	if _, ok := Internaldate2Time(`INTERNALDATE "bad"`); ok {
		t.Fatal("bad date accepted")
	}
	if s := Time2Internaldate(time.Date(2020, 3, 4, 5, 6, 7, 0, time.FixedZone("", -5*3600))); s != `"04-Mar-2020 05:06:07 -0500"` {
		t.Fatal(s)
	}
	for _, name := range []string{"Entwürfe", "日本語", "a&b", "~peter/mail/台北/日本語"} {
		enc := EncodeUTF7(name)
		if dec, err := DecodeUTF7(enc); err != nil || dec != name {
			t.Fatal(name, enc, dec, err)
		}
	}
	if EncodeUTF7("~peter/mail/台北/日本語") != "~peter/mail/&U,BTFw-/&ZeVnLIqe-" {
		t.Fatal(EncodeUTF7("~peter/mail/台北/日本語"))
	}
}

func TestOAuthMechanisms(t *testing.T) {
	addr := fake(t, func(s *session) {
		s.send(greeting)
		tag := s.expect("AUTHENTICATE XOAUTH2 dXNlcj1tZUBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB0b2sBAQ==")
		s.send("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n")
		s.expectRaw("\r\n")
		s.send(tag + " NO [AUTHENTICATIONFAILED] invalid token\r\n")
		tag = s.expect("AUTHENTICATE OAUTHBEARER bixhPW1lQGV4YW1wbGUuY29tLAFob3N0PWltYXAuZXhhbXBsZS5jb20BcG9ydD05OTMBYXV0aD1CZWFyZXIgdG9rAQE=")
		s.send(tag + " OK [CAPABILITY IMAP4rev1] ok\r\n")
	})
	c := dialFake(t, addr)
	_, err := c.AuthenticateSASL(bg, sasl.XOAuth2("me@example.com", "tok"))
	e := wantKind(t, err, KindError, "invalid token")
	if e.Code != "AUTHENTICATIONFAILED" {
		t.Fatal(e.Code)
	}
	if _, err := c.AuthenticateSASL(bg, sasl.OAuthBearer("me@example.com", "tok", "imap.example.com", 993)); err != nil {
		t.Fatal(err)
	}
}

// A command's untagged responses may go to decodeSearch whole: what is
// not SEARCH, SORT or ESEARCH is skipped.
func TestDecodeSearchSkipsOthers(t *testing.T) {
	rs := responses(t, "* 3 EXISTS\r\n* SEARCH 2 7\r\n* 1 FETCH (FLAGS ())\r\n* ESEARCH (TAG \"a\") UID MIN 9\r\n")
	uids, err := decodeSearch(rs, DefaultMaxExpand)
	if err != nil || len(uids) != 2 || uids[0] != 2 || uids[1] != 7 { // MIN 9 is no hit
		t.Fatalf("got %v %v", uids, err)
	}
}
