package main

import (
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata")

func fixture(t *testing.T) []Result {
	t.Helper()
	raw, err := os.ReadFile("testdata/results.json")
	if err != nil {
		t.Fatal(err)
	}
	var rs []Result
	if err := json.Unmarshal(raw, &rs); err != nil {
		t.Fatal(err)
	}
	return rs
}

// The table and the plot are a function of latest.json alone: the same
// bytes every time, the golden ones (go test ./bench -update rewrites them).
func TestReportDeterministic(t *testing.T) {
	for _, c := range []struct {
		golden string
		gen    func([]Result) string
	}{{"testdata/table.golden", readmeTable}, {"testdata/plot.golden.svg", svgPlot}} {
		first := c.gen(fixture(t))
		for i := 0; i < 20; i++ { // maps, if any crept in, would reorder
			if again := c.gen(fixture(t)); again != first {
				t.Fatalf("%s: two generations differ", c.golden)
			}
		}
		if *update {
			os.WriteFile(c.golden, []byte(first), 0o644)
		}
		want, err := os.ReadFile(c.golden)
		if err != nil {
			t.Fatal(err)
		}
		if first != string(want) {
			t.Fatalf("%s differs:\n%s", c.golden, first)
		}
	}
}

func TestReportRatiosAndReadme(t *testing.T) {
	table := readmeTable(fixture(t))
	// poplib at 10 ms: 59.2 s over the library's 1.5 s
	if !strings.Contains(table, "| W4 POP3 retrieve | Python poplib | 1.303 s | 6.51x | 59.2 s | 39.47x |") {
		t.Fatalf("table:\n%s", table)
	}
	readme := "# x\n\nbefore\n" + tableBegin + "\nold table\n" + tableEnd + "\nafter\n"
	out, err := rewriteReadme(readme, table)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "old table") || !strings.HasSuffix(out, tableEnd+"\nafter\n") || !strings.Contains(out, "before\n"+tableBegin+"\n| workload") {
		t.Fatalf("rewritten:\n%s", out)
	}
	if again, _ := rewriteReadme(out, table); again != out {
		t.Fatal("rewriting twice changes the README")
	}
	if _, err := rewriteReadme("# no markers\n", table); err == nil {
		t.Fatal("a README without markers is rewritten")
	}
}
