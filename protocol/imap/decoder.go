package imap

import (
	"bytes"
	"strconv"
	"strings"
)

// This file is the package's one reader of the IMAP grammar (RFC 9051 §9,
// RFC 3501 §9): the character classes, the lexical scanners (quoted
// strings, atoms, literal announcements) and the decoder built on them.
// Response framing, response classification, value decoding and the
// encoder's checks of caller-written syntax all go through it, so what
// the client sends and what it reads are judged by the same rules.

// Character classes of the grammar.
const (
	clAtom    uint8 = 1 << iota // ATOM-CHAR: not a control, space, 8-bit or atom-special
	clWild                      // list-wildcards: % *
	clRespSp                    // resp-specials: ]
	clQuoteSp                   // quoted-specials: " \
	clTypeCh                    // the letters, digits and "-" of a response type or code
)

var charClass = func() (t [256]uint8) {
	for c := 0x21; c < 0x7f; c++ {
		t[c] = clAtom
	}
	for _, c := range []byte(`(){%*"\]`) {
		t[c] &^= clAtom
	}
	t['%'] |= clWild
	t['*'] |= clWild
	t[']'] |= clRespSp
	t['"'] |= clQuoteSp
	t['\\'] |= clQuoteSp
	for c := 'A'; c <= 'Z'; c++ {
		t[c] |= clTypeCh
		t[c+'a'-'A'] |= clTypeCh
	}
	for c := '0'; c <= '9'; c++ {
		t[c] |= clTypeCh
	}
	t['-'] |= clTypeCh
	return t
}()

// isAtomChar is RFC 3501's ATOM-CHAR: any 7-bit char but the controls,
// space and the atom-specials ( ) { % * " \ ].
func isAtomChar(c byte) bool { return charClass[c]&clAtom != 0 }

func isAlpha(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }

// validAtom reports whether s is one atom.
func validAtom(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAtomChar(s[i]) {
			return false
		}
	}
	return true
}

// quotedEnd returns the index just past the quoted string starting at
// t[i] == '"', or -1 if it is unterminated. strict allows only the
// grammar's escapes (\" and \\), as the encoder needs; the decoder is
// lenient, as imaplib is.
func quotedEnd(t []byte, i int, strict bool) int {
	for i++; i < len(t); i++ {
		switch t[i] {
		case '"':
			return i + 1
		case '\\':
			i++
			if strict && (i >= len(t) || charClass[t[i]]&clQuoteSp == 0) {
				return -1
			}
		}
	}
	return -1
}

// wordEnd returns where the bare word starting at t[i] ends: at a space,
// a parenthesis or a quote. With brackets, "[...]" nests inside the
// word, so BODY[HEADER.FIELDS (SUBJECT)]<0> and \[test] are one word;
// a "[" the line never closes does not nest (a flag "0[" in "(0[)").
func wordEnd(t []byte, i int, brackets bool) int {
	depth, start := 0, i
	for ; i < len(t); i++ {
		switch t[i] {
		case '[':
			if brackets {
				depth++
			}
		case ']':
			if depth > 0 {
				depth--
			}
		case ' ', '(', ')', '"':
			if depth == 0 {
				return i
			}
		}
	}
	if depth > 0 {
		return wordEnd(t, start, false)
	}
	return i
}

// lineLiteral reads the literal announcement "{n}" or "~{n}" ending a
// line: ok says there is one, bad that its number does not fit.
func lineLiteral(line []byte) (n int64, binary, ok, bad bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false, false, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 || i+1 == len(line)-1 {
		return 0, false, false, false
	}
	digits := line[i+1 : len(line)-1]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false, false, false
		}
	}
	v, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil {
		return 0, false, true, true
	}
	return v, i > 0 && line[i-1] == '~', true, false
}

// parenDepth adds the parenthesis depth change of b to depth, quoted
// strings skipped.
func parenDepth(b []byte, depth int) int {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			j := quotedEnd(b, i, false)
			if j < 0 {
				return depth
			}
			i = j - 1
		case '(':
			depth++
		case ')':
			depth--
		}
	}
	return depth
}

