package sieve

import "strings"

type address struct {
	local, domain string
	bad           bool // syntactically invalid: only :all sees it, as raw (RFC 5228 §2.7.4)
	raw           string
}

// parseAddrList splits an address header leniently: groups, comments, display names and
// angle brackets as in RFC 5322, but a malformed entry is skipped rather than failing all.
func parseAddrList(v string) []address {
	if strings.TrimSpace(v) == "" {
		return []address{{bad: true}} // an empty field is one empty (invalid) address
	}
	var out []address
	for _, item := range splitTop(v) {
		item = strings.TrimSpace(item)
		if i := groupColon(item); i >= 0 {
			item = strings.TrimSpace(item[i+1:])
		}
		item = strings.TrimSuffix(strings.TrimSpace(item), ";")
		if item == "" {
			continue
		}
		if a, ok := parseAddr(item); ok {
			out = append(out, a)
		} else {
			out = append(out, address{bad: true, raw: item})
		}
		if len(out) >= 1000 {
			break
		}
	}
	return out
}

// splitTop splits on commas outside quotes, comments and angle brackets; a group's
// "name:" and ";" stay with its members.
func splitTop(v string) []string {
	var out []string
	depth, inQ, inA := 0, false, false
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case inQ:
			if c == '\\' {
				i++
			} else if c == '"' {
				inQ = false
			}
		case c == '"':
			inQ = true
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth > 0:
		case c == '<':
			inA = true
		case c == '>':
			inA = false
		case (c == ',' || c == ';') && !inA:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

func groupColon(s string) int {
	inQ := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQ = !inQ
		case '<', '@':
			if !inQ {
				return -1
			}
		case ':':
			if !inQ {
				return i
			}
		}
	}
	return -1
}

func stripComments(s string) string {
	var b strings.Builder
	depth, inQ := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQ:
			b.WriteByte(c)
			if c == '\\' && i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			} else if c == '"' {
				inQ = false
			}
		case c == '"' && depth == 0:
			inQ = true
			b.WriteByte(c)
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// parseAddr reads one address: "Name <a@b>", "a@b (comment)" or "<a@b>".
func parseAddr(s string) (address, bool) {
	s = stripComments(s)
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			return address{}, false
		}
		s = s[i+1 : i+j]
		if k := strings.LastIndexByte(s, ':'); k >= 0 && strings.HasPrefix(s, "@") {
			s = s[k+1:] // drop a source route
		}
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return address{}, false
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return address{}, false
	}
	local := strings.TrimSpace(s[:at])
	if len(local) >= 2 && local[0] == '"' && local[len(local)-1] == '"' {
		local = unquote(local[1 : len(local)-1])
	} else if !validLocal(local) || !isASCII(local) {
		return address{}, false // 8-bit local parts are not RFC 5322 (as Pigeonhole 0.5 reads them)
	}
	domain := strings.TrimSpace(s[at+1:])
	if !validDomain(domain) {
		return address{}, false
	}
	return address{local: local, domain: domain}, true
}

func unquote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parsePath reads an SMTP path (RFC 5321 §4.1.2), with or without angle brackets and with an
// optional source route; "" and "<>" are the null path. ok is false for a malformed path.
func parsePath(s string) (a address, null, ok bool) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "<") || strings.HasSuffix(s, ">") {
		if !strings.HasPrefix(s, "<") || !strings.HasSuffix(s, ">") || len(s) < 2 {
			return address{}, false, false
		}
		s = s[1 : len(s)-1]
		if strings.ContainsAny(s, "<>") {
			return address{}, false, false
		}
	}
	if s == "" {
		return address{}, true, true
	}
	if strings.HasPrefix(s, "@") {
		i := strings.IndexByte(s, ':')
		if i < 0 {
			return address{}, false, false
		}
		for _, hop := range strings.Split(s[:i], ",") {
			if !strings.HasPrefix(hop, "@") || !validDomain(hop[1:]) {
				return address{}, false, false
			}
		}
		s = s[i+1:]
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		if !validLocal(s) {
			return address{}, false, false
		}
		return address{local: s}, false, true // a local part only, as MAILER-DAEMON
	}
	local, domain := s[:at], s[at+1:]
	if len(local) >= 2 && local[0] == '"' && local[len(local)-1] == '"' {
		local = unquote(local[1 : len(local)-1])
	} else if !validLocal(local) {
		return address{}, false, false
	}
	if !validDomain(domain) {
		return address{}, false, false
	}
	return address{local: local, domain: domain}, false, true
}

func validLocal(s string) bool {
	if s == "" {
		return false // dots anywhere are accepted, as real (Japanese) mail has them
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f || strings.IndexByte(`()<>[]:;@\,"`, c) >= 0 {
			return false
		}
	}
	return true
}

func validDomain(s string) bool {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return len(s) > 2
	}
	if s == "" {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(isAlpha(c) || isDigit(c) || c == '-' || c >= 0x80) {
				return false
			}
		}
	}
	return true
}
