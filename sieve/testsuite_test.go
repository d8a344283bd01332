package sieve

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// An implementation of the parts of Pigeonhole's vnd.dovecot.testsuite extension that its
// core and extension test files use, for the conformance harness.

type storedMsg struct {
	raw   string
	flags []string
}

type suite struct {
	dir      string
	env      *Env
	msgRaw   string
	mail     map[string][]storedMsg // mailbox (INBOX upper-cased) -> messages
	compiled *Script
	errs     []string // of the last compile or run
	passed   []string
	failed   []string // "name: reason"
	opts     *Options
	smtp     []string // messages redirect "sent"
	binaries map[string]*Script
	curName  string
}

// failure ends one test block.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

const defaultTestMessage = "From: sender@example.com\nTo: recipient@example.org\nSubject: Frop!\n\nFriep!\n"

func newSuite(path string) *suite {
	dir := filepath.Dir(path)
	s := &suite{dir: dir, env: &Env{Envelope: &Envelope{}}, mail: map[string][]storedMsg{"INBOX": nil}}
	s.opts = &Options{Name: strings.TrimSuffix(filepath.Base(path), ".svtest"),
		PersonalDir: filepath.Join(dir, "included"), GlobalDir: filepath.Join(dir, "included-global")}
	s.opts.extra = s.extension()
	s.env.MailboxExists = func(name string) bool {
		_, ok := s.mail[mbKey(name)]
		return ok
	}
	return s
}

func mbKey(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	if len(name) > 6 && strings.EqualFold(name[:6], "INBOX.") {
		return "INBOX" + name[5:]
	}
	return name
}

func (s *suite) setMessage(in *interp, raw string) {
	m, _ := ParseMessage([]byte(raw))
	s.msgRaw = raw
	in.msg = m
	in.header = m.Header
	in.fields = nil
	in.edited = false
	in.partsOK = false
	in.parts = nil
}

func (s *suite) extension() *extension {
	tsTags := merge(matchTags, map[string]tagSpec{"index": {param: kNum}})
	specs := []*spec{
		{name: "test", pos: alts(pa(kStr, "test-name")), block: true},
		{name: "test_fail", pos: alts(pa(kStr, "reason"))},
		{name: "test_set", pos: alts(pa(kStr, "object", kStr, "value"))},
		{name: "test_result_reset"},
		{name: "test_binary_save", pos: alts(pa(kStr, "name"))},
		{name: "debug_log", pos: alts(pa(kStr, "message"))},
		{name: "test_binary_load", pos: alts(pa(kStr, "name"))},
		{name: "test_mailbox_create", pos: alts(pa(kStr, "mailbox"))},
		{name: "test_config_set", pos: alts(pa(kStr, "setting", kStr, "value"))},
		{name: "test_config_unset", pos: alts(pa(kStr, "setting"))},
		{name: "test_config_reload", tags: map[string]tagSpec{"extension": {param: kStr}}},
		{name: "test_message", tags: map[string]tagSpec{"folder": {group: "src", param: kStr}, "smtp": {group: "src"}},
			pos: alts(pa(kNum, "index"))},
		{name: "test_message", test: true, tags: map[string]tagSpec{"folder": {group: "src", param: kStr}, "smtp": {group: "src"}},
			pos: alts(pa(kNum, "index"))},
		{name: "test_script_compile", test: true, pos: alts(pa(kStr, "script"))},
		{name: "test_script_run", test: true, tags: map[string]tagSpec{"append_result": {}}},
		{name: "test_result_execute", test: true},
		{name: "test_result_action", test: true, tags: tsTags, pos: alts(pa(kList, "key list"))},
		{name: "test_error", test: true, tags: tsTags, pos: alts(pa(kList, "key list"))},
	}
	for _, sp := range specs {
		sp.ext = "vnd.dovecot.testsuite"
		if sp.name == "debug_log" {
			sp.ext = "vnd.dovecot.debug"
		}
	}
	// test_message is both a command and a test: the spec table is keyed by name, so the
	// command form is looked up through cmdSpecs.
	return &extension{
		caps:  map[string]bool{"vnd.dovecot.testsuite": true, "vnd.dovecot.debug": true},
		specs: specs,
		cmd:   s.command,
		test:  s.test,
	}
}