// codeEnd returns the index of the "]" closing the response code that
// t[0] == '[' opens. Brackets nest and quoted strings are skipped, so a
// flag such as \[test] inside PERMANENTFLAGS survives (imaplib's greedy
// expression keeps it too); without a balanced "]" the last one counts.
func codeEnd(t []byte) int {
	depth := 0
	for i := 1; i < len(t); i++ {
		switch t[i] {
		case '"':
			j := quotedEnd(t, i, false)
			if j < 0 {
				return bytes.LastIndexByte(t, ']')
			}
			i = j - 1
		case '[':
			depth++
		case ']':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return bytes.LastIndexByte(t, ']')
}

// classify fills Tag, Type, Num and the code from the first line, as
// imaplib's regular expressions do.
func (r *Response) classify() error {
	line := r.parts[0].text
	if len(line) > 0 && line[0] == '+' {
		r.Tag = "+"
		if len(line) > 1 && line[1] == ' ' {
			r.skip = 2
		} else {
			r.skip = 1
		}
		r.Text = string(line[min(r.skip, len(line)):])
		return nil
	}
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return &ParseError{Line: line, Msg: "unexpected response"}
	}
	r.Tag = string(line[:sp])
	pos := sp + 1
	if r.Tag == "*" && pos < len(line) && line[pos] >= '0' && line[pos] <= '9' {
		j := pos
		for j < len(line) && line[j] >= '0' && line[j] <= '9' {
			j++
		}
		if j == len(line) || line[j] != ' ' {
			return &ParseError{Line: line, Msg: "unexpected response"}
		}
		n, err := strconv.ParseUint(string(line[pos:j]), 10, 32)
		if err != nil {
			return &ParseError{Line: line, Msg: "bad message number"}
		}
		r.Num, r.HasNum = uint32(n), true
		pos = j + 1
	}
	j := typeEnd(line, pos, false)
	if j == pos || (j < len(line) && line[j] != ' ') {
		return &ParseError{Line: line, Msg: "unexpected response"}
	}
	r.Type = strings.ToUpper(string(line[pos:j]))
	r.skip = j
	if j < len(line) {
		r.skip++
	}
	switch r.Type {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
		text := line[min(r.skip, len(line)):]
		if len(r.parts) == 1 {
			r.Text = string(text)
		} else { // one copy, not one per literal
			var b bytes.Buffer
			b.Write(text)
			for _, p := range r.parts[1:] {
				b.Write(p.text)
			}
			text = b.Bytes()
			r.Text = string(text)
		}
		r.parseCode(text)
	}
	return nil
}

// typeEnd returns where a response type (dot: or a code) starting at
// t[i] ends: a letter, then letters, digits and "-".
func typeEnd(t []byte, i int, dot bool) int {
	j := i
	for j < len(t) {
		c := t[j]
		if !(isAlpha(c) || c == '-' || j > i && charClass[c]&clTypeCh != 0 || dot && c == '.') {
			break
		}
		j++
	}
	return j
}

// parseCode reads "[CODE arg]" at the start of text (Text's bytes).
func (r *Response) parseCode(t []byte) {
	if len(t) < 3 || t[0] != '[' {
		return
	}
	end := codeEnd(t)
	if end < 0 {
		return
	}
	inner := t[1:end]
	j := typeEnd(inner, 0, true)
	if j == 0 || (j < len(inner) && inner[j] != ' ') {
		return
	}
	r.Code = strings.ToUpper(string(inner[:j]))
	r.HasCode = true
	if j < len(inner) {
		r.CodeArg = string(inner[j+1:])
	}
}

// decoder reads values from a response's lines and literals. Its error
// is sticky: after the first failure every method does nothing and
// returns zero values, and the caller checks err once. Atoms and quoted
// strings are substrings of one string per line, and each list is built
// on a shared stack and copied out at its exact size: a FETCH with an
// ENVELOPE costs a few allocations, not one per token.
type decoder struct {
	parts    []part
	pi, pos  int
	depth    int
	maxDepth int
	maxItems int // values value may build, see Options.MaxItems
	items    int
	line     string // parts[pi].text as a string, made once
	linePI   int    // the part line belongs to, -1 before the first
	stack    []Value
	err      error
}

func newDecoder(parts []part, start, maxDepth int) *decoder {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	return &decoder{parts: parts, pos: start, maxDepth: maxDepth, maxItems: DefaultMaxItems, linePI: -1}
}

// stringDecoder reads s, a text without literals (a value the caller
// wrote, or one line).
func stringDecoder(s string) *decoder {
	return newDecoder([]part{{text: []byte(s)}}, 0, 0)
}

// parseValues parses a string (no literals) into values.
func parseValues(s string) ([]Value, error) { return stringDecoder(s).rest() }

// str returns text()[i:j] as a string without copying it again.
func (p *decoder) str(i, j int) string {
	if p.linePI != p.pi {
		p.line, p.linePI = string(p.parts[p.pi].text), p.pi
	}
	return p.line[i:j]
}

// fail records the first error, quoting the line it is in.
func (p *decoder) fail(msg string) {
	if p.err != nil {
		return
	}
	var line []byte
	if p.pi < len(p.parts) {
		line = p.parts[p.pi].text
	}
	p.err = &ParseError{Line: line, Msg: msg}
}

func (p *decoder) text() []byte { return p.parts[p.pi].text }

// skipSP passes over spaces; servers send a stray one at times.
func (p *decoder) skipSP() {
	t := p.text()
	for p.pos < len(t) && t[p.pos] == ' ' {
		p.pos++
	}
}

// peek returns the next byte after spaces; ok is false at a line's end.
func (p *decoder) peek() (byte, bool) {
	p.skipSP()
	if t := p.text(); p.pos < len(t) {
		return t[p.pos], true
	}
	return 0, false
}

// atEnd reports whether the whole response has been consumed (or the
// decoder has failed).
func (p *decoder) atEnd() bool {
	if p.err != nil {
		return true
	}
	p.skipSP()
	return p.pi == len(p.parts)-1 && p.pos >= len(p.text())
}

// rest parses every remaining value.
func (p *decoder) rest() ([]Value, error) {
	var out []Value
	for !p.atEnd() {
		v := p.readValue()
		if p.err != nil {
			return nil, p.err
		}
		out = append(out, v)
	}
	return out, p.err
}

// literalBytes passes over the literal at pos, if "{n}" or "~{n}" ends
// the line there, and returns it uncopied.
func (p *decoder) literalBytes() ([]byte, bool) {
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

// open enters a list at "(", within the depth limit.
func (p *decoder) open() bool {
	p.depth++
	if p.depth > p.maxDepth {
		p.fail("nesting deeper than " + strconv.Itoa(p.maxDepth))
		return false
	}
	p.pos++
	return true
}

// skip passes over one value without building it (a FETCH item decoded
// only if asked for later).
func (p *decoder) skip() error {
	c, ok := p.peek()
	switch {
	case p.err != nil:
	case !ok:
		p.fail("unexpected end of response")
	case c == '(':
		if !p.open() {
			break
		}
		for p.err == nil {
			c, ok := p.peek()
			if !ok {
				p.fail("unterminated list")
				break
			}
			if c == ')' {
				p.pos++
				p.depth--
				break
			}
			p.skip()
		}
	case c == '"':
		if end := quotedEnd(p.text(), p.pos, false); end >= 0 {
			p.pos = end
		} else {
			p.fail("unterminated quoted string")
		}
	default:
		p.atomOrLiteral(p.text(), false)
	}
	return p.err
}

// value reads one value.
func (p *decoder) value() (Value, error) {
	v := p.readValue()
	return v, p.err
}

func (p *decoder) readValue() Value {
	if p.err != nil {
		return Value{}
	}
	if p.items++; p.items > p.maxItems {
		p.fail((&LimitError{Option: "MaxItems", Max: int64(p.maxItems)}).Error())
		return Value{}
	}
	t := p.text() // peek, inline: this is the hot path of every FETCH
	for p.pos < len(t) && t[p.pos] == ' ' {
		p.pos++
	}
	if p.pos >= len(t) {
		p.fail("unexpected end of response")
		return Value{}
	}
	switch t[p.pos] {
	case '(':
		return p.list()
	case '"':
		return p.quoted()
	}
	return p.atomOrLiteral(t, true)
}

// list reads a parenthesised list at "(".
func (p *decoder) list() Value {
	if !p.open() {
		return Value{}
	}
	mark := len(p.stack)
	for {
		t := p.text()
		for p.pos < len(t) && t[p.pos] == ' ' {
			p.pos++
		}
		if p.pos >= len(t) {
			p.fail("unterminated list")
			return Value{}
		}
		if t[p.pos] == ')' {
			p.pos++
			p.depth--
			list := make([]Value, len(p.stack)-mark)
			copy(list, p.stack[mark:])
			clear(p.stack[mark:])
			p.stack = p.stack[:mark]
			return Value{Kind: VList, List: list}
		}
		v := p.readValue()
		if p.err != nil {
			return Value{}
		}
		p.stack = append(p.stack, v)
	}
}

// quoted reads a quoted string at '"', unescaped.
func (p *decoder) quoted() Value {
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
			return Value{Kind: VQuoted, S: s}
		case '\\':
			if i+1 >= len(t) {
				p.fail("bad escape in quoted string")
				return Value{}
			}
			b = append(b, t[start:i]...)
			b = append(b, t[i+1])
			i += 2
			start = i
			continue
		}
		i++
	}
	p.fail("unterminated quoted string")
	return Value{}
}

