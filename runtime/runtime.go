// Package runtime is the embeddable host: it runs Lua scripts (gopher-lua,
// Lua 5.1) with the imap and pop3 modules, a sandbox for untrusted
// scripts, limits, dry run, a dial hook, audit events and cancellation.
//
// Per Runtime (set once, shared by its runs): the [Options], host modules
// ([Runtime.Register]) and exposed values ([Runtime.Expose]), the cache
// of compiled chunks (bounded), and the state store when the host gives
// one (with [Options.Tenant], the tenant's namespace of it).
//
// Per run (nothing of one run is visible to the next): the Lua state and
// its globals, the loaded modules and their caches (the re module's
// compiled patterns), the id ([Result.Run], passed to [Options.AuditRun]),
// the dry-run plan, the output budget (stdout and stderr together), the
// count of connections, the state under Sandbox with no store and no
// Tenant, and every connection and state lock the run took, closed and
// released when it ends, however it ends. A run that hits a limit fails
// with a [ScriptError] of Kind "limit.output" (and the like) whose
// message names the limit.
//
// The dial hook ([Options.Dial]) gets network "tcp" and the address as
// net.JoinHostPort(host, port), the same for IMAP, POP3 and account:
// "mail.example.org:993", "[::1]:143" (a script's "[::1]" is unbracketed
// first).
//
// A [Pool] bounds how many scripts run at once.
//
// With [Options.Isolate] (Linux), each run is a child process of the
// program's own binary (os.Executable), started with the environment
// variable MAILSCRIPT_ISOLATED_CHILD: this package's init then runs the
// child instead of the program, so isolation works in any binary that
// imports the package, test binaries included. The child has an empty
// environment and /dev/null as stdin, limits itself (address space, CPU
// time, open files, a seccomp filter against new processes and sockets,
// and a cgroup where the kernel lets the parent make one) before it reads
// the script, and reaches the network only through the parent, which
// checks [Options.AllowHosts], dials and passes the socket on. Output,
// audit events (their numbers arrive as int or float64), state store
// calls, the plan and the error cross a pipe.
//
// Host modules ([Runtime.Register]) cross too: a module's loader runs
// in the parent, in a Lua state of the run's own (closed when it ends),
// once, when the script first requires the module; the script gets a
// copy of the module table's data and stubs of its functions, which call
// the parent's over the pipe and wait. Arguments and results cross as
// plain data: nil, booleans, numbers, strings and tables of them (no
// metatables; 64 levels and 4 MiB at most). A function, userdata, a
// coroutine, a table containing itself and a [bindings.Secret] (secrets
// never cross) fail the call with a Lua error naming the module and the
// function; a Go panic in a host function ends the run with Kind
// "internal", as in process, and the parent goes on. Exposed values
// ([Runtime.Expose]) cross as copies when they are plain data (booleans,
// numbers, strings, slices, arrays, maps with string keys, pointers to
// them, structs' exported fields under gopher-luar's names): a table in
// the child, whose changes the host does not see. A value of a type with
// methods, a func or a channel fails the run with [ErrIsolation] naming
// it, and so does [Options.TLS] (a CertPool cannot cross).
package runtime

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
	luar "layeh.com/gopher-luar"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/internal/limit"
	"github.com/mailscript/mailscript/oauth"
	"github.com/mailscript/mailscript/stdlib"
	"github.com/mailscript/mailscript/trust"
)

