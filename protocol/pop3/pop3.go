// Package pop3 is a POP3 client in plain Go whose methods mirror Python's
// poplib: RFC 1939 (USER, PASS, APOP, STAT, LIST, RETR, DELE, NOOP, RSET,
// QUIT, TOP, UIDL), RPOP as poplib has it, CAPA (RFC 2449), STLS (RFC
// 2595), UTF8 (RFC 6856) and, beyond poplib, AUTH (RFC 5034) with the
// mechanisms of package sasl.
//
// poplib's limits hold: a status, LIST or UIDL line over 2,048 bytes is an
// error, a reply must start with "+" (a "-ERR" is an [*Error] carrying the
// server's text and its RFC 2449 response code), and NUL, CR, LF and the
// other control characters in an argument are refused before anything is
// sent. Lines inside a message are bounded by [Limits.MaxMessage] instead,
// since real mail has long lines. LF and CRLF line endings are both
// accepted.
//
// A server can make the client hold at most [Limits]: the bytes of one
// multi-line reply, each line counting what holding it costs, and the
// items of a LIST, UIDL or CAPA listing. A reply must also keep coming:
// with [Options.Timeout] set, a command fails when its reply has not
// completed, or not brought another 64 KiB, within the timeout.
package pop3

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mailscript/mailscript/internal/quickack"
	"github.com/mailscript/mailscript/internal/tlsopt"
	"github.com/mailscript/mailscript/protocol/sasl"
)

// Ports of poplib's POP3_PORT and POP3_SSL_PORT.
const (
	Port    = 110
	TLSPort = 995
)

// MaxLine is poplib's _MAXLINE: the longest status, LIST or UIDL line.
const MaxLine = 2048

// Defaults of [Limits].
const (
	DefaultMaxMessage   = 256 << 20
	DefaultMaxListItems = 1_000_000
	DefaultMaxCapaItems = 1_000
)

// LineOverhead is what holding one line of a reply costs beyond its bytes
// (its slice header and offset here, its string value in Lua); it counts
// against [Limits.MaxMessage] for every line kept.
const LineOverhead = 64

// progress is how much of a reply must arrive within the timeout.
const progress = 64 << 10

// bodyLines: lines of a message are bounded only by the message cap.
const bodyLines = 1 << 62

// Error is every error the client returns: poplib's error_proto. Use
// [errors.As] to get it.
type Error struct {
	Command string // the command's name ("RETR"), never its arguments; "" for the greeting
	Code    string // the response code of a "-ERR [CODE] ..." reply (RFC 2449, 3206): "AUTH", "SYS/TEMP"
	Text    string // the server's reply ("-ERR ...") or the client's message
	Cause   string // "timeout", "eof", "reset", "tls", "refused", "dns" for network failures
	Err     error

	server bool // the server answered with something other than "+"
}

func (e *Error) Error() string { return "pop3.error_proto: " + e.Text }
func (e *Error) Unwrap() error { return e.Err }

func protoErr(format string, args ...any) *Error { return &Error{Text: fmt.Sprintf(format, args...)} }

// replyErr is the error of a status line that is not "+...".
func replyErr(line []byte) *Error {
	s := string(line)
	return &Error{Text: s, Code: RespCode(s), server: true}
}

// RespCode returns the response code of an "-ERR [CODE] text" line (RFC
// 2449 section 8), such as "IN-USE" or "SYS/PERM"; "" when there is none.
func RespCode(line string) string {
	rest, ok := strings.CutPrefix(line, "-ERR [")
	if !ok {
		return ""
	}
	end := strings.IndexByte(rest, ']')
	if end <= 0 {
		return ""
	}
	code := rest[:end]
	for _, level := range strings.Split(code, "/") {
		if level == "" {
			return ""
		}
	}
	for i := 0; i < len(code); i++ {
		if code[i] <= ' ' || code[i] >= 0x7f {
			return ""
		}
	}
	return code
}

// verb is the command name of a command line, never its arguments.
func verb(line string) string {
	v, _, _ := strings.Cut(line, " ")
	return strings.ToUpper(v)
}

