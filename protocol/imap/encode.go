package imap

import (
	"bytes"
	"strconv"
	"strings"
)

// piece is a run of command text, or a literal.
type piece struct {
	text   []byte
	lit    []byte
	isLit  bool
	binary bool // ~{n}
	plus   bool // LITERAL+: sent without waiting for "+" (see syncLiterals)
	secret bool // shown as *** in traces
}

// encoder builds a command line. It never lets NUL, CR or LF through
// outside a literal, so no argument can start a second command.
type encoder struct {
	pieces []piece
	utf8   bool // UTF8=ACCEPT enabled: 8-bit text may go quoted
	err    error
}

// Arg is one argument of a command; build them with [Atom], [AString],
// [Mailbox], [Pattern], [Quote], [Set], [Paren], [Raw], [LiteralArg].
type Arg func(*encoder)

func (e *encoder) fail(msg string) {
	if e.err == nil {
		e.err = &Error{Kind: KindError, Text: msg}
	}
}

func (e *encoder) write(s string, secret bool) {
	if n := len(e.pieces); n > 0 && !e.pieces[n-1].isLit && e.pieces[n-1].secret == secret {
		e.pieces[n-1].text = append(e.pieces[n-1].text, s...)
		return
	}
	e.pieces = append(e.pieces, piece{text: []byte(s), secret: secret})
}

func (e *encoder) literal(b []byte, binary, secret bool) {
	e.pieces = append(e.pieces, piece{lit: b, isLit: true, binary: binary, secret: secret})
}

// checkControl refuses NUL, CR and LF, as imaplib does before sending.
func (e *encoder) checkControl(s string) bool {
	if strings.ContainsAny(s, "\x00\r\n") {
		e.fail("control characters not allowed in commands (NUL, CR or LF in an argument)")
		return false
	}
	return true
}

func has8bit(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

// quoteString writes s as a quoted string, or as a literal when it holds
// 8-bit bytes outside UTF-8 mode.
func (e *encoder) quoteString(s string, secret bool) {
	if !e.checkControl(s) {
		return
	}
	if has8bit(s) && !e.utf8 {
		e.literal([]byte(s), false, secret)
		return
	}
	e.write(quote(s), secret)
}

func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// bareOK reports whether s may go bare: an astring's ASTRING-CHARs
// (atom chars and "]"); wild allows the LIST wildcards % and * too.
func bareOK(s string, wild bool) bool {
	allow := clAtom | clRespSp
	if wild {
		allow |= clWild
	}
	for i := 0; i < len(s); i++ {
		if charClass[s[i]]&allow == 0 {
			return false
		}
	}
	return s != ""
}

func (e *encoder) astring(s string, wild bool) {
	if !e.checkControl(s) {
		return
	}
	switch {
	case isQuoted(s) && (e.utf8 || !has8bit(s)):
		e.write(s, false)
	case bareOK(s, wild):
		e.write(s, false)
	default:
		e.quoteString(s, false)
	}
}

// Atom sends s, which must be one atom of the grammar (a command keyword
// such as +FLAGS or UNSEEN, a keyword flag): no space, control, 8-bit
// byte or ( ) { % * " \ ].
func Atom(s string) Arg {
	return func(e *encoder) {
		if !e.checkControl(s) {
			return
		}
		if !validAtom(s) {
			e.fail("bad atom " + strconv.Quote(s) + ": no spaces, ( ) { % * \" \\ or ]")
			return
		}
		e.write(s, false)
	}
}

// AString sends s as an atom when it can be one, else as a quoted string
// (or a literal when it holds 8-bit bytes). A string that is already one
// well-formed quoted string goes as it is.
func AString(s string) Arg { return func(e *encoder) { e.astring(s, false) } }

// Mailbox sends a mailbox name: UTF-8 names are encoded to modified UTF-7
// unless UTF8=ACCEPT is enabled; names already in modified UTF-7 go as
// they are.
func Mailbox(name string) Arg {
	return func(e *encoder) { e.astring(mailboxName(name, e.utf8), false) }
}

// Pattern sends a LIST pattern: like [Mailbox], but % and * stay bare.
func Pattern(p string) Arg {
	return func(e *encoder) { e.astring(mailboxName(p, e.utf8), true) }
}

func mailboxName(name string, utf8 bool) string {
	if utf8 || isQuoted(name) || (!has8bit(name) && validUTF7(name)) {
		return name
	}
	return EncodeUTF7(name)
}

// Quote always sends s as a quoted string (LOGIN's password), or a
// literal when it holds 8-bit bytes; secret hides it in traces.
func Quote(s string, secret bool) Arg { return func(e *encoder) { e.quoteString(s, secret) } }

// Set sends a message sequence set such as "1:5,7,*" or "$".
func Set(s string) Arg {
	return func(e *encoder) {
		if s == "" {
			e.fail("empty message set")
			return
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= '0' && c <= '9' || c == ':' || c == ',' || c == '*' || c == '$') {
				e.fail("bad message set " + strconv.Quote(s))
				return
			}
		}
		e.write(s, false)
	}
}