// Options configure a [Runtime]. The zero value runs trusted scripts with
// the whole Lua standard library.
type Options struct {
	// Sandbox withholds io, os (but time/date/clock/getenv), load*,
	// dofile and file require, and IMAP4_stream.
	Sandbox bool
	// DryRun sends nothing that changes a mailbox; see [Result.Plan].
	DryRun bool
	// Dial opens every connection scripts make (allow-lists, proxies),
	// with addresses as net.JoinHostPort(host, port).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives the runtime's own events; nil discards them.
	Logger *slog.Logger
	// Watch, if set, says how the watchers of require("watch") run after
	// the script's top level (nil: one catch-up pass).
	Watch *stdlib.WatchMode
	// Audit receives CPython's audit events (imaplib.open, imaplib.send,
	// poplib.connect, poplib.putline), secrets redacted.
	Audit func(event string, args ...any)
	// AuditRun, if set, receives the same events with the id of the run
	// that caused them ([Result.Run]), to tell concurrent runs apart.
	AuditRun func(run, event string, args ...any)
	// Stdout and Stderr for print and debug traces; nil means os.Stdout/os.Stderr.
	Stdout, Stderr io.Writer
	// Getenv answers os.getenv in the sandbox; nil returns nil for every name.
	Getenv func(string) string
	// Limits of each run. Zero means the default: none, or under Sandbox
	// 60 s, 8 connections (every dial and reconnect counts), 1 MiB of
	// output (every path: print, io.write, log, traces) and 256 MiB of
	// memory. A negative value means none even under Sandbox. Registry
	// and call stack have defaults large enough for 20 MB messages built
	// with table.concat.
	WallTime       time.Duration
	MaxConnections int
	MaxOutput      int64
	MaxMemory      int64
	RegistryMax    int
	CallStackMax   int
	// MaxScriptSize caps a script's source: zero means 8 MiB, or 1 MiB
	// under Sandbox; negative means none.
	MaxScriptSize int64
	// Isolate runs each script in a child process of the same binary,
	// under rlimits, reaching the network only through this process.
	Isolate bool
	// AllowHosts, under Sandbox, are the only hosts scripts may connect
	// to: "HOST" (any port) or "HOST:PORT"; none means no network.
	AllowHosts []string
	// Tenant names the namespace of the state store this runtime's runs
	// share; under Sandbox with no Tenant, each run's state is its own.
	Tenant string
	// Timeout is the default network timeout of connections (60 s).
	Timeout time.Duration
	// Debug is the protocol debug level of new connections (imaplib's).
	Debug int
	// TLS, if set, replaces the TLS settings scripts ask for (offline tests).
	TLS *tls.Config
	// OAuth gives scripts the stored OAuth accounts they name
	// (account.connect{auth = "oauth2", oauth = NAME}); nil: none. Under
	// Sandbox, give only the names the host grants (oauth.Sources.Allow).
	// Not with Isolate: the child process holds no refresh tokens.
	OAuth func(name string) (*oauth.Source, error)
	// Pins are the pinned server certificates every TLS connection is
	// checked against (mailscript trust --pin); nil: none.
	Pins *trust.Pins
	// State keeps the state module's documents and the rules' progress;
	// nil means files under $XDG_STATE_HOME/mailscript, or memory in the sandbox.
	State stdlib.Store
}

// Runtime runs scripts. It is safe for concurrent use: each run has its
// own Lua state.
type Runtime struct {
	opts    Options
	mu      sync.Mutex
	modules map[string]lua.LGFunction
	values  map[string]any
	cache   *protoCache
}

// New returns a runtime.
func New(opts Options) *Runtime {
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.RegistryMax <= 0 {
		opts.RegistryMax = 1 << 24
	}
	if opts.CallStackMax <= 0 {
		opts.CallStackMax = 1 << 12
	}
	opts.limitDefaults()
	return &Runtime{opts: opts, modules: map[string]lua.LGFunction{}, values: map[string]any{}, cache: newProtoCache()}
}

// Register adds a host module scripts load with require(name).
func (rt *Runtime) Register(name string, loader lua.LGFunction) {
	rt.mu.Lock()
	rt.modules[name] = loader
	rt.mu.Unlock()
}

// Expose makes a Go value a global of every script, through gopher-luar.
func (rt *Runtime) Expose(name string, v any) {
	rt.mu.Lock()
	rt.values[name] = v
	rt.mu.Unlock()
}

// Result is what a run leaves behind.
type Result struct {
	Plan []bindings.Action // what a dry run did not do
	Run  string            // the run's id, as [Options.AuditRun] got it

	Reports []bindings.RulesReport // what each rules.apply did
}

// ScriptError is a script's failure: its message, where in the script,
// and the Lua traceback.
type ScriptError struct {
	Message   string
	File      string
	Line      int
	Traceback string
	Kind      string // the error object's kind ("error", "abort", "readonly", "error_proto"), "limit.memory" and the like for limits, "internal" for a Go panic
	Err       error  // the cause, if typed: a *limit.Error for Kind "limit.*"
}

