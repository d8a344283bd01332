package sieve

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// cargs is a node's arguments sorted by the validator.
type cargs struct {
	tags map[string]*arg // tag name -> its parameter (an argTag arg when it has none)
	pos  []arg
	re   []*regexp.Regexp // :regex keys compiled once, when they hold no variables
	m    *matcher         // the match type and comparator, set by the validator
}

type validator struct {
	s        *Script
	specs    map[string]*spec
	errs     []*Error
	exts     map[string]bool
	unknown  map[string]bool
	declared map[string]bool // variables set in this script
}

const (
	maxVarName    = 64 // characters of a variable name
	maxMatchIndex = 32 // highest ${N}
)

func markVars(c *cargs) {
	mark := func(a *arg) {
		for _, s := range a.strs {
			if strings.Contains(s, "${") {
				a.vars = true
			}
		}
	}
	for _, a := range c.tags {
		mark(a)
	}
	for i := range c.pos {
		mark(&c.pos[i])
	}
}

// varRefs checks the ${...} references in a command's strings (RFC 5229 §3).
func (v *validator) varRefs(c *cargs) {
	if !v.exts["variables"] {
		return
	}
	check := func(a *arg) {
		if a.kind != argStrings {
			return
		}
		for _, s := range a.strs {
			for {
				i := strings.Index(s, "${")
				if i < 0 {
					break
				}
				end := strings.IndexByte(s[i+2:], '}')
				if end < 0 {
					break
				}
				name := s[i+2 : i+2+end]
				s = s[i+2:]
				if isNum(name) {
					if n, _ := strconv.Atoi(name); n > maxMatchIndex {
						v.errorf(a.line, "match value index %s is higher than %d", name, maxMatchIndex)
					}
					continue
				}
				if !validVarName(name, false) {
					continue // not a reference: stays as written
				}
				if ns, _, dotted := strings.Cut(name, "."); dotted && !(strings.EqualFold(ns, "global") && v.exts["include"]) {
					v.errorf(a.line, "unknown variable namespace '%s'", ns)
				}
			}
		}
	}
	for _, a := range c.tags {
		check(a)
	}
	for i := range c.pos {
		check(&c.pos[i])
	}
}

