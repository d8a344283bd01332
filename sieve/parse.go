package sieve

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one compile or runtime error, located at a script line.
type Error struct {
	File string // the script's name, as given to Compile
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s: line %d: error: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: error: %s", e.File, e.Msg)
}

// CompileError lists every error found in one script, in script order.
type CompileError struct {
	Errors []*Error
}

func (e *CompileError) Error() string {
	var b strings.Builder
	for i, x := range e.Errors {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(x.Error())
	}
	return b.String()
}

type argKind int

const (
	argTag argKind = iota
	argNumber
	argStrings // a string or a string list
)

type arg struct {
	kind argKind
	tag  string
	num  uint64
	strs []string
	list bool // written as [ ... ]
	vars bool // some string holds "${", so variables may expand it
	line int
}

type node struct {
	name  string
	line  int
	args  []arg
	tests []*node
	block []*node // nil when no block; empty slice for {}
	hasBl bool

	spec      *spec // filled by the validator
	misplaced bool  // a require after other commands
	x         any   // validator's compiled form (tags, regexps)
}

// Limits bound what a script may make the compiler and interpreter do.
type Limits struct {
	MaxScriptSize   int // bytes; default 1 MiB
	MaxNesting      int // blocks and tests; default 32
	MaxIncludes     int // distinct scripts one script may include, all levels; default 255
	MaxIncludeDepth int // nesting of include; default 10
	MaxActions      int // default 32
	MaxRedirects    int // default 4
	MaxVariables    int // per scope; default 255
	MaxVarSize      int // bytes; default 4096
	MaxSteps        int // commands and tests evaluated in one run; default 1e6
	MaxHeaderSize   int // bytes of a field addheader adds; default 2048
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxScriptSize, 1<<20)
	def(&l.MaxNesting, 32)
	def(&l.MaxIncludes, 255)
	def(&l.MaxIncludeDepth, 10)
	def(&l.MaxActions, 32)
	def(&l.MaxRedirects, 4)
	def(&l.MaxVariables, 255)
	def(&l.MaxVarSize, 4096)
	def(&l.MaxSteps, 1000000)
	def(&l.MaxHeaderSize, 2048)
	return l
}

type parser struct {
	lx     lexer
	tok    token
	errs   []*Error
	depth  int // blocks
	tdepth int // tests
	max    int
}

func (p *parser) advance() { p.tok = p.lx.next() }

func (p *parser) errorf(line int, format string, args ...any) {
	p.errs = append(p.errs, &Error{Line: line, Msg: fmt.Sprintf(format, args...)})
}

// maxParseErrors ends parsing; sievec stops early too.
const maxParseErrors = 50