// Unwrap returns the cause, so errors.As finds a *limit.Error.
func (e *ScriptError) Unwrap() error { return e.Err }

func (e *ScriptError) Error() string {
	if e.File != "" && e.Line == 0 {
		return e.File + ": " + e.Message
	}
	if e.File != "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
	}
	return e.Message
}

// RunFile runs the script at path; args become the global arg table.
func (rt *Runtime) RunFile(ctx context.Context, path string, args ...string) (*Result, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return rt.RunString(ctx, path, string(src), args...)
}

// RunString runs src as a chunk called name.
func (rt *Runtime) RunString(ctx context.Context, name, src string, args ...string) (res *Result, err error) {
	if rt.opts.Isolate {
		return rt.runIsolated(ctx, name, src, args)
	}
	defer recoverRun(name, &err)
	ctx, stop := rt.limitContext(ctx)
	defer stop()
	proto, err := rt.compileIn(ctx, name, src)
	if err != nil {
		return nil, err
	}
	env := rt.env()
	env.Stop = func() { stopRun(ctx, env.LimitErr()) } // a limit hit stops the run
	defer func() {                                     // connections closed, locks released, however the run ends
		stopRun(ctx, context.Canceled) // what still runs for the script (a read-ahead) stops first
		env.End()
	}()
	L := rt.newState(env)
	defer L.Close()
	L.SetContext(ctx)
	argt := L.NewTable()
	argt.RawSetInt(0, lua.LString(name))
	for i, a := range args {
		argt.RawSetInt(i+1, lua.LString(a))
	}
	L.SetGlobal("arg", argt)
	rt.opts.Logger.Debug("run", "script", name, "dry_run", rt.opts.DryRun, "sandbox", rt.opts.Sandbox)
	L.Push(L.NewFunctionFromProto(proto))
	err = L.PCall(0, lua.MultRet, L.NewFunction(traceback))
	if err == nil {
		mode := stdlib.WatchMode{Logger: rt.opts.Logger}
		if rt.opts.Watch != nil {
			mode = *rt.opts.Watch
		}
		err = stdlib.RunWatchers(L, mode)
	}
	res = &Result{Plan: env.Plan(), Reports: env.Reports(), Run: env.Run}
	if le := env.LimitErr(); le != nil {
		return res, limitError(name, err, le)
	}
	return res, runError(ctx, name, err)
}

// SetNetwork sends every later connection through dial and trusts only
// roots for TLS, checking certificates as "localhost": offline testing
// of scripts against an in-process server.
func (rt *Runtime) SetNetwork(dial func(ctx context.Context, network, addr string) (net.Conn, error), roots *x509.CertPool) {
	rt.mu.Lock()
	rt.opts.Dial = dial
	rt.opts.TLS = &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	rt.mu.Unlock()
}

// SetState replaces the state store of later runs.
func (rt *Runtime) SetState(s stdlib.Store) {
	rt.mu.Lock()
	rt.opts.State = s
	rt.mu.Unlock()
}

// store is the state store of one run: under Sandbox with no store and
// no Tenant, a fresh one of its own; with a Tenant, the tenant's
// namespace of the host's store (or of one in memory per Runtime).
func (rt *Runtime) store() stdlib.Store {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.opts.State == nil {
		if rt.opts.Sandbox && rt.opts.Tenant == "" {
			return &stdlib.MemStore{}
		}
		if rt.opts.Sandbox {
			rt.opts.State = &stdlib.MemStore{}
		} else {
			rt.opts.State = stdlib.FileStore{Dir: stdlib.DefaultStateDir()}
		}
	}
	if rt.opts.Tenant != "" {
		return stdlib.Namespace(rt.opts.State, rt.opts.Tenant)
	}
	return rt.opts.State
}

