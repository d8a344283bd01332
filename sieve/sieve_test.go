package sieve

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testMsg = "From: Alice <alice+lists@example.org>\r\nTo: bob@example.com\r\nSubject: [golang] digest\r\nMessage-ID: <1@example.org>\r\nX-Spam-Score: 7.5\r\n\r\nHello there.\r\n"

func mustCompile(t *testing.T, src string, o *Options) *Script {
	t.Helper()
	s, err := Compile([]byte(src), o)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return s
}

func run(t *testing.T, src string, env *Env, flags ...string) *Result {
	t.Helper()
	m, err := ParseMessage([]byte(testMsg))
	if err != nil {
		t.Fatal(err)
	}
	m.Flags = flags
	if env == nil {
		env = &Env{}
	}
	return mustCompile(t, src, nil).Run(m, env)
}

func jsonOf(t *testing.T, r *Result) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCompileReportsEveryError(t *testing.T) {
	_, err := Compile([]byte("frob;\nif header :foo \"a\" \"b\" { keep; }\nfileinto \"x\";\nkeep 1;\n"), &Options{Name: "f.sieve"})
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("want *CompileError, got %v", err)
	}
	want := []string{
		"f.sieve: line 1: error: unknown command 'frob' (only reported once at first occurrence)",
		"f.sieve: line 2: error: unknown tagged argument ':foo' for the header test (reported only once at first occurrence)",
		"f.sieve: line 3: error: unknown command 'fileinto' (perhaps it is part of an extension that is not required: 'fileinto')",
		"f.sieve: line 4: error: the keep command requires 0 positional argument(s), but 1 is/are specified",
		"f.sieve: error: validation failed",
	}
	if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

func TestParseErrors(t *testing.T) {
	for src, want := range map[string]string{
		"keep":                             "line 1: error: expected end of command ';' or the beginning of a compound block '{', but found end of file",
		"if true { keep;":                  "end of file before end of command block",
		"/* never closed":                  "end of file before end of bracket comment",
		"set \"a\" text:\nno end\n":        "end of file before end of multi-line string",
		"keep \"x":                         "end of file before end of quoted string",
		"size :over 99999999999999999999;": "number is too big",
		"}":                                "unexpected '}' found",
	} {
		_, err := Compile([]byte(src), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", src, err, want)
		}
	}
}

func TestCompileLimits(t *testing.T) {
	deep := strings.Repeat("if true {", 40) + strings.Repeat("}", 40)
	if _, err := Compile([]byte(deep), nil); err == nil || !strings.Contains(err.Error(), "deeper than 32 levels") {
		t.Errorf("deep blocks: %v", err)
	}
	tests := "if " + strings.Repeat("not ", 100) + "true {}"
	if _, err := Compile([]byte(tests), nil); err == nil || !strings.Contains(err.Error(), "deeper than 32 levels") {
		t.Errorf("deep tests: %v", err)
	}
	big := strings.Repeat("keep;\n", 1000)
	if _, err := Compile([]byte(big), &Options{Limits: Limits{MaxScriptSize: 100}}); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("size cap: %v", err)
	}
}

func TestRegexRE2(t *testing.T) {
	_, err := Compile([]byte(`require "regex"; if header :regex "subject" "(a)\\1" { keep; }`), nil)
	if err == nil || !strings.Contains(err.Error(), "back-references (\\1) cannot be expressed in RE2") {
		t.Errorf("back-reference: %v", err)
	}
	r := run(t, `require ["regex", "variables", "fileinto"];
if header :regex "subject" "^\\[([a-z]+)\\]" { fileinto "Lists/${1}"; }`, nil)
	if len(r.Actions) != 1 || r.Actions[0].Mailbox != "Lists/golang" {
		t.Errorf("regex match variable: %+v", r.Actions)
	}
}

