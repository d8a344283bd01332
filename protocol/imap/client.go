package imap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailscript/mailscript/internal/tlsopt"
)

// Ports of imaplib's IMAP4_PORT and IMAP4_SSL_PORT.
const (
	Port    = 143
	TLSPort = 993
)

// ConnState is the connection's state, as imaplib names it.
type ConnState string

// States, as imaplib names them.
const (
	StateNonAuth  ConnState = "NONAUTH"
	StateAuth     ConnState = "AUTH"
	StateSelected ConnState = "SELECTED"
	StateLogout   ConnState = "LOGOUT"
	StateIdling   ConnState = "IDLING" // during IDLE
)

// Options configure a [Client]. The zero value is usable.
type Options struct {
	// Timeout bounds dialing and every read and write; 0 waits forever.
	Timeout time.Duration
	// GreetingTimeout bounds the wait for the server's greeting, whatever
	// Timeout is (a plain-text client on a TLS port hears nothing);
	// 0 means [DefaultGreetingTimeout].
	GreetingTimeout time.Duration
	// TLSConfig for DialTLS and StartTLS. Nil means system roots and the
	// dialed host name, verified.
	TLSConfig *tls.Config
	// Dial opens connections; nil uses net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Limits; zero means the Default* constant.
	MaxLine    int
	MaxLiteral int64
	MaxDepth   int
	// Budgets a server cannot make the client exceed (an abort error
	// wrapping a [*LimitError]); zero means the Default* constant.
	// MaxResponse bounds one response's bytes, lines and literals together.
	MaxResponse int64
	// MaxUntagged bounds the untagged responses one command keeps or
	// hands to its OnUntagged callback (a flood into a callback keeps no
	// memory, but would keep the command running), and those imaplib's
	// store holds; MaxKept bounds their bytes.
	MaxUntagged int
	MaxKept     int64
	// MaxIdleQueue bounds the responses an IDLE holds unread (those that
	// came before the server's "+": more is an abort) and those one
	// [Idler.Burst] gathers (it returns at the cap; the rest come with
	// the next call).
	MaxIdleQueue int
	// MaxItems bounds the values decoding one response builds.
	MaxItems int
	// MaxExpand bounds the numbers a sequence set from the server (an
	// ESEARCH ALL, a COPYUID) is expanded to.
	MaxExpand int
	// Debug is imaplib's debug level; DebugWriter receives the trace
	// (LOGIN and AUTHENTICATE secrets as ***).
	Debug       int
	DebugWriter io.Writer
	// Audit receives CPython's audit events "imaplib.open" (host, port)
	// and "imaplib.send" (data, secrets redacted).
	Audit func(event string, args ...any)
}

// Client is an IMAP4 connection. It is not safe for concurrent use,
// except that a context passed to a call may be canceled from anywhere
// and Close may be called from any goroutine (a call in progress then
// returns an abort error).
type Client struct {
	opts      Options
	connMu    sync.Mutex  // guards c and process against a concurrent Close
	closed    atomic.Bool // Close was called
	c         conn
	r         *reader
	w         *sendBuf
	host      string
	tlsActive bool
	process   *exec.Cmd

	mu           sync.Mutex // guards state and caps: a pipelined writer reads caps
	state        ConnState
	savedState   ConnState
	caps         []string
	xstates      map[string]string // commands Xatom allowed, this client only
	protoVersion string
	welcome      string
	readonly     bool
	utf8         bool
	tagPrefix    string
	tagNum       int
	store        map[string][]stored
	storeN       int   // entries in store
	storeBytes   int64 // their cost, see keptSize
	budgetErr    error // a budget the server went past, raised by dispatch
	pending      []*Command
	broken       error
	idler        *Idler
	conts        []*contWait // waits for a "+", oldest first
	decodeEarly  bool        // Fetch is running: decode FETCH responses on arrival
	traceMu      sync.Mutex
}

type stored struct {
	r    *Response
	code bool // the entry is r's response code
}

// Dial connects over plain TCP (port 143 by default) and reads the greeting.
func Dial(ctx context.Context, addr string, opts *Options) (*Client, error) {
	return dial(ctx, addr, Port, false, opts)
}

// DialTLS connects over implicit TLS (port 993 by default), verifying the
// server's certificate unless the TLS config says otherwise.
func DialTLS(ctx context.Context, addr string, opts *Options) (*Client, error) {
	return dial(ctx, addr, TLSPort, true, opts)
}

