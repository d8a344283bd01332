package imap

import (
	"strconv"
	"strings"
)

// CheckFlag returns an error unless s is a flag: a keyword (an atom) or
// a system flag ("\" and an atom, such as \Seen); "\*" is allowed too, as
// servers list it in PERMANENTFLAGS. "]" is allowed, as imaplib allows it
// (CPython's test_bracket_flags stores "[test]"): it cannot end a command.
func CheckFlag(s string) error {
	a := strings.TrimPrefix(s, `\`)
	ok := a != ""
	for i := 0; i < len(a) && ok; i++ {
		ok = isAtomChar(a[i]) || a[i] == ']'
	}
	if ok || s == `\*` {
		return nil
	}
	return &Error{Kind: KindError, Text: "bad flag " + strconv.Quote(s) + ": a flag is an atom, or \\ and an atom"}
}

// Flags sends a flag list such as `\Seen $Junk` or `(\Seen $Junk)`, each
// flag checked by [CheckFlag], in parentheses.
func Flags(s string) Arg {
	return func(e *encoder) {
		if !e.checkControl(s) {
			return
		}
		s := strings.Trim(s, " ")
		if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
			s = s[1 : len(s)-1]
		}
		f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' })
		for _, x := range f {
			if err := CheckFlag(x); err != nil {
				if e.err == nil {
					e.err = err
				}
				return
			}
		}
		list := "(" + strings.Join(f, " ") + ")"
		if !readsAsFlags(list, f) {
			e.fail("bad flags " + strconv.Quote(s) + ": brackets in them would read as one flag")
			return
		}
		e.write(list, false)
	}
}

// readsAsFlags reports whether the decoder reads list back as flags,
// one value each: "[" and "]" nest inside an atom, so "0[ x]" would not.
func readsAsFlags(list string, flags []string) bool {
	if !strings.ContainsAny(list, "[]") {
		return true
	}
	vs, err := parseValues(list)
	if err != nil || len(vs) != 1 || len(vs[0].List) != len(flags) {
		return false
	}
	for i, v := range vs[0].List {
		if v.Kind != VAtom || v.S != flags[i] {
			return false
		}
	}
	return true
}
