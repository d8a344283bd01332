package imap

import "strings"

// normalSection is the canonical form of a FETCH section spec as a server
// echoes it, the key of [FetchMessage.Body]: keywords and header field
// names upper case, field names unquoted, single spaces. Servers differ:
// Courier echoes HEADER.FIELDS ("SUBJECT") for HEADER.FIELDS (SUBJECT),
// Dovecot the field names in the case they were asked in.
func normalSection(s string) string {
	open := strings.IndexByte(s, '(')
	if open < 0 {
		return strings.ToUpper(strings.TrimSpace(s))
	}
	close := strings.LastIndexByte(s, ')')
	if close < open {
		return strings.ToUpper(strings.TrimSpace(s))
	}
	var fields []string
	rest := s[open+1 : close]
	for {
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			break
		}
		var f string
		if rest[0] == '"' {
			var b strings.Builder
			i := 1
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
				}
				b.WriteByte(rest[i])
			}
			f, rest = b.String(), rest[min(i+1, len(rest)):]
		} else {
			i := strings.IndexByte(rest, ' ')
			if i < 0 {
				i = len(rest)
			}
			f, rest = rest[:i], rest[i:]
		}
		fields = append(fields, strings.ToUpper(f))
	}
	return strings.ToUpper(strings.TrimSpace(s[:open])) + " (" + strings.Join(fields, " ") + ")" + s[close+1:]
}
