package sieve

import (
	"html"
	"strings"
)

// htmlText is the text of an HTML part, for body :text: tags, comments, scripts and styles
// removed, entities decoded, whitespace runs collapsed.
func htmlText(s string) string {
	var b strings.Builder
	lower := strings.ToLower(s)
	for i := 0; i < len(s); {
		if s[i] != '<' {
			j := strings.IndexByte(s[i:], '<')
			if j < 0 {
				j = len(s) - i
			}
			b.WriteString(html.UnescapeString(s[i : i+j]))
			i += j
			continue
		}
		switch {
		case strings.HasPrefix(lower[i:], "<!--"):
			j := strings.Index(s[i:], "-->")
			if j < 0 {
				return collapse(b.String())
			}
			i += j + 3
		case strings.HasPrefix(lower[i:], "<script"), strings.HasPrefix(lower[i:], "<style"):
			tag := "</script"
			if strings.HasPrefix(lower[i:], "<style") {
				tag = "</style"
			}
			j := strings.Index(lower[i:], tag)
			if j < 0 {
				return collapse(b.String())
			}
			i += j + len(tag)
			if k := strings.IndexByte(s[i:], '>'); k >= 0 {
				i += k + 1
			}
		default:
			j := strings.IndexByte(s[i:], '>')
			if j < 0 {
				return collapse(b.String())
			}
			b.WriteByte(' ')
			i += j + 1
		}
	}
	return collapse(b.String())
}

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }
