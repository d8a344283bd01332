package imap

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Int2AP converts n to imaplib's tag-prefix letters (A..P, base 16).
func Int2AP(n int) string {
	if n < 0 {
		n = -n
	}
	var buf [16]byte
	i := len(buf)
	for n > 0 {
		i--
		buf[i] = byte('A' + n%16)
		n /= 16
	}
	return string(buf[i:])
}

var flagsRE = regexp.MustCompile(`.*FLAGS \(([^)]*)\)`)

// ParseFlags returns the flags of a response containing "FLAGS (...)"
// (imaplib's ParseFlags); no match gives an empty list. A bare "(...)"
// list, as in a PERMANENTFLAGS code, is accepted too.
func ParseFlags(s string) []string {
	if m := flagsRE.FindStringSubmatch(s); m != nil {
		return strings.Fields(m[1])
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "(") {
		if i := strings.IndexByte(s, ')'); i > 0 {
			return strings.Fields(s[1:i])
		}
	}
	return []string{}
}

var internalDateRE = regexp.MustCompile(`.*INTERNALDATE "([ 0123][0-9]-[A-Z][a-z][a-z]-[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} [-+][0-9]{4})"`)

// Internaldate2Time parses a response containing INTERNALDATE "..." as
// imaplib's Internaldate2tuple does; ok is false on a wrong format.
func Internaldate2Time(s string) (time.Time, bool) {
	m := internalDateRE.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	t, err := ParseInternalDate(m[1])
	return t, err == nil
}

// ParseInternalDate parses an INTERNALDATE value, "02-Jan-2006 15:04:05 -0700"
// (the day may be space-padded).
func ParseInternalDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if len(s) > 1 && s[1] == '-' {
		s = "0" + s
	}
	return time.Parse("02-Jan-2006 15:04:05 -0700", s)
}

// MonthName is the English abbreviation IMAP dates use (1..12).
func MonthName(m int) string {
	if m < 1 || m > 12 {
		return strconv.Itoa(m)
	}
	return time.Month(m).String()[:3]
}
