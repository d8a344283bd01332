// Command mailscript runs Lua mail scripts with imaplib- and poplib-like
// modules: mailscript run FILE, check FILE..., repl, version.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/peterh/liner"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/internal/limit"
	"github.com/mailscript/mailscript/runtime"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

const usage = `mailscript — mail scripts in Lua with imaplib- and poplib-like modules

Usage:
  mailscript run [flags] FILE [ARGS...]   run a script (it sees ARGS in arg)
  mailscript check FILE...                compile only; report file:line: message
  mailscript repl [flags]                 read-eval-print loop
  mailscript demo [flags]                 triage 200 generated messages on an in-process server
  mailscript test --mailbox PATH FILE     run a script against a copy of an mbox or Maildir
  mailscript sieve check|test ...         check Sieve scripts; test one on a message (mailscript sieve help)
  mailscript version                      print the version

Run "mailscript COMMAND --help" for a command's flags.
Exit status: 0 ok, 1 script or mail error, 2 usage.
`

func main() {
	// A script's run is short and its garbage is mostly mail just read:
	// collecting half as often cuts the CPU of a POP3 download by a
	// tenth for a few MB more at the peak. GOGC still decides if set.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	// MAILSCRIPT_CPUPROFILE=file writes a pprof CPU profile of the run.
	if path := os.Getenv("MAILSCRIPT_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			code := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	colour         bool
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, colour: colourFor(stderr)}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return c.runCmd(args[1:])
	case "check":
		return c.checkCmd(args[1:])
	case "repl":
		return c.replCmd(args[1:])
	case "demo":
		return c.demoCmd(args[1:])
	case "test":
		return c.testCmd(args[1:])
	case "sieve":
		return c.sieveCmd(args[1:])
	case "version", "--version":
		fmt.Fprintln(stdout, "mailscript", Version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "mailscript: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func colourFor(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && os.Getenv("NO_COLOR") == "" && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// runFlags are the flags run and repl share.
type runFlags struct {
	dryRun, sandbox, json bool
	inProcess             bool
	debug                 int
	timeout               time.Duration
	memory, maxOutput     sizeFlag
	maxConnections        int
	env, allowHosts       listFlag
	isolate               bool // run: --sandbox without --in-process
}

func (c *cli) flags(name, argsUsage, help string, rf *runFlags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: mailscript %s [flags] %s\n\n%s\n\nFlags:\n", name, argsUsage, help)
		fs.PrintDefaults()
	}
	if rf != nil {
		fs.BoolVar(&rf.dryRun, "dry-run", false, "send nothing that changes a mailbox; print the plan instead")
		fs.BoolVar(&rf.sandbox, "sandbox", false, "run as an untrusted script: no io, os, load*, IMAP4_stream")
		fs.BoolVar(&rf.json, "json", false, "print the dry-run plan as JSON")
		fs.IntVar(&rf.debug, "debug", 0, "protocol debug level (imaplib's; 4 and up traces every line, secrets as ***)")
		v := fs.Bool("v", false, "shorthand for --debug 4")
		fs.DurationVar(&rf.timeout, "timeout", 0, "stop the script after this long (e.g. 10m); 0: none, or 60s with --sandbox; -1s: none even then")
		fs.Var(&rf.memory, "memory", "memory limit (e.g. 256M, 1G); default none, or 256M with --sandbox; -1: none")
		fs.Var(&rf.maxOutput, "max-output", "output limit (e.g. 64K, 1M); default none, or 1M with --sandbox; -1: none")
		fs.IntVar(&rf.maxConnections, "max-connections", 0, "connections a run may open; 0: none, or 8 with --sandbox; -1: none")
		fs.Var(&rf.env, "env", "with --sandbox, an environment variable NAME the script may read with os.getenv (repeatable); no other")
		fs.Var(&rf.allowHosts, "allow-host", "with --sandbox, a host the script may connect to: HOST or HOST:PORT (repeatable); no other")
		fs.BoolVar(&rf.inProcess, "in-process", false, "with --sandbox, run the script in this process instead of a child process of its own")
		_ = v
	}
	return fs
}

func (c *cli) runtime(rf *runFlags) *runtime.Runtime {
	return runtime.New(runtime.Options{
		DryRun: rf.dryRun, Sandbox: rf.sandbox, WallTime: rf.timeout, Debug: rf.debug,
		Stdout: c.stdout, Stderr: c.stderr, Getenv: rf.getenv(),
		MaxMemory: int64(rf.memory), MaxOutput: int64(rf.maxOutput), MaxConnections: rf.maxConnections,
		AllowHosts: rf.allowHosts, Isolate: rf.isolate,
	})
}

// getenv answers a sandboxed script's os.getenv: only the --env names.
func (rf *runFlags) getenv() func(string) string {
	if len(rf.env) == 0 {
		return nil
	}
	return func(name string) string {
		if slices.Contains(rf.env, name) {
			return os.Getenv(name)
		}
		return ""
	}
}

func parseRunFlags(fs *flag.FlagSet, rf *runFlags, args []string) ([]string, int) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2
	}
	if f := fs.Lookup("v"); f != nil && f.Value.String() == "true" && rf.debug == 0 {
		rf.debug = 4
	}
	return fs.Args(), -1
}

