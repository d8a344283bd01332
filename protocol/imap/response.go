package imap

import (
	"bytes"
	"strconv"
	"strings"
)

// Item is one element of imaplib's data list: a line, or a line whose
// trailing literal was read (imaplib's (header, literal) tuple).
type Item struct {
	Text       string
	Literal    []byte
	HasLiteral bool
}

// part is one line of a response, without its CRLF, and the literal that
// followed it, if any.
type part struct {
	text   []byte
	lit    []byte
	hasLit bool
}

// Response is one server response, untagged, tagged or a continuation.
type Response struct {
	Tag     string // "*" untagged, "+" continuation, otherwise the command's tag
	Type    string // OK, NO, BAD, BYE, PREAUTH, CAPABILITY, FETCH, EXISTS...; upper-case
	Num     uint32 // n of "* n TYPE"
	HasNum  bool
	Code    string // response code of a status response, upper-case ("READ-ONLY")
	CodeArg string // the code's argument ("" when none)
	HasCode bool
	Text    string // status responses: what follows the type, code included (imaplib's data)

	parts []part
	skip  int // bytes of parts[0].text before the data: "* TYPE " or "TAG TYPE "

	size     int64 // bytes read, with partCost per part
	maxDepth int   // the reading client's limits for decoding; 0: defaults
	maxItems int

	// a FETCH decoded as it arrived, while the server was still sending
	fetch    *FetchMessage
	fetchErr error
}

// Untagged reports whether r starts with "*".
func (r *Response) Untagged() bool { return r.Tag == "*" }

// Continuation reports whether r is a "+" request for more data.
func (r *Response) Continuation() bool { return r.Tag == "+" }

// Data returns imaplib's data for the response: for "* TYPE rest" it is
// rest, for "* n TYPE rest" it is "n rest"; a line ending in a literal
// gives a {header, literal} item and the next line follows.
func (r *Response) Data() []Item {
	items := make([]Item, 0, len(r.parts))
	for i, p := range r.parts {
		t := p.text
		if i == 0 {
			t = r.firstData()
		}
		items = append(items, Item{Text: string(t), Literal: p.lit, HasLiteral: p.hasLit})
	}
	return items
}

func (r *Response) firstData() []byte {
	t := r.parts[0].text
	if r.HasNum {
		// "n rest": the number, then whatever followed the type.
		rest := t[min(r.skip, len(t)):]
		n := strconv.FormatUint(uint64(r.Num), 10)
		if len(rest) == 0 {
			return []byte(n)
		}
		return append([]byte(n+" "), rest...)
	}
	return t[min(r.skip, len(t)):]
}

// Line returns the response as received, literals shown as {n}, for messages.
func (r *Response) Line() string {
	var b strings.Builder
	for i, p := range r.parts {
		if i > 0 {
			b.WriteString(" ")
		}
		b.Write(p.text)
	}
	return b.String()
}

// Size is the number of bytes the response held (lines and literals).
func (r *Response) Size() int {
	n := 0
	for _, p := range r.parts {
		n += len(p.text) + len(p.lit) + 2
	}
	return n
}

// literalSize returns n if line ends with "{n}" or "~{n}" (ok), and whether
// the number is malformed.
func literalSize(line []byte) (n int64, binary, ok bool, bad bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false, false, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false, false, false
	}
	digits := line[i+1 : len(line)-1]
	if len(digits) == 0 {
		return 0, false, false, false
	}
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

// parenDepth adds the parenthesis depth change of b, ignoring quoted strings.
func parenDepth(b []byte, depth int) int {
	inQuote := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '(':
			depth++
		case c == ')':
			depth--
		}
	}
	return depth
}

// classify fills Tag, Type, Num and the code from the first line, as
// imaplib's regular expressions do.
func (r *Response) classify() error {
	line := r.parts[0].text
	sp := bytes.IndexByte(line, ' ')
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
	if sp <= 0 {
		return &ParseError{Line: line, Msg: "unexpected response"}
	}
	r.Tag = string(line[:sp])
	rest := line[sp+1:]
	pos := sp + 1
	if r.Tag == "*" && len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' {
		j := bytes.IndexByte(rest, ' ')
		if j < 0 {
			return &ParseError{Line: line, Msg: "unexpected response"}
		}
		n, err := strconv.ParseUint(string(rest[:j]), 10, 32)
		if err != nil {
			return &ParseError{Line: line, Msg: "bad message number"}
		}
		r.Num, r.HasNum = uint32(n), true
		rest = rest[j+1:]
		pos += j + 1
	}
	j := 0
	for j < len(rest) && (isAlpha(rest[j]) || rest[j] == '-' || (j > 0 && rest[j] >= '0' && rest[j] <= '9')) {
		j++
	}
	if j == 0 || (j < len(rest) && rest[j] != ' ') {
		return &ParseError{Line: line, Msg: "unexpected response"}
	}
	r.Type = strings.ToUpper(string(rest[:j]))
	r.skip = pos + j
	if j < len(rest) {
		r.skip++
	}
	switch r.Type {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
		if len(r.parts) == 1 {
			r.Text = string(line[min(r.skip, len(line)):])
		} else { // one copy, not one per literal
			var b strings.Builder
			b.Write(line[min(r.skip, len(line)):])
			for _, p := range r.parts[1:] {
				b.Write(p.text)
			}
			r.Text = b.String()
		}
		r.parseCode()
	}
	return nil
}

func isAlpha(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }

// parseCode reads "[CODE arg]" at the start of Text. Brackets nest, so a
// flag such as \[test] inside PERMANENTFLAGS survives (imaplib's greedy
// expression keeps it too); without a balanced "]" the last one counts.
func (r *Response) parseCode() {
	t := r.Text
	if len(t) < 3 || t[0] != '[' {
		return
	}
	end := codeEnd(t)
	if end < 0 {
		return
	}
	inner := t[1:end]
	j := 0
	for j < len(inner) && (isAlpha(inner[j]) || inner[j] == '-' || (j > 0 && inner[j] >= '0' && inner[j] <= '9') || inner[j] == '.') {
		j++
	}
	if j == 0 || (j < len(inner) && inner[j] != ' ') {
		return
	}
	r.Code = strings.ToUpper(inner[:j])
	r.HasCode = true
	if j < len(inner) {
		r.CodeArg = inner[j+1:]
	}
}

func codeEnd(t string) int {
	depth := 0
	inQuote := false
	for i := 1; i < len(t); i++ {
		switch c := t[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '[':
			depth++
		case c == ']':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return strings.LastIndexByte(t, ']')
}
