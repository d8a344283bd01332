//go:build sievediff

package sieve

// The differential check against Pigeonhole's sieve-test (Debian's dovecot-sieve): a generated
// corpus of scripts and messages must give the same actions and flags. Run it with
// scripts/sieve-diff.sh (go test -tags sievediff -run TestDifferential ./sieve/).

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var diffMessages = []string{
	"From: Alice <alice+lists@example.org>\r\nTo: bob@example.com, carol@Example.COM\r\nSubject: [golang] weekly digest\r\nList-Id: <golang.example.org>\r\nX-Spam-Score: 7.5\r\nDate: Tue, 1 Dec 2026 10:00:00 +0100\r\n\r\nHello there, this is the digest.\r\n",
	"From: \"Mallory\" <mallory@spam.example>\r\nTo: undisclosed-recipients:;\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= WIN MONEY\r\nX-Spam-Flag: YES\r\n\r\nBuy now.\r\n",
	"From: dave@example.com\r\nTo: Bob <bob+work@example.com>\r\nCc: team@example.com\r\nSubject: Re: meeting\r\nIn-Reply-To: <1@example.com>\r\n\r\n" + strings.Repeat("long line of text ", 200) + "\r\n",
	"From: notifications@github.example\r\nTo: bob@example.com\r\nSubject: [repo] Issue #14: Sieve\r\nX-GitHub-Reason: mention\r\n\r\nYou were mentioned.\r\n",
}

func genTest(r *rand.Rand, depth int) string {
	hdrs := []string{"subject", "from", "to", "cc", "list-id", "x-spam-flag", "x-github-reason"}
	keys := []string{"golang", "example.org", "bob", "WIN", "mention", "YES", "Re:", "grüße", "digest", "example.com"}
	h := hdrs[r.Intn(len(hdrs))]
	k := keys[r.Intn(len(keys))]
	mt := []string{":is", ":contains", ":matches"}[r.Intn(3)]
	if mt == ":matches" {
		k = "*" + k + "*"
		if r.Intn(3) == 0 {
			k = "?" + k
		}
	}
	cmp := ""
	if r.Intn(4) == 0 {
		cmp = ` :comparator "i;octet"`
	}
	if r.Intn(3) == 0 {
		return genExtTest(r)
	}
	switch n := r.Intn(10); {
	case n < 4:
		return fmt.Sprintf("header %s%s %q %q", mt, cmp, h, k)
	case n < 6:
		part := []string{":localpart", ":domain", ":all", ":user", ":detail"}[r.Intn(5)]
		ah := []string{"from", "to", "cc"}[r.Intn(3)]
		ak := []string{"alice", "bob", "example.com", "lists", "work", "dave@example.com", "example.org"}[r.Intn(7)]
		return fmt.Sprintf("address %s %s%s %q %q", part, mt, cmp, ah, ak)
	case n == 6:
		return fmt.Sprintf("size %s %d", []string{":over", ":under"}[r.Intn(2)], []int{100, 300, 1000, 5000}[r.Intn(4)])
	case n == 7:
		return fmt.Sprintf("exists %q", hdrs[r.Intn(len(hdrs))])
	case n == 8 && depth < 2:
		return fmt.Sprintf("%s (%s, %s)", []string{"allof", "anyof"}[r.Intn(2)], genTest(r, depth+1), genTest(r, depth+1))
	case depth < 2:
		return "not " + genTest(r, depth+1)
	}
	return "true"
}