// parse reads a whole script. After a parse error it skips to the end of that command and
// goes on, as sievec does; a lexical error ends it.
func parse(src string, maxDepth int) ([]*node, []*Error) {
	p := &parser{lx: lexer{src: src, line: 1}, max: maxDepth}
	p.advance()
	var cmds []*node
	for p.tok.kind != tokEOF && !p.fatal() {
		if p.tok.kind == tokPunct && p.tok.text == "}" {
			p.errorf(p.tok.line, "unexpected '}' found")
			p.advance()
			continue
		}
		if c := p.command(); c != nil {
			cmds = append(cmds, c)
		}
	}
	if p.lx.err != nil && len(p.errs) == 0 {
		p.errs = append(p.errs, p.lx.err)
	}
	if len(p.lx.soft) > 0 {
		p.errs = append(append([]*Error(nil), p.lx.soft...), p.errs...) // a line's lexical error first
		sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return cmds, nil
}

func (p *parser) fatal() bool {
	return p.lx.err != nil || len(p.errs)+len(p.lx.soft) >= maxParseErrors
}

// recover skips the rest of a command that failed to parse: to its ';', past its block, or to
// the '}' that closes the enclosing block.
func (p *parser) recover() {
	parens := 0
	for !p.fatal() {
		switch {
		case p.tok.kind == tokEOF:
			return
		case p.tok.kind != tokPunct:
		case p.tok.text == "(" || p.tok.text == "[":
			parens++
		case p.tok.text == ")" || p.tok.text == "]":
			if parens > 0 {
				parens--
			}
		case p.tok.text == ";" && parens == 0:
			p.advance()
			return
		case p.tok.text == "}":
			return
		case p.tok.text == "{":
			depth := 0
			for p.tok.kind != tokEOF && !p.fatal() {
				if p.tok.kind == tokPunct && p.tok.text == "{" {
					depth++
				} else if p.tok.kind == tokPunct && p.tok.text == "}" {
					depth--
					if depth == 0 {
						p.advance()
						return
					}
				}
				p.advance()
			}
			return
		}
		p.advance()
	}
}

func (p *parser) lexFailed() bool {
	if p.lx.err != nil {
		if len(p.errs) == 0 {
			p.errs = append(p.errs, p.lx.err)
		}
		return true
	}
	return false
}

// command reads one command; on a parse error it reports it, skips the command and returns nil.
func (p *parser) command() *node {
	depth, tdepth := p.depth, p.tdepth
	n := p.command1()
	if n == nil {
		p.depth, p.tdepth = depth, tdepth
		if !p.fatal() {
			p.recover()
		}
	}
	return n
}

func (p *parser) command1() *node {
	if p.tok.kind != tokIdent {
		if p.lexFailed() {
			return nil
		}
		p.errorf(p.tok.line, "expected identifier, but found %s", p.tok.describe())
		return nil
	}
	n := &node{name: p.tok.text, line: p.tok.line}
	p.advance()
	if !p.arguments(n) {
		return nil
	}
	switch {
	case p.tok.kind == tokPunct && p.tok.text == ";":
		p.advance()
	case p.tok.kind == tokPunct && p.tok.text == "{":
		p.depth++
		if p.depth > p.max {
			p.errorf(p.tok.line, "cannot nest command blocks deeper than %d levels", p.max)
			return nil
		}
		p.advance()
		n.hasBl = true
		n.block = []*node{}
		for !(p.tok.kind == tokPunct && p.tok.text == "}") {
			if p.tok.kind == tokEOF {
				if !p.lexFailed() {
					p.errorf(p.tok.line, "end of file before end of command block")
				}
				return nil
			}
			if c := p.command(); c != nil {
				n.block = append(n.block, c)
			} else if p.fatal() {
				return nil
			}
		}
		p.depth--
		p.advance()
	default:
		if !p.lexFailed() {
			p.errorf(p.tok.line, "expected end of command ';' or the beginning of a compound block '{', but found %s", p.tok.describe())
		}
		return nil
	}
	return n
}

// maxArguments bounds the arguments of one command or test, as sievec does.
const maxArguments = 32

// arguments reads arguments then an optional test or test list.
func (p *parser) arguments(n *node) bool {
	for {
		if len(n.args) > maxArguments {
			p.errorf(p.tok.line, "too many arguments for command '%s' (max %d)", n.name, maxArguments)
			return false
		}
		switch p.tok.kind {
		case tokTag:
			n.args = append(n.args, arg{kind: argTag, tag: p.tok.text, line: p.tok.line})
			p.advance()
			continue
		case tokNumber:
			n.args = append(n.args, arg{kind: argNumber, num: p.tok.num, line: p.tok.line})
			p.advance()
			continue
		case tokString:
			n.args = append(n.args, arg{kind: argStrings, strs: []string{p.tok.text}, line: p.tok.line})
			p.advance()
			continue
		case tokPunct:
			if p.tok.text == "[" {
				a := arg{kind: argStrings, list: true, line: p.tok.line}
				p.advance()
				for {
					if p.tok.kind != tokString {
						if !p.lexFailed() {
							p.errorf(p.tok.line, "expected string in string list, but found %s", p.tok.describe())
						}
						return false
					}
					a.strs = append(a.strs, p.tok.text)
					p.advance()
					if p.tok.kind == tokPunct && p.tok.text == "," {
						p.advance()
						continue
					}
					if p.tok.kind == tokPunct && p.tok.text == "]" {
						p.advance()
						break
					}
					if !p.lexFailed() {
						p.errorf(p.tok.line, "expected ',' or end of string list ']', but found %s", p.tok.describe())
					}
					return false
				}
				n.args = append(n.args, a)
				continue
			}
		}
		break
	}
	// test or test-list
	if p.tok.kind == tokIdent {
		t := p.test()
		if t == nil {
			return false
		}
		n.tests = []*node{t}
		return true
	}
	if p.tok.kind == tokPunct && p.tok.text == "(" {
		p.advance() // each test in the list counts one level (test does)
		n.tests = []*node{}
		for {
			if p.tok.kind != tokIdent {
				if !p.lexFailed() {
					p.errorf(p.tok.line, "expected test command after '(' or ',', but found %s", p.tok.describe())
				}
				return false
			}
			t := p.test()
			if t == nil {
				return false
			}
			n.tests = append(n.tests, t)
			if p.tok.kind == tokPunct && p.tok.text == "," {
				p.advance()
				continue
			}
			if p.tok.kind == tokPunct && p.tok.text == ")" {
				p.advance()
				break
			}
			if !p.lexFailed() {
				p.errorf(p.tok.line, "expected ',' or end of test list ')', but found %s", p.tok.describe())
			}
			return false
		}
	}
	return true
}

func (p *parser) test() *node {
	p.tdepth++
	defer func() { p.tdepth-- }()
	if p.tdepth > p.max {
		p.errorf(p.tok.line, "cannot nest tests deeper than %d levels", p.max)
		return nil
	}
	n := &node{name: p.tok.text, line: p.tok.line}
	p.advance()
	if !p.arguments(n) {
		return nil
	}
	return n
}
