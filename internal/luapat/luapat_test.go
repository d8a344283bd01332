package luapat

import (
	"errors"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	for _, c := range []struct {
		src, pat   string
		init       int
		start, end int
		caps       string // captures joined by "|"
	}{
		{"hello world", "o w", 0, 4, 7, ""},
		{"hello world", "o", 5, 7, 8, ""}, // the literal shortcut from init
		{"Subject: hi\r\n", "Subject:%s*([^\r\n]*)", 0, 0, 11, "hi"},
		{"a\nFrom: b\r\n", "\nFrom:([^\r\n]*)", 0, 1, 9, " b"},
		{"aaa", "^a-$", 0, 0, 3, ""},
		{"xaaa", "^a", 0, -1, -1, ""}, // anchored: no scan
		{"key = val", "(%w+)%s*=%s*(%w+)", 0, 0, 9, "key|val"},
		{"f(a(b)c)d", "%b()", 0, 1, 8, ""},
		{"THE (quick) fox", "%f[%a]%a+", 4, 5, 10, ""},
		{"abab", "(ab)%1", 0, 0, 4, "ab"},
		{"abc", "()b()", 0, 1, 2, "2|3"},
		{"", "x*", 0, 0, 0, ""},
	} {
		m := New(c.src, c.pat)
		s, e, err := Find(m, c.init)
		if err != nil || s != c.start || e != c.end {
			t.Errorf("%q %q: got %d %d %v, want %d %d", c.src, c.pat, s, e, err, c.start, c.end)
			continue
		}
		if s < 0 {
			continue
		}
		caps, err := m.Captures(s, e, false)
		var got []string
		for _, x := range caps {
			got = append(got, x.String())
		}
		if err != nil || strings.Join(got, "|") != c.caps {
			t.Errorf("%q %q: captures %q %v, want %q", c.src, c.pat, got, err, c.caps)
		}
	}
}

func TestMalformedAndStopped(t *testing.T) {
	for _, pat := range []string{"%", "[a", "a)", "%b", "%f", "%1"} {
		if _, _, err := Find(New("abc", pat), 0); err == nil {
			t.Errorf("%q: no error", pat)
		}
	}
	// an unclosed capture matches, as in Lua, but cannot be read
	m0 := New("abc", "(()")
	if s, e, err := Find(m0, 0); err != nil || s != 0 {
		t.Fatalf("(() : %d %v", s, err)
	} else if _, err := m0.Captures(s, e, false); err == nil {
		t.Fatal("an unfinished capture was read")
	}
	m := New(strings.Repeat("a", 40), strings.Repeat("a*", 40)+"b")
	stop := errors.New("time is up")
	m.Check = func() error { return stop }
	if _, _, err := Find(m, 0); err == nil || err.Error() != stop.Error() {
		t.Fatalf("a runaway match: %v", err)
	}
	if HasSpecials("invoice") || !HasSpecials("List%-Id") {
		t.Fatal("HasSpecials")
	}
}

func TestTooComplex(t *testing.T) {
	// Lua 5.2's limit: a clean error where an uncapped matcher overflows Go's stack
	m := New(strings.Repeat("a", 1e6), strings.Repeat("a?", 1e6))
	if _, _, err := Find(m, 0); err == nil || err.Error() != "pattern too complex" {
		t.Fatalf("deep pattern: %v", err)
	}
	// 150 levels are fine, and the depth starts afresh at every position
	s, e, err := Find(New("b"+strings.Repeat("a", 150), strings.Repeat("a?", 150)+"$"), 0)
	if err != nil || s != 1 || e != 151 {
		t.Fatalf("150 levels: %d %d %v", s, e, err)
	}
}