func (v *validator) errorf(line int, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.s.name, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func article(s *spec) string {
	if s.test {
		return "the " + s.name + " test"
	}
	return "the " + s.name + " command"
}

func kindName(k kindSet) string {
	switch k {
	case kStr:
		return "a string"
	case kList:
		return "a string list"
	}
	return "a number"
}

func argName(a arg) string {
	switch a.kind {
	case argTag:
		return "a tag"
	case argNumber:
		return "a number"
	}
	if a.list {
		return "a string list"
	}
	return "a string"
}

func (v *validator) block(cmds []*node, top bool) {
	requireOK := top
	var prev string
	for _, n := range cmds {
		if n.name == "require" {
			if !requireOK {
				v.errorf(n.line, "require commands can only be placed at top level at the beginning of the file")
				n.misplaced = true
			}
		} else {
			requireOK = false
		}
		if (n.name == "elsif" || n.name == "else") && prev != "if" && prev != "elsif" {
			v.errorf(n.line, "the %s command must follow an if or elseif command", n.name)
		}
		prev = n.name
		v.command(n)
	}
}

func (v *validator) known(n *node, test bool) *spec {
	s := v.specs[n.name]
	if alt := v.specs["test:"+n.name]; test && alt != nil {
		s = alt // a name that is both a command and a test
	}
	what := "command"
	if test {
		what = "test"
	}
	if s == nil || s.test != test || (s.ext != "" && !v.exts[s.ext] && !(s.name == "ereject" && v.exts["reject"])) {
		if s != nil && s.test == test {
			v.errorf(n.line, "unknown %s '%s' (perhaps it is part of an extension that is not required: '%s')", what, n.name, s.ext)
		} else if s != nil {
			v.errorf(n.line, "cannot use %s '%s' as %s", map[bool]string{true: "test", false: "command"}[s.test], n.name, what)
		} else if !v.unknown[what+" "+n.name] {
			v.errorf(n.line, "unknown %s '%s' (only reported once at first occurrence)", what, n.name)
		}
		if v.unknown == nil {
			v.unknown = map[string]bool{}
		}
		v.unknown[what+" "+n.name] = true // reported once, as sievec does
		return nil
	}
	return s
}

func (v *validator) command(n *node) {
	s := v.known(n, false)
	if s == nil {
		return
	}
	n.spec = s
	before := len(v.errs)
	if v.s.opts.StoredMail && (undeliverable[s.name] || s.name == "redirect" && !v.s.opts.AllowRedirect) {
		v.errorf(n.line, "%s is inapplicable to stored mail (RFC 6785 §3.11): the message was delivered already", s.name)
	}
	v.args(n, s)
	if s.block && !n.hasBl {
		v.errorf(n.line, "%s requires a command block", article(s))
	} else if !s.block && n.hasBl {
		v.errorf(n.line, "%s does not take a command block", article(s))
	}
	if s.name == "require" && len(v.errs) == before && !n.misplaced {
		v.require(n) // capabilities of a malformed require are not looked at
	}
	if (s.name == "if" || s.name == "elsif") && len(n.tests) == 1 && n.tests[0].name == "ihave" && v.exts["ihave"] {
		// RFC 5463 §4: a block guarded by ihave is checked with those extensions, or not at
		// all when one is unknown.
		c, _ := n.tests[0].x.(*cargs)
		if c == nil || len(c.pos) != 1 {
			return
		}
		saved := map[string]bool{}
		for k, x := range v.exts {
			saved[k] = x
		}
		for _, e := range c.pos[0].strs {
			if !v.capable(e) || !ihaveable(e) {
				return
			}
			v.exts[e] = true
		}
		v.block(n.block, false)
		for k := range v.exts {
			if !saved[k] {
				delete(v.exts, k)
			}
		}
		return
	}
	v.block(n.block, false)
}

func (v *validator) require(n *node) {
	c, ok := n.x.(*cargs)
	if !ok || len(c.pos) != 1 {
		return
	}
	for _, e := range c.pos[0].strs {
		if !v.capable(e) {
			v.errorf(n.line, "require command: unknown Sieve capability '%s'", e)
			continue
		}
		v.exts[e] = true
		if e == "spamtestplus" {
			v.exts["spamtest"] = true
		}
		if e == "vacation-seconds" {
			v.exts["vacation"] = true
		}
	}
}

func (v *validator) capable(e string) bool { return v.s.capable(e) }

func (s *Script) capable(e string) bool {
	if capabilities[e] {
		return true // with StoredMail, reject and vacation are refused by the command, naming the policy
	}
	return s.extra != nil && s.extra.caps[e]
}

func (v *validator) test(n *node) {
	s := v.known(n, true)
	if s == nil {
		return
	}
	n.spec = s
	v.args(n, s)
}

func (v *validator) args(n *node, s *spec) {
	c := &cargs{tags: map[string]*arg{}}
	n.x = c
	before := len(v.errs)
	refused := false
	// As sievec, the first error in a command's arguments ends their checks (its tests are
	// still checked).
	defer func() {
		// The sub-tests are checked even after an argument error, as sievec does.
		switch {
		case s.tests == 0 && n.tests != nil:
			refused = true
			t := n.tests[0]
			ts := v.specs[t.name]
			_, isTag := s.tags[t.name]
			switch {
			case ts != nil && len(v.errs) > before:
				// an argument error was reported; a known name after it is no typo
			case ts != nil && ts.test:
				v.errorf(n.line, "%s accepts no sub-tests, but tests are specified", article(s))
			case ts == nil && isTag:
				v.errorf(n.line, "missing colon ':' before ':%s' tag in %s", t.name, article(s))
			default:
				v.errorf(n.line, "missing semicolon ';' after %s", article(s))
			}
		case s.tests == 1 && len(n.tests) != 1:
			v.errorf(n.line, "%s requires one test", article(s))
		case s.tests == -1 && n.tests == nil:
			v.errorf(n.line, "%s requires a list of tests", article(s))
		}
		// Tests given to a command that takes none are reported as such, not checked as tests.
		for _, t := range n.tests {
			if !refused {
				v.test(t)
			}
		}
		if len(v.errs) == before {
			v.encoded(c)
			markVars(c)
			v.varRefs(c)
			v.check(n, s, c)
			c.m = newMatcher(c) // read-only from here, so runs may share the script
		}
	}()
	groups := map[string]string{}
	args := n.args
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a.kind != argTag {
			c.pos = append(c.pos, a)
			continue
		}
		ts, ok := s.tags[a.tag]
		if ok && ts.ext != "" && !v.exts[ts.ext] {
			ok = false
		}
		if ok && len(c.pos) > 0 {
			v.errorf(a.line, "unexpected tagged argument ':%s' for %s: tags come before positional arguments", a.tag, article(s))
			return
		}
		if !ok {
			v.errorf(a.line, "unknown tagged argument ':%s' for %s (reported only once at first occurrence)", a.tag, article(s))
			return
		}
		if g := ts.group; g != "" {
			if other, dup := groups[g]; dup {
				v.errorf(a.line, "%s: tags ':%s' and ':%s' cannot be used together", article(s), other, a.tag)
				return
			}
			groups[g] = a.tag
		}
		if _, dup := c.tags[a.tag]; dup {
			v.errorf(a.line, "encountered duplicate tag ':%s' for %s", a.tag, article(s))
			return
		}
		if ts.param == 0 {
			c.tags[a.tag] = &args[i]
			continue
		}
		if i+1 >= len(args) || !fits(args[i+1], ts.param) {
			found := "none"
			if i+1 < len(args) {
				found = argName(args[i+1])
			}
			v.errorf(a.line, "the :%s tag for %s requires %s as parameter, but %s was found", a.tag, article(s), kindName(ts.param), found)
			return
		}
		i++
		c.tags[a.tag] = &args[i]
	}
	// positional arguments: the alternative with the matching count
	var want []posArg
	for _, alt := range s.pos {
		if len(alt) == len(c.pos) {
			want = alt
		}
	}
	if want == nil && (len(s.pos) > 0 || len(c.pos) > 0) {
		want := 0
		if len(s.pos) > 0 {
			want = len(s.pos[len(s.pos)-1])
		}
		v.errorf(nodeLine(n), "%s requires %d positional argument(s), but %d is/are specified", article(s), want, len(c.pos))
		return
	}
	for i, pa := range want {
		if !fits(c.pos[i], pa.kind) {
			v.errorf(c.pos[i].line, "%s expects %s as argument %d (%s), but %s was found", article(s), kindName(pa.kind), i+1, pa.name, argName(c.pos[i]))
			return
		}
	}
}

