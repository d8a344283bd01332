package runtime

import (
	"errors"
	"strings"
	"testing"
)

// FuzzCompile: no source crashes or hangs the compiler; every failure is
// a *ScriptError.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		"return " + strings.Repeat("{", 5000) + strings.Repeat("}", 5000),
		"return " + strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000),
		strings.Repeat("function f() ", 1000) + strings.Repeat("end ", 1000),
		"return 'a'" + strings.Repeat("..'a'", 5000),
		"return 2" + strings.Repeat("^2", 5000),
		"return " + strings.Repeat("- ", 5000) + "x",
		"return " + strings.Repeat("not ", 5000) + "x",
		"x = [[" + strings.Repeat("{", 500) + "]] --[==[ ((( ]==] y = '\\'(('",
		"local t = {" + strings.Repeat("-1, ", 500) + "}",
		"return 1e-5 - -0x10",
	} {
		f.Add(seed)
	}
	rt := New(Options{})
	f.Fuzz(func(t *testing.T, src string) {
		_, err := rt.Compile("fuzz.lua", src)
		var se *ScriptError
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("%T %v", err, err)
		}
		if se != nil && se.Kind == "internal" {
			t.Fatalf("the compiler panicked: %v", err)
		}
	})
}
