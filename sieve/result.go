package sieve

import (
	"encoding/json"
)

// Action is one thing the script does. Kind is "keep", "fileinto", "discard", "redirect",
// "reject", "ereject" or "vacation"; the other fields are those of that kind.
type Action struct {
	Kind       string
	Mailbox    string   // fileinto
	Flags      []string // keep, fileinto: the flags as they were when it ran
	Copy       bool     // fileinto, redirect
	Create     bool     // fileinto
	SpecialUse string   // fileinto :specialuse
	Address    string   // redirect
	Reason     string   // reject, ereject, vacation
	Subject    string   // vacation
	From       string   // vacation
	Days       int      // vacation
	Seconds    int      // vacation :seconds, when given
	Addresses  []string // vacation
	Handle     string   // vacation
	Mime       bool     // vacation
	Header     []Field  // fileinto, redirect: the edited header when editheader changed it; nil otherwise
	Line       int      // the script line that did it
}

// Result is what one run did, in the order the script did it.
type Result struct {
	Actions      []Action
	ImplicitKeep *Action // non-nil when the message stays through the implicit keep
	Errors       []string
	Warnings     []string // problems that did not stop the run, such as a bad regexp made at run time
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Map is the action as plain values (string, bool, int, []string, [][2]string): the fields of
// its kind, keyed as mailscript sieve test --json writes them.
func (a Action) Map() map[string]any {
	m := map[string]any{"action": a.Kind}
	switch a.Kind {
	case "keep":
		m["flags"] = nonNil(a.Flags)
	case "fileinto":
		m["mailbox"] = a.Mailbox
		m["flags"] = nonNil(a.Flags)
		m["copy"] = a.Copy
		m["create"] = a.Create
		if a.SpecialUse != "" {
			m["specialuse"] = a.SpecialUse
		}
	case "redirect":
		m["address"] = a.Address
		m["copy"] = a.Copy
	case "reject", "ereject":
		m["reason"] = a.Reason
	case "vacation":
		m["subject"] = a.Subject
		m["reason"] = a.Reason
		m["days"] = a.Days
		if a.Seconds > 0 {
			m["seconds"] = a.Seconds
		}
		if a.From != "" {
			m["from"] = a.From
		}
		if len(a.Addresses) > 0 {
			m["addresses"] = a.Addresses
		}
		if a.Handle != "" {
			m["handle"] = a.Handle
		}
		if a.Mime {
			m["mime"] = true
		}
	}
	if a.Header != nil {
		h := make([][2]string, len(a.Header))
		for i, f := range a.Header {
			h[i] = [2]string{f.Name, f.Value}
		}
		m["header"] = h
	}
	return m
}

// MarshalJSON writes [Action.Map], as mailscript sieve test --json does.
func (a Action) MarshalJSON() ([]byte, error) { return json.Marshal(a.Map()) }

// Map is the result as plain values: "actions" ([]map[string]any of [Action.Map]),
// "implicit_keep" (map with "flags", or nil), "errors", and "warnings" when there are any.
func (r *Result) Map() map[string]any {
	acts := make([]map[string]any, len(r.Actions))
	for i, a := range r.Actions {
		acts[i] = a.Map()
	}
	var ik map[string]any
	if r.ImplicitKeep != nil {
		ik = map[string]any{"flags": nonNil(r.ImplicitKeep.Flags)}
	}
	m := map[string]any{"actions": acts, "implicit_keep": ik, "errors": nonNil(r.Errors)}
	if len(r.Warnings) > 0 {
		m["warnings"] = r.Warnings
	}
	return m
}

// MarshalJSON writes {"actions": [...], "implicit_keep": {...} or null, "errors": [...]}.
func (r *Result) MarshalJSON() ([]byte, error) { return json.Marshal(r.Map()) }