func nodeLine(n *node) int {
	if len(n.args) > 0 {
		return n.args[0].line
	}
	return n.line
}

func fits(a arg, k kindSet) bool {
	switch k {
	case kStr:
		return a.kind == argStrings && !a.list && len(a.strs) == 1
	case kList:
		return a.kind == argStrings
	}
	return a.kind == argNumber
}

// encoded applies RFC 5228 §2.4.2.4 to every string when the script requires it.
func (v *validator) encoded(c *cargs) {
	if !v.exts["encoded-character"] {
		return
	}
	fix := func(a *arg) {
		if a.kind != argStrings {
			return
		}
		for i, s := range a.strs {
			out, err := decodeEncoded(s)
			if err != nil {
				v.errorf(a.line, "%v", err)
				continue
			}
			a.strs[i] = out
		}
	}
	for _, a := range c.tags {
		fix(a)
	}
	for i := range c.pos {
		fix(&c.pos[i])
	}
}

// decodeEncoded expands ${hex:...} and ${unicode:...}; malformed ones stay as written.
func decodeEncoded(s string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		rest := s[i+2:]
		colon := strings.IndexByte(rest, ':')
		end := strings.IndexByte(rest, '}')
		if colon < 0 || end < colon {
			b.WriteString("${")
			s = rest
			continue
		}
		kind := strings.ToLower(strings.TrimSpace(rest[:colon]))
		if kind != "hex" && kind != "unicode" {
			b.WriteString("${")
			s = rest
			continue
		}
		fields := strings.Fields(rest[colon+1 : end])
		var out strings.Builder
		ok := true
		for _, f := range fields {
			if kind == "hex" {
				n, err := strconv.ParseUint(f, 16, 8)
				if err != nil || len(f) > 2 && strings.TrimLeft(f, "0") != "" && len(strings.TrimLeft(f, "0")) > 2 {
					ok = false
					break
				}
				out.WriteByte(byte(n))
			} else {
				n, err := strconv.ParseUint(f, 16, 32)
				if err != nil || len(f) > 6 && len(strings.TrimLeft(f, "0")) > 6 {
					ok = false
					break
				}
				if n > utf8.MaxRune || n >= 0xd800 && n <= 0xdfff {
					return "", fmt.Errorf("invalid unicode character 0x%x in encoded character substitution", n)
				}
				out.WriteRune(rune(n))
			}
		}
		if !ok || len(fields) == 0 {
			b.WriteString("${")
			s = rest
			continue
		}
		b.WriteString(out.String())
		s = rest[end+1:]
	}
}