func (s *suite) command(in *interp, n *node, c *cargs) (bool, error) {
	switch n.name {
	case "test":
		s.curName = in.str(&c.pos[0])
		in.flags = nil
		s.smtp = nil
		_, err := in.block(n.block)
		var f *failure
		switch {
		case errors.As(err, &f):
			s.failed = append(s.failed, s.curName+": "+f.msg)
		case err != nil:
			s.failed = append(s.failed, s.curName+": "+err.Error())
		default:
			s.passed = append(s.passed, s.curName)
		}
		// A new test starts from a clean result.
		in.res = &Result{}
		in.cancel = false
		return true, nil
	case "test_fail":
		return true, &failure{msg: fmt.Sprintf("line %d: %s", n.line, in.str(&c.pos[0]))}
	case "test_set":
		obj, val := strings.ToLower(in.str(&c.pos[0])), in.str(&c.pos[1])
		switch obj {
		case "message":
			s.setMessage(in, val)
		case "envelope.from":
			s.env.Envelope.From = val
		case "envelope.to", "envelope.orig_to":
			s.env.Envelope.To = val
		case "envelope.auth":
			s.env.Envelope.Auth = val
		default:
			return true, in.errorf("test_set: unsupported object '%s'", obj)
		}
		return true, nil
	case "debug_log":
		return true, nil
	case "test_binary_save":
		// A compiled Script is its own "binary": saving keeps it, loading restores it.
		if s.binaries == nil {
			s.binaries = map[string]*Script{}
		}
		s.binaries[in.str(&c.pos[0])] = s.compiled
		return true, nil
	case "test_binary_load":
		sc, ok := s.binaries[in.str(&c.pos[0])]
		if !ok {
			return true, in.errorf("test_binary_load: no binary '%s'", in.str(&c.pos[0]))
		}
		s.compiled = sc
		return true, nil
	case "test_result_reset":
		in.res = &Result{}
		in.cancel = false
		return true, nil
	case "test_mailbox_create":
		k := mbKey(in.str(&c.pos[0]))
		if _, ok := s.mail[k]; !ok {
			s.mail[k] = nil
		}
		return true, nil
	case "test_config_set":
		return true, s.config(in, in.str(&c.pos[0]), in.str(&c.pos[1]))
	case "test_config_unset":
		return true, s.config(in, in.str(&c.pos[0]), "")
	case "test_config_reload":
		return true, nil
	case "test_message":
		ok, err := s.message(in, c)
		if err == nil && !ok {
			err = in.errorf("test_message: no such message")
		}
		return true, err
	}
	return false, nil
}

func (s *suite) config(in *interp, key, val string) error {
	score := func(p **ScoreTest) *ScoreTest {
		if *p == nil {
			*p = &ScoreTest{Type: "score", Text: map[string]int{}}
		}
		return *p
	}
	for _, k := range []string{"spamtest", "virustest"} {
		rest, ok := strings.CutPrefix(key, "sieve_"+k+"_")
		if !ok {
			continue
		}
		st := score(&s.env.Spam)
		if k == "virustest" {
			st = score(&s.env.Virus)
		}
		switch {
		case rest == "status_header":
			st.Header = val
		case rest == "max_header":
			st.MaxHeader = val
		case rest == "status_type":
			st.Type = val
		case rest == "max_value":
			st.Max, _ = strconv.ParseFloat(val, 64)
		case strings.HasPrefix(rest, "text_value"):
			n, _ := strconv.Atoi(strings.TrimPrefix(rest, "text_value"))
			st.Text[val] = n
		}
		return nil
	}
	switch key {
	case "sieve_include_max_includes":
		s.opts.Limits.MaxIncludes, _ = strconv.Atoi(val)
	case "sieve_include_max_nesting_depth":
		s.opts.Limits.MaxIncludeDepth, _ = strconv.Atoi(val)
	case "sieve_editheader_protected":
		s.opts.HeaderProtected = strings.Fields(val)
		in.main.opts.HeaderProtected = s.opts.HeaderProtected
	case "sieve_editheader_forbid_add":
		s.opts.HeaderForbidAdd = strings.Fields(val)
		in.main.opts.HeaderForbidAdd = s.opts.HeaderForbidAdd
	case "sieve_editheader_forbid_delete":
		s.opts.HeaderForbidDelete = strings.Fields(val)
		in.main.opts.HeaderForbidDelete = s.opts.HeaderForbidDelete
	case "sieve_editheader_max_header_size":
		s.opts.Limits.MaxHeaderSize, _ = strconv.Atoi(val)
		if s.opts.Limits.MaxHeaderSize <= 0 {
			s.opts.Limits.MaxHeaderSize = 2048
		}
	case "recipient_delimiter":
		s.env.SubaddressSep = val
	case "sieve_variables_max_variable_size":
		n, _ := strconv.Atoi(val)
		in.lim.MaxVarSize = n
	}
	return nil
}

func (s *suite) message(in *interp, c *cargs) (bool, error) {
	i := int(min(c.pos[0].num, 1<<30))
	if c.tags["folder"] == nil {
		if i >= len(s.smtp) {
			return false, nil
		}
		s.setMessage(in, s.smtp[i])
		return true, nil
	}
	msgs := s.mail[mbKey(in.str(c.tags["folder"]))]
	if i >= len(msgs) {
		return false, nil
	}
	s.setMessage(in, msgs[i].raw)
	in.flags = append([]string{}, msgs[i].flags...)
	return true, nil
}

