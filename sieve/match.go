package sieve

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// matcher is one test's match type and comparator (RFC 5228 §2.7, RFC 5231).
type matcher struct {
	typ   string // is, contains, matches, regex, value, count
	relop string // for value and count
	cmp   string // i;octet, i;ascii-casemap, i;ascii-numeric
	re    []*regexp.Regexp
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func (m *matcher) fold(s string) string {
	if m.cmp == "i;ascii-casemap" {
		return asciiLower(s)
	}
	return s
}

// numeric is i;ascii-numeric's value: leading digits, or "infinity" (ok false) when none.
func numeric(s string) (string, bool) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == 0 {
		return "", false
	}
	d := strings.TrimLeft(s[:i], "0")
	return d, true
}

// compare orders a and b under the comparator: -1, 0, 1.
func (m *matcher) compare(a, b string) int {
	if m.cmp == "i;ascii-numeric" {
		x, okx := numeric(a)
		y, oky := numeric(b)
		switch {
		case !okx && !oky:
			return 0
		case !okx:
			return 1
		case !oky:
			return -1
		}
		if len(x) != len(y) {
			if len(x) < len(y) {
				return -1
			}
			return 1
		}
		return strings.Compare(x, y)
	}
	return strings.Compare(m.fold(a), m.fold(b))
}

func relTrue(op string, c int) bool {
	switch op {
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	case "eq":
		return c == 0
	}
	return c != 0
}

// match reports whether any value matches any key; on a :matches or :regex success it
// returns the match variables.
func (m *matcher) match(in *interp, values, keys []string) (bool, []string, error) {
	if m.typ == "count" {
		n := strconv.Itoa(len(values))
		for _, k := range keys {
			if relTrue(m.relop, m.compare(n, k)) {
				return true, nil, nil
			}
		}
		return false, nil, nil
	}
	for _, v := range values {
		for ki, k := range keys {
			if err := in.step(); err != nil {
				return false, nil, err
			}
			switch m.typ {
			case "is":
				if m.compare(v, k) == 0 {
					return true, nil, nil
				}
			case "value":
				if relTrue(m.relop, m.compare(v, k)) {
					return true, nil, nil
				}
			case "contains":
				if m.cmp == "i;ascii-numeric" {
					continue
				}
				if strings.Contains(m.fold(v), m.fold(k)) {
					return true, nil, nil
				}
			case "matches":
				ok, vars, cost := wildcard(m.fold(v), m.fold(k), v)
				in.steps += cost / 64 // backtracking is paid for from the run's step budget
				if err := in.step(); err != nil {
					return false, nil, err
				}
				if ok {
					return true, vars, nil
				}
			case "regex":
				var re *regexp.Regexp
				if ki < len(m.re) {
					re = m.re[ki]
				} else {
					var err error
					if re, err = in.regex(k, m.cmp); err != nil {
						// A key made at run time that is no regexp matches nothing; the run goes on.
						in.res.Warnings = append(in.res.Warnings, err.Error())
						continue
					}
				}
				if sub := re.FindStringSubmatch(v); sub != nil {
					return true, sub, nil
				}
			}
		}
	}
	return false, nil, nil
}

// wildcard matches s against a :matches pattern (* and ?, \ escapes) with the shortest
// match for each wildcard, returning ${0} and one match variable per wildcard, cut from orig.
func wildcard(s, pat, orig string) (bool, []string, int) {
	// Split the pattern into literal runs and wildcards.
	type piece struct {
		lit  string
		wild byte // '*', '?' or 0
	}
	var ps []piece
	var lit strings.Builder
	for i := 0; i < len(pat); i++ {
		c := pat[i]
		switch c {
		case '\\':
			if i+1 < len(pat) {
				i++
				lit.WriteByte(pat[i])
			}
		case '*', '?':
			if lit.Len() > 0 {
				ps = append(ps, piece{lit: lit.String()})
				lit.Reset()
			}
			ps = append(ps, piece{wild: c})
		default:
			lit.WriteByte(c)
		}
	}
	if lit.Len() > 0 {
		ps = append(ps, piece{lit: lit.String()})
	}
	caps := make([][2]int, 0, len(ps))
	var budget int
	var rec func(pi, si int) bool
	rec = func(pi, si int) bool {
		if budget--; budget < 0 {
			return false
		}
		if pi == len(ps) {
			return si == len(s)
		}
		p := ps[pi]
		switch p.wild {
		case 0:
			if !strings.HasPrefix(s[si:], p.lit) {
				return false
			}
			return rec(pi+1, si+len(p.lit))
		case '?':
			if si >= len(s) {
				return false
			}
			n := runeLen(s[si:])
			caps = append(caps, [2]int{si, si + n})
			if rec(pi+1, si+n) {
				return true
			}
			caps = caps[:len(caps)-1]
			return false
		}
		var next string // a literal after the '*' lets the scan jump to where it occurs
		if pi+1 < len(ps) && ps[pi+1].wild == 0 {
			next = ps[pi+1].lit
		}
		for e := si; e <= len(s); e++ {
			if next != "" {
				j := strings.Index(s[e:], next)
				if j < 0 {
					return false
				}
				e += j
			}
			if e > si && e < len(s) && s[e]&0xc0 == 0x80 {
				continue
			}
			caps = append(caps, [2]int{si, e})
			if rec(pi+1, e) {
				return true
			}
			caps = caps[:len(caps)-1]
		}
		return false
	}
	const total = 100000
	budget = total
	if !rec(0, 0) {
		return false, nil, total - budget
	}
	vars := []string{orig}
	for _, c := range caps {
		vars = append(vars, orig[c[0]:c[1]])
	}
	return true, vars, total - budget
}

func runeLen(s string) int {
	if s[0] < 0x80 {
		return 1
	}
	n := 1
	for n < len(s) && s[n]&0xc0 == 0x80 {
		n++
	}
	return n
}

// compileRegex compiles a :regex key as RE2, refusing what RE2 cannot express.
func compileRegex(k string, cmp *arg) (*regexp.Regexp, error) {
	c := "i;ascii-casemap"
	if cmp != nil && len(cmp.strs) == 1 {
		c = strings.ToLower(cmp.strs[0])
	}
	return compileRE(k, c)
}

func compileRE(k, cmp string) (*regexp.Regexp, error) {
	for i := 0; i+1 < len(k); i++ {
		if k[i] == '\\' {
			if k[i+1] >= '1' && k[i+1] <= '9' {
				return nil, fmt.Errorf("back-references (\\%c) cannot be expressed in RE2", k[i+1])
			}
			i++
			continue
		}
		if strings.HasPrefix(k[i:], "(?=") || strings.HasPrefix(k[i:], "(?!") || strings.HasPrefix(k[i:], "(?<=") || strings.HasPrefix(k[i:], "(?<!") {
			return nil, fmt.Errorf("look-around assertions cannot be expressed in RE2")
		}
	}
	pre := "(?s)"
	if cmp == "i;ascii-casemap" {
		pre = "(?si)"
	}
	re, err := regexp.Compile(pre + k)
	if err != nil {
		msg := err.Error()
		msg = strings.TrimPrefix(msg, "error parsing regexp: ")
		return nil, fmt.Errorf("%s", msg)
	}
	return re, nil
}
