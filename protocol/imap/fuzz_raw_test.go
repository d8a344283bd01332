package imap

import (
	"strings"
	"testing"
)

// FuzzRawArgs checks the encoder's arguments of caller-written syntax:
// Raw, Paren and Flags either refuse s or send text with no control byte
// and no literal announcement outside quoted strings (literals the
// encoder makes itself stand as one atom here), Paren exactly one list
// and Flags one list of valid flags.
func FuzzRawArgs(f *testing.F) {
	for _, s := range []string{`SUBJECT "a b"`, `(A {5})`, `\Seen) (X`, `"Müller"`, `BODY[HEADER.FIELDS (X)]`, `"a\"`, `((`} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, utf8 bool) {
		for i, arg := range []Arg{Raw(s), Paren(s), Flags(s)} {
			e := &encoder{utf8: utf8}
			arg(e)
			if e.err != nil {
				continue
			}
			var b strings.Builder
			for _, p := range e.pieces {
				if p.isLit {
					b.WriteString("LIT")
					continue
				}
				b.Write(p.text)
			}
			text := b.String()
			if strings.ContainsAny(text, "\x00\r\n") {
				t.Fatalf("arg %d of %q: control byte in %q", i, s, text)
			}
			if msg := checkRaw(text); msg != "" {
				t.Fatalf("arg %d of %q sends %q: %s", i, s, text, msg)
			}
			switch i {
			case 1:
				if !isParenthesised(text) {
					t.Fatalf("Paren(%q) sends %q, not one list", s, text)
				}
			case 2:
				vs, err := parseValues(text)
				if err != nil || len(vs) != 1 || vs[0].Kind != VList {
					t.Fatalf("Flags(%q) sends %q", s, text)
				}
				for _, v := range vs[0].List {
					if v.Kind == VNil { // the keyword NIL reads as NIL
						continue
					}
					if v.Kind != VAtom || CheckFlag(v.S) != nil {
						t.Fatalf("Flags(%q) sends %q", s, text)
					}
				}
			}
		}
	})
}
