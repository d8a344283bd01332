package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/internal/limit"
	"github.com/mailscript/mailscript/runtime"
)

// planLine is one line of the plan table: one action of one rule, its
// chunks joined.
type planLine struct {
	rule, command, mailbox, details string
	uid                             bool
	sets                            []string
}

// groupPlan joins the chunks of an action (same rule, command, mailbox
// and arguments) into one line, in the order the actions came.
func groupPlan(plan []bindings.Action) []*planLine {
	var lines []*planLine
	index := map[string]*planLine{}
	for _, a := range plan {
		details := strings.Join(a.Args, " ")
		key := a.Rule + "\x00" + a.Command + "\x00" + a.Mailbox + "\x00" + details
		l := index[key]
		if l == nil {
			l = &planLine{rule: a.Rule, command: a.Command, mailbox: a.Mailbox, details: details, uid: a.UID}
			index[key] = l
			lines = append(lines, l)
		}
		if a.Set != "" {
			l.sets = append(l.sets, a.Set)
		}
	}
	return lines
}

// setCount counts the messages of a sequence set such as 1:40,52.
func setCount(set string) int {
	n := 0
	for _, r := range strings.Split(set, ",") {
		lo, hi, isRange := strings.Cut(r, ":")
		a, err1 := strconv.Atoi(lo)
		if !isRange {
			if err1 == nil {
				n++
			}
			continue
		}
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil {
			continue
		}
		if a > b {
			a, b = b, a
		}
		n += b - a + 1
	}
	return n
}

// shortSet is a set cut to a few ranges: "1:40,52,60:70,… (1203 messages)".
func shortSet(set string, full bool) string {
	n := setCount(set)
	if full {
		return fmt.Sprintf("%s (%d message%s)", set, n, plural(n))
	}
	parts := strings.Split(set, ",")
	if len(parts) > 3 {
		set = strings.Join(parts[:3], ",") + ",…"
	}
	return fmt.Sprintf("%s (%d message%s)", set, n, plural(n))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// printPlan prints the dry-run plan, one line per action grouped by
// rule; full lists every UID.
func printPlan(w io.Writer, plan []bindings.Action, full bool) {
	lines := groupPlan(plan)
	fmt.Fprintf(w, "dry run: %d change(s) not made\n", len(lines))
	if len(lines) == 0 {
		return
	}
	// columns as wide as the widest cell of the whole plan, so every
	// rule's lines line up
	var wc, wm, wd int
	for _, l := range lines {
		wc, wm, wd = max(wc, len(l.command)), max(wm, len(l.mailbox)), max(wd, len(l.details))
	}
	byRule := false // headers only where rules asked for something
	for _, l := range lines {
		byRule = byRule || l.rule != ""
	}
	rule := "\x00"
	for _, l := range lines {
		if byRule && l.rule != rule {
			rule = l.rule
			if rule == "" {
				fmt.Fprintln(w, "not from a rule:")
			} else {
				fmt.Fprintf(w, "rule %q:\n", rule)
			}
		}
		what := ""
		if len(l.sets) > 0 {
			what = shortSet(strings.Join(l.sets, ","), full)
			if l.uid {
				what = "UID " + what
			}
		}
		fmt.Fprintf(w, "%s\n", strings.TrimRight(fmt.Sprintf("  %-*s  %-*s  %-*s  %s", wc, l.command, wm, l.mailbox, wd, l.details, what), " "))
	}
}

// jsonResult is how the run ended, in the --json document.
type jsonResult struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
	Kind    string `json:"kind,omitempty"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Exit    int    `json:"exit"`
	Stopped string `json:"stopped,omitempty"` // "interrupted", "terminated" or a limit's
}

// printJSON writes the one JSON document of --json: the plan, the rules
// reports and the result.
func printJSON(w io.Writer, dryRun bool, res *runtime.Result, err error, code int, stopped string) {
	doc := struct {
		DryRun  bool                   `json:"dry_run"`
		Plan    []bindings.Action      `json:"plan"`
		Reports []bindings.RulesReport `json:"reports"`
		Result  jsonResult             `json:"result"`
	}{DryRun: dryRun, Plan: []bindings.Action{}, Reports: []bindings.RulesReport{}, Result: jsonResult{OK: err == nil, Exit: code}}
	if res != nil {
		if res.Plan != nil {
			doc.Plan = res.Plan
		}
		if res.Reports != nil {
			doc.Reports = res.Reports
		}
	}
	if err != nil {
		doc.Result.Error = err.Error()
		var se *runtime.ScriptError
		if errors.As(err, &se) {
			doc.Result.Kind, doc.Result.File, doc.Result.Line = se.Kind, se.File, se.Line
		}
		var le *limit.Error
		if errors.As(err, &le) {
			doc.Result.Stopped = doc.Result.Kind
		}
		if stopped != "" {
			doc.Result.Stopped = stopped
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(doc)
}
