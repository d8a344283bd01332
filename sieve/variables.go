package sieve

import (
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mailscript/mailscript/protocol/imap"
)

// expand substitutes ${name} and ${N} (RFC 5229 §3); unknown variables are empty.
func (in *interp) expand(s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			b.WriteString(s[i:])
			break
		}
		name := s[i+2 : i+2+end]
		if isNum(name) {
			n, err := strconv.Atoi(name)
			if err == nil && n < len(in.mvars) {
				b.WriteString(in.mvars[n])
			}
			s = s[i+3+end:]
			continue
		}
		if validVarName(name, false) {
			b.WriteString(in.getVar(name))
			s = s[i+3+end:]
			continue
		}
		b.WriteString("${")
		s = s[i+2:]
	}
	in.expanded += b.Len()
	if in.expanded > maxExpanded && in.sticky == nil {
		in.sticky = in.errorf("variables: the run expanded more than %d bytes of strings", maxExpanded)
	}
	if in.sticky != nil {
		return ""
	}
	return b.String()
}

// maxExpanded bounds the bytes variable substitution may produce in one run.
const maxExpanded = 64 << 20

func isNum(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func (in *interp) getVar(name string) string {
	name = strings.ToLower(name)
	if g, ok := strings.CutPrefix(name, "global."); ok {
		return in.globals[g]
	}
	if in.sc.globals[name] {
		return in.globals[name]
	}
	return in.sc.vars[name]
}

func (in *interp) setVar(name, val string) error {
	if len(val) > in.lim.MaxVarSize {
		val = val[:in.lim.MaxVarSize]
		for !utf8.ValidString(val) && len(val) > 0 {
			val = val[:len(val)-1]
		}
	}
	name = strings.ToLower(name)
	m := in.sc.vars
	if g, ok := strings.CutPrefix(name, "global."); ok {
		name, m = g, in.globals
	} else if strings.Contains(name, ".") {
		return in.errorf("set: cannot assign to variable '%s' of a namespace", name)
	} else if in.sc.globals[name] {
		m = in.globals
	}
	if _, ok := m[name]; !ok && len(m) >= in.lim.MaxVariables {
		return in.errorf("set: too many variables (max %d)", in.lim.MaxVariables)
	}
	m[name] = val
	return nil
}

func (in *interp) set(c *cargs) error {
	name := in.str(&c.pos[0])
	val := in.str(&c.pos[1])
	// modifiers by precedence: 40 case, 30 first letter, 20 quoting, 10 length (RFC 5229 §4.1)
	if c.tags["lower"] != nil {
		val = strings.ToLower(val)
	}
	if c.tags["upper"] != nil {
		val = strings.ToUpper(val)
	}
	if c.tags["lowerfirst"] != nil && val != "" {
		r, n := utf8.DecodeRuneInString(val)
		val = string(unicode.ToLower(r)) + val[n:]
	}
	if c.tags["upperfirst"] != nil && val != "" {
		r, n := utf8.DecodeRuneInString(val)
		val = string(unicode.ToUpper(r)) + val[n:]
	}
	if c.tags["quotewildcard"] != nil {
		r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`)
		val = r.Replace(val)
		if len(val) > in.lim.MaxVarSize {
			// Cut at the limit without splitting an escape pair.
			val = val[:in.lim.MaxVarSize]
			n := len(val) - len(strings.TrimRight(val, `\`))
			if n%2 == 1 {
				val = val[:len(val)-1]
			}
		}
	}
	if c.tags["quoteregex"] != nil {
		val = regexp.QuoteMeta(val)
	}
	if c.tags["encodeurl"] != nil {
		val = encodeURL(val)
	}
	if c.tags["length"] != nil {
		val = strconv.Itoa(utf8.RuneCountInString(val))
	}
	return in.setVar(name, val)
}

func encodeURL(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlpha(c) && c != '_' || isDigit(c) || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(strconv.FormatUint(uint64(c)|0x100, 16)[1:]))
		}
	}
	return b.String()
}

func convertCharset(cs string, b []byte) (string, error) {
	r, err := imap.CharsetReader(cs, strings.NewReader(string(b)))
	if err != nil {
		return "", err
	}
	out, err := io.ReadAll(io.LimitReader(r, int64(4*len(b)+16)))
	return string(out), err
}