// env is what one run's modules see: its id, its output budget (stdout
// and stderr together) and its count of connections.
func (rt *Runtime) env() *bindings.Env {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	env := &bindings.Env{DryRun: rt.opts.DryRun, Sandbox: rt.opts.Sandbox, Dial: rt.dialer(), Getenv: rt.opts.Getenv, TLS: rt.opts.TLS,
		Stdout: rt.opts.Stdout, Stderr: rt.opts.Stderr, Timeout: rt.opts.Timeout, Debug: rt.opts.Debug, Run: newRunID(),
		OAuth: rt.opts.OAuth, Pins: rt.opts.Pins}
	env.Audit = auditHook(rt.opts.Audit, rt.opts.AuditRun, env.Run)
	env.LimitOutput(rt.opts.MaxOutput)
	if rt.opts.MaxMemory > 0 {
		// a reply and its copy in Lua both fit in the run's budget
		env.POP3Limits.MaxMessage = rt.opts.MaxMemory / 2
	}
	var conns atomic.Int64
	maxConns := rt.opts.MaxConnections
	env.Connect = func() error {
		if n := conns.Add(1); maxConns > 0 && n > int64(maxConns) {
			return env.Limit(&limit.Error{Limit: "connection", Max: strconv.Itoa(maxConns)})
		}
		return nil
	}
	return env
}

// Session is one Lua state kept across evaluations, for a REPL.
type Session struct {
	rt  *Runtime
	L   *lua.LState
	env *bindings.Env
}

// NewSession starts a session.
func (rt *Runtime) NewSession() *Session {
	env := rt.env()
	return &Session{rt: rt, L: rt.newState(env), env: env}
}

// Eval runs src as a chunk called name; an expression's values are
// printed, as Lua's own REPL does.
func (s *Session) Eval(ctx context.Context, name, src string) (err error) {
	defer recoverRun(name, &err)
	ctx, stop := s.rt.limitContext(ctx)
	defer stop()
	s.L.SetContext(ctx)
	defer s.L.RemoveContext()
	proto, err := s.rt.compileIn(ctx, name, "return "+src)
	if err != nil {
		if proto, err = s.rt.compileIn(ctx, name, src); err != nil {
			return err
		}
	}
	top := s.L.GetTop()
	s.L.Push(s.L.NewFunctionFromProto(proto))
	if err := s.L.PCall(0, lua.MultRet, s.L.NewFunction(traceback)); err != nil {
		if le := s.env.LimitErr(); le != nil {
			return limitError(name, err, le)
		}
		return runError(ctx, name, err)
	}
	if n := s.L.GetTop() - top; n > 0 {
		print := s.L.GetGlobal("print")
		args := make([]lua.LValue, n)
		for i := range args {
			args[i] = s.L.Get(top + 1 + i)
		}
		s.L.SetTop(top)
		if err := s.L.CallByParam(lua.P{Fn: print, NRet: 0, Protect: true}, args...); err != nil {
			return runError(ctx, name, err)
		}
	}
	return runError(ctx, name, nil)
}

// Close ends the session, closing its connections and releasing its locks.
func (s *Session) Close() {
	s.L.Close()
	s.env.End()
}

// State is the session's Lua state, for hosts that add globals or call
// functions directly; like the session, it is not safe for concurrent use.
func (s *Session) State() *lua.LState { return s.L }

// Incomplete reports whether a compile error only means the input has
// not ended yet (an open block or string), so a REPL should read on.
func Incomplete(err error) bool {
	var se *ScriptError
	return errors.As(err, &se) && se.Traceback == "" && strings.Contains(se.Message, "EOF")
}

// traceback is the message handler: it keeps an error object as it is
// and records the traceback beside it.
func traceback(L *lua.LState) int {
	v := L.Get(1)
	dbg := L.Get(lua.RegistryIndex).(*lua.LTable).RawGetString(tracebackKey)
	var trace string
	if f, ok := dbg.(*lua.LFunction); ok {
		L.Push(f)
		L.Push(lua.LString(""))
		L.Push(lua.LNumber(2))
		if L.PCall(2, 1, nil) == nil {
			trace = lua.LVAsString(L.Get(-1))
			L.Pop(1)
		}
	} else {
		trace = ""
	}
	wrapped := L.NewTable()
	if goPanicking() {
		wrapped.RawSetString("panic", lua.LTrue)
	}
	wrapped.RawSetString("value", v)
	wrapped.RawSetString("traceback", lua.LString(trace))
	if lv, ok := v.(lua.LString); ok {
		wrapped.RawSetString("message", lv)
	} else {
		wrapped.RawSetString("message", lua.LString(L.ToStringMeta(v).String()))
	}
	L.Push(wrapped)
	return 1
}