func dial(ctx context.Context, addr string, defPort int, useTLS bool, opts *Options) (*Client, error) {
	o := withDefaults(opts)
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, strconv.Itoa(defPort)
		addr = net.JoinHostPort(host, port)
	}
	if host == "" {
		host = "localhost"
		addr = net.JoinHostPort(host, port)
	}
	if o.Audit != nil {
		o.Audit("imaplib.open", host, port)
	}
	dctx := ctx
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	var nc net.Conn
	if o.Dial != nil {
		nc, err = o.Dial(dctx, "tcp", addr)
	} else {
		var d net.Dialer
		nc, err = d.DialContext(dctx, "tcp", addr)
	}
	if err != nil {
		return nil, connectError(err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if useTLS {
		tc, err := tlsopt.Handshake(dctx, nc, o.TLSConfig, host, 0)
		if err != nil {
			nc.Close()
			return nil, connectError(err)
		}
		nc = tc
	}
	c := newClient(nc, host, o)
	c.tlsActive = useTLS
	if err := c.start(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// NewClient speaks IMAP over an open connection and reads the greeting.
func NewClient(ctx context.Context, nc net.Conn, opts *Options) (*Client, error) {
	c := newClient(nc, "", withDefaults(opts))
	_, c.tlsActive = nc.(*tls.Conn)
	if err := c.start(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// DialStream runs command with "sh -c" and speaks IMAP over its standard
// input and output (imaplib's IMAP4_stream).
func DialStream(ctx context.Context, command string, opts *Options) (*Client, error) {
	o := withDefaults(opts)
	if o.Audit != nil {
		o.Audit("imaplib.open", command, "")
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, connectError(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, connectError(err)
	}
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Stdin, cmd.Stdout = inR, outW
	if err := cmd.Start(); err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return nil, connectError(err)
	}
	inR.Close()
	outW.Close()
	c := newClient(&pipeConn{r: outR, w: inW}, "", o)
	c.process = cmd
	if err := c.start(ctx); err != nil {
		c.closeConn()
		return nil, err
	}
	return c, nil
}

// pipeConn joins a child's stdout and stdin into one connection.
type pipeConn struct{ r, w *os.File }

func (p *pipeConn) Read(b []byte) (int, error)         { return p.r.Read(b) }
func (p *pipeConn) Write(b []byte) (int, error)        { return p.w.Write(b) }
func (p *pipeConn) SetReadDeadline(t time.Time) error  { return p.r.SetReadDeadline(t) }
func (p *pipeConn) SetWriteDeadline(t time.Time) error { return p.w.SetWriteDeadline(t) }
func (p *pipeConn) Close() error                       { p.w.Close(); return p.r.Close() }

func withDefaults(opts *Options) Options {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxLine <= 0 {
		o.MaxLine = DefaultMaxLine
	}
	if o.MaxLiteral <= 0 {
		o.MaxLiteral = DefaultMaxLiteral
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.GreetingTimeout <= 0 {
		o.GreetingTimeout = DefaultGreetingTimeout
	}
	if o.MaxResponse <= 0 {
		o.MaxResponse = DefaultMaxResponse
	}
	if o.MaxUntagged <= 0 {
		o.MaxUntagged = DefaultMaxUntagged
	}
	if o.MaxKept <= 0 {
		o.MaxKept = DefaultMaxKept
	}
	if o.MaxIdleQueue <= 0 {
		o.MaxIdleQueue = DefaultMaxIdleQueue
	}
	if o.MaxItems <= 0 {
		o.MaxItems = DefaultMaxItems
	}
	if o.MaxExpand <= 0 {
		o.MaxExpand = DefaultMaxExpand
	}
	if o.DebugWriter == nil {
		o.DebugWriter = os.Stderr
	}
	return o
}

func connectError(err error) error {
	return &Error{Kind: KindError, Text: "connect: " + err.Error(), Cause: causeOf(err), Err: err}
}

func newClient(c conn, host string, o Options) *Client {
	cl := &Client{
		opts:      o,
		host:      host,
		state:     StateLogout,
		tagPrefix: Int2AP(4096 + rand.IntN(65535-4096+1)),
		store:     map[string][]stored{},
	}
	cl.setConn(c)
	return cl
}

func (c *Client) setConn(nc conn) {
	c.connMu.Lock()
	c.c = nc
	c.connMu.Unlock()
	if c.closed.Load() {
		nc.Close() // Close ran during STARTTLS's handshake
	}
	c.r = newReader(nc, c.opts.MaxLine)
	c.r.timeout = c.opts.Timeout
	c.w = &sendBuf{write: c.writeConn}
}

func (c *Client) writeConn(b []byte) (int, error) {
	if c.opts.Timeout > 0 {
		_ = c.c.SetWriteDeadline(time.Now().Add(c.opts.Timeout))
	}
	return c.c.Write(b)
}

// start reads the greeting and the capabilities, as imaplib's __init__.
func (c *Client) start(ctx context.Context) error {
	stop := c.watch(ctx)
	defer stop()
	now := time.Now()
	c.r.deadline = now.Add(c.opts.GreetingTimeout)
	if t := now.Add(c.opts.Timeout); c.opts.Timeout > 0 && t.Before(c.r.deadline) {
		c.r.deadline = t
	}
	resp, err := c.readResponse()
	c.r.deadline = time.Time{}
	if err != nil {
		// As imaplib: a cut or malformed greeting is an abort, an
		// over-long line an error; a greeting that never comes is a
		// failure to connect, an error.
		e := netError(ctx, "", err)
		if ie, ok := e.(*Error); ok && ie.Cause == CauseTimeout {
			ie.Kind = KindError
			ie.Text = "greeting: " + ie.Text
			if !c.tlsActive && (ctx == nil || ctx.Err() == nil) {
				ie.Text = "no greeting: is this a TLS port? use IMAP4_SSL or tls=... (" + ie.Text + ")"
			}
		}
		return e
	}
	c.trace(4, "< "+resp.Line())
	c.welcome = resp.Line()
	switch {
	case resp.Untagged() && resp.Type == "OK":
		c.setStateAny(StateNonAuth)
	case resp.Untagged() && resp.Type == "PREAUTH":
		c.setStateAny(StateAuth)
	default:
		return &Error{Kind: KindError, Text: "invalid greeting: " + resp.Line()}
	}
	c.dispatchUntagged(resp, nil)
	if err := c.refreshCaps(ctx, true); err != nil {
		return err
	}
	for _, v := range []string{"IMAP4REV2", "IMAP4REV1", "IMAP4"} {
		if c.HasCap(v) {
			if c.protoVersion == "" || v != "IMAP4REV2" {
				c.protoVersion = v
			}
		}
	}
	if c.protoVersion == "" {
		return &Error{Kind: KindError, Text: "server not IMAP4 compliant"}
	}
	c.trace(1, "imaplib version mailscript, new IMAP4 connection, tag="+c.tagPrefix)
	c.trace(3, "CAPABILITIES: "+strings.Join(c.Capabilities(), " "))
	return nil
}

// refreshCaps takes the capabilities from a stored CAPABILITY response or
// code, else asks the server.
func (c *Client) refreshCaps(ctx context.Context, greeting bool) error {
	if s := c.pop("CAPABILITY"); len(s) > 0 {
		last := s[len(s)-1]
		c.setCaps(itemsOf(last)[0].Text)
		return nil
	}
	if _, err := c.simple(ctx, "CAPABILITY"); err != nil {
		return err
	}
	s := c.pop("CAPABILITY")
	if len(s) == 0 {
		if greeting {
			return &Error{Kind: KindError, Text: "no CAPABILITY response from server"}
		}
		return nil
	}
	c.setCaps(itemsOf(s[len(s)-1])[0].Text)
	return nil
}

func (c *Client) setCaps(s string) {
	caps := strings.Fields(strings.ToUpper(s))
	c.mu.Lock()
	c.caps = caps
	c.mu.Unlock()
}

// Capabilities returns the server's capabilities, upper-case.
func (c *Client) Capabilities() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.caps...)
}

// HasCap reports whether the server offers capability name (case-insensitive).
func (c *Client) HasCap(name string) bool {
	name = strings.ToUpper(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range c.caps {
		if x == name {
			return true
		}
	}
	return false
}

// State is imaplib's state: NONAUTH, AUTH, SELECTED or LOGOUT (IDLING during IDLE).
func (c *Client) State() ConnState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// setStateAny sets the state unconditionally.
func (c *Client) setStateAny(s ConnState) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
}

// Welcome is the server's greeting line.
func (c *Client) Welcome() string { return c.welcome }

// ProtocolVersion is IMAP4REV1, IMAP4 or IMAP4REV2.
func (c *Client) ProtocolVersion() string { return c.protoVersion }

// UTF8Enabled reports whether ENABLE UTF8=ACCEPT succeeded.
func (c *Client) UTF8Enabled() bool { return c.utf8 }

// IsReadOnly reports whether the selected mailbox was opened read-only.
func (c *Client) IsReadOnly() bool { return c.readonly }

// TLS reports whether the connection is encrypted.
func (c *Client) TLS() bool { return c.tlsActive }

// SetDebug sets imaplib's debug level.
func (c *Client) SetDebug(level int) { c.opts.Debug = level }

// Debug returns the debug level.
func (c *Client) Debug() int { return c.opts.Debug }

// Conn returns the underlying connection (imaplib's socket()), nil for a stream.
func (c *Client) Conn() net.Conn {
	nc, _ := c.c.(net.Conn)
	return nc
}

func (c *Client) trace(level int, s string) {
	if c.opts.Debug < level {
		return
	}
	c.traceMu.Lock()
	fmt.Fprintf(c.opts.DebugWriter, "  %s %s\n", time.Now().Format("04:05.00"), s)
	c.traceMu.Unlock()
}

// watch makes ctx's cancellation interrupt any read or write.
func (c *Client) watch(ctx context.Context) func() {
	c.r.canceled.Store(false)
	if ctx == nil || ctx.Done() == nil {
		return func() {}
	}
	r, nc := c.r, c.c // STARTTLS replaces both: the callback must not read the fields
	stop := context.AfterFunc(ctx, func() {
		r.cancelErr.Store(ctx.Err())
		r.canceled.Store(true)
		_ = nc.SetReadDeadline(time.Unix(1, 0))
		_ = nc.SetWriteDeadline(time.Unix(1, 0))
	})
	return func() { stop() }
}

// readResponse reads one whole response: its line and every literal and
// continuation line.
func (c *Client) readResponse() (*Response, error) {
	var line []byte
	var err error
	for {
		line, err = c.r.readLine()
		if err != nil {
			return nil, c.readErr(err)
		}
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return nil, &ParseError{Line: line, Msg: "socket error: unterminated line"}
		}
		if len(line) > 2 {
			break
		}
		// blank line between responses: skipped, as newer imaplib does
	}
	r := &Response{maxDepth: c.opts.MaxDepth, maxItems: c.opts.MaxItems}
	depth := 0
	for {
		text := append([]byte(nil), line[:len(line)-2]...)
		r.size += int64(len(text)) + partCost
		n, _, ok, bad := lineLiteral(text)
		if bad || (ok && n > c.opts.MaxLiteral) {
			return nil, &Error{Kind: KindAbort, Text: fmt.Sprintf("literal of %s bytes exceeds the limit of %d", strings.Trim(string(text[strings.LastIndexByte(string(text), '{'):]), "{}"), c.opts.MaxLiteral)}
		}
		if r.size+max(n, 0) > c.opts.MaxResponse {
			return nil, limitErr("", "MaxResponse", c.opts.MaxResponse)
		}
		if !ok {
			r.parts = append(r.parts, part{text: text})
			break
		}
		r.size += n
		depth = parenDepth(text, depth) // only a line a literal follows needs it
		if c.opts.Debug >= 4 {
			c.trace(4, fmt.Sprintf("read literal size %d", n))
		}
		lit, err := c.r.readFull(n)
		if err != nil {
			return nil, c.readErr(err)
		}
		r.parts = append(r.parts, part{text: text, lit: lit, hasLit: true})
		for {
			line, err = c.r.readLine()
			if err != nil {
				return nil, c.readErr(err)
			}
			if len(line) < 2 || line[len(line)-2] != '\r' {
				return nil, &ParseError{Line: line, Msg: "socket error: unterminated line"}
			}
			// An empty trailer inside open parentheses is skipped.
			if len(line) == 2 && depth > 0 {
				continue
			}
			break
		}
	}
	if err := r.classify(); err != nil {
		return nil, err
	}
	return r, nil
}

func (c *Client) readErr(err error) error {
	var lt lineTooLongError
	if errors.As(err, &lt) {
		return &Error{Kind: KindError, Text: lt.Error()}
	}
	return err
}

// Command is one command for [Client.Execute]. Fields after Name are
// filled in as it runs.
type Command struct {
	Name string // "NOOP", "UID FETCH", ...
	Args []Arg
	// OnUntagged, if set, receives the untagged responses that arrive
	// while the command is the oldest one running, instead of Untagged.
	OnUntagged func(*Response)

	Tag      string
	Status   *Response   // the tagged completion
	Untagged []*Response // untagged responses while it was the oldest running

	keptBytes int64   // cost of Untagged, see keptSize
	delivered int     // responses handed to OnUntagged
	client    *Client // set by SendCommand, for Wait
	set       NumSet  // what a typed FETCH asked for, see Messages

	keep      bool // also keep responses in imaplib's store
	stopOnBye bool // LOGOUT: a BYE ends the wait, the tagged OK may never come
	pieces    []piece
	done      bool
}

// Err returns an error for a NO or BAD completion, nil for OK.
func (cmd *Command) Err() error {
	if cmd.Status == nil {
		return &Error{Kind: KindAbort, Command: cmd.Name, Text: "no completion"}
	}
	if cmd.Status.Type == "OK" {
		return nil
	}
	return statusError(KindError, cmd.Name, cmd.Status, cmd.Name+" command error: "+cmd.Status.Type+" "+cmd.Status.Text)
}

func (c *Client) encode(cmd *Command) error {
	if cmd.Name == "LOGOUT" {
		cmd.stopOnBye = true // its BYE is expected, not a failure
	}
	for w := range strings.SplitSeq(cmd.Name, " ") { // "NOOP", "UID FETCH"
		if !validAtom(w) {
			return &Error{Kind: KindError, Command: "", Text: "bad command name " + strconv.Quote(cmd.Name)}
		}
	}
	e := &encoder{utf8: c.utf8}
	c.tagNum++
	cmd.Tag = c.tagPrefix + strconv.Itoa(c.tagNum)
	e.write(cmd.Tag+" "+cmd.Name, false)
	for _, a := range cmd.Args {
		e.write(" ", false)
		a(e)
	}
	if e.err != nil {
		e.err.(*Error).Command = firstWord(cmd.Name)
		return e.err
	}
	cmd.pieces = e.pieces
	return nil
}

func firstWord(s string) string {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		if s[:i] == "UID" {
			return s
		}
		return s[:i]
	}
	return s
}

func (c *Client) literalPlus(n int) bool {
	return c.HasCap("LITERAL+") || (c.HasCap("LITERAL-") && n <= 4096)
}

// syncLiterals decides, once, how each of cmd's literals goes (LITERAL+
// or waiting for "+"), and reports whether one must wait. Decided here,
// a capability changing while a pipelined writer runs cannot make that
// writer wait for a "+" the reader would take.
func (c *Client) syncLiterals(cmd *Command) bool {
	sync := false
	for i := range cmd.pieces {
		if p := &cmd.pieces[i]; p.isLit {
			p.plus = c.literalPlus(len(p.lit))
			sync = sync || !p.plus
		}
	}
	return sync
}

// contWait is one wait for a "+" continuation request: a sync literal's,
// AUTHENTICATE's challenge, IDLE's go-ahead. The reader hands each "+"
// to the oldest wait.
type contWait struct{ got *Response }

// awaitCont reads until a "+" comes or cmd completes (refused, NO or
// BAD, instead of "+"); it returns the "+", nil if cmd completed.
func (c *Client) awaitCont(cmd *Command) (*Response, error) {
	w := &contWait{}
	c.conts = append(c.conts, w)
	defer func() {
		for i, x := range c.conts {
			if x == w {
				c.conts = append(c.conts[:i], c.conts[i+1:]...)
				break
			}
		}
	}()
	err := c.readUntil(func() bool { return w.got != nil || cmd.done })
	return w.got, err
}

// Execute sends commands without waiting for each other's completion
// (pipelining) and reads until every one has completed. A NO or BAD
// completion is not an error here: see [Command.Err]. Commands whose
// literals must wait for the server's "+" go one at a time.
func (c *Client) Execute(ctx context.Context, cmds ...*Command) error {
	if err := c.prepare(ctx, cmds); err != nil {
		return err
	}
	stop := c.watch(ctx)
	defer stop()
	for i := 0; i < len(cmds); {
		j := i + 1
		if !c.syncLiterals(cmds[i]) {
			for j < len(cmds) && !c.syncLiterals(cmds[j]) {
				j++
			}
		}
		if err := c.run(cmds[i:j]); err != nil {
			return c.fail(ctx, cmds[i].Name, err)
		}
		i = j
	}
	return nil
}

// Start writes cmds without reading their replies, so that a caller can
// keep several batches in flight (the next one sent before the last one's
// replies are in); [Client.Wait] reads them home. Until they complete the
// connection carries nothing else. Commands whose literals would wait for
// the server's "+" are refused: use Execute.
func (c *Client) Start(ctx context.Context, cmds ...*Command) error {
	if err := c.prepare(ctx, cmds); err != nil {
		return err
	}
	for _, cmd := range cmds {
		if c.syncLiterals(cmd) {
			return &Error{Kind: KindError, Command: firstWord(cmd.Name), Text: "Start cannot wait for a literal's continuation; use Execute"}
		}
	}
	stop := c.watch(ctx)
	defer stop()
	c.pending = append(c.pending, cmds...)
	for _, cmd := range cmds {
		if err := c.write(cmd); err != nil {
			return c.fail(ctx, cmd.Name, err)
		}
	}
	return nil
}

// Wait reads responses until every one of cmds, sent by Start, has
// completed; replies to other commands in flight are delivered to them
// on the way. A NO or BAD completion is not an error here.
func (c *Client) Wait(ctx context.Context, cmds ...*Command) error {
	if c.dead() != nil {
		return c.broken
	}
	if len(cmds) == 0 {
		return nil
	}
	stop := c.watch(ctx)
	defer stop()
	err := c.readUntil(func() bool { return c.allDone(cmds) })
	if err != nil {
		return c.fail(ctx, cmds[0].Name, err)
	}
	return nil
}

// allDone says every one of cmds has completed (LOGOUT: or got its BYE).
func (c *Client) allDone(cmds []*Command) bool {
	for _, cmd := range cmds {
		if !cmd.done && !(cmd.stopOnBye && len(c.store["BYE"]) > 0) {
			return false
		}
	}
	return true
}

// prepare finishes an IDLE, refuses a broken connection and encodes cmds.
func (c *Client) prepare(ctx context.Context, cmds []*Command) error {
	if err := c.usable(ctx); err != nil {
		return err
	}
	for _, cmd := range cmds {
		if err := c.encode(cmd); err != nil {
			return err
		}
	}
	return nil
}

// usable finishes an IDLE left open and refuses a broken connection.
func (c *Client) usable(ctx context.Context) error {
	if c.dead() != nil {
		return c.broken
	}
	if c.idler != nil {
		if err := c.idler.Done(ctx); err != nil {
			return err
		}
	}
	if c.dead() != nil {
		return c.broken
	}
	return nil
}

// fail marks the connection unusable after an I/O or protocol failure.
func (c *Client) fail(ctx context.Context, name string, err error) error {
	if c.closed.Load() {
		err = closedError() // the read or write failed because of Close
	}
	e := netError(ctx, firstWord(name), err)
	if ie, ok := e.(*Error); ok && ie.Kind != KindReadOnly {
		if ie.Command == "" {
			ie.Command = firstWord(name)
		}
		c.broken = ie
		c.setStateAny(StateLogout)
		c.closeConn()
	}
	return e
}

// closeConn closes the transport; Close may run it beside the caller's
// goroutine, so it reads the connection and process under connMu.
func (c *Client) closeConn() {
	c.connMu.Lock()
	nc, p := c.c, c.process
	c.process = nil
	c.connMu.Unlock()
	if nc != nil {
		nc.Close()
	}
	if p != nil {
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			_ = p.Process.Kill()
		}
	}
}

// dead is the error that makes the connection unusable, or nil. A Close
// from another goroutine is seen here: only the caller's goroutine
// writes broken.
func (c *Client) dead() error {
	if c.broken == nil && c.closed.Load() {
		c.broken = closedError()
	}
	return c.broken
}

func closedError() *Error {
	return &Error{Kind: KindAbort, Text: "connection closed", Cause: CauseEOF}
}

// run sends a group of commands and reads until all completed. A single
// command writes inline (waiting for "+" before sync literals); a larger
// group is written by a goroutine while responses are read, so neither
// side's buffers can fill and deadlock.
func (c *Client) run(cmds []*Command) error {
	c.pending = append(c.pending, cmds...)
	if len(cmds) == 1 {
		if err := c.write(cmds[0]); err != nil {
			return err
		}
		cmd := cmds[0]
		return c.readUntil(func() bool { return cmd.done || cmd.stopOnBye && len(c.store["BYE"]) > 0 })
	}
	werr := make(chan error, 1)
	go func() {
		var err error
		for _, cmd := range cmds {
			if err = c.write(cmd); err != nil {
				break
			}
		}
		if err != nil {
			_ = c.c.SetReadDeadline(time.Unix(1, 0))
		}
		werr <- err
	}()
	// every one: a server running them at once may finish them out of order
	rerr := c.readUntil(func() bool { return c.allDone(cmds) })
	if rerr != nil {
		// the writer may be blocked on a server that stopped reading
		_ = c.c.SetWriteDeadline(time.Unix(1, 0))
	}
	// the writer's own failure says more than the reader's timeout it
	// caused, but not the deadline set here to wake it
	if err := <-werr; err != nil && (rerr == nil || causeOf(err) != CauseTimeout) {
		return err
	}
	return rerr
}

// write sends cmd, waiting for "+" before each literal that needs it.
func (c *Client) write(cmd *Command) error {
	var tr strings.Builder
	for _, p := range cmd.pieces {
		if !p.isLit {
			if _, err := c.w.Write(p.text); err != nil {
				return err
			}
			if p.secret {
				tr.WriteString("***")
			} else {
				tr.Write(p.text)
			}
			continue
		}
		n := len(p.lit)
		prefix := ""
		if p.binary {
			prefix = "~"
		}
		if p.plus {
			fmt.Fprintf(c.w, "%s{%d+}\r\n", prefix, n)
			c.traceSend(cmd, fmt.Sprintf("%s{%d+}", prefix, n), &tr)
		} else {
			fmt.Fprintf(c.w, "%s{%d}\r\n", prefix, n)
			c.traceSend(cmd, fmt.Sprintf("%s{%d}", prefix, n), &tr)
			if err := c.w.Flush(); err != nil {
				return err
			}
			if _, err := c.awaitCont(cmd); err != nil {
				return err
			}
			if cmd.done { // refused with NO or BAD instead of "+"
				return nil
			}
		}
		if c.opts.Debug >= 4 {
			c.trace(4, fmt.Sprintf("write literal size %d", n))
		}
		if _, err := c.w.Write(p.lit); err != nil {
			return err
		}
		if p.secret {
			tr.WriteString("***")
		} else {
			tr.WriteString("<literal>")
		}
	}
	c.w.WriteString("\r\n")
	c.traceSend(cmd, "", &tr)
	return c.w.Flush()
}

func (c *Client) traceSend(cmd *Command, tail string, tr *strings.Builder) {
	line := tr.String() + tail
	tr.Reset()
	if c.opts.Audit != nil {
		c.opts.Audit("imaplib.send", line)
	}
	c.trace(4, "> "+line)
}

// readUntil reads and dispatches responses until cond holds.
func (c *Client) readUntil(cond func() bool) error {
	for !cond() {
		r, err := c.readResponse()
		if err != nil {
			return err
		}
		if err := c.dispatch(r); err != nil {
			return err
		}
		if err := c.budgetErr; err != nil {
			c.budgetErr = nil
			return err
		}
	}
	return nil
}

func (c *Client) dispatch(r *Response) error {
	switch {
	case c.opts.Debug >= 4:
		c.trace(4, "< "+r.Line())
	case r.Type == "NO" || r.Type == "BAD" || r.Type == "BYE":
		c.trace(1, r.Type+" response: "+r.Text)
	}
	switch {
	case r.Untagged():
		var head *Command
		if len(c.pending) > 0 {
			head = c.pending[0]
		}
		c.dispatchUntagged(r, c.owner(r, head))
		// imaplib checks for BYE on every turn of its wait: a BYE ends
		// any command but LOGOUT (and IDLE, which delivers it).
		if r.Type == "BYE" && head != nil && !head.stopOnBye && (c.idler == nil || !c.idler.capturing) {
			return statusError(KindAbort, firstWord(head.Name), r, "")
		}
	case r.Continuation():
		if len(c.conts) > 0 && c.conts[0].got == nil {
			c.conts[0].got = r
			return nil
		}
		return &ParseError{Line: r.parts[0].text, Msg: "unexpected continuation response"}
	default:
		i := 0
		for i < len(c.pending) && c.pending[i].Tag != r.Tag {
			i++
		}
		if i == len(c.pending) {
			return &ParseError{Line: r.parts[0].text, Msg: "unexpected tagged response"}
		}
		switch r.Type {
		case "OK", "NO", "BAD":
		default:
			return &ParseError{Line: r.parts[0].text, Msg: "unexpected tagged response type"}
		}
		cmd := c.pending[i]
		cmd.Status, cmd.done = r, true
		c.pending = append(c.pending[:i], c.pending[i+1:]...)
		if cmd.keep && r.HasCode {
			c.storePut(r.Code, stored{r: r, code: true})
		}
		if r.Code == "CAPABILITY" {
			c.setCaps(r.CodeArg)
		}
	}
	return nil
}

// dispatchUntagged stores r as imaplib does (and its response code), or
// hands it to head.
// replyTo names the command whose reply an untagged response type can
// only be. Servers may run pipelined commands at once (Dovecot answers a
// SEARCH sent behind a STORE before the STORE completes), so such a
// response goes to the oldest command it can belong to, not simply the
// oldest one running. FETCH, EXPUNGE and the like may be unsolicited and
// stay with the oldest.
var replyTo = map[string]string{
	"SEARCH": "SEARCH", "ESEARCH": "SEARCH", "SORT": "SORT", "THREAD": "THREAD",
	"LIST": "LIST", "LSUB": "LSUB", "STATUS": "STATUS", "NAMESPACE": "NAMESPACE",
	"QUOTAROOT": "GETQUOTAROOT", "ACL": "GETACL", "MYRIGHTS": "MYRIGHTS",
	"LISTRIGHTS": "LISTRIGHTS", "ID": "ID", "ENABLED": "ENABLE",
}

// owner is the pending command an untagged response belongs to.
func (c *Client) owner(r *Response, head *Command) *Command {
	want := replyTo[r.Type]
	if head == nil || want == "" || isCommand(head, want) {
		return head
	}
	for _, cmd := range c.pending[1:] {
		if isCommand(cmd, want) {
			return cmd
		}
	}
	return head
}

// isCommand says cmd is name, with or without UID ("UID SEARCH").
func isCommand(cmd *Command, name string) bool {
	return strings.EqualFold(strings.TrimPrefix(cmd.Name, "UID "), name)
}

func (c *Client) dispatchUntagged(r *Response, head *Command) {
	if c.decodeEarly && r.Type == "FETCH" {
		r.fetch, r.fetchErr = decodeFetch(r, c.opts.MaxDepth, false)
	}
	keep := head == nil || head.keep
	if head != nil {
		if head.OnUntagged != nil {
			c.deliver(head, r)
		} else {
			c.keepFor(head, r)
		}
	}
	if r.Type == "CAPABILITY" {
		c.setCaps(itemsOf(stored{r: r})[0].Text)
	}
	if r.HasCode && r.Code == "CAPABILITY" {
		c.setCaps(r.CodeArg)
	}
	if r.Type == "BYE" || r.Code == "READ-ONLY" {
		keep = true
	}
	if !keep {
		return
	}
	if c.idler != nil && c.idler.capturing {
		c.idleQueue(c.idler, r)
		return
	}
	if c.opts.Debug >= 5 {
		c.trace(5, "untagged_responses["+r.Type+"] += "+r.Line())
	}
	c.storePut(r.Type, stored{r: r})
	if r.HasCode {
		c.storePut(r.Code, stored{r: r, code: true})
	}
}

func itemsOf(s stored) []Item {
	if s.code {
		return []Item{{Text: s.r.CodeArg}}
	}
	return s.r.Data()
}

// pop removes and returns imaplib's untagged responses under name.
func (c *Client) pop(name string) []stored {
	return c.storeDel(name)
}

// Response pops imaplib's untagged data stored under code (imaplib's
// response()). The responses themselves are returned for typed decoding.
func (c *Client) Response(code string) ([]Item, []*Response) {
	return flatten(c.pop(strings.ToUpper(code)))
}

func flatten(s []stored) ([]Item, []*Response) {
	var items []Item
	var rs []*Response
	for _, x := range s {
		items = append(items, itemsOf(x)...)
		rs = append(rs, x.r)
	}
	return items, rs
}

// Untagged returns imaplib's whole untagged store without popping, for
// inspection.
func (c *Client) Untagged() map[string][]Item {
	out := map[string][]Item{}
	for k, v := range c.store {
		items, _ := flatten(v)
		out[k] = items
	}
	return out
}

// checkBye is imaplib's _check_bye.
func (c *Client) checkBye(name string) error {
	if s := c.store["BYE"]; len(s) > 0 {
		last := s[len(s)-1]
		err := statusError(KindAbort, name, last.r, "")
		c.broken = err
		c.setStateAny(StateLogout)
		return err
	}
	return nil
}

// Close closes the connection without LOGOUT (imaplib's shutdown()).
// It may be called from any goroutine, also while another is inside a
// command or an IDLE: that call then returns an abort error.
func (c *Client) Close() error {
	c.closed.Store(true)
	c.setStateAny(StateLogout)
	c.closeConn()
	return nil
}