// atomOrLiteral reads a literal ("{n}" or "~{n}" ending the line), NIL
// or an atom (brackets nesting inside it); build false only passes over it.
func (p *decoder) atomOrLiteral(t []byte, build bool) Value {
	switch c := t[p.pos]; c {
	case ')':
		p.fail("unexpected )")
		return Value{}
	case '{', '~':
		if lit, ok := p.literalBytes(); ok {
			if !build {
				return Value{}
			}
			return Value{Kind: VLiteral, S: string(lit)}
		}
		if c == '{' {
			p.fail("bad literal")
			return Value{}
		}
	}
	start := p.pos
	i := wordEnd(t, start, true)
	if i == start {
		p.fail("unexpected character " + strconv.QuoteRune(rune(t[i])))
		return Value{}
	}
	p.pos = i
	if !build {
		return Value{}
	}
	if i-start == 3 && (t[start]|0x20) == 'n' && (t[start+1]|0x20) == 'i' && (t[start+2]|0x20) == 'l' {
		return Value{Kind: VNil}
	}
	return Value{Kind: VAtom, S: p.str(start, i)}
}

// isQuoted reports whether s is exactly one well-formed quoted string.
func isQuoted(s string) bool {
	b := []byte(s)
	return len(b) >= 2 && b[0] == '"' && quotedEnd(b, 0, true) == len(b)
}

