package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/peterh/liner"
	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/runtime"
)

func (c *cli) replCmd(args []string) int {
	var rf runFlags
	fs := c.flags("repl", "[FILE]", "Reads Lua and runs it as it comes; a statement may span lines; an expression's value is printed\n"+
		"(tables shallowly, as Lua literals). With FILE, runs it first, in the same session, and keeps its globals.\n"+
		"On a terminal: line editing and history (kept in the state folder, without lines that hold a password);\n"+
		"Ctrl-C drops the line being typed or stops what runs, Ctrl-D quits.", &rf)
	rest, code := parseRunFlags(fs, &rf, args)
	if code >= 0 {
		return code
	}
	if len(rest) > 1 {
		fmt.Fprintln(c.stderr, "mailscript repl: one FILE at most")
		return 2
	}
	if done := c.logTo(&rf); done != nil {
		defer done()
	} else if rf.logFile != "" {
		return 1
	}
	sess := c.runtime(&rf).NewSession()
	defer sess.Close()
	L := sess.State()
	base := L.GetGlobal("print")
	L.SetGlobal("print", L.NewFunction(func(L *lua.LState) int { return replPrint(L, base) }))
	code = 0
	if len(rest) == 1 {
		src, err := os.ReadFile(rest[0])
		if err == nil {
			err = c.eval(sess, rest[0], string(src))
		}
		if err != nil {
			c.report(err)
			code = 1
		}
	}
	read, done, interactive := c.lineReader()
	defer done()
	if interactive {
		fmt.Fprintf(c.stdout, "mailscript %s, Lua 5.1: require(\"account\"), require(\"imap\")...; an expression's value is printed.\nCtrl-C drops the line, Ctrl-D quits.\n", Version)
	}
	var pending strings.Builder
	for {
		prompt := "> "
		if pending.Len() > 0 {
			prompt = ">> "
		}
		line, err := read(prompt)
		if errors.Is(err, liner.ErrPromptAborted) { // Ctrl-C: drop what is typed, go on
			pending.Reset()
			continue
		}
		if err != nil {
			break
		}
		pending.WriteString(line)
		pending.WriteByte('\n')
		err = c.eval(sess, "stdin", pending.String())
		if runtime.Incomplete(err) {
			continue
		}
		pending.Reset()
		if err != nil {
			c.report(err)
			code = 1
		}
	}
	return code
}

// eval runs src in the session; Ctrl-C stops it, not the REPL.
func (c *cli) eval(sess *runtime.Session, name, src string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return sess.Eval(ctx, name, src)
}

// replPrint is print with tables shown shallowly as Lua literals.
func replPrint(L *lua.LState, base lua.LValue) int {
	args := make([]lua.LValue, L.GetTop())
	for i := range args {
		v := L.Get(i + 1)
		if t, ok := v.(*lua.LTable); ok && L.GetMetaField(t, "__tostring") == lua.LNil {
			v = lua.LString(tableLiteral(L, t))
		}
		args[i] = v
	}
	L.Push(base)
	for _, a := range args {
		L.Push(a)
	}
	L.Call(len(args), 0)
	return 0
}

// maxShown bounds the entries of a table the REPL prints.
const maxShown = 100

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// tableLiteral writes t one level deep: {1, "a", name = "x", sub = {...}}.
func tableLiteral(L *lua.LState, t *lua.LTable) string {
	var parts []string
	n := t.Len()
	for i := 1; i <= n && len(parts) < maxShown; i++ {
		parts = append(parts, valueLiteral(L, t.RawGetInt(i)))
	}
	type kv struct{ k, v string }
	var rest []kv
	more := false
	t.ForEach(func(k, v lua.LValue) {
		if num, ok := k.(lua.LNumber); ok && float64(num) == float64(int(num)) && int(num) >= 1 && int(num) <= n {
			return
		}
		if len(rest) >= maxShown {
			more = true
			return
		}
		key := ""
		if s, ok := k.(lua.LString); ok && identRE.MatchString(string(s)) {
			key = string(s)
		} else {
			key = "[" + valueLiteral(L, k) + "]"
		}
		rest = append(rest, kv{key, valueLiteral(L, v)})
	})
	sort.Slice(rest, func(i, j int) bool { return rest[i].k < rest[j].k })
	for _, e := range rest {
		if len(parts) >= maxShown {
			more = true
			break
		}
		parts = append(parts, e.k+" = "+e.v)
	}
	if more || n > maxShown {
		parts = append(parts, "...")
	}
	if len(parts) == 0 {
		return "{}"
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func valueLiteral(L *lua.LState, v lua.LValue) string {
	switch x := v.(type) {
	case lua.LString:
		s := string(x)
		if len(s) > 200 {
			s = s[:200] + "..."
		}
		return strconv.Quote(s)
	case *lua.LTable:
		if L.GetMetaField(x, "__tostring") != lua.LNil {
			return L.ToStringMeta(x).String()
		}
		return "{...}"
	}
	return L.ToStringMeta(v).String()
}

// secretLine says a line may hold a password, so history keeps it not.
var secretLine = regexp.MustCompile(`(?i)login|secret|pass|auth|apop|token`)

// lineReader reads lines with editing and history on a terminal, plainly
// when piped.
func (c *cli) lineReader() (read func(prompt string) (string, error), done func(), interactive bool) {
	f, ok := c.stdin.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		in := bufio.NewScanner(c.stdin)
		in.Buffer(make([]byte, 1<<20), 1<<26)
		return func(string) (string, error) {
			if !in.Scan() {
				if in.Err() != nil {
					return "", in.Err()
				}
				return "", io.EOF
			}
			return in.Text(), nil
		}, func() {}, false
	}
	ln := liner.NewLiner()
	ln.SetCtrlCAborts(true)
	hist := historyPath()
	if h, err := os.Open(hist); err == nil {
		ln.ReadHistory(h)
		h.Close()
	}
	return func(prompt string) (string, error) {
			line, err := ln.Prompt(prompt)
			if err == nil && keepInHistory(line) {
				ln.AppendHistory(line)
			}
			return line, err
		}, func() {
			if err := os.MkdirAll(filepath.Dir(hist), 0o700); err == nil {
				if h, err := os.OpenFile(hist, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600); err == nil {
					ln.WriteHistory(h)
					h.Close()
				}
			}
			ln.Close()
			fmt.Fprintln(c.stdout)
		}, true
}

// keepInHistory says whether line goes into the history file: not blank,
// and nothing that may carry a password (login, secret, pass_ calls).
func keepInHistory(line string) bool {
	return strings.TrimSpace(line) != "" && !secretLine.MatchString(line)
}
