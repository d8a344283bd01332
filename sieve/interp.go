package sieve

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// RuntimeError is an error that stopped a run (RFC 5228 §2.10.6).
type RuntimeError struct {
	File string
	Line int
	Msg  string
}

func (e *RuntimeError) Error() string {
	return fmt.Sprintf("%s: line %d: error: %s", e.File, e.Line, e.Msg)
}

type ctl int

const (
	ctlNext ctl = iota
	ctlStop
	ctlReturn
)

type scope struct {
	vars    map[string]string
	globals map[string]bool // names declared global in this script
}

type interp struct {
	main    *Script
	s       *Script
	env     *Env
	msg     *Message
	lim     Limits
	header  []Field
	edited  bool
	flags   []string
	sc      *scope
	globals map[string]string
	mvars   []string
	res     *Result
	cancel  bool // implicit keep cancelled
	steps   int
	stack   []*Script
	once    map[*Script]bool
	parts   []part
	partsOK bool
	dups    []dupMark
	regexps map[string]*regexp.Regexp
	line    int
	// expanded counts the bytes variable substitution made; sticky is the error that ends
	// the run at the next step once a budget is spent.
	expanded int
	sticky   error
	fields   map[string][]string // unfolded field values by lower-case name
}

type dupMark struct {
	id    string
	until time.Time
}

// Run evaluates the script against msg. A runtime error leaves no action done, lists the
// error and sets the implicit keep (RFC 5228 §2.10.6).
func (s *Script) Run(msg *Message, env *Env) *Result {
	if env == nil {
		env = &Env{}
	}
	in := newInterp(s, msg, env)
	err := in.runMain()
	return in.finish(err)
}

func newInterp(s *Script, msg *Message, env *Env) *interp {
	in := &interp{main: s, s: s, env: env, msg: msg, lim: s.opts.Limits, res: &Result{},
		globals: map[string]string{}, once: map[*Script]bool{}, regexps: map[string]*regexp.Regexp{}}
	in.header = msg.Header
	in.sc = &scope{vars: map[string]string{}, globals: map[string]bool{}}
	if s.exts["imap4flags"] {
		in.flags = normFlags(nil, msg.Flags)
	}
	return in
}

func (in *interp) runMain() error {
	_, err := in.block(in.s.cmds)
	return err
}

func (in *interp) finish(err error) *Result {
	res := in.res
	if err != nil {
		res.Errors = append(res.Errors, err.Error())
		res.Actions = nil
		res.ImplicitKeep = &Action{Kind: "keep", Flags: in.flagsCopy()}
		return res
	}
	if !in.cancel {
		res.ImplicitKeep = &Action{Kind: "keep", Flags: in.flagsCopy()}
	}
	if in.env.Duplicates != nil {
		for _, d := range in.dups {
			in.env.Duplicates.Mark(d.id, d.until)
		}
	}
	return res
}

func (in *interp) flagsCopy() []string { return append([]string{}, in.flags...) }

func (in *interp) errorf(format string, args ...any) error {
	return &RuntimeError{File: in.s.name, Line: in.line, Msg: fmt.Sprintf(format, args...)}
}

func (in *interp) step() error {
	if in.sticky != nil {
		return in.sticky
	}
	in.steps++
	if in.steps > in.lim.MaxSteps {
		return in.errorf("execution exceeded its limit of %d steps", in.lim.MaxSteps)
	}
	return nil
}

func (in *interp) block(cmds []*node) (ctl, error) {
	skipElse := false
	for _, n := range cmds {
		if n.name == "elsif" || n.name == "else" {
			if skipElse {
				continue
			}
		} else {
			skipElse = false
		}
		if err := in.step(); err != nil {
			return ctlStop, err
		}
		in.line = n.line
		switch n.name {
		case "if", "elsif", "else":
			ok := true
			if n.name != "else" {
				var err error
				if ok, err = in.test(n.tests[0]); err != nil {
					return ctlStop, err
				}
			}
			if ok {
				skipElse = true
				if c, err := in.block(n.block); c != ctlNext || err != nil {
					return c, err
				}
			}
			continue
		}
		c, err := in.command(n)
		if c != ctlNext || err != nil {
			return c, err
		}
	}
	return ctlNext, nil
}

