package imap

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// The decoder's error is sticky: the first failure is kept, and reads
// after it return zero values instead of going on from a bad position.
func TestDecoderStickyError(t *testing.T) {
	d := stringDecoder(`"open (A B)`)
	if v := d.readValue(); v.Kind != VAtom || v.S != "" {
		t.Fatalf("failed read gave %#v", v)
	}
	first := d.err
	var pe *ParseError
	if !errors.As(first, &pe) || pe.Msg != "unterminated quoted string" {
		t.Fatalf("err = %v", first)
	}
	if v := d.readValue(); v.Kind != VAtom || v.S != "" || d.err != first {
		t.Fatalf("read after failure: %#v, err %v", v, d.err)
	}
	if !d.atEnd() {
		t.Fatal("a failed decoder must report its end")
	}
	if _, err := d.rest(); err != first {
		t.Fatalf("rest after failure: %v", err)
	}
	if d.skip() != first {
		t.Fatal("skip after failure must keep the first error")
	}
}

// The error quotes the line it is in.
func TestDecoderErrorQuotesLine(t *testing.T) {
	_, err := parseValues("(A \x01 B")
	if err == nil || !strings.Contains(err.Error(), `"(A \x01 B"`) {
		t.Fatalf("err = %v", err)
	}
}

// The encoder judges caller-written syntax with the decoder's scanners.
func TestEncoderChecksUseDecoder(t *testing.T) {
	for s, want := range map[string]bool{
		`"a\"b"`: true, `"a\\"`: true, `"a\xb"`: false, `"a"b"`: false, `"a`: false, `""`: true,
	} {
		if got := isQuoted(s); got != want {
			t.Errorf("isQuoted(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{
		`(A B)`: true, `(A ")" B)`: true, `(BODY[HEADER.FIELDS (X)])`: true,
		`(A) (B)`: false, `(A`: false, `(A "x)`: false, `A`: false,
	} {
		if got := isParenthesised(s); got != want {
			t.Errorf("isParenthesised(%q) = %v", s, got)
		}
	}
	var toks []string
	if msg := scanRaw(`SUBJECT "a b" (X)`, func(t rawToken) { toks = append(toks, t.text) }); msg != "" {
		t.Fatal(msg)
	}
	if got := strings.Join(toks, "|"); got != `SUBJECT| |"a b"| |(|X|)` {
		t.Fatalf("tokens %s", got)
	}
	for _, s := range []string{`X{8+}`, `"a`, `(A {5})`} {
		if checkRaw(s) == "" {
			t.Errorf("checkRaw(%q) passed", s)
		}
	}
	// Paren reports a literal announcement as such, not as unbalanced.
	e := &encoder{}
	Paren(`(A {5})`)(e)
	if e.err == nil || !strings.Contains(e.err.Error(), "literal announcement") {
		t.Fatalf("Paren: %v", e.err)
	}
}

// A literal is read through a reader bounded by its size: the bytes after
// it stay for the next line.
func TestLiteralReaderBounded(t *testing.T) {
	c := newClient(byteConn{bytes.NewReader([]byte("* 1 FETCH (BODY[] {5}\r\nhello)\r\n* 2 EXISTS\r\n"))}, "", withDefaults(nil))
	r, err := c.readResponse()
	if err != nil {
		t.Fatal(err)
	}
	if string(r.parts[0].lit) != "hello" || string(r.parts[1].text) != ")" {
		t.Fatalf("parts %q", r.Line())
	}
	lr := &literalReader{r: c.r, left: 0}
	if n, err := lr.Read(make([]byte, 4)); n != 0 || err == nil {
		t.Fatalf("empty literal read %d, %v", n, err)
	}
	r2, err := c.readResponse()
	if err != nil || r2.Type != "EXISTS" {
		t.Fatalf("next: %v %v", r2, err)
	}
}

// Found by FuzzRawArgs: the encoder splits words as the decoder does, so
// an 8-bit word with brackets goes as one literal and Paren's list stays
// balanced; a "[" never closed does not swallow the list's ")"; flags
// the decoder would read as one are refused.
func TestWordsAgreeAcrossEncoderAndDecoder(t *testing.T) {
	e := &encoder{}
	Paren("\xff[(]")(e)
	if e.err != nil || len(e.pieces) != 3 || string(e.pieces[0].text) != "(" || string(e.pieces[1].lit) != "\xff[(]" || string(e.pieces[2].text) != ")" {
		t.Fatalf("Paren: %v %v", e.err, e.pieces)
	}
	vs, err := parseValues(`(0[ \Seen)`)
	if err != nil || len(vs) != 1 || len(vs[0].List) != 2 || vs[0].List[0].S != "0[" {
		t.Fatalf("(0[ \\Seen): %v %v", vs, err)
	}
	e = &encoder{}
	Flags(`0[ x]`)(e)
	if e.err == nil {
		t.Fatalf("Flags(0[ x]) sent %v", e.pieces)
	}
	e = &encoder{}
	Flags(`\[test] $x`)(e)
	if e.err != nil || string(e.pieces[0].text) != `(\[test] $x)` {
		t.Fatalf("Flags(\\[test]): %v", e.err)
	}
}
