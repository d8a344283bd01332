package imap

import (
	"strconv"
	"strings"
)

// ValueKind tells what a [Value] is.
type ValueKind uint8

const (
	VAtom    ValueKind = iota // a bare word: atoms, numbers, flags, BODY[...]<n>
	VQuoted                   // a quoted string, unescaped
	VLiteral                  // a literal, {n} or ~{n}
	VNil                      // NIL
	VList                     // a parenthesised list
)

// Value is one item of the RFC 3501 / 9051 grammar.
type Value struct {
	Kind ValueKind
	S    string // atom text, or string contents
	List []Value
}

// IsString reports whether v is a quoted string or literal.
func (v Value) IsString() bool { return v.Kind == VQuoted || v.Kind == VLiteral }

// Str returns the text of an atom or string; "" for NIL and lists.
func (v Value) Str() string { return v.S }

// Number returns v as an unsigned 64-bit number.
func (v Value) Number() (uint64, bool) {
	if v.Kind != VAtom || v.S == "" || v.S[0] < '0' || v.S[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseUint(v.S, 10, 64)
	return n, err == nil
}

// String renders v back in IMAP syntax (strings quoted), for messages.
func (v Value) String() string {
	switch v.Kind {
	case VNil:
		return "NIL"
	case VQuoted, VLiteral:
		return quote(v.S)
	case VList:
		var b strings.Builder
		b.WriteByte('(')
		for i, x := range v.List {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(x.String())
		}
		b.WriteByte(')')
		return b.String()
	}
	return v.S
}