func netErr(ctx context.Context, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	out := &Error{Text: err.Error(), Err: err, Cause: cause(err)}
	if ctx != nil && ctx.Err() != nil {
		out.Text, out.Cause, out.Err = ctx.Err().Error(), "timeout", ctx.Err()
	}
	if errors.Is(err, io.EOF) {
		out.Text = "-ERR EOF"
	}
	return out
}

func cause(err error) string {
	var dns *net.DNSError
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "eof"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &dns):
		return "dns"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.As(err, &cv), errors.As(err, &rh):
		return "tls"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return ""
}

// Limits bound what a server can make the client hold. Zero fields take
// the defaults.
type Limits struct {
	// MaxMessage bounds one multi-line reply: its bytes plus LineOverhead
	// for each line kept (RetrTo keeps none). Default DefaultMaxMessage.
	MaxMessage int64
	// MaxListItems bounds the lines of a LIST or UIDL listing. Default
	// DefaultMaxListItems.
	MaxListItems int
	// ItemOverhead is what the caller's parsed form of one LIST or UIDL
	// item costs (a Lua table: the bindings set it); it counts against
	// MaxMessage too. Default 0 beyond LineOverhead and the Go struct.
	ItemOverhead int64
	// MaxCapaItems bounds the lines of a CAPA reply. Default
	// DefaultMaxCapaItems.
	MaxCapaItems int
}

// Options configure a [Client]. The zero value is usable.
type Options struct {
	// Timeout bounds the dial, every write, and every reply: each must
	// complete, or bring another 64 KiB, within it. 0 waits forever.
	Timeout   time.Duration
	TLSConfig *tls.Config // nil: system roots and the dialed host, verified
	Dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	Limits
	Debug       int // poplib's debug level
	DebugWriter io.Writer
	// Audit receives CPython's "poplib.connect" (host, port) and
	// "poplib.putline" (line, secrets redacted) events.
	Audit func(event string, args ...any)
}

// Client is a POP3 session. It is not safe for concurrent use, except
// that a context passed to a call may be canceled from anywhere.
type Client struct {
	opts     Options
	nc       net.Conn
	r        *bufio.Reader
	host     string
	welcome  string
	tls      bool
	loggedIn bool
	canceled atomic.Bool
	broken   *Error
	// fresh is set when a reply is awaited; got counts its bytes since
	// the read deadline was last set.
	fresh  bool
	got    int
	filled bool // the last read filled the buffer: more was waiting
}

// deadlineConn sets the read deadline when a reply is awaited and each
// time another 64 KiB of it has come, so a server trickling bytes cannot
// hold a call past the timeout.
type deadlineConn struct {
	net.Conn
	c   *Client
	ack func() // called before each read (package quickack)
}

func (d deadlineConn) Read(b []byte) (int, error) {
	c := d.c
	if c.opts.Timeout > 0 && (c.fresh || c.got >= progress) {
		d.Conn.SetReadDeadline(time.Now().Add(c.opts.Timeout))
		c.fresh, c.got = false, 0
	}
	if c.canceled.Load() {
		return 0, context.Canceled
	}
	if d.ack != nil && !c.filled { // a stream that fills the buffer needs no quick ACK
		d.ack()
	}
	n, err := d.Conn.Read(b)
	c.got += n
	c.filled = n == len(b)
	return n, err
}

// Dial connects over plain TCP (port 110 by default) and reads the welcome.
func Dial(ctx context.Context, addr string, opts *Options) (*Client, error) {
	return dial(ctx, addr, Port, false, opts)
}

// DialTLS connects over implicit TLS (port 995 by default), verified.
func DialTLS(ctx context.Context, addr string, opts *Options) (*Client, error) {
	return dial(ctx, addr, TLSPort, true, opts)
}

