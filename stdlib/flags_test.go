package stdlib_test

import (
	"strings"
	"testing"
)

// Flags given to set:flag go through the full flag check: what is not a
// flag ("%x", a quoted string, a nested list) is refused before anything
// is sent, where it used to go out in parentheses.
func TestSetFlagChecksFlags(t *testing.T) {
	for _, flag := range []string{`%x`, `\"x\"`, `(A) (B)`} {
		t.Run(flag, func(t *testing.T) {
			s := newChatty(t, "UIDPLUS")
			out := s.run(t, `local ok, err = pcall(function() set:flag("`+flag+`"); acct:flush() end)
print(ok, err)`)
			if !strings.HasPrefix(out, "false\t") || !strings.Contains(out, "bad flag") {
				t.Fatalf("script printed %q", out)
			}
			if got := s.commands("src"); strings.Contains(got, "STORE") {
				t.Fatalf("sent %q", got)
			}
		})
	}
}
