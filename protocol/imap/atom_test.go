package imap

import (
	"testing"
)

// Every place a caller's string goes on the wire as an atom, a flag or
// raw syntax refuses what would change the command's framing, before
// anything is sent; mailbox names are quoted instead.
func TestAtomInjectionRefused(t *testing.T) {
	names := map[string]string{ // mailbox name → how it must go
		`a" b`:  `"a\" b"`,
		`x) (y`: `"x) (y"`,
		`{5}`:   `"{5}"`,
		`foo\`:  `"foo\\"`,
		`%`:     `"%"`,
		`a]`:    `a]`,
	}
	order := []string{`a" b`, `x) (y`, `{5}`, `foo\`, `%`, `a]`}
	addr := fake(t, func(s *session) {
		selected(s)
		for _, n := range order {
			tag := s.expect("CREATE " + names[n])
			s.send(tag + " OK done\r\n")
		}
		tag := s.expect(`STORE 1 +FLAGS (\Seen $Junk [x])`)
		s.send(tag + " OK done\r\n")
		tag = s.expect("NOOP") // nothing of the refused commands came before
		s.send(tag + " OK done\r\n")
	})
	c := dialFake(t, addr)
	selectInbox(t, c)
	for _, n := range order {
		if _, err := c.Create(bg, n); err != nil {
			t.Fatalf("create %q: %v", n, err)
		}
	}
	if _, _, err := c.Store(bg, "1", "+FLAGS", `\Seen $Junk [x]`, false); err != nil {
		t.Fatal(err)
	}
	badFlags := []string{`\Seen) (X`, `{8+}`, "a\r\nb", "a\x00", `%`, `*`, `"x"`, `a\b`, `\`, `(a) (b)`, "\xff"}
	badAtoms := []string{`{8+}`, "A B", "X(", "X)", `X"`, `X\`, "X%", "X*", "X]", "", "X\r\nY", "\xe9"}
	badRaw := []string{`KEYWORD {8+}`, `"unterminated`, "ALL\r\nX LOGOUT", "ALL\x00"}
	var calls []struct {
		what string
		f    func() error
	}
	add := func(what string, f func() error) {
		calls = append(calls, struct {
			what string
			f    func() error
		}{what, f})
	}
	for _, f := range badFlags {
		add("STORE flags "+f, func() error { _, _, err := c.Store(bg, "1", "+FLAGS", f, false); return err })
		add("APPEND flags "+f, func() error { _, _, err := c.Append(bg, "INBOX", f, "", []byte("x")); return err })
	}
	for _, a := range badAtoms {
		add("STORE command "+a, func() error { _, _, err := c.Store(bg, "1", a, `\Seen`, false); return err })
		add("THREAD algorithm "+a, func() error { _, _, err := c.Thread(bg, a, "", []string{"ALL"}, false); return err })
		add("ENABLE "+a, func() error { _, _, err := c.Enable(bg, "CONDSTORE "+a); return err })
		add("XATOM name "+a, func() error { _, err := c.Xatom(bg, a); return err })
	}
	for _, r := range badRaw {
		add("SEARCH "+r, func() error { _, _, err := c.Search(bg, "", []string{r}, false); return err })
		add("FETCH items "+r, func() error { _, _, err := c.Fetch(bg, "1", "(UID "+r+")", false); return err })
		add("SORT search "+r, func() error { _, _, err := c.Sort(bg, "DATE", "", []string{r}, false); return err })
		add("XATOM arg "+r, func() error { _, err := c.Xatom(bg, "XFOO", r); return err })
		add("UID arg "+r, func() error { _, _, err := c.UID(bg, "XBAR", r); return err })
	}
	for _, p := range []string{"DATE) (X", "DATE {8+}", "DATE)"} {
		add("SORT criteria "+p, func() error { _, _, err := c.Sort(bg, p, "", []string{"ALL"}, false); return err })
		add("FETCH items "+p, func() error { _, _, err := c.Fetch(bg, "1", p, false); return err })
		add("STATUS items "+p, func() error { _, _, err := c.Status(bg, "INBOX", p); return err })
		add("SETQUOTA limits "+p, func() error { _, _, err := c.SetQuota(bg, "", p); return err })
	}
	for _, x := range calls {
		err := x.f()
		if err == nil {
			t.Fatalf("%q was accepted", x.what)
		}
		if e, ok := err.(*Error); !ok || e.Kind != KindError {
			t.Fatalf("%q: %v, want a plain error", x.what, err)
		}
	}
	if _, err := c.Noop(bg); err != nil {
		t.Fatal(err)
	}
}

// A Command's name is atoms too: it cannot carry a second command.
func TestCommandNameRefused(t *testing.T) {
	addr := fake(t, func(s *session) {
		s.send(greeting)
		tag := s.expect("NOOP")
		s.send(tag + " OK done\r\n")
	})
	c := dialFake(t, addr)
	for _, n := range []string{"NOOP\r\nX LOGOUT", "", "NOOP ", "X{8+}", "A  B"} {
		err := c.Execute(bg, &Command{Name: n})
		wantKind(t, err, KindError, "bad command name")
	}
	if err := c.Execute(bg, &Command{Name: "NOOP"}); err != nil {
		t.Fatal(err)
	}
}