func dial(ctx context.Context, addr string, defPort int, useTLS bool, opts *Options) (*Client, error) {
	c := &Client{}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.MaxMessage <= 0 {
		c.opts.MaxMessage = DefaultMaxMessage
	}
	if c.opts.MaxListItems <= 0 {
		c.opts.MaxListItems = DefaultMaxListItems
	}
	if c.opts.MaxCapaItems <= 0 {
		c.opts.MaxCapaItems = DefaultMaxCapaItems
	}
	if c.opts.DebugWriter == nil {
		c.opts.DebugWriter = os.Stderr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, strconv.Itoa(defPort)
	}
	if host == "" {
		host = "localhost"
	}
	c.host = host
	addr = net.JoinHostPort(host, port)
	if c.opts.Audit != nil {
		c.opts.Audit("poplib.connect", host, port)
	}
	dctx := ctx
	if c.opts.Timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
	}
	var nc net.Conn
	if c.opts.Dial != nil {
		nc, err = c.opts.Dial(dctx, "tcp", addr)
	} else {
		var d net.Dialer
		nc, err = d.DialContext(dctx, "tcp", addr)
	}
	if err != nil {
		return nil, &Error{Text: "connect: " + err.Error(), Err: err, Cause: cause(err)}
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	if useTLS {
		tc, err := tlsopt.Handshake(dctx, nc, c.opts.TLSConfig, c.host, 0)
		if err != nil {
			nc.Close()
			return nil, &Error{Text: "TLS handshake: " + err.Error(), Err: err, Cause: "tls"}
		}
		nc, c.tls = tc, true
	}
	c.setConn(nc)
	c.fresh = true
	stop := c.watch(ctx)
	defer stop()
	resp, err := c.getResp()
	if err != nil {
		nc.Close()
		return nil, c.wrap(ctx, err)
	}
	c.welcome = resp
	return c, nil
}

func (c *Client) setConn(nc net.Conn) {
	c.nc = nc
	c.r = bufio.NewReaderSize(deadlineConn{nc, c, quickack.For(nc)}, 64<<10)
}

// watch makes ctx's cancellation interrupt reads and writes.
func (c *Client) watch(ctx context.Context) func() {
	c.canceled.Store(false)
	if ctx == nil || ctx.Done() == nil {
		return func() {}
	}
	stop := context.AfterFunc(ctx, func() {
		c.canceled.Store(true)
		c.nc.SetDeadline(time.Unix(1, 0))
	})
	return func() { stop() }
}

// wrap turns a failure into an Error; network failures leave the
// connection unusable.
func (c *Client) wrap(ctx context.Context, err error) error {
	e := netErr(ctx, err)
	if e.Err != nil || e.Cause != "" {
		c.broken = e
		c.nc.Close()
	}
	return e
}

// fail is wrap for a failure of command cmd; a reply cut short (a line or
// a reply over its limit) leaves the connection unusable too, since the
// rest of it would be taken for the next reply.
func (c *Client) fail(ctx context.Context, cmd string, err error, cut bool) error {
	e := netErr(ctx, err)
	if e.Command == "" {
		e.Command = cmd
	}
	if e.Err != nil || e.Cause != "" || cut {
		c.broken = e
		c.nc.Close()
	}
	return e
}

func (c *Client) debug(level int, tag string, v any) {
	if c.opts.Debug >= level {
		fmt.Fprintf(c.opts.DebugWriter, "%s %q\n", tag, v)
	}
}

// Welcome is the server's greeting (poplib's getwelcome()).
func (c *Client) Welcome() string { return c.welcome }

// SetDebugLevel sets poplib's debug level: 1 shows commands, 2 every line.
func (c *Client) SetDebugLevel(n int) { c.opts.Debug = n }

// TLS reports whether the connection is encrypted.
func (c *Client) TLS() bool { return c.tls }

// checkArg refuses the control characters poplib refuses.
func checkArg(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return protoErr("control characters not allowed in commands")
		}
	}
	return nil
}

// putCmd sends a command line; shown, when secret, with its argument as ***.
func (c *Client) putCmd(line, shown string) error {
	if err := checkArg(line); err != nil {
		return err
	}
	c.logCmd(shown)
	return c.write([]byte(line + "\r\n"))
}

// logCmd shows a command line about to go in traces and audit events.
func (c *Client) logCmd(shown string) {
	c.debug(1, "*cmd*", shown)
	c.debug(2, "*put*", shown)
	if c.opts.Audit != nil {
		c.opts.Audit("poplib.putline", shown)
	}
}

