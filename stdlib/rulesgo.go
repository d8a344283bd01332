package stdlib

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/protocol/imap"
)

// rulesChunk names the rules library in positions and tracebacks, so a
// host can tell its frames from the script's.
const rulesChunk = "mailscript/rules.lua"

// rulesHost is the table rules.lua gets as its chunk argument: what it
// tells the host (the rule acting now, each report).
func rulesHost(L *lua.LState, env *bindings.Env) *lua.LTable {
	return L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"set_rule": func(L *lua.LState) int {
			env.SetRule(L.OptString(1, ""))
			return 0
		},
		"report": func(L *lua.LState) int {
			env.AddReport(rulesReportOf(L.CheckTable(1)))
			return 0
		},
	})
}

func rulesReportOf(t *lua.LTable) bindings.RulesReport {
	r := bindings.RulesReport{Mailbox: lua.LVAsString(t.RawGetString("mailbox")), Examined: int(lua.LVAsNumber(t.RawGetString("examined")))}
	rs, _ := t.RawGetString("rules").(*lua.LTable)
	if rs == nil {
		return r
	}
	for i := 1; i <= rs.Len() && i <= 10000; i++ {
		e, ok := rs.RawGetInt(i).(*lua.LTable)
		if !ok {
			continue
		}
		rr := bindings.RuleReport{Name: lua.LVAsString(e.RawGetString("name")), Matched: int(lua.LVAsNumber(e.RawGetString("matched"))), Actions: []string{}}
		if acts, ok := e.RawGetString("actions").(*lua.LTable); ok {
			for j := 1; j <= acts.Len(); j++ {
				rr.Actions = append(rr.Actions, lua.LVAsString(acts.RawGetInt(j)))
			}
		}
		r.Rules = append(r.Rules, rr)
	}
	return r
}

// failed is the error of a queued action the server refused, naming the
// action (verb, how many messages, from and to where) and the rule that
// asked for it: the script's next line is not where it was asked for.
func (a *account) failed(x queued, err error) error {
	ie, ok := err.(*imap.Error)
	if !ok {
		return err
	}
	verb := strings.ToLower(strings.TrimPrefix(x.cmd.Name, "UID "))
	what := fmt.Sprintf("%s of %d message(s) in %s", verb, len(x.uids), a.userName(a.selected))
	if x.dest != "" {
		what += " to " + x.dest
	}
	if x.rule != "" {
		what = fmt.Sprintf("rule %q: %s", x.rule, what)
	}
	e := *ie
	e.Text = what + ": " + ie.Text
	if ie.Code == "TRYCREATE" && x.create == "" {
		e.Text += " (the folder does not exist: pass {create = true} to create it)"
	}
	return &e
}

// tagQueued names dest on the chunks of the action queued last.
func (a *account) tagQueued(dest string) {
	for i := len(a.queue) - 1; i >= 0 && a.queue[i].action == a.actions; i-- {
		a.queue[i].dest = dest
	}
}
