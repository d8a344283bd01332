package imap

import (
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