// write sends command lines; a reply is awaited next.
func (c *Client) write(b []byte) error {
	if c.opts.Timeout > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(c.opts.Timeout))
	}
	c.fresh = true
	_, err := c.nc.Write(b)
	return err
}

// errTooLong is a line over its limit.
const errTooLong = "line too long"

// getLine reads one line, without its line ending, of at most limit bytes;
// it returns the octets read as poplib counts them. The slice is valid
// until the next read.
func (c *Client) getLine(limit int64) ([]byte, int, error) {
	frag, err := c.r.ReadSlice('\n')
	if err == nil && int64(len(frag)) <= limit {
		return c.endLine(frag) // the usual case: the whole line in the buffer, no copy
	}
	_, line, n, err := c.appendLine(nil, frag, err, limit)
	return line, n, err
}

// appendLine reads one line of at most limit bytes, line ending included,
// onto dst, starting with frag and err of a ReadSlice already made (nil:
// none yet). It returns dst and the line without its ending, which lies
// in dst past its old length; a line over limit is never held.
func (c *Client) appendLine(dst, frag []byte, err error, limit int64) ([]byte, []byte, int, error) {
	start := len(dst)
	if frag == nil && err == nil {
		frag, err = c.r.ReadSlice('\n')
	}
	for {
		if int64(len(dst)-start+len(frag)) > limit {
			return dst[:start], nil, 0, protoErr(errTooLong)
		}
		if need := len(dst) + len(frag); need > cap(dst) {
			// grow as append would, but never past what the line may take:
			// a line at its limit costs the limit, not twice it
			n := max(min(2*cap(dst), start+int(min(limit, math.MaxInt32))+1), need)
			dst = append(make([]byte, 0, n), dst...)
		}
		dst = append(dst, frag...)
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF && len(dst) == start {
				return dst, nil, 0, &Error{Text: "-ERR EOF", Cause: "eof"}
			}
			return dst[:start], nil, 0, err
		}
		frag, err = c.r.ReadSlice('\n')
	}
	line, n, _ := c.endLine(dst[start:])
	return dst, line, n, nil
}

// endLine drops the line ending of a line read whole, as poplib does.
func (c *Client) endLine(line []byte) ([]byte, int, error) {
	n := len(line)
	if c.opts.Debug >= 2 {
		c.debug(2, "*get*", string(line))
	}
	switch {
	case bytes.HasSuffix(line, []byte("\r\n")):
		line = line[:n-2]
	case bytes.HasPrefix(line, []byte("\r")):
		line = line[1 : n-1]
	default:
		line = line[:n-1]
	}
	return line, n, nil
}

// getResp reads a status line: "+..." or an error.
func (c *Client) getResp() (string, error) {
	line, _, err := c.getLine(MaxLine)
	if err != nil {
		return "", err
	}
	if c.opts.Debug >= 2 {
		c.debug(2, "*resp*", string(line))
	}
	if !bytes.HasPrefix(line, []byte("+")) {
		return "", replyErr(line)
	}
	return string(line), nil
}

// Multi is poplib's (response, lines, octets) of a multi-line reply.
type Multi struct {
	Resp   string
	Lines  [][]byte // dot-unstuffed, without line endings
	Octets int
}

// readLong reads lines to the terminating ".", appending each,
// dot-unstuffed and without its line ending, to buf and calling emit
// with buf; emit returns the buffer to go on with. Each line is bounded by lineLimit; the whole reply by the message
// cap, each line counting overhead more than its bytes, and by maxLines.
func (c *Client) readLong(buf []byte, lineLimit, overhead int64, maxLines int, emit func(buf []byte) []byte) (int, error) {
	octets, lines := 0, 0
	cost := int64(0)
	for {
		left := c.opts.MaxMessage - cost + 3 // the cap, plus the final ".\r\n"
		limit := min(lineLimit, left)
		start := len(buf)
		var line []byte
		var o int
		var err error
		buf, line, o, err = c.appendLine(buf, nil, nil, limit)
		if err != nil {
			if e, ok := err.(*Error); ok && e.Text == errTooLong && limit == left {
				return 0, protoErr("reply larger than %d bytes", c.opts.MaxMessage)
			}
			return 0, err
		}
		if len(line) == 1 && line[0] == '.' {
			return octets, nil
		}
		if lines == maxLines {
			return 0, protoErr("reply of more than %d lines", maxLines)
		}
		lines++
		cost += int64(o) + overhead
		if cost > c.opts.MaxMessage {
			return 0, protoErr("reply larger than %d bytes", c.opts.MaxMessage)
		}
		if bytes.HasPrefix(line, []byte("..")) {
			o--
			line = line[1:]
		}
		octets += o
		buf = emit(append(buf[:start], line...)) // line lies in buf[start:]: moved, not copied out
	}
}

