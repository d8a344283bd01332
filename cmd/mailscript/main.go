// Command mailscript runs Lua mail scripts with imaplib- and poplib-like
// modules: mailscript run FILE, check FILE..., repl, version.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/mailscript/mailscript/internal/limit"
	"github.com/mailscript/mailscript/runtime"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

const usage = `mailscript — mail scripts in Lua with imaplib- and poplib-like modules

Usage:
  mailscript run [flags] FILE [ARGS...]   run a script (it sees ARGS in arg); FILE - reads it from stdin
  mailscript -e CODE [ARGS...]            run CODE (run's flags go before -e)
  mailscript check FILE...                compile only; report file:line: message
  mailscript repl [flags] [FILE]          read-eval-print loop, after running FILE if given
  mailscript stubs DIR                    write LuaLS annotation stubs for editors into DIR
  mailscript demo [flags]                 triage 200 generated messages on an in-process server
  mailscript test --mailbox PATH FILE     run a script against a copy of an mbox or Maildir
  mailscript sieve check|test|run ...     check Sieve scripts; test one on a message; run one over IMAP (mailscript sieve help)
  mailscript login NAME [flags]           sign in with OAuth 2.0 (Gmail, Microsoft 365, ...) and store the refresh token
  mailscript trust HOST[:PORT] [--pin]    show a server's certificate chain and fingerprint; pin it
  mailscript watch [flags] FILE           run FILE's watchers (require "watch") as a service
  mailscript version                      print the version

Run "mailscript COMMAND --help" for a command's flags.
Exit status: 0 ok, 1 script or mail error, 2 usage, 130 interrupted (Ctrl-C), 143 terminated.
`

func main() {
	// A script's run is short and its garbage is mostly mail just read:
	// collecting half as often cuts the CPU of a POP3 download by a
	// tenth for a few MB more at the peak. Not for the watch service,
	// which runs for weeks: there memory counts. GOGC still decides if set.
	if os.Getenv("GOGC") == "" && (len(os.Args) < 2 || os.Args[1] != "watch") {
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
	case "-e":
		return c.runCmd(args)
	case "stubs":
		return c.stubsCmd(args[1:])
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
	case "login":
		return c.loginCmd(args[1:])
	case "trust":
		return c.trustCmd(args[1:])
	case "watch":
		return c.watchCmd(args[1:])
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
	inProcess, verbose    bool
	debug                 int
	timeout               time.Duration
	memory, maxOutput     sizeFlag
	maxConnections        int
	env, allowHosts       listFlag
	allowOAuth            listFlag
	isolate               bool // run: --sandbox without --in-process
	ca, logFile           string
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
		fs.BoolVar(&rf.json, "json", false, "print one JSON document on stdout (plan, rules reports, result); what the script prints goes to stderr")
		fs.IntVar(&rf.debug, "debug", 0, "protocol debug level (imaplib's; 4 and up traces every line, secrets as ***)")
		v := fs.Bool("v", false, "verbose: every UID in the plan, and --debug 4")
		fs.DurationVar(&rf.timeout, "timeout", 0, "stop the script after this long (e.g. 10m); 0: none, or 60s with --sandbox; -1s: none even then")
		fs.Var(&rf.memory, "memory", "memory limit (e.g. 256M, 1G); default none, or 256M with --sandbox; -1: none")
		fs.Var(&rf.maxOutput, "max-output", "output limit (e.g. 64K, 1M); default none, or 1M with --sandbox; -1: none")
		fs.IntVar(&rf.maxConnections, "max-connections", 0, "connections a run may open; 0: none, or 8 with --sandbox; -1: none")
		fs.Var(&rf.env, "env", "with --sandbox, an environment variable NAME the script may read with os.getenv (repeatable); no other")
		fs.Var(&rf.allowHosts, "allow-host", "with --sandbox, a host the script may connect to: HOST or HOST:PORT (repeatable); no other")
		fs.BoolVar(&rf.inProcess, "in-process", false, "with --sandbox, run the script in this process instead of a child process of its own")
		fs.Var(&rf.allowOAuth, "allow-oauth", "with --sandbox --in-process, an OAuth account NAME (mailscript login) the script may use (repeatable); no other")
		fs.StringVar(&rf.ca, "ca", "", "trust the CA certificates in this PEM file too (a self-signed or private-CA server)")
		fs.StringVar(&rf.logFile, "log", "", "append errors, log.* lines and protocol traces to this file too")
		_ = v
	}
	return fs
}