func TestFlagsPerAction(t *testing.T) {
	r := run(t, `require ["fileinto", "imap4flags", "copy"];
addflag "$Lists";
fileinto "Lists";
addflag "\\Flagged";
fileinto :copy :flags "$Only" "Copy";
removeflag "\\Seen";
`, nil, `\Seen`)
	got := jsonOf(t, r)
	want := `{"actions":[{"action":"fileinto","copy":false,"create":false,"flags":["\\Seen","$Lists"],"mailbox":"Lists"},` +
		`{"action":"fileinto","copy":true,"create":false,"flags":["$Only"],"mailbox":"Copy"}],"errors":[],"implicit_keep":null}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Without imap4flags the message's flags are not the internal variable.
	r = run(t, `keep;`, nil, `\Seen`)
	if len(r.Actions) != 1 || len(r.Actions[0].Flags) != 0 || r.ImplicitKeep != nil {
		t.Errorf("keep without imap4flags: %s", jsonOf(t, r))
	}
}

func TestImplicitKeep(t *testing.T) {
	r := run(t, `require ["imap4flags", "fileinto", "copy"]; addflag "$A"; fileinto :copy "X";`, nil)
	if r.ImplicitKeep == nil || strings.Join(r.ImplicitKeep.Flags, " ") != "$A" {
		t.Errorf("implicit keep: %s", jsonOf(t, r))
	}
	r = run(t, `discard;`, nil)
	if r.ImplicitKeep != nil || len(r.Actions) != 1 || r.Actions[0].Kind != "discard" {
		t.Errorf("discard: %s", jsonOf(t, r))
	}
}

func TestRuntimeErrorKeeps(t *testing.T) {
	src := `require ["envelope", "fileinto"]; fileinto "A"; if envelope "from" "x@y" { discard; }`
	r := run(t, src, nil)
	if len(r.Actions) != 0 || r.ImplicitKeep == nil || len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "RFC 6785 §4.6") {
		t.Errorf("envelope over IMAP: %s", jsonOf(t, r))
	}
	r = run(t, src, &Env{Envelope: &Envelope{From: "x@y"}})
	if len(r.Errors) != 0 || len(r.Actions) != 2 {
		t.Errorf("envelope set: %s", jsonOf(t, r))
	}
	r = mustCompile(t, `require "ihave"; error "stop here";`, nil).Run(&Message{Body: func() ([]byte, error) { return nil, nil }}, nil)
	if len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "stop here") || r.ImplicitKeep == nil {
		t.Errorf("error command: %s", jsonOf(t, r))
	}
}

func TestStoredMailPolicy(t *testing.T) {
	for _, src := range []string{`require "reject"; reject "no";`, `require "vacation"; vacation "away";`, `redirect "a@example.org";`} {
		_, err := Compile([]byte(src), &Options{StoredMail: true})
		if err == nil || !strings.Contains(err.Error(), "inapplicable to stored mail (RFC 6785 §3.11)") {
			t.Errorf("%s: %v", src, err)
		}
	}
	if _, err := Compile([]byte(`redirect "a@example.org";`), &Options{StoredMail: true, AllowRedirect: true}); err != nil {
		t.Errorf("redirect with a submission account: %v", err)
	}
	r := run(t, `require "vacation"; vacation :days 0 :subject "Away" "Back soon";`, nil)
	want := `{"actions":[{"action":"vacation","days":1,"reason":"Back soon","subject":"Away"}],"errors":[],"implicit_keep":{"flags":[]}}`
	if got := jsonOf(t, r); got != want {
		t.Errorf("test mode:\n got %s\nwant %s", got, want)
	}
	r = run(t, `require "reject"; reject "no";`, nil)
	want = `{"actions":[{"action":"reject","reason":"no"}],"errors":[],"implicit_keep":null}`
	if got := jsonOf(t, r); got != want {
		t.Errorf("test mode:\n got %s\nwant %s", got, want)
	}
	// reject refuses what fileinto would store (RFC 5429 §2.1): a runtime error.
	r = run(t, `require ["reject", "fileinto"]; fileinto "A"; reject "no";`, nil)
	if len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "conflicts") || r.ImplicitKeep == nil {
		t.Errorf("conflict: %s", jsonOf(t, r))
	}
}

func TestEditheaderOnlyCopies(t *testing.T) {
	m, _ := ParseMessage([]byte(testMsg))
	s := mustCompile(t, `require ["editheader", "fileinto"];
addheader "X-Sorted" "yes";
deleteheader "x-spam-score";
if header :is "x-sorted" "yes" { fileinto "Sorted"; }
keep;`, nil)
	r := s.Run(m, &Env{})
	if len(r.Actions) != 2 {
		t.Fatalf("actions: %s", jsonOf(t, r))
	}
	h := r.Actions[0].Header
	if len(h) == 0 || h[0].Name != "X-Sorted" {
		t.Errorf("fileinto header: %v", h)
	}
	for _, f := range h {
		if strings.EqualFold(f.Name, "X-Spam-Score") {
			t.Errorf("deleted field still in the copy")
		}
	}
	if _, ok := firstField(m.Header, "X-Sorted"); ok {
		t.Errorf("the message itself was edited")
	}
	if r.Actions[1].Kind != "keep" || r.Actions[1].Header != nil {
		t.Errorf("keep carries edits: %+v", r.Actions[1])
	}
}

func TestIncludeAndGlobal(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "lists.sieve"), []byte(`require ["include", "variables", "fileinto"];
global "box";
if header :contains "subject" "golang" { fileinto "${box}"; return; }
fileinto "never";`), 0o600)
	main := filepath.Join(dir, "main.sieve")
	os.WriteFile(main, []byte(`require ["include", "variables"];
global "box";
set "box" "Lists/Go";
include :personal "lists";
include :once "lists";
include :optional "missing";
`), 0o600)
	s, err := CompileFile(main, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := ParseMessage([]byte(testMsg))
	r := s.Run(m, nil)
	if got := jsonOf(t, r); !strings.Contains(got, `"mailbox":"Lists/Go"`) || strings.Contains(got, "never") || len(r.Actions) != 1 {
		t.Errorf("include: %s", got)
	}
	os.WriteFile(main, []byte(`require "include"; include "nothere";`), 0o600)
	if _, err := CompileFile(main, nil); err == nil || !strings.Contains(err.Error(), "script does not exist") {
		t.Errorf("missing include: %v", err)
	}
}

func TestDuplicate(t *testing.T) {
	store := &MemoryDuplicates{}
	src := `require "duplicate"; if duplicate { discard; }`
	if r := run(t, src, &Env{Duplicates: store}); len(r.Actions) != 0 {
		t.Errorf("first: %s", jsonOf(t, r))
	}
	if r := run(t, src, &Env{Duplicates: store}); len(r.Actions) != 1 {
		t.Errorf("second: %s", jsonOf(t, r))
	}
}

func TestTestsOnMessage(t *testing.T) {
	for src, want := range map[string]bool{
		`if address :domain "from" "example.org" { discard; }`:                 true,
		`require "subaddress"; if address :detail "from" "lists" { discard; }`: true,
		`require "subaddress"; if address :user "from" "alice" { discard; }`:   true,
		`if header :matches "subject" "*digest" { discard; }`:                  true,
		`if size :over 1K { discard; }`:                                        false,
		`if exists ["message-id", "nothere"] { discard; }`:                     false,
		`require ["spamtest", "relational", "comparator-i;ascii-numeric"]; if spamtest :value "eq" :comparator "i;ascii-numeric" "7" { discard; }`: true,
		`require "body"; if body :contains "hello" { discard; }`:                                                                                   true,
		`require ["relational", "comparator-i;ascii-numeric"]; if header :count "eq" :comparator "i;ascii-numeric" "to" "1" { discard; }`:          true,
		`require "variables"; set :upperfirst "a" "bob"; if string :is "${a}" "Bob" { discard; }`:                                                  true,
		`require "environment"; if environment "location" "MS" { discard; }`:                                                                       true,
	} {
		r := run(t, src, nil)
		if got := len(r.Actions) == 1; got != want || len(r.Errors) > 0 {
			t.Errorf("%s: discarded %v, want %v (%v)", src, got, want, r.Errors)
		}
	}
}

func TestMaxSteps(t *testing.T) {
	src := "if " + strings.Repeat("anyof(false, ", 10) + "true" + strings.Repeat(")", 10) + " { discard; }\n"
	s := mustCompile(t, strings.Repeat(src, 10), &Options{Limits: Limits{MaxSteps: 50}})
	m, _ := ParseMessage([]byte(testMsg))
	r := s.Run(m, nil)
	if len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "limit of 50 steps") || r.ImplicitKeep == nil {
		t.Errorf("step limit: %s", jsonOf(t, r))
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`require ["fileinto", "variables"]; if header :matches "subject" "*x*" { fileinto "${1}"; }`,
		"set \"a\" text:\n..x\n.\n;",
		`if anyof(not true, address :all :is "to" "a@b") { keep; } elsif false {} else { discard; }`,
		`require "encoded-character"; keep :flags "${hex:41 42}${unicode:1F600}";`,
	} {
		f.Add(s)
	}
	m, _ := ParseMessage([]byte(testMsg))
	f.Fuzz(func(t *testing.T, src string) {
		s, err := Compile([]byte(src), nil)
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) || len(ce.Errors) == 0 {
				t.Fatalf("error %v is not a CompileError", err)
			}
			return
		}
		r := s.Run(m, &Env{})
		if r == nil {
			t.Fatal("nil result")
		}
	})
}

func TestExpansionBudget(t *testing.T) {
	line := `if string :is "` + strings.Repeat("${a}", 1000) + `" "" { discard; }` + "\n"
	src := `require "variables"; set "a" "` + strings.Repeat("x", 4000) + `";` + "\n" + strings.Repeat(line, 20)
	r := run(t, src, nil)
	if len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "expanded more than") || r.ImplicitKeep == nil {
		t.Errorf("expansion budget: %v", r.Errors)
	}
}

func TestWildcardBacktrackingIsBudgeted(t *testing.T) {
	m, _ := ParseMessage([]byte("Subject: " + strings.Repeat("a", 3000) + "\r\n\r\n"))
	s := mustCompile(t, `if header :matches "subject" "*a*a*a*a*a*a*a*b" { discard; }`, &Options{Limits: Limits{MaxSteps: 1000}})
	r := s.Run(m, nil)
	if len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "steps") {
		t.Errorf("backtracking: %v", r.Errors)
	}
}

func FuzzMessage(f *testing.F) {
	f.Add([]byte(testMsg))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\npro\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nz\r\n--b--\r\nepi\r\n"))
	f.Add([]byte("Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n"))
	s, err := Compile([]byte(`require ["body", "subaddress", "date", "variables"];
if anyof (body :text :contains "x", body :content "multipart" :contains "pro", body :raw :matches "*",
  address :detail "to" "a", date "date" "year" "2026", header :matches "subject" "*?*") { discard; }`), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := ParseMessage(raw)
		if err != nil {
			return
		}
		if r := s.Run(m, nil); r == nil {
			t.Fatal("nil result")
		}
	})
}

func TestParseRecovers(t *testing.T) {
	_, err := Compile([]byte("if true {\n keep\n}\nif anyof(true,) { }\nkeep,\nkeep;\nfrob;\n"), &Options{Name: "r"})
	want := "r: line 3: error: expected end of command ';' or the beginning of a compound block '{', but found '}'\n" +
		"r: line 4: error: expected test command after '(' or ',', but found ')'\n" +
		"r: line 5: error: expected end of command ';' or the beginning of a compound block '{', but found ','\n" +
		"r: error: parse failed"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestWildcard(t *testing.T) {
	for _, c := range []struct {
		s, pat string
		ok     bool
		vars   string
	}{
		{"a@b@c", "*@*", true, "a@b@c|a|b@c"},
		{"[golang] digest", "*[*]*", true, "[golang] digest||golang| digest"},
		{"abcabc", "*bc", true, "abcabc|abca"},
		{"abc", "a?c", true, "abc|b"},
		{"héllo", "h?llo", true, "héllo|é"},
		{"abc", "a\\*c", false, ""},
		{"a*c", "a\\*c", true, "a*c"},
		{"xyz", "*q*", false, ""},
	} {
		ok, vars, _ := wildcard(c.s, c.pat, c.s)
		if ok != c.ok || ok && strings.Join(vars, "|") != c.vars {
			t.Errorf("%q %q: %v %q, want %v %q", c.s, c.pat, ok, strings.Join(vars, "|"), c.ok, c.vars)
		}
	}
}

func TestConcurrentRuns(t *testing.T) {
	s := mustCompile(t, `require ["fileinto", "regex", "variables", "imap4flags", "body"];
if header :regex "subject" "^\\[([a-z]+)\\]" { set "l" "${1}"; }
if header :matches "from" "*<*@*>" { addflag "$${3}"; }
if body :contains "hello" { fileinto "Lists/${l}"; }`, nil)
	m, _ := ParseMessage([]byte(testMsg))
	done := make(chan string)
	for i := 0; i < 8; i++ {
		go func() {
			var last string
			for j := 0; j < 50; j++ {
				r := s.Run(m, nil)
				if len(r.Actions) != 1 {
					last = "no action"
					break
				}
				last = r.Actions[0].Mailbox + " " + strings.Join(r.Actions[0].Flags, " ")
			}
			done <- last
		}()
	}
	for i := 0; i < 8; i++ {
		if got := <-done; got != "Lists/golang $example.org" {
			t.Errorf("run %d: %q", i, got)
		}
	}
}

func TestTypoHints(t *testing.T) {
	_, err := Compile([]byte("require \"fileinto\";\nfileinto \"a\"\nkeep;\nif address matches \"from\" \"x\" { stop; }\n"), &Options{Name: "t"})
	for _, want := range []string{
		"t: line 2: error: missing semicolon ';' after the fileinto command",
		"t: line 4: error: missing colon ':' before ':matches' tag in the address test",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestNestingCountsBlocksAndTestsApart(t *testing.T) {
	// 20 blocks around 20 nested tests: each under sievec's 32, as here.
	src := strings.Repeat("if true {", 20) + "if " + strings.Repeat("anyof(", 20) + "true" + strings.Repeat(")", 20) + " { keep; }" + strings.Repeat("}", 20)
	if _, err := Compile([]byte(src), nil); err != nil {
		t.Errorf("legal nesting refused: %v", err)
	}
}