// isParenthesised reports whether s is one parenthesised list of the
// grammar (quoted strings and bracketed words inside it as the decoder
// reads them).
func isParenthesised(s string) bool {
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return false
	}
	d := stringDecoder(s)
	return d.skip() == nil && d.atEnd()
}

// rawToken is one token of caller-written syntax: a quoted string, a
// parenthesis or space, or a bare word.
type rawToken struct {
	text   string
	quoted bool
}

// scanRaw splits caller-written syntax into tokens, refusing what would
// change the command's framing: a "{" outside quoted strings (a literal
// announcement, "{8+}", makes the server wait for bytes never sent) and
// an unterminated quoted string. each may be nil.
func scanRaw(s string, each func(rawToken)) string {
	b := []byte(s)
	for i := 0; i < len(b); {
		var tok rawToken
		switch c := b[i]; c {
		case '"':
			j := quotedEnd(b, i, false)
			if j < 0 {
				return "unterminated quoted string in " + strconv.Quote(s)
			}
			tok = rawToken{text: s[i:j], quoted: true}
		case ' ', '(', ')':
			tok = rawToken{text: s[i : i+1]}
		default:
			j := wordEnd(b, i, true) // as the decoder reads words
			if k := bytes.IndexByte(b[i:j], '{'); k >= 0 {
				return "a literal announcement (\"{\") is not allowed in " + strconv.Quote(s)
			}
			tok = rawToken{text: s[i:j]}
		}
		if each != nil {
			each(tok)
		}
		i += len(tok.text)
	}
	return ""
}

// checkRaw is scanRaw's verdict alone.
func checkRaw(s string) string { return scanRaw(s, nil) }
