package mailsrv

import (
	"fmt"
	"os"
	"regexp"
	"testing"
)

// Shared returns the server, starting it on first use; it fails t with a
// message naming what (e.g. "Cyrus") when the server cannot run.
func (o *Once[S]) Shared(t testing.TB, what string, start func() (*S, error)) *S {
	t.Helper()
	s, err := o.Get(start)
	if err != nil {
		t.Fatal("these tests need "+what+": ", err)
	}
	return s
}

// Main runs the tests of m, then stops the server if one was started, and
// exits with the tests' code.
func (o *Once[S]) Main(m *testing.M, stop func(*S)) {
	code := m.Run()
	o.Stop(stop)
	os.Exit(code)
}

var userName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// CheckUser refuses a user name that is not 1 to 64 lower-case letters,
// digits, - and _ (the first a letter or digit); pkg starts the error.
func CheckUser(pkg, name string) error {
	if !userName.MatchString(name) {
		return fmt.Errorf("%s: user name %q: use lower-case letters, digits, - and _", pkg, name)
	}
	return nil
}

// User adds name with add or fails t, and returns it.
func User(t testing.TB, add func(string) error, name string) string {
	t.Helper()
	if err := add(name); err != nil {
		t.Fatal(err)
	}
	return name
}