func (c *Client) usable(cmd string) error {
	if c.broken == nil {
		return nil
	}
	e := *c.broken
	e.Command = cmd
	return &e
}

// shortCmd sends a command and returns its status line.
func (c *Client) shortCmd(ctx context.Context, line, shown string) (string, error) {
	cmd := verb(line)
	if err := c.usable(cmd); err != nil {
		return "", err
	}
	if err := checkArg(line); err != nil {
		return "", c.fail(ctx, cmd, err, false)
	}
	stop := c.watch(ctx)
	defer stop()
	if err := c.putCmd(line, shown); err != nil {
		return "", c.fail(ctx, cmd, err, false)
	}
	resp, err := c.getResp()
	if err != nil {
		return "", c.fail(ctx, cmd, err, isTooLong(err))
	}
	return resp, nil
}

func isTooLong(err error) bool {
	e, ok := err.(*Error)
	return ok && e.Text == errTooLong
}

// longCmd sends a command and reads its multi-line reply onto buf (see
// [Client.readLong]); start, if set, sees the status line first.
func (c *Client) longCmd(ctx context.Context, line string, lineLimit, overhead int64, maxLines int, start func(resp string) []byte, emit func([]byte) []byte) (string, int, error) {
	cmd := verb(line)
	if err := c.usable(cmd); err != nil {
		return "", 0, err
	}
	if err := checkArg(line); err != nil {
		return "", 0, c.fail(ctx, cmd, err, false)
	}
	stop := c.watch(ctx)
	defer stop()
	if err := c.putCmd(line, line); err != nil {
		return "", 0, c.fail(ctx, cmd, err, false)
	}
	resp, err := c.getResp()
	if err != nil {
		return "", 0, c.fail(ctx, cmd, err, isTooLong(err))
	}
	var buf []byte
	if start != nil {
		buf = start(resp)
	}
	octets, err := c.readLong(buf, lineLimit, overhead, maxLines, emit)
	if err != nil {
		return "", 0, c.fail(ctx, cmd, err, true)
	}
	return resp, octets, nil
}

// sizeHint reads the size a RETR status line announces ("+OK 1234
// octets"), bounded by max; 4 KB when there is none.
func sizeHint(status string, max int64) int {
	f := strings.Fields(status)
	if len(f) >= 2 {
		if n, err := strconv.ParseInt(f[1], 10, 64); err == nil && n > 0 {
			return int(min(n, max, 8<<20)) // a hint: a larger message grows the buffer
		}
	}
	return 4 << 10
}

// itemCost is what one parsed LIST or UIDL item costs beyond its line.
func (c *Client) itemCost() int64 { return 32 + max(c.opts.ItemOverhead, 0) } // MsgUID, the larger

// collect reads a multi-line reply whole: every line in one buffer, each
// costing LineOverhead and extra more than its bytes.
func (c *Client) collect(ctx context.Context, line string, limit int64, maxLines int, extra int64) (*Multi, error) {
	m := &Multi{}
	var ends []int
	var buf []byte
	resp, octets, err := c.longCmd(ctx, line, limit, LineOverhead+extra, maxLines, func(resp string) []byte {
		return make([]byte, 0, sizeHint(resp, c.opts.MaxMessage))
	}, func(b []byte) []byte {
		buf = b
		ends = append(ends, len(b))
		return b
	})
	if err != nil {
		return nil, err
	}
	m.Lines = make([][]byte, len(ends))
	start := 0
	for i, end := range ends {
		m.Lines[i] = buf[start:end:end]
		start = end
	}
	m.Resp, m.Octets = resp, octets
	return m, nil
}