func (c *cli) runtime(rf *runFlags) *runtime.Runtime {
	o := runtime.Options{
		DryRun: rf.dryRun, Sandbox: rf.sandbox, WallTime: rf.timeout, Debug: rf.debug,
		Stdout: c.out(rf), Stderr: c.stderr, Getenv: rf.getenv(),
		MaxMemory: int64(rf.memory), MaxOutput: int64(rf.maxOutput), MaxConnections: rf.maxConnections,
		AllowHosts: rf.allowHosts, Isolate: rf.isolate,
	}
	o.OAuth, o.Pins = rf.hostAccess()
	return runtime.New(o)
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
	if err := rf.apply(); err != nil {
		fmt.Fprintln(fs.Output(), "mailscript:", err)
		return nil, 2
	}
	if f := fs.Lookup("v"); f != nil && f.Value.String() == "true" {
		rf.verbose = true
		if rf.debug == 0 {
			rf.debug = 4
		}
	}
	return fs.Args(), -1
}

func (c *cli) runCmd(args []string) int {
	var rf runFlags
	fs := c.flags("run", "FILE [ARGS...]", "Runs a Lua script. The script sees ARGS in the table arg (arg[0] is FILE).\n"+
		"FILE - reads the script from stdin; -e CODE runs CODE. Flags go before FILE: after it they would\n"+
		"go to the script, so they are refused (write -- before script arguments that look like flags).", &rf)
	code := fs.String("e", "", "run this code instead of a file")
	rest, status := parseRunFlags(fs, &rf, args)
	if status >= 0 {
		return status
	}
	if *code == "" && len(rest) == 0 {
		fs.Usage()
		return 2
	}
	if done := c.logTo(&rf); done != nil {
		defer done()
	} else if rf.logFile != "" {
		return 1
	}
	rf.isolate = rf.sandbox && !rf.inProcess
	name, src, argv := "", "", rest
	switch {
	case *code != "":
		name, src = "(command line)", *code
	case rest[0] == "-":
		b, err := io.ReadAll(io.LimitReader(c.stdin, maxStdinScript+1))
		if err != nil || len(b) > maxStdinScript {
			fmt.Fprintln(c.stderr, "mailscript run: reading the script from stdin:", errOr(err, "more than 16 MiB"))
			return 1
		}
		name, src, argv = "stdin", string(b), rest[1:]
	default:
		b, err := os.ReadFile(rest[0])
		if err != nil {
			fmt.Fprintln(c.stderr, "mailscript run:", err)
			return 1
		}
		name, src, argv = rest[0], string(b), rest[1:]
	}
	scriptArgv, err := scriptArgs(fs, argv)
	if err != nil {
		fmt.Fprintln(c.stderr, "mailscript run:", err)
		return 2
	}
	ctx, sig, stop := signalContext()
	defer stop()
	res, err := c.runtime(&rf).RunString(ctx, name, src, scriptArgv...)
	return c.finish(&rf, sig, res, err)
}

// maxStdinScript bounds a script read from stdin.
const maxStdinScript = 16 << 20

func errOr(err error, text string) string {
	if err != nil {
		return err.Error()
	}
	return text
}

// out is where the script's print goes: stdout, or stderr when stdout
// carries the --json document.
func (c *cli) out(rf *runFlags) io.Writer {
	if rf.json {
		return c.stderr
	}
	return c.stdout
}

// finish prints what a run leaves (the plan, or the --json document) and
// its error, and returns the exit status.
func (c *cli) finish(rf *runFlags, sig *stopper, res *runtime.Result, err error) int {
	code := 0
	if err != nil {
		code = 1
	}
	// a signal ends the run however the script took it (acct:watch
	// returns when the run is stopped): said once, with 128 + the signal
	word, sigCode := sig.stopped()
	if word != "" {
		err, code = errors.New(word), sigCode
	}
	if rf.json {
		printJSON(c.stdout, rf.dryRun, res, err, code, word)
	} else if res != nil && rf.dryRun {
		printPlan(c.stdout, res.Plan, rf.verbose)
	}
	if err != nil {
		c.report(err)
	}
	return code
}

func (c *cli) report(err error) {
	var se *runtime.ScriptError
	msg := err.Error()
	trace := ""
	var le *limit.Error
	if errors.As(err, &se) && !errors.As(err, &le) { // a limit hit is one line
		trace = userFrames(se.Traceback)
	}
	if c.colour {
		msg = "\x1b[31m" + msg + "\x1b[0m"
	}
	fmt.Fprintln(c.stderr, "mailscript:", msg)
	if hint := tlsHint(err.Error()); hint != "" {
		fmt.Fprintln(c.stderr, hint)
	}
	if trace != "" {
		fmt.Fprintln(c.stderr, trace)
	}
}

// userFrames drops the library's own frames (rules.lua's) from a
// traceback: the script's lines are the ones to look at.
func userFrames(tb string) string {
	lines := strings.Split(tb, "\n")
	out := lines[:0]
	for _, l := range lines {
		if strings.Contains(l, "mailscript/rules.lua:") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
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

// historyPath is $XDG_STATE_HOME/mailscript/repl_history (else under ~/.local/state).
func historyPath() string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "mailscript", "repl_history")
}