// ihaveable: encoded-character and variables change how a script is read, so ihave cannot
// enable them (RFC 5463 §4).
func ihaveable(e string) bool { return e != "encoded-character" && e != "variables" }

var comparators = map[string]string{"i;octet": "", "i;ascii-casemap": "", "i;ascii-numeric": "comparator-i;ascii-numeric"}

var relops = map[string]bool{"gt": true, "ge": true, "lt": true, "le": true, "eq": true, "ne": true}

// check does the per-command checks that need argument values.
func (v *validator) check(n *node, s *spec, c *cargs) {
	if a := c.tags["comparator"]; a != nil && a.kind == argStrings && len(a.strs) == 1 {
		name := strings.ToLower(a.strs[0])
		ext, ok := comparators[name]
		if !ok || ext != "" && !v.exts[ext] {
			v.errorf(a.line, "unknown comparator '%s'", a.strs[0])
		} else if name == "i;ascii-numeric" && (c.tags["contains"] != nil || c.tags["matches"] != nil || c.tags["regex"] != nil) {
			v.errorf(a.line, "the match type doesn't support the i;ascii-numeric comparator")
		}
	}
	for _, rel := range []string{"value", "count"} {
		if a := c.tags[rel]; a != nil && a.kind == argStrings && len(a.strs) == 1 && !relops[strings.ToLower(a.strs[0])] {
			v.errorf(a.line, "invalid relational match type '%s'", a.strs[0])
		}
	}
	if a := c.tags["regex"]; a != nil && len(c.pos) > 0 {
		keys := c.pos[len(c.pos)-1]
		for _, k := range keys.strs {
			if v.exts["variables"] && strings.Contains(k, "${") {
				c.re = nil
				break
			}
			re, err := compileRegex(k, c.tags["comparator"])
			if err != nil {
				v.errorf(keys.line, "invalid regular expression '%s' for regex match: %v", k, err)
				continue
			}
			c.re = append(c.re, re)
		}
	}
	if c.tags["last"] != nil && c.tags["index"] == nil && s.name != "addheader" && s.name != "duplicate" {
		v.errorf(n.line, "%s: the :last tag requires the :index tag", article(s))
	}
	if a := c.tags["index"]; a != nil && a.num == 0 {
		v.errorf(a.line, "%s: the :index tag requires a non-zero number", article(s))
	}
	constant := func(a *arg) []string {
		if a == nil || a.kind != argStrings || v.exts["variables"] && strings.Contains(strings.Join(a.strs, ""), "${") {
			return nil
		}
		return a.strs
	}
	switch s.name {
	case "specialuse_exists", "fileinto":
		var uses, boxes []string
		if s.name == "fileinto" {
			uses = constant(c.tags["specialuse"])
			if len(c.pos) == 1 {
				boxes = constant(&c.pos[0])
			}
		} else if len(c.pos) > 0 {
			uses = constant(&c.pos[len(c.pos)-1]) // a bad mailbox name here is only a warning in sievec
		}
		for _, u := range uses {
			if len(u) < 2 || u[0] != '\\' || !validFlag(u[1:]) {
				v.errorf(n.line, "%s: invalid special-use flag '%s'", article(s), u)
			}
		}
		for _, b := range boxes {
			if !utf8.ValidString(b) {
				v.errorf(n.line, "%s: invalid mailbox name: not valid UTF-8", article(s))
			}
		}
	case "redirect", "vacation":
		a := c.tags["from"]
		if s.name == "redirect" && len(c.pos) == 1 {
			a = &c.pos[0]
		}
		for _, addr := range constant(a) {
			if _, ok := parseAddr(addr); !ok || strings.ContainsAny(addr, "\r\n") {
				v.errorf(a.line, "%s: specified address '%s' is invalid", s.name, strings.ToValidUTF8(addr, "?"))
			}
		}
	case "address":
		if len(c.pos) == 2 {
			for _, h := range constant(&c.pos[0]) {
				if !addressHeaders[strings.ToLower(h)] {
					v.errorf(c.pos[0].line, "specified header '%s' is not allowed for the address test: it holds no addresses", h)
				}
			}
		}
	case "envelope":
		if len(c.pos) == 2 {
			for _, part := range constant(&c.pos[0]) {
				switch strings.ToLower(part) {
				case "from", "to", "auth":
				default:
					v.errorf(c.pos[0].line, "the envelope test: unknown envelope part '%s'", part)
				}
			}
		}
	case "size":
		if c.tags["over"] == nil && c.tags["under"] == nil {
			v.errorf(n.line, "the size test requires either the :under or the :over tag")
		}
	case "set":
		if len(c.pos) == 2 && fits(c.pos[0], kStr) {
			name := c.pos[0].strs[0]
			ns, rest, dotted := strings.Cut(name, ".")
			switch {
			case dotted && !strings.EqualFold(ns, "global"):
				v.errorf(c.pos[0].line, "set: unknown variable namespace '%s'", ns)
			case dotted && (!v.exts["include"] || strings.Contains(rest, ".") || !validVarName(rest, false)):
				v.errorf(c.pos[0].line, "set: invalid variable name '%s' in the global namespace", name)
			case !dotted && !validVarName(name, false):
				v.errorf(c.pos[0].line, "invalid variable name '%s'", name)
			case len(name) > maxVarName:
				v.errorf(c.pos[0].line, "set: variable name '%s...' is longer than %d characters", name[:maxVarName], maxVarName)
			case !dotted:
				if v.declared == nil {
					v.declared = map[string]bool{}
				}
				v.declared[strings.ToLower(name)] = true
				if len(v.declared) == v.s.opts.Limits.MaxVariables+1 {
					v.errorf(c.pos[0].line, "set: more than %d variables in one script", v.s.opts.Limits.MaxVariables)
				}
			}
		}
	case "date", "currentdate":
		i := 0
		if s.name == "date" {
			i = 1
		}
		if len(c.pos) > i && fits(c.pos[i], kStr) && !strings.Contains(c.pos[i].strs[0], "${") && !dateParts[strings.ToLower(c.pos[i].strs[0])] {
			v.errorf(c.pos[i].line, "invalid date part '%s'", c.pos[i].strs[0])
		}
	case "include":
		if len(c.pos) == 1 && fits(c.pos[0], kStr) {
			if name := c.pos[0].strs[0]; !validScriptName(name) {
				v.errorf(c.pos[0].line, "include: invalid script name '%s'", strings.ToValidUTF8(name, "?"))
			}
		}
	case "global":
		if !v.exts["variables"] {
			v.errorf(n.line, "the global command requires the variables extension")
			break
		}
		if len(c.pos) == 1 {
			for _, name := range c.pos[0].strs {
				if !validVarName(name, false) {
					v.errorf(c.pos[0].line, "invalid variable name '%s'", name)
				}
			}
		}
	case "addheader", "deleteheader":
		if len(c.pos) > 0 && fits(c.pos[0], kStr) && !strings.Contains(c.pos[0].strs[0], "${") && !validFieldName(c.pos[0].strs[0]) {
			v.errorf(c.pos[0].line, "%s: specified field name '%s' is invalid", s.name, c.pos[0].strs[0])
		}
		if s.name == "addheader" && len(c.pos) == 2 && fits(c.pos[1], kStr) && !strings.Contains(c.pos[1].strs[0], "${") {
			val := c.pos[1].strs[0]
			if strings.ContainsRune(val, 0) {
				v.errorf(c.pos[1].line, "addheader: specified value '%s' is invalid (contains NUL)", strings.ReplaceAll(val, "\x00", "\\0"))
			} else if len(c.pos[0].strs[0])+2+len(val) > v.s.opts.Limits.MaxHeaderSize {
				v.errorf(c.pos[1].line, "addheader: the new header field exceeds the limit of %d bytes", v.s.opts.Limits.MaxHeaderSize)
			}
		}
	}
	if v.s.extra != nil && v.s.extra.check != nil {
		if msg := v.s.extra.check(n.name, c); msg != "" {
			v.errorf(n.line, "%s", msg)
		}
	}
}