func (c *cli) runCmd(args []string) int {
	var rf runFlags
	fs := c.flags("run", "FILE [ARGS...]", "Runs a Lua script. The script sees ARGS in the table arg (arg[0] is FILE).", &rf)
	rest, code := parseRunFlags(fs, &rf, args)
	if code >= 0 {
		return code
	}
	if len(rest) == 0 {
		fs.Usage()
		return 2
	}
	rf.isolate = rf.sandbox && !rf.inProcess
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := c.runtime(&rf).RunFile(ctx, rest[0], rest[1:]...)
	if res != nil && rf.dryRun {
		c.printPlan(res.Plan, rf.json)
	}
	if err != nil {
		c.report(err)
		return 1
	}
	return 0
}

func (c *cli) report(err error) {
	var se *runtime.ScriptError
	msg := err.Error()
	trace := ""
	var le *limit.Error
	if errors.As(err, &se) && !errors.As(err, &le) { // a limit hit is one line
		trace = se.Traceback
	}
	if c.colour {
		msg = "\x1b[31m" + msg + "\x1b[0m"
	}
	fmt.Fprintln(c.stderr, "mailscript:", msg)
	if trace != "" {
		fmt.Fprintln(c.stderr, trace)
	}
}

func (c *cli) printPlan(plan []bindings.Action, asJSON bool) {
	if plan == nil {
		plan = []bindings.Action{}
	}
	if asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"dry_run": true, "plan": plan})
		return
	}
	fmt.Fprintf(c.stdout, "dry run: %d change(s) not made\n", len(plan))
	if len(plan) == 0 {
		return
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tMAILBOX\tMESSAGES\tDETAILS")
	for _, a := range plan {
		set := a.Set
		if a.UID && set != "" {
			set = "UID " + set
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Command, a.Mailbox, set, strings.Join(a.Args, " "))
	}
	tw.Flush()
}

func (c *cli) checkCmd(args []string) int {
	fs := c.flags("check", "FILE...", "Compiles each script without running it; prints file:line: message for each error.", nil)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	rt := runtime.New(runtime.Options{})
	code := 0
	for _, path := range fs.Args() {
		src, err := os.ReadFile(path)
		if err == nil {
			_, err = rt.Compile(path, string(src))
		}
		if err != nil {
			fmt.Fprintln(c.stderr, err)
			code = 1
		}
	}
	return code
}

func (c *cli) replCmd(args []string) int {
	var rf runFlags
	fs := c.flags("repl", "", "Reads Lua and runs it as it comes; a statement may span lines; an expression's value is printed.\nOn a terminal: line editing and history (kept in the state folder).", &rf)
	if _, code := parseRunFlags(fs, &rf, args); code >= 0 {
		return code
	}
	sess := c.runtime(&rf).NewSession()
	defer sess.Close()
	read, done := c.lineReader()
	defer done()
	code := 0
	var pending strings.Builder
	for {
		prompt := "> "
		if pending.Len() > 0 {
			prompt = ">> "
		}
		line, err := read(prompt)
		if err != nil {
			break
		}
		pending.WriteString(line)
		pending.WriteByte('\n')
		err = sess.Eval(context.Background(), "stdin", pending.String())
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

// lineReader reads lines with editing and history on a terminal, plainly
// when piped.
func (c *cli) lineReader() (read func(prompt string) (string, error), done func()) {
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
		}, func() {}
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
			if err == nil && strings.TrimSpace(line) != "" {
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
		}
}

// historyPath is $XDG_STATE_HOME/mailscript/repl_history (else under ~/.local/state).
func historyPath() string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "mailscript", "repl_history")
}
