// Package luapat matches Lua 5.1 patterns (the reference manual's §5.4.1):
// classes, sets, the quantifiers * + - ?, anchors, captures, position
// captures, back-references, %b and %f. It exists because gopher-lua's
// matcher compiles the pattern and allocates at every starting position;
// a filter script's s:match("Subject:(.-)\r\n") cost most of its CPU.
package luapat

import (
	"strconv"
	"strings"
)

const (
	maxCaptures   = 32
	capUnfinished = -1
	capPosition   = -2
	esc           = '%'
	// checkEvery steps, the matcher asks whether to go on (a pattern can
	// backtrack for a very long time).
	checkEvery = 1 << 16
	// maxDepth is Lua 5.2's MAXCCALLS: how deep the matcher may recurse
	// (each ?, *, +, - and capture of the pattern can add a level).
	maxDepth = 200
)

// Error is a malformed pattern or a stop asked for by Check.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

type capture struct{ init, len int }

// Capture is one capture of a match: a substring, or a position (1-based)
// for "()".
type Capture struct {
	Text     string
	Position int
	IsPos    bool
}

// Matcher matches one pattern against one subject.
type Matcher struct {
	src, pat string
	level    int
	depth    int
	caps     [maxCaptures]capture
	steps    int
	// Check, if set, is called now and then during long matches; an
	// error stops the match with it.
	Check func() error
}

// Subject is the string being matched.
func (m *Matcher) Subject() string { return m.src }

// New prepares matching pat against src.
func New(src, pat string) *Matcher { return &Matcher{src: src, pat: pat} }

func fail(msg string) { panic(&Error{Msg: msg}) }

// guard turns a panic with *Error into an error.
func guard(err *error) {
	if r := recover(); r != nil {
		e, ok := r.(*Error)
		if !ok {
			panic(r)
		}
		*err = e
	}
}

// MatchAt tries the pattern (from byte p of it) at byte s of the subject
// and returns where the match ends, or -1.
func (m *Matcher) MatchAt(s, p int) (end int, err error) {
	defer guard(&err)
	m.level, m.depth = 0, 0
	return m.match(s, p), nil
}

// Captures returns the captures of the last match, which ran from s to
// e; with no capture in the pattern, whole gives the match itself.
func (m *Matcher) Captures(s, e int, whole bool) (out []Capture, err error) {
	defer guard(&err)
	n := m.level
	if n == 0 && whole {
		return []Capture{{Text: m.src[s:e]}}, nil
	}
	out = make([]Capture, n)
	for i := range n {
		out[i] = m.capture(i, s, e)
	}
	return out, nil
}

// Capture returns capture i of the last match (0-based); with no capture
// in the pattern, capture 0 is the whole match.
func (m *Matcher) Capture(i, s, e int) (c Capture, err error) {
	defer guard(&err)
	return m.capture(i, s, e), nil
}

func (m *Matcher) capture(i, s, e int) Capture {
	if i >= m.level {
		if i != 0 {
			fail("invalid capture index")
		}
		return Capture{Text: m.src[s:e]}
	}
	c := m.caps[i]
	switch c.len {
	case capUnfinished:
		fail("unfinished capture")
	case capPosition:
		return Capture{Position: c.init + 1, IsPos: true}
	}
	return Capture{Text: m.src[c.init : c.init+c.len]}
}

func (m *Matcher) step() {
	m.steps++
	if m.steps%checkEvery == 0 && m.Check != nil {
		if err := m.Check(); err != nil {
			fail(err.Error())
		}
	}
}

// match is lstrlib's: it returns the end of the match of pat[p:] at
// src[s:], or -1.
func (m *Matcher) match(s, p int) int {
	if m.depth++; m.depth > maxDepth {
		fail("pattern too complex")
	}
	r := m.matchHere(s, p)
	m.depth--
	return r
}