var posRE = regexp.MustCompile(`([^\s:]+\.lua|<[^>]+>|[^\s:]+):(\d+):`)

func scriptError(name string, err error) *ScriptError {
	se := &ScriptError{Message: err.Error()}
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		if t, ok := ae.Object.(*lua.LTable); ok {
			se.Message = lua.LVAsString(t.RawGetString("message"))
			se.Traceback = lua.LVAsString(t.RawGetString("traceback"))
			if t.RawGetString("panic") == lua.LTrue {
				se.Kind = "internal"
			}
			if obj, ok := t.RawGetString("value").(*lua.LTable); ok {
				if k := lua.LVAsString(obj.RawGetString("kind")); k != "" {
					se.Kind = k
				}
			}
		} else {
			se.Message = ae.Object.String()
			se.Traceback = ae.StackTrace
		}
	}
	// where: the message's own position, else the first frame of the script
	for _, s := range []string{se.Message, se.Traceback} {
		for _, m := range posRE.FindAllStringSubmatch(s, -1) {
			if m[1] == name || strings.HasSuffix(name, m[1]) {
				se.File = name
				se.Line, _ = strconv.Atoi(m[2])
				se.Message = strings.TrimPrefix(se.Message, m[0]+" ")
				return se
			}
		}
	}
	return se
}

// Compile parses and compiles src, caching the result by content.
func (rt *Runtime) Compile(name, src string) (p *lua.FunctionProto, err error) {
	key := cacheKey(name, src)
	if p := rt.cache.get(key); p != nil {
		return p, nil
	}
	if se := checkSource(name, src, rt.opts.MaxScriptSize); se != nil {
		return nil, se
	}
	defer recoverRun(name, &err)
	chunk, err := parse.Parse(strings.NewReader(src), name)
	if err != nil {
		return nil, eofLine(compileError(name, err), src)
	}
	marker := ""
	if rt.opts.MaxMemory > 0 {
		marker = concatMarker()
		concatRewriter{marker}.stmts(chunk)
	}
	p, err = lua.Compile(chunk, name)
	if err != nil {
		return nil, compileError(name, err)
	}
	if marker != "" {
		bindConcat(p, marker)
	}
	rt.cache.put(key, len(name)+len(src), p)
	return p, nil
}

var parseLineRE = regexp.MustCompile(`^.*?line:(\d+)(\(column:\d+\))?\s*`)

func compileError(name string, err error) *ScriptError {
	se := &ScriptError{File: name, Message: err.Error()}
	if m := parseLineRE.FindStringSubmatch(se.Message); m != nil {
		se.Line, _ = strconv.Atoi(m[1])
		se.Message = strings.Join(strings.Fields(se.Message[len(m[0]):]), " ")
	}
	if i := strings.Index(se.Message, "\n"); i > 0 {
		se.Message = strings.TrimSpace(se.Message[:i])
	}
	return se
}

func (rt *Runtime) newState(env *bindings.Env) *lua.LState {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:        rt.opts.Sandbox,
		RegistrySize:        lua.RegistrySize,
		RegistryMaxSize:     rt.opts.RegistryMax,
		RegistryGrowStep:    1024 * 32,
		CallStackSize:       rt.opts.CallStackMax,
		MinimizeStackMemory: true,
	})
	if rt.opts.Sandbox {
		rt.openSandbox(L)
	} else {
		keepTraceback(L)
		routeStdio(L, env)
		L.SetGlobal("_printregs", lua.LNil) // writes to os.Stdout, past every limit
	}
	patternFuncs(L)
	limitFuncs(L)
	guardPCalls(L)
	out := env.Stdout
	L.SetGlobal("print", L.NewFunction(func(L *lua.LState) int {
		var b strings.Builder
		for i := 1; i <= L.GetTop(); i++ {
			if i > 1 {
				b.WriteByte('\t')
			}
			b.WriteString(L.ToStringMeta(L.Get(i)).String())
		}
		b.WriteByte('\n')
		if _, err := io.WriteString(out, b.String()); err != nil {
			bindings.RaiseLimit(L, env, err)
		}
		return 0
	}))
	bindings.Preload(L, env)
	stdlib.Preload(L, env, rt.store())
	rt.mu.Lock()
	for name, loader := range rt.modules {
		L.PreloadModule(name, loader)
	}
	for name, v := range rt.values {
		L.SetGlobal(name, luar.New(L, v))
	}
	rt.mu.Unlock()
	return L
}