// Paren sends s in parentheses unless it already is one parenthesised
// list (STATUS items, SORT criteria; flags: see [Flags]). What it sends
// must be one balanced list: "\\Seen) (X" is refused.
func Paren(s string) Arg {
	return func(e *encoder) {
		s := strings.TrimSpace(s)
		if !e.checkControl(s) {
			return
		}
		if msg := checkRaw(s); msg != "" {
			e.fail(msg)
			return
		}
		if isParenthesised(s) {
			e.raw(s)
			return
		}
		if !isParenthesised("(" + s + ")") {
			e.fail("unbalanced parentheses in " + strconv.Quote(s))
			return
		}
		e.write("(", false)
		e.raw(s)
		e.write(")", false)
	}
}

// Raw sends s as IMAP syntax the caller wrote (search criteria, FETCH
// items). NUL, CR, LF, a "{" outside quoted strings and an unterminated
// quoted string are refused; outside UTF-8 mode, a quoted string or word
// holding 8-bit bytes becomes a literal.
func Raw(s string) Arg { return func(e *encoder) { e.raw(s) } }

func (e *encoder) raw(s string) {
	if !e.checkControl(s) {
		return
	}
	if e.utf8 || !has8bit(s) {
		if msg := checkRaw(s); msg != "" {
			e.fail(msg)
		} else {
			e.write(s, false)
		}
		return
	}
	var pieces []piece // written only once the whole text passed
	msg := scanRaw(s, func(t rawToken) {
		switch {
		case !has8bit(t.text):
			pieces = append(pieces, piece{text: []byte(t.text)})
		case t.quoted:
			d := stringDecoder(t.text)
			pieces = append(pieces, piece{lit: []byte(d.quoted().S), isLit: true})
		default:
			pieces = append(pieces, piece{lit: []byte(t.text), isLit: true})
		}
	})
	if msg != "" {
		e.fail(msg)
		return
	}
	for _, p := range pieces {
		if p.isLit {
			e.literal(p.lit, false, false)
		} else {
			e.write(string(p.text), false)
		}
	}
}

// LiteralArg sends b as a literal ({n}, or ~{n} when binary).
func LiteralArg(b []byte, binary bool) Arg {
	return func(e *encoder) { e.literal(b, binary, false) }
}

// normalizeCRLF turns bare CR and LF into CRLF, as imaplib does to APPEND.
func normalizeCRLF(b []byte) []byte {
	if !bytes.ContainsAny(b, "\r\n") {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/40)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\r':
			out = append(out, '\r', '\n')
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, b[i])
		}
	}
	return out
}

// Group sends args in parentheses, separated by spaces (nested search
// keys, for instance).
func Group(args ...Arg) Arg {
	return func(e *encoder) {
		e.write("(", false)
		for i, a := range args {
			if i > 0 {
				e.write(" ", false)
			}
			a(e)
		}
		e.write(")", false)
	}
}