// validScriptName refuses path separators and the control and separator characters
// RFC 6609 §4 and RFC 5198 exclude from script names.
func validScriptName(s string) bool {
	if s == "" || s == "." || s == ".." || !utf8.ValidString(s) || strings.ContainsAny(s, "/\\") {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r >= 0x7f && r <= 0x9f || r == 0x2028 || r == 0x2029 {
			return false
		}
	}
	return true
}

// addressHeaders are the fields the address test reads (RFC 5228 §5.1 requires a list).
var addressHeaders = map[string]bool{
	"from": true, "sender": true, "to": true, "cc": true, "bcc": true, "reply-to": true,
	"resent-from": true, "resent-sender": true, "resent-to": true, "resent-cc": true, "resent-bcc": true,
	"resent-reply-to": true, "return-path": true, "delivered-to": true, "envelope-to": true,
	"x-original-to": true, "x-envelope-to": true, "errors-to": true, "return-receipt-to": true,
	"disposition-notification-to": true, "mail-followup-to": true, "mail-reply-to": true,
	"apparently-to": true, "original-recipient": true, "x-beenthere": true, "list-post": true,
}

var dateParts = map[string]bool{"year": true, "month": true, "day": true, "date": true, "julian": true,
	"hour": true, "minute": true, "second": true, "time": true, "iso8601": true, "std11": true,
	"zone": true, "weekday": true}

func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f || s[i] == ':' {
			return false
		}
	}
	return true
}

// validVarName: identifier or, when num is set, also a match variable number.
func validVarName(s string, num bool) bool {
	if s == "" {
		return false
	}
	parts := strings.Split(s, ".")
	for _, p := range parts {
		if p == "" {
			return false
		}
		if !isAlpha(p[0]) {
			return false
		}
		for i := 0; i < len(p); i++ {
			if !isAlpha(p[i]) && !isDigit(p[i]) {
				return false
			}
		}
	}
	return true
}
