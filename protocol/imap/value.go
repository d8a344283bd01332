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

// parser reads values from a response's lines and literals.
type parser struct {
	parts    []part
	pi, pos  int
	depth    int
	maxDepth int
}

func newParser(parts []part, start, maxDepth int) *parser {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	return &parser{parts: parts, pos: start, maxDepth: maxDepth}
}

// parseValues parses a string (no literals) into values.
func parseValues(s string) ([]Value, error) {
	p := newParser([]part{{text: []byte(s)}}, 0, 0)
	return p.rest()
}

func (p *parser) errf(msg string) error {
	var line []byte
	if p.pi < len(p.parts) {
		line = p.parts[p.pi].text
	}
	return &ParseError{Line: line, Msg: msg}
}

func (p *parser) text() []byte { return p.parts[p.pi].text }

func (p *parser) skipSP() {
	t := p.text()
	for p.pos < len(t) && t[p.pos] == ' ' {
		p.pos++
	}
}

// atEnd reports whether the whole response has been consumed.
func (p *parser) atEnd() bool {
	p.skipSP()
	return p.pi == len(p.parts)-1 && p.pos >= len(p.text())
}

// rest parses every remaining value.
func (p *parser) rest() ([]Value, error) {
	var out []Value
	for !p.atEnd() {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// literal returns the literal at pos if "{n}" or "~{n}" ends the line there.
func (p *parser) literal() (Value, bool) {
	t := p.text()
	pt := p.parts[p.pi]
	if !pt.hasLit || p.pi+1 >= len(p.parts) {
		return Value{}, false
	}
	i := p.pos
	if t[i] == '~' {
		i++
	}
	if i >= len(t) || t[i] != '{' || t[len(t)-1] != '}' {
		return Value{}, false
	}
	for _, c := range t[i+1 : len(t)-1] {
		if c < '0' || c > '9' {
			return Value{}, false
		}
	}
	p.pi++
	p.pos = 0
	return Value{Kind: VLiteral, S: string(pt.lit)}, true
}

func (p *parser) value() (Value, error) {
	p.skipSP()
	t := p.text()
	if p.pos >= len(t) {
		return Value{}, p.errf("unexpected end of response")
	}
	switch c := t[p.pos]; c {
	case '(':
		p.depth++
		if p.depth > p.maxDepth {
			return Value{}, p.errf("nesting deeper than " + strconv.Itoa(p.maxDepth))
		}
		p.pos++
		list := []Value{}
		for {
			p.skipSP()
			t = p.text()
			if p.pos >= len(t) {
				return Value{}, p.errf("unterminated list")
			}
			if t[p.pos] == ')' {
				p.pos++
				p.depth--
				return Value{Kind: VList, List: list}, nil
			}
			v, err := p.value()
			if err != nil {
				return Value{}, err
			}
			list = append(list, v)
		}
	case ')':
		return Value{}, p.errf("unexpected )")
	case '"':
		return p.quoted()
	case '{', '~':
		if v, ok := p.literal(); ok {
			return v, nil
		}
		if c == '{' {
			return Value{}, p.errf("bad literal")
		}
	}
	return p.atom()
}

func (p *parser) quoted() (Value, error) {
	t := p.text()
	i := p.pos + 1
	var b []byte
	start := i
	for i < len(t) {
		switch t[i] {
		case '"':
			s := string(t[start:i])
			if b != nil {
				s = string(append(b, t[start:i]...))
			}
			p.pos = i + 1
			return Value{Kind: VQuoted, S: s}, nil
		case '\\':
			if i+1 >= len(t) {
				return Value{}, p.errf("bad escape in quoted string")
			}
			b = append(b, t[start:i]...)
			b = append(b, t[i+1])
			i += 2
			start = i
			continue
		}
		i++
	}
	return Value{}, p.errf("unterminated quoted string")
}

// atom reads a bare word. Brackets nest inside it, so BODY[HEADER.FIELDS
// (SUBJECT)]<0> and \[test] are one atom.
func (p *parser) atom() (Value, error) {
	t := p.text()
	start := p.pos
	depth := 0
	i := p.pos
loop:
	for i < len(t) {
		switch t[i] {
		case '[':
			depth++
		case ']':
			if depth > 0 {
				depth--
			}
		case ' ', '(', ')':
			if depth == 0 {
				break loop
			}
		case '"':
			if depth == 0 {
				break loop
			}
		}
		i++
	}
	if i == start {
		return Value{}, p.errf("unexpected character " + strconv.QuoteRune(rune(t[i])))
	}
	p.pos = i
	s := string(t[start:i])
	if len(s) == 3 && strings.EqualFold(s, "NIL") {
		return Value{Kind: VNil}, nil
	}
	return Value{Kind: VAtom, S: s}, nil
}