// User sends USER.
func (c *Client) User(ctx context.Context, user string) (string, error) {
	return c.shortCmd(ctx, "USER "+user, "USER "+user)
}

// Pass sends PASS (poplib's pass_); the password shows as *** in traces.
func (c *Client) Pass(ctx context.Context, password string) (string, error) {
	resp, err := c.shortCmd(ctx, "PASS "+password, "PASS ***")
	if err == nil {
		c.loggedIn = true
	}
	return resp, err
}

// Rpop sends RPOP (RFC 1081), as poplib does.
func (c *Client) Rpop(ctx context.Context, user string) (string, error) {
	return c.shortCmd(ctx, "RPOP "+user, "RPOP "+user)
}

// APOPTimestamp finds the <...> timestamp in a welcome line, as poplib's
// expression `\+OK.[^<]*(<.*>)` does, in linear time.
func APOPTimestamp(welcome string) (string, bool) {
	if len(welcome) < 4 || !strings.HasPrefix(welcome, "+OK") {
		return "", false
	}
	rest := welcome[4:]
	i := strings.IndexByte(rest, '<')
	if i < 0 {
		return "", false
	}
	j := strings.LastIndexByte(rest, '>')
	if j < i {
		return "", false
	}
	return rest[i : j+1], true
}

// Apop logs in with APOP: an MD5 digest of the welcome's timestamp and
// the secret, so the secret never crosses the wire.
func (c *Client) Apop(ctx context.Context, user, secret string) (string, error) {
	ts, ok := APOPTimestamp(c.welcome)
	if !ok {
		return "", &Error{Command: "APOP", Text: "-ERR APOP not supported by server"}
	}
	sum := md5.Sum([]byte(ts + secret))
	digest := hex.EncodeToString(sum[:])
	resp, err := c.shortCmd(ctx, "APOP "+user+" "+digest, "APOP "+user+" ***")
	if err == nil {
		c.loggedIn = true
	}
	return resp, err
}

// maxAuthSteps bounds the challenges of one AUTH exchange.
const maxAuthSteps = 32

// Auth authenticates with a SASL mechanism (RFC 5034), sending the
// initial response with the command when the mechanism has one.
func (c *Client) Auth(ctx context.Context, m sasl.Mechanism) (string, error) {
	if err := c.usable("AUTH"); err != nil {
		return "", err
	}
	mech := strings.ToUpper(m.Name)
	if err := checkArg(mech); err != nil || mech == "" || strings.Contains(mech, " ") {
		return "", &Error{Command: "AUTH", Text: fmt.Sprintf("bad mechanism %q", m.Name)}
	}
	line := "AUTH " + mech
	if m.Initial != nil {
		ir := base64.StdEncoding.EncodeToString(m.Initial())
		if ir == "" {
			ir = "="
		}
		line += " " + ir
	}
	stop := c.watch(ctx)
	defer stop()
	shown := "AUTH " + mech
	if m.Initial != nil {
		shown += " ***"
	}
	if err := c.putCmd(line, shown); err != nil {
		return "", c.fail(ctx, "AUTH", err, false)
	}
	for steps := 0; ; steps++ {
		if steps > maxAuthSteps {
			return "", c.fail(ctx, "AUTH", protoErr("more than %d AUTH challenges", maxAuthSteps), true)
		}
		l, _, err := c.getLine(MaxLine)
		if err != nil {
			return "", c.fail(ctx, "AUTH", err, isTooLong(err))
		}
		c.debug(2, "*resp*", string(l))
		switch {
		case bytes.HasPrefix(l, []byte("+OK")):
			c.loggedIn = true
			return string(l), nil
		case bytes.HasPrefix(l, []byte("+")):
			ch, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(l[1:])))
			reply := "*"
			if err == nil {
				if resp, ok := m.Step(ch); ok {
					reply = base64.StdEncoding.EncodeToString(resp)
				}
			}
			if err := c.putCmd(reply, "***"); err != nil {
				return "", c.fail(ctx, "AUTH", err, false)
			}
		default:
			e := replyErr(l)
			e.Command = "AUTH"
			return "", e
		}
	}
}