// genExtTest draws a test of an extension: regex, relational, body, date, variables, hasflag.
func genExtTest(r *rand.Rand) string {
	switch r.Intn(8) {
	case 0:
		return fmt.Sprintf("header :regex %q %q", []string{"subject", "from", "list-id"}[r.Intn(3)],
			[]string{`^\\[[a-z]+\\]`, `example\\.(org|com)`, `^re:`, `[0-9]+`, `win|money`}[r.Intn(5)])
	case 1:
		return fmt.Sprintf(`header :count %q :comparator "i;ascii-numeric" %q %q`, []string{"ge", "eq", "lt"}[r.Intn(3)],
			[]string{"to", "cc", "received", "subject"}[r.Intn(4)], []string{"0", "1", "2"}[r.Intn(3)])
	case 2:
		return fmt.Sprintf(`header :value %q :comparator "i;ascii-numeric" "x-spam-score" %q`, []string{"gt", "le"}[r.Intn(2)], []string{"5", "7", "10"}[r.Intn(3)])
	case 3:
		return fmt.Sprintf("body :text :contains %q", []string{"digest", "Buy", "mentioned", "long line", "nothing here"}[r.Intn(5)])
	case 4:
		return fmt.Sprintf(`date :originalzone "date" %q %q`, []string{"year", "month", "weekday", "hour", "zone"}[r.Intn(5)],
			[]string{"2026", "12", "2", "10", "+0100"}[r.Intn(5)])
	case 5:
		return fmt.Sprintf(`hasflag :contains %q`, []string{"Seen", "Work", "flag"}[r.Intn(3)])
	case 6:
		return fmt.Sprintf(`address :all :comparator "i;octet" :is "from" %q`, []string{"alice+lists@example.org", "dave@example.com", "Dave@example.com"}[r.Intn(3)])
	}
	return fmt.Sprintf(`string :comparator "i;octet" :matches "${subj}" %q`, []string{"*digest*", "Re:*", "?repo?*", "*"}[r.Intn(4)])
}

func genActions(r *rand.Rand, used map[string]bool) string {
	var b strings.Builder
	for i := 0; i < 1+r.Intn(3); i++ {
		switch r.Intn(9) {
		case 0, 1:
			mb := []string{"Lists", "Junk", "Work", "GitHub"}[r.Intn(4)]
			if used[mb] {
				continue // a repeated fileinto with other flags: see the report (flags merge, sieve.md)
			}
			used[mb] = true
			copy := ""
			if r.Intn(3) == 0 {
				copy = ":copy "
			}
			fl := ""
			if r.Intn(3) == 0 {
				fl = `:flags "\\Flagged $Sorted" `
			}
			if r.Intn(4) == 0 {
				mb += "/${1}" // the last :matches' first wildcard, often empty
			}
			fmt.Fprintf(&b, "fileinto %s%s%q; ", copy, fl, mb)
		case 2:
			fmt.Fprintf(&b, "addflag %q; ", []string{`\Seen`, "$Work", `\Flagged`, "$Junk", `\\Bad`}[r.Intn(5)])
		case 3:
			fmt.Fprintf(&b, "removeflag %q; ", []string{`\Seen`, "$Work"}[r.Intn(2)])
		case 4:
			b.WriteString(`setflag "\\Answered"; `)
		case 5:
			if !used["discard"] {
				used["discard"] = true
				b.WriteString("discard; ")
			}
		case 6:
			if !used["INBOX"] {
				used["INBOX"] = true
				b.WriteString("keep; ")
			}
		case 7:
			if !used["redirect"] {
				used["redirect"] = true
				b.WriteString(`redirect "archive@example.net"; `)
			}
		case 8:
			b.WriteString("stop; ")
		}
	}
	return b.String()
}

