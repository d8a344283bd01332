package sieve

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The conformance harness: every tests/**/*.svtest file of Pigeonhole 0.5.19, fetched by
// scripts/pigeonhole.sh into a cache outside the repository. The files on
// testdata/pigeonhole-pass.txt must pass; the count of all passing files is logged.

// pigeonholeDir fetches (once) and returns Pigeonhole's source folder.
func pigeonholeDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("MAILSCRIPT_PIGEONHOLE"); d != "" {
		return d
	}
	out, err := exec.Command("sh", "../scripts/pigeonhole.sh").Output()
	if err != nil {
		var ee *exec.ExitError
		msg := err.Error()
		if errors.As(err, &ee) {
			msg += ": " + string(ee.Stderr)
		}
		t.Fatalf("cannot fetch Pigeonhole's test suite (scripts/pigeonhole.sh needs Debian's package sources): %s", msg)
	}
	return strings.TrimSpace(string(out))
}

// runSvtest runs one .svtest file and returns the failures (nil when it passes).
func runSvtest(path string) (passed int, failures []string) {
	src, err := os.ReadFile(path)
	if err != nil {
		return 0, []string{err.Error()}
	}
	s := newSuite(path)
	sc, err := Compile(src, s.opts)
	if err != nil {
		return 0, []string{"compile: " + err.Error()}
	}
	m, _ := ParseMessage([]byte(defaultTestMessage))
	s.msgRaw = defaultTestMessage
	in := newInterp(sc, m, s.env)
	if err := in.runMain(); err != nil {
		var f *failure
		if errors.As(err, &f) {
			s.failed = append(s.failed, "(top level): "+f.msg)
		} else {
			s.failed = append(s.failed, "run: "+err.Error())
		}
	}
	return len(s.passed), s.failed
}

func readList(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line != "" {
			out = append(out, line)
		}
	}
	return out
}

func TestPigeonhole(t *testing.T) {
	root := filepath.Join(pigeonholeDir(t), "tests")
	var files []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".svtest") {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no .svtest files under %s: %v", root, err)
	}
	sort.Strings(files)
	excluded := map[string]bool{}
	for _, f := range readList(t, "testdata/pigeonhole-excluded.txt") {
		excluded[f] = true
	}
	target, targetPass := 0, 0
	results := map[string][]string{}
	pass := 0
	for _, f := range files {
		_, fails := runSvtest(filepath.Join(root, f))
		if strings.HasPrefix(f, "failures/") {
			// Pigeonhole runs these expecting failure (testsuite -F): they must fail, not crash.
			if fails == nil {
				fails = []string{"expected to fail"}
			} else {
				fails = nil
			}
		}
		results[f] = fails
		if fails == nil {
			pass++
		}
		if !excluded[f] {
			target++
			if fails == nil {
				targetPass++
			}
		}
		if testing.Verbose() || os.Getenv("SIEVE_SHOW") != "" {
			if fails == nil {
				t.Logf("PASS %s", f)
			} else if !excluded[f] {
				t.Logf("FAIL %s: %s", f, strings.Join(fails, "; "))
			}
		}
	}
	for _, f := range readList(t, "testdata/pigeonhole-pass.txt") {
		fails, ok := results[f]
		if !ok {
			t.Errorf("%s: on the pass list but not in the suite", f)
		} else if fails != nil {
			t.Errorf("%s: regression: %s", f, strings.Join(fails, "; "))
		}
	}
	t.Logf("Pigeonhole conformance: %d of %d files pass; %d of the %d not on testdata/pigeonhole-excluded.txt", pass, len(files), targetPass, target)
}