func (m *Matcher) matchHere(s, p int) int {
	for {
		m.step()
		if p == len(m.pat) {
			return s
		}
		switch m.pat[p] {
		case '(':
			if p+1 < len(m.pat) && m.pat[p+1] == ')' {
				return m.startCapture(s, p+2, capPosition)
			}
			return m.startCapture(s, p+1, capUnfinished)
		case ')':
			return m.endCapture(s, p+1)
		case esc:
			if p+1 < len(m.pat) {
				switch c := m.pat[p+1]; {
				case c == 'b':
					s = m.matchBalance(s, p+2)
					if s < 0 {
						return -1
					}
					p += 4
					continue
				case c == 'f':
					p += 2
					if p >= len(m.pat) || m.pat[p] != '[' {
						fail("missing '[' after '%f' in pattern")
					}
					ep := m.classEnd(p)
					var prev, cur byte
					if s > 0 {
						prev = m.src[s-1]
					}
					if s < len(m.src) {
						cur = m.src[s]
					}
					if m.matchSet(prev, p, ep-1) || !m.matchSet(cur, p, ep-1) {
						return -1
					}
					p = ep
					continue
				case c >= '0' && c <= '9':
					s = m.matchCapture(s, c)
					if s < 0 {
						return -1
					}
					p += 2
					continue
				}
			}
		case '$':
			if p+1 == len(m.pat) {
				if s == len(m.src) {
					return s
				}
				return -1
			}
		}
		ep := m.classEnd(p)
		ok := s < len(m.src) && m.single(m.src[s], p, ep)
		if ep < len(m.pat) {
			switch m.pat[ep] {
			case '?':
				if ok {
					if r := m.match(s+1, ep+1); r >= 0 {
						return r
					}
				}
				p = ep + 1
				continue
			case '*':
				return m.maxExpand(s, p, ep)
			case '+':
				if !ok {
					return -1
				}
				return m.maxExpand(s+1, p, ep)
			case '-':
				return m.minExpand(s, p, ep)
			}
		}
		if !ok {
			return -1
		}
		s++
		p = ep
	}
}

// classEnd returns the end of the single-character class at p.
func (m *Matcher) classEnd(p int) int {
	c := m.pat[p]
	p++
	switch c {
	case esc:
		if p >= len(m.pat) {
			fail("malformed pattern (ends with '%')")
		}
		return p + 1
	case '[':
		if p < len(m.pat) && m.pat[p] == '^' {
			p++
		}
		for { // the first character is in the set even if it is ']'
			if p >= len(m.pat) {
				fail("malformed pattern (missing ']')")
			}
			c := m.pat[p]
			p++
			if c == esc {
				if p >= len(m.pat) {
					fail("malformed pattern (missing ']')")
				}
				p++
			}
			if p >= len(m.pat) {
				fail("malformed pattern (missing ']')")
			}
			if m.pat[p] == ']' {
				return p + 1
			}
		}
	}
	return p
}

func (m *Matcher) single(c byte, p, ep int) bool {
	switch m.pat[p] {
	case '.':
		return true
	case esc:
		return matchClass(c, m.pat[p+1])
	case '[':
		return m.matchSet(c, p, ep-1)
	}
	return m.pat[p] == c
}

// matchSet matches c against the set [...] from p to its ']' at ec.
func (m *Matcher) matchSet(c byte, p, ec int) bool {
	sig := true
	if m.pat[p+1] == '^' {
		sig = false
		p++
	}
	for p++; p < ec; p++ {
		switch {
		case m.pat[p] == esc:
			p++
			if matchClass(c, m.pat[p]) {
				return sig
			}
		case p+2 < ec && m.pat[p+1] == '-':
			if m.pat[p] <= c && c <= m.pat[p+2] {
				return sig
			}
			p += 2
		case m.pat[p] == c:
			return sig
		}
	}
	return !sig
}