// openSandbox opens the safe libraries: base without load*/dofile and
// _printregs, table, string, math, coroutine, an os with time, date,
// clock and a filtered getenv, and a require of preloaded modules only.
// io, debug and the rest are withheld by every route, and using them
// says so.
func (rt *Runtime) openSandbox(L *lua.LState) {
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}, {lua.CoroutineLibName, lua.OpenCoroutine},
		{lua.OsLibName, lua.OpenOs}, {lua.DebugLibName, lua.OpenDebug},
	} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	loaded := L.Get(lua.RegistryIndex).(*lua.LTable).RawGetString("_LOADED").(*lua.LTable)
	// the debug library only for the runtime's tracebacks, kept privately
	keepTraceback(L)
	dbg := L.NewTable()
	dbg.RawSetString("traceback", L.GetField(L.GetGlobal("debug"), "traceback"))
	refuseMissing(L, dbg, "debug")
	L.SetGlobal("debug", dbg)
	loaded.RawSetString("debug", dbg)
	L.SetGlobal("io", withheld(L, "io"))
	for _, name := range []string{"dofile", "loadfile", "load", "loadstring", "module"} {
		L.SetGlobal(name, refusedFunc(L, name))
	}
	L.SetGlobal("_printregs", lua.LNil)
	// gopher-lua's collectgarbage stops the whole process for a GC on
	// every call: a loop of it would stall the host and every other run
	L.SetGlobal("collectgarbage", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(0))
		return 1
	}))
	full := L.GetGlobal("os").(*lua.LTable)
	safe := L.NewTable()
	for _, k := range []string{"time", "date", "clock", "difftime"} {
		safe.RawSetString(k, full.RawGetString(k))
	}
	getenv := rt.opts.Getenv
	safe.RawSetString("getenv", L.NewFunction(func(L *lua.LState) int {
		if getenv == nil {
			L.Push(lua.LNil)
			return 1
		}
		v := getenv(L.CheckString(1))
		if v == "" {
			L.Push(lua.LNil)
		} else {
			L.Push(lua.LString(v))
		}
		return 1
	}))
	refuseMissing(L, safe, "os")
	L.SetGlobal("os", safe)
	loaded.RawSetString("os", safe)
	// require finds loaded and preloaded modules only; package.path,
	// package.loaders and the registry's loaders are never consulted
	pkg := L.GetGlobal("package").(*lua.LTable)
	preload := pkg.RawGetString("preload").(*lua.LTable)
	L.SetGlobal("require", sandboxRequire(L, loaded, preload))
	only := L.NewTable()
	only.Append(pkg.RawGetString("loaders").(*lua.LTable).RawGetInt(1))
	pkg.RawSetString("loaders", only)
	pkg.RawSetString("path", lua.LString(""))
	pkg.RawSetString("cpath", lua.LString(""))
}

// Pool runs scripts with at most n at once, each in its own Lua state,
// sharing the runtime's compiled chunks.
type Pool struct {
	rt  *Runtime
	sem chan struct{}
}

// NewPool returns a pool of n concurrent runs.
func (rt *Runtime) NewPool(n int) *Pool {
	return &Pool{rt: rt, sem: make(chan struct{}, max(n, 1))}
}

// RunString runs src when a place is free (or ctx ends).
func (p *Pool) RunString(ctx context.Context, name, src string, args ...string) (*Result, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.sem }()
	return p.rt.RunString(ctx, name, src, args...)
}