// Stat returns the message count and mailbox size.
func (c *Client) Stat(ctx context.Context) (count, size int64, err error) {
	resp, err := c.shortCmd(ctx, "STAT", "STAT")
	if err != nil {
		return 0, 0, err
	}
	c.debug(1, "*stat*", resp)
	f := strings.Fields(resp)
	if len(f) < 3 {
		return 0, 0, &Error{Command: "STAT", Text: fmt.Sprintf("bad STAT reply: %q", resp)}
	}
	count, err1 := strconv.ParseInt(f[1], 10, 64)
	size, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, &Error{Command: "STAT", Text: fmt.Sprintf("bad STAT reply: %q", resp)}
	}
	return count, size, nil
}

// MsgSize is one scan listing line: message number and size.
type MsgSize struct {
	Num  int
	Size int64
}

// MsgUID is one unique-id listing line.
type MsgUID struct {
	Num int
	UID string
}

// List lists every message; the listing is parsed too.
func (c *Client) List(ctx context.Context) (*Multi, []MsgSize, error) {
	m, err := c.collect(ctx, "LIST", MaxLine, c.opts.MaxListItems, c.itemCost())
	if err != nil {
		return nil, nil, err
	}
	out := make([]MsgSize, 0, len(m.Lines))
	for _, l := range m.Lines {
		s, err := parseSize(string(l))
		if err != nil {
			err.Command = "LIST"
			return m, out, err
		}
		out = append(out, s)
	}
	return m, out, nil
}

// ListOne lists message which ("+OK n size"). Like poplib, which is
// sent as given (a message number).
func (c *Client) ListOne(ctx context.Context, which string) (string, MsgSize, error) {
	resp, err := c.shortCmd(ctx, "LIST "+which, "LIST "+which)
	if err != nil {
		return "", MsgSize{}, err
	}
	s, perr := parseSize(strings.TrimSpace(strings.TrimPrefix(resp, "+OK")))
	if perr != nil {
		perr.Command = "LIST"
		return resp, s, perr
	}
	return resp, s, nil
}

func parseSize(s string) (MsgSize, *Error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return MsgSize{}, protoErr("bad LIST line: %q", s)
	}
	n, err1 := strconv.Atoi(f[0])
	size, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return MsgSize{}, protoErr("bad LIST line: %q", s)
	}
	return MsgSize{Num: n, Size: size}, nil
}

// Uidl lists every message's unique id.
func (c *Client) Uidl(ctx context.Context) (*Multi, []MsgUID, error) {
	m, err := c.collect(ctx, "UIDL", MaxLine, c.opts.MaxListItems, c.itemCost())
	if err != nil {
		return nil, nil, err
	}
	out := make([]MsgUID, 0, len(m.Lines))
	for _, l := range m.Lines {
		u, err := parseUID(string(l))
		if err != nil {
			err.Command = "UIDL"
			return m, out, err
		}
		out = append(out, u)
	}
	return m, out, nil
}

// UidlOne returns message which's unique id.
func (c *Client) UidlOne(ctx context.Context, which string) (string, MsgUID, error) {
	resp, err := c.shortCmd(ctx, "UIDL "+which, "UIDL "+which)
	if err != nil {
		return "", MsgUID{}, err
	}
	u, perr := parseUID(strings.TrimSpace(strings.TrimPrefix(resp, "+OK")))
	if perr != nil {
		perr.Command = "UIDL"
		return resp, u, perr
	}
	return resp, u, nil
}

func parseUID(s string) (MsgUID, *Error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return MsgUID{}, protoErr("bad UIDL line: %q", s)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return MsgUID{}, protoErr("bad UIDL line: %q", s)
	}
	return MsgUID{Num: n, UID: f[1]}, nil
}

// Retr retrieves message which as poplib does: lines dot-unstuffed.
func (c *Client) Retr(ctx context.Context, which string) (*Multi, error) {
	return c.collect(ctx, "RETR "+which, bodyLines, -1, 0)
}

