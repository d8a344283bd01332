package sieve

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Options configure compiling a script; the zero value is usable.
type Options struct {
	Name   string // shown in errors; default "script"
	Limits Limits

	// StoredMail makes reject, ereject and vacation compile errors (RFC 6785 §3.11), and
	// redirect too unless AllowRedirect is set; sieve test leaves it unset to report them.
	StoredMail    bool
	AllowRedirect bool

	// PersonalDir and GlobalDir hold the scripts include loads as NAME.sieve;
	// PersonalDir defaults to the folder of the main script when compiled with CompileFile.
	PersonalDir string
	GlobalDir   string
	// NoInclude makes include a compile error with this message, for hosts that read no files.
	NoInclude string

	// Header fields editheader may not touch, as Pigeonhole's sieve_editheader_* settings:
	// Received and Auto-Submitted can never be deleted (RFC 5293 §6); Subject cannot be protected.
	HeaderProtected    []string // neither added nor deleted
	HeaderForbidAdd    []string
	HeaderForbidDelete []string

	extra *extension // test-only commands (vnd.dovecot.testsuite)
}

// extension adds commands and tests to the language; the conformance harness uses it.
type extension struct {
	caps  map[string]bool
	specs []*spec
	cmd   func(in *interp, n *node, c *cargs) (bool, error)
	test  func(in *interp, n *node, c *cargs) (bool, bool, error)
	check func(name string, c *cargs) string
}

// Script is a compiled Sieve script, safe to run many times, one run at a time per [Env].
type Script struct {
	name     string
	src      string
	cmds     []*node
	exts     map[string]bool
	opts     *Options
	includes map[string]*Script // "personal:name" -> compiled, shared with the main script
	extra    *extension
}

// Compile parses and validates a script. Its error is a *[CompileError] listing every error.
func Compile(src []byte, opts *Options) (*Script, error) {
	if opts == nil {
		opts = &Options{}
	}
	o := *opts
	o.Limits = o.Limits.withDefaults()
	if o.Name == "" {
		o.Name = "script"
	}
	return compile(string(src), o.Name, &o, map[string]*Script{}, 0)
}

// CompileFile compiles the script in path; include's personal folder defaults to its folder.
func CompileFile(path string, opts *Options) (*Script, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = strings.TrimSuffix(filepath.Base(path), ".sieve")
	}
	if o.PersonalDir == "" {
		o.PersonalDir = filepath.Dir(path)
	}
	return Compile(src, &o)
}

func compile(src, name string, o *Options, cache map[string]*Script, depth int) (*Script, error) {
	s := &Script{name: name, src: src, opts: o, includes: cache, exts: map[string]bool{}, extra: o.extra}
	if len(src) > o.Limits.MaxScriptSize {
		return nil, &CompileError{Errors: []*Error{{File: name, Msg: fmt.Sprintf("script is too large (max %d bytes)", o.Limits.MaxScriptSize)}}}
	}
	cmds, perrs := parse(src, o.Limits.MaxNesting)
	if perrs != nil {
		for _, e := range perrs {
			e.File = name
		}
		return nil, &CompileError{Errors: append(perrs, &Error{File: name, Msg: "parse failed"})}
	}
	v := &validator{s: s, specs: baseSpecs(), exts: s.exts}
	if o.extra != nil {
		for _, sp := range o.extra.specs {
			if sp.test && v.specs[sp.name] != nil {
				v.specs["test:"+sp.name] = sp
				continue
			}
			v.specs[sp.name] = sp
		}
	}
	v.block(cmds, true)
	s.cmds = cmds
	v.errs = append(v.errs, s.resolveIncludes(cmds, depth)...)
	if len(v.errs) > 0 {
		return nil, &CompileError{Errors: append(v.errs, &Error{File: name, Msg: "validation failed"})}
	}
	return s, nil
}

// resolveIncludes compiles every included script at compile time, as Pigeonhole does.
func (s *Script) resolveIncludes(cmds []*node, depth int) []*Error {
	var errs []*Error
	for _, n := range cmds {
		errs = append(errs, s.resolveIncludes(n.block, depth)...)
		if n.name != "include" || n.spec == nil {
			continue
		}
		c, _ := n.x.(*cargs)
		if c == nil || len(c.pos) != 1 || len(c.pos[0].strs) != 1 || !validScriptName(c.pos[0].strs[0]) {
			continue
		}
		if s.opts.NoInclude != "" {
			errs = append(errs, &Error{File: s.name, Line: n.line, Msg: "include: " + s.opts.NoInclude})
			continue
		}
		key, path := s.includePath(c)
		if inc, ok := s.includes[key]; ok {
			if inc != nil && inc.cmds == nil && inc.name == "" && c.tags["once"] == nil {
				// still being compiled: a cycle (RFC 6609 §3.2)
				errs = append(errs, &Error{File: s.name, Line: n.line, Msg: fmt.Sprintf("include: circular include of script '%s'", c.pos[0].strs[0])})
			}
			continue
		}
		if depth+1 > s.opts.Limits.MaxIncludeDepth {
			errs = append(errs, &Error{File: s.name, Line: n.line, Msg: fmt.Sprintf("include: the nesting depth of included scripts exceeds the limit (%d)", s.opts.Limits.MaxIncludeDepth)})
			continue
		}
		if len(s.includes) >= s.opts.Limits.MaxIncludes {
			errs = append(errs, &Error{File: s.name, Line: n.line, Msg: fmt.Sprintf("include: the number of included scripts exceeds the limit (%d)", s.opts.Limits.MaxIncludes)})
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			if c.tags["optional"] != nil && os.IsNotExist(err) {
				s.includes[key] = nil
				continue
			}
			errs = append(errs, &Error{File: s.name, Line: n.line, Msg: fmt.Sprintf("include: failed to include script '%s': %v", c.pos[0].strs[0], notFound(err))})
			continue
		}
		s.includes[key] = &Script{} // placeholder: a cycle is found at run time
		inc, err := compile(string(src), c.pos[0].strs[0], s.opts, s.includes, depth+1)
		if err != nil {
			errs = append(errs, &Error{File: s.name, Line: n.line, Msg: fmt.Sprintf("include: failed to compile included script '%s'", c.pos[0].strs[0])})
			if ce, ok := err.(*CompileError); ok {
				for _, e := range ce.Errors {
					if e.Line > 0 || e.Msg != "validation failed" && e.Msg != "parse failed" {
						errs = append(errs, e)
					}
				}
			}
			delete(s.includes, key)
			continue
		}
		*s.includes[key] = *inc
	}
	return errs
}

func notFound(err error) string {
	if os.IsNotExist(err) {
		return "script does not exist"
	}
	return err.Error()
}

func (s *Script) includePath(c *cargs) (key, path string) {
	name := c.pos[0].strs[0]
	dir, loc := s.opts.PersonalDir, "personal"
	if c.tags["global"] != nil {
		dir, loc = s.opts.GlobalDir, "global"
	}
	if dir == "" {
		dir = "."
	}
	return loc + ":" + name, filepath.Join(dir, name+".sieve")
}

// Requires reports whether the script requires capability ext.
func (s *Script) Requires(ext string) bool { return s.exts[ext] }
