package stdlib

import (
	"fmt"

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

// describeFailures names, in each refused copy or move of the wave w,
// the rule that asked for it and how many messages it held from where,
// before settle raises the failure (with the destination): the script's
// next line is not where the action was asked for. A TRYCREATE refusal
// without create says how to have the folder made.
func (a *account) describeFailures(w []queued) {
	for i := range w {
		x := &w[i]
		if x.dest == "" || x.cmd.Err() == nil {
			continue
		}
		what := fmt.Sprintf("%d message(s) from %s", len(x.uids), a.userName(a.selected))
		if x.rule != "" {
			what = fmt.Sprintf("rule %q, ", x.rule) + what
		}
		if x.cmd.Status != nil && x.cmd.Status.Code == "TRYCREATE" && x.create == "" {
			what += "; the folder does not exist: pass {create = true} to have it created"
		}
		x.dest += " (" + what + ")"
	}
}

// id is the account's id: user@host:port.
func (a *account) id() string {
	port := a.port
	if port == 0 {
		port = imap.Port
	}
	return fmt.Sprintf("%s@%s:%d", a.user, a.host, port)
}
