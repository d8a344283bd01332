// Package bindings holds the Lua modules written in Go: imap and pop3,
// mirrors of Python's imaplib and poplib over protocol/imap and
// protocol/pop3. Lua values are built once from the parsed Go values;
// nothing in Lua parses the wire.
package bindings

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/mailscript/mailscript/internal/tlsopt"
	"github.com/mailscript/mailscript/oauth"
	"github.com/mailscript/mailscript/protocol/pop3"
	"github.com/mailscript/mailscript/trust"
)

// Env is what the host decides for the modules: dry run, sandbox, the
// dial hook, audit events, limits and where traces go.
type Env struct {
	DryRun  bool
	Sandbox bool // no IMAP4_stream; every socket through Dial
	Dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	Audit   func(event string, args ...any)
	Stdout  io.Writer // print and io.write (the runtime's)
	Stderr  io.Writer // debug traces and log
	Timeout time.Duration
	Debug   int // protocol debug level of new connections
	// Connect is called before each new connection; an error refuses it
	// (the host's connection limit).
	Connect func() error
	// Getenv answers environment lookups of sandboxed scripts (nil: none).
	Getenv func(string) string
	// TLS, if set, replaces the TLS settings scripts ask for (offline
	// testing against an in-process server with its own certificate).
	TLS *tls.Config
	// POP3Limits bound what a POP3 server can make a connection hold
	// (zero fields: pop3's defaults).
	POP3Limits pop3.Limits
	// Run is the run's id, which the runtime's audit events carry.
	Run string
	// Stop, if set, ends the run (a limit was hit); the runtime cancels
	// the run's context.
	Stop func()
	// OAuth gives the token source of a stored OAuth account (mailscript
	// login NAME); nil: scripts name none (the sandbox, unless the host
	// grants some).
	OAuth func(name string) (*oauth.Source, error)
	// Pins, if set, are the pinned server certificates (mailscript
	// trust --pin) every TLS connection is checked against.
	Pins *trust.Pins

	mu   sync.Mutex
	plan []Action
	run  run

	rule    string // the rule acting now (rules.apply), stamped on the plan
	reports []RulesReport
}

// Action is one change a dry run did not make.
type Action struct {
	Command string   `json:"command"`
	Mailbox string   `json:"mailbox,omitempty"`
	Set     string   `json:"set,omitempty"`
	UID     bool     `json:"uid,omitempty"`
	Args    []string `json:"args,omitempty"`

	Rule string `json:"rule,omitempty"` // the rule that asked for it, if one did
}

// Plan returns the actions a dry run has recorded.
func (e *Env) Plan() []Action {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Action(nil), e.plan...)
}

// Record adds a to the dry-run plan.
func (e *Env) Record(a Action) {
	e.mu.Lock()
	if a.Rule == "" {
		a.Rule = e.rule
	}
	e.plan = append(e.plan, a)
	e.mu.Unlock()
}

func (e *Env) stderr() io.Writer {
	if e.Stderr != nil {
		return e.Stderr
	}
	return os.Stderr
}

// TLSConfig is the TLS configuration for a connection a script asked to
// make with o: the host's override, or o's; pinned hosts checked
// against their pins.
// In the sandbox a script names no files: its roots and client
// certificate come as PEM text (ca_pem, cert_pem, key_pem).
func (e *Env) TLSConfig(o tlsopt.Options) (*tls.Config, error) { return e.TLSConfigFor(o, "") }

// TLSConfigFor is [Env.TLSConfig] for a connection to host, whose pins
// apply even when host is an IP address (which TLS does not send).
func (e *Env) TLSConfigFor(o tlsopt.Options, host string) (*tls.Config, error) {
	if e.Sandbox && o.HasFiles() {
		return nil, errors.New("ssl_context: ca_file, cert_file and key_file are not available in the sandbox (no host files); pass the PEM text as ca_pem, cert_pem and key_pem")
	}
	cfg := e.TLS.Clone()
	if cfg == nil {
		var err error
		if cfg, err = o.Config(); err != nil {
			return nil, err
		}
	}
	if e.Pins != nil {
		return e.Pins.Apply(cfg, host)
	}
	return cfg, nil
}

// NetTimeout is the network timeout of new connections (60 s by default).
func (e *Env) NetTimeout() time.Duration { return e.timeout() }

func (e *Env) timeout() time.Duration {
	if e.Timeout > 0 {
		return e.Timeout
	}
	return 60 * time.Second
}

// Preload makes require("imap"), require("pop3") and require("mail")
// load the modules.
func Preload(L *lua.LState, env *Env) {
	L.PreloadModule("imap", func(L *lua.LState) int { return openIMAP(L, env) })
	L.PreloadModule("pop3", func(L *lua.LState) int { return openPOP3(L, env) })
	L.PreloadModule("mail", openMail)
}

// Ctx is the run's context, which cancels network waits.
func Ctx(L *lua.LState) context.Context { return ctxOf(L) }

func ctxOf(L *lua.LState) context.Context {
	if c := L.Context(); c != nil {
		return c
	}
	return context.Background()
}

// timeoutArg reads a timeout in seconds; math.huge means none.
func timeoutArg(L *lua.LState, v lua.LValue, def time.Duration) time.Duration {
	n, ok := v.(lua.LNumber)
	if !ok {
		return def
	}
	if float64(n) > 1e12 {
		return 0
	}
	if n <= 0 {
		L.ArgError(3, "timeout must be positive (math.huge waits forever)")
	}
	return time.Duration(float64(n) * float64(time.Second))
}

// str converts a Lua string or number argument; nil gives def.
func str(L *lua.LState, n int, def string) string {
	switch v := L.Get(n).(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return v.String()
	case *lua.LNilType:
		return def
	}
	L.ArgError(n, "string expected, got "+L.Get(n).Type().String())
	return ""
}

// newTable is a table made without a Lua state, with the metatable field
// a script's getmetatable reads.
func newTable() *lua.LTable { return &lua.LTable{Metatable: lua.LNil} }

func strList(vs []string) *lua.LTable {
	t := newTable()
	for _, s := range vs {
		t.Append(lua.LString(s))
	}
	return t
}

func numList[T ~uint32 | ~int](vs []T) *lua.LTable {
	t := newTable()
	for _, n := range vs {
		t.Append(lua.LNumber(n))
	}
	return t
}

// HostPort is the address the dial hook gets for host and port, the
// same for IMAP and POP3: net.JoinHostPort, a bracketed IPv6 host
// unbracketed first ("[::1]:143", "mail.example.org:993").
func HostPort(host string, port int) string {
	return net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port))
}

// optNum sets t[k] = n unless n is negative (absent).
func optNum(t *lua.LTable, k string, n int64) {
	if n >= 0 {
		t.RawSetString(k, lua.LNumber(n))
	}
}
