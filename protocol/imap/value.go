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

// parser reads values from a response's lines and literals. Atoms and
// quoted strings are substrings of one string per line, and each list is
// built on a shared stack and copied out at its exact size: a FETCH
// with an ENVELOPE costs a few allocations, not one per token.
type parser struct {
	parts    []part
	pi, pos  int
	depth    int
	maxDepth int
	maxItems int // values value() may build, see Options.MaxItems
	items    int
	line     string // parts[pi].text as a string, made once
	linePI   int    // the part line belongs to, -1 before the first
	stack    []Value
}

func newParser(parts []part, start, maxDepth int) *parser {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	return &parser{parts: parts, pos: start, maxDepth: maxDepth, maxItems: DefaultMaxItems, linePI: -1}
}

// str returns text()[i:j] as a string without copying it again.
func (p *parser) str(i, j int) string {
	if p.linePI != p.pi {
		p.line, p.linePI = string(p.parts[p.pi].text), p.pi
	}
	return p.line[i:j]
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
	lit, ok := p.literalBytes()
	if !ok {
		return Value{}, false
	}
	return Value{Kind: VLiteral, S: string(lit)}, true
}

// literalBytes passes over the literal at pos, if "{n}" or "~{n}" ends
// the line there, and returns it uncopied.
func (p *parser) literalBytes() ([]byte, bool) {
	t := p.text()
	pt := p.parts[p.pi]
	if !pt.hasLit || p.pi+1 >= len(p.parts) {
		return nil, false
	}
	i := p.pos
	if t[i] == '~' {
		i++
	}
	if i >= len(t) || t[i] != '{' || t[len(t)-1] != '}' {
		return nil, false
	}
	for _, c := range t[i+1 : len(t)-1] {
		if c < '0' || c > '9' {
			return nil, false
		}
	}
	p.pi++
	p.pos = 0
	return pt.lit, true
}

// skip passes over one value without building it (a FETCH item decoded
// only if asked for later).
func (p *parser) skip() error {
	p.skipSP()
	t := p.text()
	if p.pos >= len(t) {
		return p.errf("unexpected end of response")
	}
	switch c := t[p.pos]; c {
	case '(':
		p.depth++
		if p.depth > p.maxDepth {
			return p.errf("nesting deeper than " + strconv.Itoa(p.maxDepth))
		}
		p.pos++
		for {
			p.skipSP()
			t = p.text()
			if p.pos >= len(t) {
				return p.errf("unterminated list")
			}
			if t[p.pos] == ')' {
				p.pos++
				p.depth--
				return nil
			}
			if err := p.skip(); err != nil {
				return err
			}
		}
	case ')':
		return p.errf("unexpected )")
	case '"':
		for i := p.pos + 1; i < len(t); i++ {
			switch t[i] {
			case '"':
				p.pos = i + 1
				return nil
			case '\\':
				i++
			}
		}
		return p.errf("unterminated quoted string")
	case '{', '~':
		if _, ok := p.literalBytes(); ok {
			return nil
		}
		if c == '{' {
			return p.errf("bad literal")
		}
	}
	end, err := p.atomEnd()
	p.pos = end
	return err
}

func (p *parser) value() (Value, error) {
	if p.items++; p.items > p.maxItems {
		return Value{}, p.errf((&LimitError{Option: "MaxItems", Max: int64(p.maxItems)}).Error())
	}
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
		mark := len(p.stack)
		for {
			p.skipSP()
			t = p.text()
			if p.pos >= len(t) {
				return Value{}, p.errf("unterminated list")
			}
			if t[p.pos] == ')' {
				p.pos++
				p.depth--
				list := make([]Value, len(p.stack)-mark)
				copy(list, p.stack[mark:])
				clear(p.stack[mark:])
				p.stack = p.stack[:mark]
				return Value{Kind: VList, List: list}, nil
			}
			v, err := p.value()
			if err != nil {
				return Value{}, err
			}
			p.stack = append(p.stack, v)
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
			var s string
			if b != nil {
				s = string(append(b, t[start:i]...))
			} else {
				s = p.str(start, i)
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
	start := p.pos
	i, err := p.atomEnd()
	if err != nil {
		return Value{}, err
	}
	p.pos = i
	t := p.text()
	if i-start == 3 && (t[start]|0x20) == 'n' && (t[start+1]|0x20) == 'i' && (t[start+2]|0x20) == 'l' {
		return Value{Kind: VNil}, nil
	}
	return Value{Kind: VAtom, S: p.str(start, i)}, nil
}

// atomEnd returns where the atom at pos ends.
func (p *parser) atomEnd() (int, error) {
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
		return i, p.errf("unexpected character " + strconv.QuoteRune(rune(t[i])))
	}
	return i, nil
}
