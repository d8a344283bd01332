package bindings

// RulesReport is what one rules.apply did: the mailbox, how many
// messages it examined and each rule's matches and actions.
type RulesReport struct {
	Mailbox  string       `json:"mailbox"`
	Examined int          `json:"examined"`
	Rules    []RuleReport `json:"rules"`
}

// RuleReport is one rule's line of a [RulesReport].
type RuleReport struct {
	Name    string   `json:"name"`
	Matched int      `json:"matched"`
	Actions []string `json:"actions"`
}

// maxReports bounds the reports a run keeps (a script may loop).
const maxReports = 1000

// SetRule names the rule whose actions are recorded next ("" for none).
func (e *Env) SetRule(name string) {
	e.mu.Lock()
	e.rule = name
	e.mu.Unlock()
}

// AddReport keeps r for the host (mailscript --json prints them).
func (e *Env) AddReport(r RulesReport) {
	e.mu.Lock()
	if len(e.reports) < maxReports {
		e.reports = append(e.reports, r)
	}
	e.mu.Unlock()
}

// Reports returns the rules reports of the run so far.
func (e *Env) Reports() []RulesReport {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]RulesReport(nil), e.reports...)
}

// Rule is the rule [Env.SetRule] named last ("" on a nil Env).
func (e *Env) Rule() string {
	if e == nil {
		return ""
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rule
}