// RetrTo streams message which to w, CRLF line endings, without holding it
// in memory; it returns the status line and poplib's octet count.
func (c *Client) RetrTo(ctx context.Context, which string, w io.Writer) (string, int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	var werr error
	resp, octets, err := c.longCmd(ctx, "RETR "+which, bodyLines, 0, -1, nil, func(b []byte) []byte {
		if werr == nil {
			_, werr = bw.Write(b)
		}
		if werr == nil {
			_, werr = bw.WriteString("\r\n")
		}
		return b[:0] // nothing kept: only the bytes count against the cap
	})
	if err == nil && werr == nil {
		werr = bw.Flush()
	}
	if err == nil && werr != nil {
		err = &Error{Command: "RETR", Text: "writing message: " + werr.Error(), Err: werr}
	}
	return resp, octets, err
}

// Top retrieves the header and the first howmuch lines of the body of
// message which.
func (c *Client) Top(ctx context.Context, which, howmuch string) (*Multi, error) {
	return c.collect(ctx, "TOP "+which+" "+howmuch, bodyLines, -1, 0)
}

// Dele marks message which deleted; it goes at QUIT.
func (c *Client) Dele(ctx context.Context, which string) (string, error) {
	return c.shortCmd(ctx, "DELE "+which, "DELE "+which)
}

// Rset unmarks deleted messages.
func (c *Client) Rset(ctx context.Context) (string, error) { return c.shortCmd(ctx, "RSET", "RSET") }

// Noop does nothing.
func (c *Client) Noop(ctx context.Context) (string, error) { return c.shortCmd(ctx, "NOOP", "NOOP") }

// UTF8 enters UTF-8 mode (RFC 6856).
func (c *Client) UTF8(ctx context.Context) (string, error) { return c.shortCmd(ctx, "UTF8", "UTF8") }

// Capa returns the server's capabilities: name -> arguments.
func (c *Client) Capa(ctx context.Context) (map[string][]string, error) {
	m, err := c.collect(ctx, "CAPA", MaxLine, c.opts.MaxCapaItems, 0)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.server {
			return nil, &Error{Command: "CAPA", Code: e.Code, Text: "-ERR CAPA not supported by server"}
		}
		return nil, err
	}
	caps := map[string][]string{}
	for _, l := range m.Lines {
		f := strings.Fields(string(l))
		if len(f) > 0 {
			caps[f[0]] = f[1:]
		}
	}
	return caps, nil
}

// Stls upgrades the connection with STLS (RFC 2595): only before login,
// only once, only when CAPA offers it. Bytes the server sent before the
// handshake are thrown away.
func (c *Client) Stls(ctx context.Context, cfg *tls.Config) (string, error) {
	if c.tls {
		return "", &Error{Command: "STLS", Text: "-ERR TLS session already established"}
	}
	if c.loggedIn {
		return "", &Error{Command: "STLS", Text: "-ERR STLS is only allowed before login"}
	}
	caps, err := c.Capa(ctx)
	if err != nil {
		return "", err
	}
	if _, ok := caps["STLS"]; !ok {
		return "", &Error{Command: "STLS", Text: "-ERR STLS not supported by server"}
	}
	resp, err := c.shortCmd(ctx, "STLS", "STLS")
	if err != nil {
		return "", err
	}
	if cfg == nil {
		cfg = c.opts.TLSConfig
	}
	tc, err := tlsopt.Handshake(ctx, c.nc, cfg, c.host, c.opts.Timeout)
	if err != nil {
		e := &Error{Command: "STLS", Text: "TLS handshake: " + err.Error(), Err: err, Cause: "tls"}
		c.broken = e
		c.nc.Close()
		return "", e
	}
	c.setConn(tc) // a new reader: buffered plaintext is dropped
	c.tls = true
	return resp, nil
}

// Quit ends the session (deleting messages marked with DELE) and closes.
func (c *Client) Quit(ctx context.Context) (string, error) {
	resp, err := c.shortCmd(ctx, "QUIT", "QUIT")
	c.Close()
	return resp, err
}

// Close closes the connection without QUIT.
func (c *Client) Close() error {
	if c.broken == nil {
		c.broken = protoErr("connection closed")
	}
	return c.nc.Close()
}