func (in *interp) strs(a *arg) []string {
	if a == nil {
		return nil
	}
	if !in.s.exts["variables"] || !a.vars {
		return a.strs
	}
	out := make([]string, len(a.strs))
	for i, s := range a.strs {
		out[i] = in.expand(s)
	}
	return out
}

func (in *interp) str(a *arg) string {
	s := in.strs(a)
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func (in *interp) command(n *node) (ctl, error) {
	c := n.x.(*cargs)
	if in.s.extra != nil && in.s.extra.cmd != nil {
		if ok, err := in.s.extra.cmd(in, n, c); ok || err != nil {
			return ctlNext, err
		}
	}
	switch n.name {
	case "require":
	case "stop":
		return ctlStop, nil
	case "return":
		return ctlReturn, nil
	case "keep":
		a := Action{Kind: "keep", Flags: in.actionFlags(c)}
		return ctlNext, in.add(a, true)
	case "discard":
		in.cancel = true
		return ctlNext, in.add(Action{Kind: "discard"}, false)
	case "fileinto":
		a := Action{Kind: "fileinto", Mailbox: in.str(&c.pos[0]), Flags: in.actionFlags(c),
			Copy: c.tags["copy"] != nil, Create: c.tags["create"] != nil}
		if t := c.tags["specialuse"]; t != nil {
			a.SpecialUse = in.str(t)
			if in.env.FindSpecialUse != nil {
				if mb := in.env.FindSpecialUse(a.SpecialUse); mb != "" {
					a.Mailbox = mb
				}
			}
		}
		if !validMailbox(a.Mailbox) {
			return ctlStop, in.errorf("fileinto: invalid folder name '%s'", strings.ToValidUTF8(a.Mailbox, "?"))
		}
		return ctlNext, in.add(a, !a.Copy)
	case "redirect":
		a := Action{Kind: "redirect", Address: in.str(&c.pos[0]), Copy: c.tags["copy"] != nil}
		addr, ok := parseAddr(a.Address)
		if !ok || strings.ContainsAny(a.Address, "\r\n") {
			return ctlStop, in.errorf("redirect: invalid address '%s'", a.Address)
		}
		a.Address = addr.local + "@" + addr.domain
		n := 0
		for _, x := range in.res.Actions {
			if x.Kind == "redirect" {
				n++
			}
		}
		if n >= in.lim.MaxRedirects {
			return ctlStop, in.errorf("redirect: number of redirect actions exceeds policy limit (%d)", in.lim.MaxRedirects)
		}
		return ctlNext, in.add(a, !a.Copy)
	case "reject", "ereject":
		return ctlNext, in.add(Action{Kind: n.name, Reason: in.str(&c.pos[0])}, true)
	case "vacation":
		a := Action{Kind: "vacation", Reason: in.str(&c.pos[0]), Days: 7, Subject: in.str(c.tags["subject"]),
			From: in.str(c.tags["from"]), Addresses: in.strs(c.tags["addresses"]), Handle: in.str(c.tags["handle"]),
			Mime: c.tags["mime"] != nil}
		if t := c.tags["days"]; t != nil {
			a.Days = int(min(t.num, 1<<20))
			if a.Days < 1 {
				a.Days = 1
			}
		}
		if t := c.tags["seconds"]; t != nil {
			a.Seconds, a.Days = int(min(t.num, 1<<30)), 0
		}
		return ctlNext, in.add(a, false)
	case "setflag", "addflag", "removeflag":
		return ctlNext, in.flagCommand(n.name, c)
	case "set":
		return ctlNext, in.set(c)
	case "include":
		return in.include(n, c)
	case "global":
		for _, name := range c.pos[0].strs {
			in.sc.globals[strings.ToLower(name)] = true
		}
	case "addheader":
		return ctlNext, in.addHeader(c)
	case "deleteheader":
		return ctlNext, in.deleteHeader(c)
	case "error":
		return ctlStop, in.errorf("%s", in.str(&c.pos[0]))
	default:
		return ctlStop, in.errorf("command '%s' is not implemented", n.name)
	}
	return ctlNext, nil
}

func validMailbox(s string) bool {
	return s != "" && utf8.ValidString(s) && !strings.ContainsAny(s, "\r\n\x00")
}

// add appends an action, merging a repeated fileinto, keep or redirect into its first one.
func (in *interp) add(a Action, cancels bool) error {
	// Over IMAP a kept message cannot change: edits go only with the copies fileinto makes
	// (and what redirect sends).
	if in.edited && (a.Kind == "fileinto" || a.Kind == "redirect") {
		a.Header = append([]Field(nil), in.header...)
	}
	a.Line = in.line
	// reject refuses the message, so it conflicts with delivering it (RFC 5429 §2.1).
	for _, x := range in.res.Actions {
		rx, ra := x.Kind == "reject" || x.Kind == "ereject", a.Kind == "reject" || a.Kind == "ereject"
		deliver := func(k string) bool { return k == "keep" || k == "fileinto" || k == "redirect" || k == "vacation" }
		if rx && deliver(a.Kind) || ra && deliver(x.Kind) {
			return in.errorf("%s action conflicts with earlier %s action", a.Kind, x.Kind)
		}
	}
	for i := range in.res.Actions {
		x := &in.res.Actions[i]
		// keep is a store into the message's own mailbox (RFC 5228 §2.10.3)
		same := x.Kind == a.Kind && (a.Kind == "discard" || a.Kind == "redirect" && strings.EqualFold(x.Address, a.Address)) ||
			in.target(*x) != "" && in.target(*x) == in.target(a)
		if same {
			x.Flags = a.Flags // RFC 5232 §5: the last flag list wins
			x.Copy = x.Copy && a.Copy
			x.Create = x.Create || a.Create
			if cancels {
				in.cancel = true
			}
			return nil
		}
	}
	if len(in.res.Actions) >= in.lim.MaxActions {
		return in.errorf("total number of actions exceeds policy limit (%d)", in.lim.MaxActions)
	}
	if cancels {
		in.cancel = true
	}
	in.res.Actions = append(in.res.Actions, a)
	return nil
}

// target is the mailbox a keep or fileinto stores into, "" for other actions.
func (in *interp) target(a Action) string {
	switch a.Kind {
	case "keep":
		if in.env.Mailbox == "" {
			return "INBOX"
		}
		return mailboxKey(in.env.Mailbox)
	case "fileinto":
		return mailboxKey(a.Mailbox)
	}
	return ""
}

// mailboxKey compares INBOX without case (RFC 3501 §5.1).
func mailboxKey(m string) string {
	if strings.EqualFold(m, "INBOX") {
		return "INBOX"
	}
	return m
}

func (in *interp) actionFlags(c *cargs) []string {
	if t := c.tags["flags"]; t != nil {
		return normFlags(nil, in.strs(t))
	}
	return in.flagsCopy()
}

// normFlags adds the space-separated flags in add to base, dropping repeats; system flags
// compare without case.
func normFlags(base []string, add []string) []string {
	out := append([]string{}, base...)
	for _, s := range add {
		for _, f := range strings.Fields(s) {
			if validFlag(f) && !hasFlag(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

var systemFlags = map[string]bool{`\answered`: true, `\flagged`: true, `\deleted`: true, `\seen`: true, `\draft`: true}

// validFlag: a system flag or an IMAP atom (RFC 3501 flag-keyword); others are ignored, as
// Pigeonhole ignores them.
func validFlag(f string) bool {
	if strings.HasPrefix(f, `\`) {
		return systemFlags[strings.ToLower(f)]
	}
	for i := 0; i < len(f); i++ {
		if c := f[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return f != ""
}

func flagEq(a, b string) bool {
	return strings.EqualFold(a, b)
}

func hasFlag(list []string, f string) bool {
	for _, x := range list {
		if flagEq(x, f) {
			return true
		}
	}
	return false
}

func (in *interp) flagCommand(name string, c *cargs) error {
	list := in.strs(&c.pos[len(c.pos)-1])
	var cur []string
	varName := ""
	if len(c.pos) == 2 {
		varName = in.str(&c.pos[0])
		if !validVarName(varName, false) {
			return in.errorf("%s: invalid variable name '%s'", name, varName)
		}
		cur = strings.Fields(in.getVar(varName))
	} else {
		cur = in.flags
	}
	switch name {
	case "setflag":
		cur = normFlags(nil, list)
	case "addflag":
		cur = normFlags(cur, list)
	case "removeflag":
		rm := normFlags(nil, list)
		var out []string
		for _, f := range cur {
			if !hasFlag(rm, f) {
				out = append(out, f)
			}
		}
		cur = out
	}
	if varName != "" {
		return in.setVar(varName, strings.Join(cur, " "))
	}
	in.flags = cur
	return nil
}

func (in *interp) include(n *node, c *cargs) (ctl, error) {
	key, _ := in.s.includePath(c)
	inc := in.s.includes[key]
	if inc == nil {
		return ctlNext, nil // :optional and missing
	}
	if c.tags["once"] != nil && in.once[inc] {
		return ctlNext, nil
	}
	for _, x := range in.stack {
		if x == inc {
			return ctlStop, in.errorf("include: circular include of script '%s'", inc.name)
		}
	}
	if inc == in.main || len(in.stack) >= in.lim.MaxIncludeDepth {
		return ctlStop, in.errorf("include: circular or too deep include of script '%s'", inc.name)
	}
	in.once[inc] = true
	saved, savedS, savedM, savedLine := in.sc, in.s, in.mvars, in.line
	in.stack = append(in.stack, in.s)
	in.s = inc
	in.sc = &scope{vars: map[string]string{}, globals: map[string]bool{}}
	in.mvars = nil
	ct, err := in.block(inc.cmds)
	in.stack = in.stack[:len(in.stack)-1]
	in.sc, in.s, in.mvars, in.line = saved, savedS, savedM, savedLine
	if ct == ctlReturn {
		ct = ctlNext
	}
	return ct, err
}

func (in *interp) test(n *node) (bool, error) {
	if err := in.step(); err != nil {
		return false, err
	}
	in.line = n.line
	c := n.x.(*cargs)
	if in.s.extra != nil && in.s.extra.test != nil {
		if ok, r, err := in.s.extra.test(in, n, c); ok || err != nil {
			return r, err
		}
	}
	switch n.name {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "not":
		r, err := in.test(n.tests[0])
		return !r, err
	case "allof", "anyof":
		all := n.name == "allof"
		for _, t := range n.tests {
			r, err := in.test(t)
			if err != nil {
				return false, err
			}
			if r != all {
				return r, nil
			}
		}
		return all, nil
	case "exists":
		for _, h := range in.strs(&c.pos[0]) {
			if _, ok := firstField(in.header, h); !ok {
				return false, nil
			}
		}
		return true, nil
	case "size":
		lim := c.pos[0].num
		size := in.msg.Size
		if in.edited {
			size += headerSize(in.header) - headerSize(in.msg.Header) // editheader changes the size
		}
		if size < 0 {
			size = 0
		}
		if c.tags["over"] != nil {
			return uint64(size) > lim, nil
		}
		return uint64(size) < lim, nil
	case "header":
		var vals []string
		for _, h := range in.strs(&c.pos[0]) {
			vals = append(vals, in.headerValues(h, c)...)
		}
		return in.matchWith(c, vals, in.strs(&c.pos[1]))
	case "address":
		var vals []string
		for _, h := range in.strs(&c.pos[0]) {
			for _, v := range in.headerValuesRaw(h, c) {
				for _, a := range parseAddrList(v) {
					if p, ok := in.addrPart(a, c); ok {
						vals = append(vals, p)
					}
				}
			}
		}
		return in.matchWith(c, vals, in.strs(&c.pos[1]))
	case "envelope":
		if in.env.Envelope == nil {
			return false, in.errorf("envelope test: there is no envelope for a message already stored (RFC 6785 §4.6)")
		}
		var vals []string
		for _, part := range in.strs(&c.pos[0]) {
			var v string
			switch strings.ToLower(part) {
			case "from":
				v = in.env.Envelope.From
			case "to":
				v = in.env.Envelope.To
			case "auth":
				v = in.env.Envelope.Auth
			default:
				continue
			}
			if strings.ToLower(part) == "auth" {
				if v != "" {
					vals = append(vals, v)
				}
				continue
			}
			a, null, ok := parsePath(v)
			switch {
			case !ok:
			case null:
				// The null reverse path: every part is empty (RFC 5228 §5.4).
				if c.tags["user"] == nil && c.tags["detail"] == nil {
					vals = append(vals, "")
				}
			default:
				if p, ok := in.addrPart(a, c); ok {
					vals = append(vals, p)
				}
			}
		}
		return in.matchWith(c, vals, in.strs(&c.pos[1]))
	case "hasflag":
		var vals []string
		if len(c.pos) == 2 {
			for _, v := range in.strs(&c.pos[0]) {
				vals = normFlags(vals, []string{in.getVar(v)})
			}
		} else {
			vals = append(vals, in.flags...)
		}
		keys := strings.Fields(strings.Join(in.strs(&c.pos[len(c.pos)-1]), " "))
		return in.matchWith(c, vals, keys)
	case "string":
		vals := in.strs(&c.pos[0])
		if m := in.matcherOf(c); m.typ == "count" {
			var ne []string
			for _, v := range vals {
				if v != "" {
					ne = append(ne, v)
				}
			}
			vals = ne
		}
		return in.matchWith(c, vals, in.strs(&c.pos[1]))
	case "body":
		vals, err := in.bodyValues(c)
		if err != nil {
			return false, err
		}
		// body sets no match variables (RFC 5173 §5)
		ok, _, err := in.matcherOf(c).match(in, vals, in.strs(&c.pos[0]))
		return ok, err
	case "date", "currentdate":
		return in.dateTest(n.name, c)
	case "mailboxexists":
		for _, mb := range in.strs(&c.pos[0]) {
			if !validMailbox(mb) || in.env.MailboxExists != nil && !in.env.MailboxExists(mb) {
				return false, nil
			}
		}
		return true, nil
	case "specialuse_exists":
		uses := in.strs(&c.pos[len(c.pos)-1])
		if len(c.pos) == 2 {
			mb := in.str(&c.pos[0])
			if in.env.MailboxExists != nil && !in.env.MailboxExists(mb) {
				return false, nil
			}
			var have []string
			if in.env.SpecialUse != nil {
				have = in.env.SpecialUse(mb)
			}
			for _, u := range uses {
				if !hasFlag(have, u) {
					return false, nil
				}
			}
			return true, nil
		}
		for _, u := range uses {
			if in.env.FindSpecialUse == nil || in.env.FindSpecialUse(u) == "" {
				return false, nil
			}
		}
		return true, nil
	case "spamtest":
		st := in.env.Spam
		if st == nil {
			st = defaultSpam
		}
		v := in.scoreValue(st, false, c.tags["percent"] != nil)
		return in.matchWith(c, []string{v}, []string{in.str(&c.pos[0])})
	case "virustest":
		st := in.env.Virus
		if st == nil {
			st = defaultVirus
		}
		v := in.scoreValue(st, true, false)
		return in.matchWith(c, []string{v}, []string{in.str(&c.pos[0])})
	case "environment":
		v, ok := in.environment(strings.ToLower(in.str(&c.pos[0])))
		if !ok {
			return false, nil // an unknown item matches nothing, not even :count (RFC 5183 §4.1)
		}
		return in.matchWith(c, []string{v}, in.strs(&c.pos[1]))
	case "ihave":
		for _, e := range in.strs(&c.pos[0]) {
			if !in.s.capable(e) || !ihaveable(e) {
				return false, nil
			}
		}
		return true, nil
	case "duplicate":
		return in.duplicate(c)
	}
	return false, in.errorf("test '%s' is not implemented", n.name)
}

func (in *interp) matcherOf(c *cargs) *matcher {
	if c.m == nil {
		return newMatcher(c) // not cached here: a Script may be run by many goroutines
	}
	return c.m
}

// newMatcher reads a test's match type and comparator; both are constants (RFC 5228 §2.7).
func newMatcher(c *cargs) *matcher {
	m := &matcher{typ: "is", cmp: "i;ascii-casemap", re: c.re}
	for _, t := range []string{"is", "contains", "matches", "regex", "value", "count"} {
		if a := c.tags[t]; a != nil {
			m.typ = t
			if t == "value" || t == "count" {
				m.relop = strings.ToLower(a.strs[0])
			}
		}
	}
	if a := c.tags["comparator"]; a != nil {
		m.cmp = strings.ToLower(a.strs[0])
	}
	return m
}

func (in *interp) matchWith(c *cargs, vals, keys []string) (bool, error) {
	m := in.matcherOf(c)
	ok, vars, err := m.match(in, vals, keys)
	if err != nil {
		return false, err
	}
	if ok && vars != nil && in.s.exts["variables"] {
		if len(vars) > 256 {
			vars = vars[:256]
		}
		in.mvars = vars
	}
	return ok, nil
}

func (in *interp) regex(k, cmp string) (*regexp.Regexp, error) {
	key := cmp + "\x00" + k
	if re, ok := in.regexps[key]; ok {
		return re, nil
	}
	re, err := compileRE(k, cmp)
	if err != nil {
		return nil, in.errorf("invalid regular expression '%s': %v", k, err)
	}
	if len(in.regexps) < 256 {
		in.regexps[key] = re
	}
	return re, nil
}

// headerValuesRaw returns the named fields' unfolded values, honouring :index and :last.
func (in *interp) headerValuesRaw(name string, c *cargs) []string {
	vals := append([]string(nil), in.fieldValues(name)...)
	if a := c.tags["index"]; a != nil {
		i := int(min(a.num, 1<<30))
		if c.tags["last"] != nil {
			i = len(vals) - i + 1
		}
		if i < 1 || i > len(vals) {
			return nil
		}
		return vals[i-1 : i]
	}
	return vals
}

func (in *interp) headerValues(name string, c *cargs) []string {
	vals := in.headerValuesRaw(name, c)
	for i, v := range vals {
		vals[i] = decodeHeader(v)
	}
	return vals
}

// fieldValues is every unfolded value of the named field, cached for the run until
// editheader changes the header.
func (in *interp) fieldValues(name string) []string {
	key := asciiLower(name)
	if vals, ok := in.fields[key]; ok {
		return vals
	}
	var vals []string
	for _, f := range in.header {
		if strings.EqualFold(f.Name, name) {
			vals = append(vals, unfold(f.Value))
		}
	}
	if in.fields == nil {
		in.fields = map[string][]string{}
	}
	if len(in.fields) < 1000 {
		in.fields[key] = vals
	}
	return vals
}

func (in *interp) addrPart(a address, c *cargs) (string, bool) {
	if a.bad {
		if c.tags["localpart"] != nil || c.tags["domain"] != nil || c.tags["user"] != nil || c.tags["detail"] != nil {
			return "", false
		}
		return a.raw, true
	}
	switch {
	case c.tags["localpart"] != nil:
		return a.local, true
	case c.tags["domain"] != nil:
		return a.domain, true
	case c.tags["user"] != nil || c.tags["detail"] != nil:
		sep := in.env.SubaddressSep
		if sep == "" {
			sep = "+"
		}
		// Each character of the separator is a separator, as Pigeonhole's recipient_delimiter.
		i := strings.IndexAny(a.local, sep)
		if c.tags["user"] != nil {
			if i < 0 {
				return a.local, true
			}
			return a.local[:i], true
		}
		if i < 0 {
			return "", false
		}
		return a.local[i+1:], true
	}
	if a.domain == "" {
		return a.local, true
	}
	return a.local + "@" + a.domain, true
}

func (in *interp) bodyParts() ([]part, error) {
	if !in.partsOK {
		body, err := in.msg.Body()
		if err != nil {
			return nil, in.errorf("body: cannot read the message body: %v", err)
		}
		in.parts = bodyParts(in.msg.Header, body)
		in.partsOK = true
	}
	return in.parts, nil
}

func (in *interp) bodyValues(c *cargs) ([]string, error) {
	if c.tags["raw"] != nil {
		body, err := in.msg.Body()
		if err != nil {
			return nil, in.errorf("body: cannot read the message body: %v", err)
		}
		if len(body) == 0 {
			return nil, nil
		}
		return []string{string(body)}, nil
	}
	text := true
	var types []string
	if t := c.tags["content"]; t != nil {
		text, types = false, in.strs(t)
	}
	parts, err := in.bodyParts()
	if err != nil {
		return nil, err
	}
	var vals []string
	for _, p := range parts {
		if text {
			// :text: text/* as is, HTML and XHTML as their text; nothing else (as Pigeonhole).
			if !p.multi && (strings.HasPrefix(p.ctype, "text/") || p.ctype == "application/xhtml+xml") {
				vals = append(vals, partText(p))
			}
			continue
		}
		for _, t := range types {
			t = strings.ToLower(t)
			if t != "" && t != p.ctype && (strings.Contains(t, "/") || !strings.HasPrefix(p.ctype, t+"/")) {
				continue
			}
			switch {
			case p.rawHeader != nil:
				vals = append(vals, string(p.rawHeader))
			case p.multi:
				vals = append(vals, string(p.pro), string(p.epi))
			default:
				vals = append(vals, partContent(p))
			}
			break
		}
	}
	return vals, nil
}

// partContent is a part's decoded content, in UTF-8 when it is text.
func partContent(p part) string {
	cs := strings.ToLower(p.params["charset"])
	if strings.HasPrefix(p.ctype, "text/") && cs != "" && cs != "utf-8" && cs != "us-ascii" {
		if s, err := convertCharset(cs, p.body); err == nil {
			return s
		}
	}
	return string(p.body)
}

func partText(p part) string {
	s := partContent(p)
	if p.ctype == "text/html" || p.ctype == "application/xhtml+xml" {
		return htmlText(s)
	}
	return s
}

func (in *interp) duplicate(c *cargs) (bool, error) {
	var id string
	if t := c.tags["uniqueid"]; t != nil {
		id = in.str(t)
	} else {
		h := "message-id"
		if t := c.tags["header"]; t != nil {
			h = in.str(t)
		}
		v, ok := firstField(in.header, h)
		if !ok {
			return false, nil
		}
		id = unfold(v)
	}
	id = in.str(c.tags["handle"]) + "\x00" + id
	secs := uint64(7 * 24 * 3600)
	if t := c.tags["seconds"]; t != nil {
		secs = min(t.num, 1<<31)
	}
	seen := in.env.Duplicates != nil && in.env.Duplicates.Seen(id)
	if !seen || c.tags["last"] != nil {
		in.dups = append(in.dups, dupMark{id: id, until: in.now().Add(time.Duration(secs) * time.Second)})
	}
	return seen, nil
}

func (in *interp) now() time.Time {
	if in.env.Now.IsZero() {
		return time.Now()
	}
	return in.env.Now
}

// Version is reported by the environment test's "version" item.
const Version = "0.1"

func (in *interp) environment(name string) (string, bool) {
	if v, ok := in.env.Environment[name]; ok {
		return v, true
	}
	switch name {
	case "name":
		return "mailscript", true
	case "version":
		return Version, true
	case "location":
		return "MS", true // RFC 6785 §3.2: a message store
	case "phase":
		return "post", true
	case "domain", "host":
		return "localhost", true
	case "imap.mailbox":
		return in.env.Mailbox, true
	case "imap.cause":
		return "", false
	}
	return "", false
}

// scoreValue computes spamtest's or virustest's value: "0" when not tested, else 1..10
// (1..5 for virustest), or 0..100 with :percent (RFC 5235 §3).
func (in *interp) scoreValue(st *ScoreTest, virus, percent bool) string {
	header := func(spec string) (string, bool) {
		name, pat, hasRE := strings.Cut(spec, ":")
		pat = strings.TrimLeft(pat, " \t")
		v, ok := firstField(in.header, strings.TrimSpace(name))
		if !ok {
			return "", false
		}
		v = decodeHeader(unfold(v))
		if !hasRE {
			return v, true
		}
		re, err := in.regex(pat, "i;octet")
		if err != nil {
			return "", false
		}
		m := re.FindStringSubmatch(v)
		if len(m) < 2 {
			return "", false
		}
		return m[1], true
	}
	top := 10.0
	if virus {
		top = 5
	}
	max := top
	var status float64
	typ := st.Type
	if typ == "" {
		typ = "score"
	}
	if typ != "text" {
		max = st.Max
		if st.MaxHeader != "" {
			v, ok := header(st.MaxHeader)
			if !ok {
				return "0"
			}
			if max, ok = parseDecimal(v); !ok {
				return "0"
			}
		}
		if max == 0 {
			return "0"
		}
	}
	v, ok := header(st.Header)
	if !ok {
		return "0"
	}
	switch typ {
	case "score":
		if status, ok = parseDecimal(v); !ok {
			return "0"
		}
	case "strlen":
		for i := 0; i < len(v); i++ {
			if v[i] != v[0] {
				return "0"
			}
		}
		status = float64(len(v))
	default:
		n, ok := st.Text[v]
		if !ok {
			return "0"
		}
		status = float64(n)
	}
	r := status / max
	r = max0(min(r, 1))
	switch {
	case percent:
		return strconv.Itoa(int(r*100 + 0.001))
	case virus:
		return strconv.Itoa(int(r*4 + 1.001))
	}
	return strconv.Itoa(int(r*9 + 1.001))
}

func parseDecimal(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	end := 0
	if end < len(s) && (s[end] == '-' || s[end] == '+') {
		end++
	}
	for end < len(s) && (isDigit(s[end]) || s[end] == '.') {
		end++
	}
	f, err := strconv.ParseFloat(s[:end], 64)
	return f, err == nil
}

func max0(f float64) float64 {
	if f < 0 {
		return 0
	}
	return f
}