func genScript(r *rand.Rand) string {
	var b strings.Builder
	b.WriteString(`require ["fileinto", "imap4flags", "copy", "subaddress", "variables", "regex", "relational", "comparator-i;ascii-numeric", "body", "date"];` + "\n")
	b.WriteString(`if header :matches "subject" "*" { set "subj" "${1}"; }` + "\n")
	used := map[string]bool{}
	for i := 0; i < 1+r.Intn(4); i++ {
		if r.Intn(4) == 0 {
			b.WriteString(genActions(r, used) + "\n")
			continue
		}
		fmt.Fprintf(&b, "if %s {\n  %s\n}", genTest(r, 0), genActions(r, used))
		if r.Intn(3) == 0 {
			fmt.Fprintf(&b, " elsif %s {\n  %s\n}", genTest(r, 0), genActions(r, used))
		}
		if r.Intn(3) == 0 {
			fmt.Fprintf(&b, " else {\n  %s\n}", genActions(r, used))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func normFlagList(s []string) string {
	var out []string
	for _, f := range s {
		if strings.HasPrefix(f, `\`) {
			f = strings.ToLower(f)
		}
		out = append(out, f)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// ours renders a Result as the lines compared with sieve-test's.
func ours(res *Result) []string {
	var out []string
	for _, a := range res.Actions {
		switch a.Kind {
		case "keep":
			out = append(out, "store INBOX ["+normFlagList(a.Flags)+"]")
		case "fileinto":
			out = append(out, "store "+a.Mailbox+" ["+normFlagList(a.Flags)+"]")
		case "redirect":
			out = append(out, "redirect "+a.Address)
		case "discard":
			out = append(out, "discard")
		}
	}
	out = append(out, "--implicit")
	if res.ImplicitKeep != nil {
		out = append(out, "store INBOX ["+normFlagList(res.ImplicitKeep.Flags)+"]")
	}
	return out
}

// theirs parses sieve-test's report into the same lines.
func theirs(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == "Implicit keep:":
			out = append(out, "--implicit")
		case strings.HasPrefix(t, "* store message in folder: "):
			out = append(out, "store "+strings.TrimPrefix(t, "* store message in folder: ")+" []")
		case strings.HasPrefix(t, "+ add IMAP flags: ") && len(out) > 0:
			fl := strings.Fields(strings.TrimPrefix(t, "+ add IMAP flags: "))
			last := out[len(out)-1]
			out[len(out)-1] = strings.TrimSuffix(last, "[]") + "[" + normFlagList(fl) + "]"
		case strings.HasPrefix(t, "* redirect message to: "):
			out = append(out, "redirect "+strings.Trim(strings.TrimPrefix(t, "* redirect message to: "), "<>"))
		case t == "* discard":
			out = append(out, "discard")
		}
	}
	return out
}

func TestDifferential(t *testing.T) {
	bin, err := exec.LookPath("sieve-test")
	if err != nil {
		t.Fatal("sieve-test not found: apt-get install dovecot-sieve")
	}
	dir, err := os.MkdirTemp("", "sievediff")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o777)
	home := filepath.Join(dir, "home")
	os.Mkdir(home, 0o777)
	var msgPaths []string
	for i, m := range diffMessages {
		p := filepath.Join(dir, fmt.Sprintf("m%d.eml", i))
		os.WriteFile(p, []byte(m), 0o644)
		msgPaths = append(msgPaths, p)
	}
	n := 150
	r := rand.New(rand.NewSource(14))
	pairs, diffs := 0, 0
	for i := 0; i < n; i++ {
		src := genScript(r)
		sp := filepath.Join(dir, fmt.Sprintf("s%d.sieve", i))
		os.WriteFile(sp, []byte(src), 0o644)
		if i < 2 && testing.Verbose() {
			t.Logf("script %d:\n%s", i, src)
		}
		sc, err := Compile([]byte(src), nil)
		if err != nil {
			t.Fatalf("generated script does not compile: %v\n%s", err, src)
		}
		for j, mp := range msgPaths {
			cmd := exec.Command("runuser", "-u", "nobody", "--", "env", "HOME="+home, bin, sp, mp)
			outb, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("sieve-test: %v\n%s\n%s", err, outb, src)
			}
			m, _ := ParseMessage([]byte(diffMessages[j]))
			res := Run(sc, m)
			got, want := strings.Join(ours(res), "\n"), strings.Join(theirs(string(outb)), "\n")
			pairs++
			if got != want {
				diffs++
				if diffs <= 10 {
					t.Errorf("script %d, message %d differ:\n%s\n--- ours:\n%s\n--- sieve-test:\n%s", i, j, src, got, want)
				}
			}
		}
	}
	t.Logf("differential: %d script/message pairs, %d differ", pairs, diffs)
}

func Run(sc *Script, m *Message) *Result { return sc.Run(m, &Env{Mailbox: "INBOX"}) }
