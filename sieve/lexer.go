package sieve

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokTag
	tokNumber
	tokString
	tokPunct
	tokBad // characters that make no token; reported already
)

// maxIdentifier is the longest identifier or tag name, as in sievec.
const maxIdentifier = 32

type token struct {
	kind  tokKind
	text  string // identifier, tag (without ':'), string value, or punctuation
	num   uint64
	line  int
	multi bool // a text: string
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of file"
	case tokIdent:
		return fmt.Sprintf("identifier '%s'", t.text)
	case tokTag:
		return fmt.Sprintf("tag ':%s'", t.text)
	case tokNumber:
		return fmt.Sprintf("number %d", t.num)
	case tokString:
		return "string"
	case tokBad:
		return "invalid characters"
	}
	return fmt.Sprintf("'%s'", t.text)
}

// lexer splits a script into tokens (RFC 5228 §8.1). It stops at the first lexical error.
type lexer struct {
	src  string
	pos  int
	line int
	err  *Error   // the error that ended lexing
	soft []*Error // errors after which lexing goes on
}

// softf reports an error and lets lexing go on.
func (l *lexer) softf(line int, format string, args ...any) {
	l.soft = append(l.soft, &Error{Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (l *lexer) fail(line int, format string, args ...any) token {
	if l.err == nil {
		l.err = &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	return token{kind: tokEOF, line: line}
}

func (l *lexer) next() token {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\n':
			l.line++
			l.pos++
		case c == ' ' || c == '\t' || c == '\r':
			l.pos++
		case c == '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case c == '/' && strings.HasPrefix(l.src[l.pos:], "/*"):
			start := l.line
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				return l.fail(start, "end of file before end of bracket comment ('/* ... */') started at line %d", start)
			}
			l.line += strings.Count(l.src[l.pos:l.pos+2+end], "\n")
			l.pos += end + 4
		default:
			return l.token()
		}
	}
	return token{kind: tokEOF, line: l.line}
}

func isAlpha(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (l *lexer) word() string {
	s := l.pos
	for l.pos < len(l.src) && (isAlpha(l.src[l.pos]) || isDigit(l.src[l.pos])) {
		l.pos++
	}
	return l.src[s:l.pos]
}

func (l *lexer) token() token {
	c := l.src[l.pos]
	line := l.line
	switch {
	case strings.IndexByte("[](){},;", c) >= 0:
		l.pos++
		return token{kind: tokPunct, text: string(c), line: line}
	case c == ':':
		l.pos++
		if l.pos >= len(l.src) || !isAlpha(l.src[l.pos]) {
			return l.fail(line, "missing identifier for tag")
		}
		w := l.word()
		if len(w) > maxIdentifier {
			l.softf(line, "tag identifier ':%s...' is too long (max %d characters)", w[:maxIdentifier], maxIdentifier)
		}
		return token{kind: tokTag, text: strings.ToLower(w), line: line}
	case isDigit(c):
		s := l.pos
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
		n, err := strconv.ParseUint(l.src[s:l.pos], 10, 64)
		mul := uint64(1)
		if l.pos < len(l.src) {
			switch l.src[l.pos] {
			case 'k', 'K':
				mul = 1 << 10
			case 'm', 'M':
				mul = 1 << 20
			case 'g', 'G':
				mul = 1 << 30
			}
			if mul > 1 {
				l.pos++
			}
		}
		if err != nil || n > math.MaxUint64/mul {
			l.softf(line, "number is too big (max %d)", uint64(math.MaxUint64))
			return token{kind: tokNumber, line: line}
		}
		if l.pos < len(l.src) && isAlpha(l.src[l.pos]) {
			return l.fail(line, "unexpected character(s) starting with '%c' after number", l.src[l.pos])
		}
		return token{kind: tokNumber, num: n * mul, line: line}
	case c == '"':
		return l.quoted()
	case isAlpha(c):
		w := l.word()
		if strings.EqualFold(w, "text") && l.pos < len(l.src) && l.src[l.pos] == ':' {
			l.pos++
			return l.multiline(line)
		}
		if len(w) > maxIdentifier {
			l.softf(line, "identifier '%s...' is too long (max %d characters)", w[:maxIdentifier], maxIdentifier)
		}
		return token{kind: tokIdent, text: strings.ToLower(w), line: line}
	}
	// A run of characters that make no token is one error; lexing goes on after it.
	if c < 0x20 || c >= 0x7f {
		l.softf(line, "unexpected character 0x%02x", c)
	} else {
		l.softf(line, "unexpected character(s) starting with '%c'", c)
	}
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' || c == '#' || isAlpha(c) || isDigit(c) || strings.IndexByte("[](){},;:", c) >= 0 {
			break
		}
		l.pos++
	}
	return token{kind: tokBad, line: line}
}

func (l *lexer) quoted() token {
	line := l.line
	l.pos++
	var b strings.Builder
	for {
		if l.pos >= len(l.src) {
			return l.fail(line, "end of file before end of quoted string")
		}
		c := l.src[l.pos]
		switch c {
		case '"':
			l.pos++
			return token{kind: tokString, text: b.String(), line: line}
		case '\\':
			l.pos++
			if l.pos >= len(l.src) {
				continue
			}
			c = l.src[l.pos]
		case '\n':
			l.line++
			// A bare LF in a quoted string reads as CRLF, as in Pigeonhole.
			if l.pos == 0 || l.src[l.pos-1] != '\r' {
				b.WriteByte('\r')
			}
		}
		b.WriteByte(c)
		l.pos++
	}
}

func (l *lexer) multiline(line int) token {
	// "text:" *(SP / HTAB) (hash-comment / CRLF)
	for l.pos < len(l.src) && (l.src[l.pos] == ' ' || l.src[l.pos] == '\t') {
		l.pos++
	}
	if l.pos < len(l.src) && l.src[l.pos] == '#' {
		for l.pos < len(l.src) && l.src[l.pos] != '\n' {
			l.pos++
		}
	} else if l.pos < len(l.src) && l.src[l.pos] == '\r' {
		l.pos++
	}
	if l.pos >= len(l.src) || l.src[l.pos] != '\n' {
		return l.fail(line, "invalid character after text: in multi-line string")
	}
	l.pos++
	l.line++
	var b strings.Builder
	for {
		if l.pos >= len(l.src) {
			return l.fail(line, "end of file before end of multi-line string")
		}
		end := strings.IndexByte(l.src[l.pos:], '\n')
		var ln string
		if end < 0 {
			ln = l.src[l.pos:]
			l.pos = len(l.src)
		} else {
			ln = l.src[l.pos : l.pos+end]
			l.pos += end + 1
			l.line++
		}
		ln = strings.TrimSuffix(ln, "\r")
		if ln == "." {
			return token{kind: tokString, text: b.String(), line: line, multi: true}
		}
		if end < 0 {
			return l.fail(line, "end of file before end of multi-line string")
		}
		if strings.HasPrefix(ln, "..") {
			ln = ln[1:]
		}
		b.WriteString(ln)
		b.WriteString("\r\n")
	}
}