func matchClass(c, cl byte) bool {
	var res bool
	switch lower(cl) {
	case 'a':
		res = isAlpha(c)
	case 'c':
		res = c < 32 || c == 127
	case 'd':
		res = c >= '0' && c <= '9'
	case 'l':
		res = c >= 'a' && c <= 'z'
	case 'p':
		res = isPunct(c)
	case 's':
		res = c == ' ' || (c >= '\t' && c <= '\r')
	case 'u':
		res = c >= 'A' && c <= 'Z'
	case 'w':
		res = isAlpha(c) || (c >= '0' && c <= '9')
	case 'x':
		res = (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'f')
	case 'z':
		res = c == 0
	default:
		return cl == c
	}
	if cl >= 'A' && cl <= 'Z' {
		return !res
	}
	return res
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isAlpha(c byte) bool { return lower(c) >= 'a' && lower(c) <= 'z' }

func isPunct(c byte) bool {
	return c > 32 && c < 127 && !isAlpha(c) && !(c >= '0' && c <= '9')
}

func (m *Matcher) maxExpand(s, p, ep int) int {
	i := 0
	for s+i < len(m.src) && m.single(m.src[s+i], p, ep) {
		i++
	}
	for ; i >= 0; i-- {
		if r := m.match(s+i, ep+1); r >= 0 {
			return r
		}
	}
	return -1
}

func (m *Matcher) minExpand(s, p, ep int) int {
	for {
		if r := m.match(s, ep+1); r >= 0 {
			return r
		}
		if s < len(m.src) && m.single(m.src[s], p, ep) {
			s++
			continue
		}
		return -1
	}
}

func (m *Matcher) startCapture(s, p, what int) int {
	if m.level >= maxCaptures {
		fail("too many captures")
	}
	m.caps[m.level] = capture{init: s, len: what}
	m.level++
	r := m.match(s, p)
	if r < 0 {
		m.level--
	}
	return r
}

func (m *Matcher) endCapture(s, p int) int {
	l := -1
	for i := m.level - 1; i >= 0; i-- {
		if m.caps[i].len == capUnfinished {
			l = i
			break
		}
	}
	if l < 0 {
		fail("invalid pattern capture")
	}
	m.caps[l].len = s - m.caps[l].init
	r := m.match(s, p)
	if r < 0 {
		m.caps[l].len = capUnfinished
	}
	return r
}

func (m *Matcher) matchBalance(s, p int) int {
	if p+1 >= len(m.pat) {
		fail("unbalanced pattern")
	}
	if s >= len(m.src) || m.src[s] != m.pat[p] {
		return -1
	}
	b, e := m.pat[p], m.pat[p+1]
	depth := 1
	for s++; s < len(m.src); s++ {
		switch m.src[s] {
		case e:
			depth--
			if depth == 0 {
				return s + 1
			}
		case b:
			depth++
		}
	}
	return -1
}

func (m *Matcher) matchCapture(s int, c byte) int {
	l := int(c - '1')
	if l < 0 || l >= m.level || m.caps[l].len == capUnfinished {
		fail("invalid capture index")
	}
	cp := m.caps[l]
	n := cp.len
	if n == capPosition { // Lua compares a huge length: never a match
		return -1
	}
	if len(m.src)-s >= n && m.src[cp.init:cp.init+n] == m.src[s:s+n] {
		return s + n
	}
	return -1
}

// HasSpecials reports whether pat has any character that makes it more
// than plain text.
func HasSpecials(pat string) bool {
	for i := 0; i < len(pat); i++ {
		switch pat[i] {
		case '^', '$', '*', '+', '?', '.', '(', ')', '[', ']', '%', '-':
			return true
		}
	}
	return false
}

// literalAt reports whether every match of pat[p:] starts with one
// known byte: a plain character that no quantifier makes optional.
func (m *Matcher) literalAt(p int) (byte, bool) {
	if p >= len(m.pat) {
		return 0, false
	}
	c := m.pat[p]
	switch c {
	case '^', '$', '*', '+', '?', '.', '(', ')', '[', ']', '%', '-':
		return 0, false
	}
	if p+1 < len(m.pat) {
		switch m.pat[p+1] {
		case '*', '?', '-':
			return 0, false
		}
	}
	return c, true
}

// Find looks for the pattern in src from byte init on (a leading '^'
// anchors it there); it returns the match's bounds, or start -1.
func Find(m *Matcher, init int) (start, end int, err error) {
	p := 0
	anchor := len(m.pat) > 0 && m.pat[0] == '^'
	if anchor {
		p = 1
	}
	first, literal := m.literalAt(p)
	for s := init; s <= len(m.src); s++ {
		if literal && !anchor { // no match can start before the next first
			i := strings.IndexByte(m.src[s:], first)
			if i < 0 {
				break
			}
			s += i
		}
		e, err := m.MatchAt(s, p)
		if err != nil {
			return -1, -1, err
		}
		if e >= 0 {
			return s, e, nil
		}
		if anchor {
			break
		}
	}
	return -1, -1, nil
}

func (c Capture) String() string {
	if c.IsPos {
		return strconv.Itoa(c.Position)
	}
	return c.Text
}