func (s *suite) test(in *interp, n *node, c *cargs) (bool, bool, error) {
	switch n.name {
	case "test_message":
		ok, err := s.message(in, c)
		return true, ok, err
	case "test_script_compile":
		path := filepath.Join(s.dir, in.str(&c.pos[0]))
		src, err := os.ReadFile(path)
		if err != nil {
			s.errs = []string{err.Error()}
			return true, false, nil
		}
		o := *s.opts
		o.extra = nil
		o.Name = strings.TrimSuffix(filepath.Base(path), ".sieve")
		o.Limits = s.opts.Limits
		sc, err := Compile(src, &o)
		s.errs = nil
		s.compiled = sc
		if err != nil {
			var ce *CompileError
			if errors.As(err, &ce) {
				for _, e := range ce.Errors {
					s.errs = append(s.errs, e.Msg)
				}
			}
			return true, false, nil
		}
		return true, true, nil
	case "test_script_run":
		if s.compiled == nil {
			return true, false, nil
		}
		m, _ := ParseMessage([]byte(s.msgRaw))
		m.Header = in.header
		m.Flags = in.flags
		sub := newInterp(s.compiled, m, s.env)
		sub.lim.MaxVarSize = in.lim.MaxVarSize
		err := sub.runMain()
		res := sub.finish(err)
		if c.tags["append_result"] != nil {
			res.Actions = append(in.res.Actions, res.Actions...)
		}
		in.res = &Result{Actions: res.Actions}
		in.cancel = res.ImplicitKeep == nil
		if res.ImplicitKeep != nil {
			in.flags = res.ImplicitKeep.Flags
		}
		s.errs = res.Warnings
		if err != nil {
			var re *RuntimeError
			if errors.As(err, &re) {
				s.errs = []string{re.Msg}
			}
			return true, false, nil
		}
		return true, true, nil
	case "test_result_execute":
		return true, s.execute(in), nil
	case "test_result_action":
		var vals []string
		for _, a := range in.res.Actions {
			vals = append(vals, resultName(a))
		}
		r, err := s.indexed(in, c, vals)
		return true, r, err
	case "test_error":
		r, err := s.indexed(in, c, s.errs)
		return true, r, err
	}
	return false, false, nil
}

func resultName(a Action) string {
	if a.Kind == "fileinto" {
		return "store"
	}
	return a.Kind
}

func (s *suite) indexed(in *interp, c *cargs, vals []string) (bool, error) {
	if a := c.tags["index"]; a != nil {
		i := int(min(a.num, 1<<30))
		if i < 1 || i > len(vals) {
			return false, nil
		}
		vals = vals[i-1 : i]
	}
	return in.matchWith(c, vals, in.strs(&c.pos[0]))
}

// editedRaw is the current message with header h instead of its own (when h is not nil).
func (s *suite) editedRaw(h []Field) string {
	raw := s.msgRaw
	if h == nil {
		return raw
	}
	var b strings.Builder
	for _, f := range h {
		b.WriteString(f.Name + ":" + f.Value + "\r\n")
	}
	_, body := splitMessage([]byte(raw))
	b.WriteString("\r\n")
	b.Write(body)
	return b.String()
}

// execute stores the result's messages into the fake mail store, as delivery would.
func (s *suite) execute(in *interp) bool {
	r := in.res
	s.errs = nil
	store := func(a Action) bool {
		mb := "INBOX"
		if a.Kind == "fileinto" {
			mb = mbKey(a.Mailbox)
		}
		if strings.Contains(mb, "//") || strings.HasPrefix(mb, "/") || strings.HasSuffix(mb, "/") {
			s.errs = append(s.errs, fmt.Sprintf("failed to store into mailbox '%s': invalid name", a.Mailbox))
			return false
		}
		if _, ok := s.mail[mb]; !ok {
			if !a.Create {
				s.errs = append(s.errs, fmt.Sprintf("failed to store into mailbox '%s': mailbox does not exist", a.Mailbox))
				return false
			}
		}
		h := a.Header
		if a.Kind == "keep" && in.edited {
			h = in.header // local delivery keeps the edited message
		}
		raw := s.editedRaw(h)
		s.mail[mb] = append(s.mail[mb], storedMsg{raw: raw, flags: a.Flags})
		return true
	}
	for _, a := range r.Actions {
		if a.Kind == "keep" || a.Kind == "fileinto" {
			if !store(a) {
				// A failed delivery falls back to keeping the message as it came (RFC 5228 §2.10.6).
				store(Action{Kind: "keep"})
				return false
			}
		}
		if a.Kind == "redirect" {
			s.smtp = append(s.smtp, s.editedRaw(a.Header))
		}
	}
	if !in.cancel {
		a := Action{Kind: "keep", Flags: in.flagsCopy()}
		if in.edited {
			a.Header = in.header
		}
		return store(a)
	}
	return true
}
