// Package pop3 is a POP3 client in plain Go whose methods mirror Python's
// poplib: RFC 1939 (USER, PASS, APOP, STAT, LIST, RETR, DELE, NOOP, RSET,
// QUIT, TOP, UIDL), RPOP as poplib has it, CAPA (RFC 2449), STLS (RFC
// 2595), UTF8 (RFC 6856) and, beyond poplib, AUTH (RFC 5034) with the
// mechanisms of package sasl.
//
// poplib's limits hold: a status, LIST or UIDL line over 2,048 bytes is an
// error, a reply must start with "+" (a "-ERR" is an [*Error] carrying the
// server's text), and NUL, CR, LF and the other control characters in an
// argument are refused before anything is sent. Lines inside a message
// are bounded by [Options.MaxMessage] instead, since real mail has long
// lines. LF and CRLF line endings are both accepted.
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
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

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

// DefaultMaxMessage bounds one multi-line reply.
const DefaultMaxMessage = 256 << 20

// bodyLines: lines of a message are bounded only by the message cap.
const bodyLines = 1 << 62

// Error is every error the client returns: poplib's error_proto.
type Error struct {
	Text  string // the server's reply ("-ERR ...") or the client's message
	Cause string // "timeout", "eof", "reset", "tls", "refused", "dns" for network failures
	Err   error
}

func (e *Error) Error() string { return "pop3.error_proto: " + e.Text }
func (e *Error) Unwrap() error { return e.Err }

func protoErr(format string, args ...any) *Error { return &Error{Text: fmt.Sprintf(format, args...)} }

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

// Options configure a [Client]. The zero value is usable.
type Options struct {
	Timeout     time.Duration // dial and every read and write; 0 waits forever
	TLSConfig   *tls.Config   // nil: system roots and the dialed host, verified
	Dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	MaxMessage  int64 // bound on one multi-line reply; 0 means DefaultMaxMessage
	Debug       int   // poplib's debug level
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
	broken   error
}

// deadlineConn sets the timeout before every read and write.
type deadlineConn struct {
	net.Conn
	c *Client
}

func (d deadlineConn) Read(b []byte) (int, error) {
	if d.c.opts.Timeout > 0 {
		d.Conn.SetReadDeadline(time.Now().Add(d.c.opts.Timeout))
	}
	if d.c.canceled.Load() {
		return 0, context.Canceled
	}
	return d.Conn.Read(b)
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
	c.r = bufio.NewReaderSize(deadlineConn{nc, c}, 64<<10)
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
	c.debug(1, "*cmd*", shown)
	c.debug(2, "*put*", shown)
	if c.opts.Audit != nil {
		c.opts.Audit("poplib.putline", shown)
	}
	if c.opts.Timeout > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(c.opts.Timeout))
	}
	_, err := io.WriteString(c.nc, line+"\r\n")
	return err
}

// getLine reads one line, without its line ending, of at most limit bytes;
// it returns the octets read as poplib counts them. The slice is valid
// until the next read.
func (c *Client) getLine(limit int64) ([]byte, int, error) {
	var line []byte
	for first := true; ; first = false {
		frag, err := c.r.ReadSlice('\n')
		if first && err == nil {
			line = frag // the usual case: the whole line in the buffer, no copy
		} else {
			line = append(line, frag...)
		}
		if int64(len(line)) > limit {
			return nil, 0, protoErr("line too long")
		}
		if err == nil {
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(line) == 0 {
			return nil, 0, protoErr("-ERR EOF")
		}
		return nil, 0, err
	}
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
		return "", protoErr("%s", line)
	}
	return string(line), nil
}

// Multi is poplib's (response, lines, octets) of a multi-line reply.
type Multi struct {
	Resp   string
	Lines  [][]byte // dot-unstuffed, without line endings
	Octets int
}

// readLong reads lines to the terminating ".", dot-unstuffed, handing
// each to emit. Each line is bounded by lineLimit, the whole reply by
// the message cap.
func (c *Client) readLong(lineLimit int64, emit func([]byte)) (int, error) {
	octets := 0
	total := int64(0)
	for {
		capLeft := c.opts.MaxMessage - total + 3 // the cap, plus the final ".\r\n"
		limit := min(lineLimit, capLeft)
		line, o, err := c.getLine(limit)
		if err != nil {
			if e, ok := err.(*Error); ok && e.Text == "line too long" && limit == capLeft {
				return 0, protoErr("reply larger than %d bytes", c.opts.MaxMessage)
			}
			return 0, err
		}
		total += int64(o)
		if len(line) == 1 && line[0] == '.' {
			return octets, nil
		}
		if bytes.HasPrefix(line, []byte("..")) {
			o--
			line = line[1:]
		}
		octets += o
		emit(line)
	}
}

func (c *Client) usable() error { return c.broken }

// shortCmd sends a command and returns its status line.
func (c *Client) shortCmd(ctx context.Context, line, shown string) (string, error) {
	if err := c.usable(); err != nil {
		return "", err
	}
	if err := checkArg(line); err != nil {
		return "", err
	}
	stop := c.watch(ctx)
	defer stop()
	if err := c.putCmd(line, shown); err != nil {
		return "", c.wrap(ctx, err)
	}
	resp, err := c.getResp()
	if err != nil {
		return "", c.wrap(ctx, err)
	}
	return resp, nil
}

// longCmd sends a command and reads its multi-line reply; lineLimit
// bounds each line (MaxLine for listings, the message cap for messages).
func (c *Client) longCmd(ctx context.Context, line string, lineLimit int64, start func(resp string), emit func([]byte)) (string, int, error) {
	if err := c.usable(); err != nil {
		return "", 0, err
	}
	if err := checkArg(line); err != nil {
		return "", 0, err
	}
	stop := c.watch(ctx)
	defer stop()
	if err := c.putCmd(line, line); err != nil {
		return "", 0, c.wrap(ctx, err)
	}
	resp, err := c.getResp()
	if err != nil {
		return "", 0, c.wrap(ctx, err)
	}
	if start != nil {
		start(resp)
	}
	octets, err := c.readLong(lineLimit, emit)
	if err != nil {
		return "", 0, c.wrap(ctx, err)
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

func (c *Client) collect(ctx context.Context, line string, limit int64) (*Multi, error) {
	m := &Multi{}
	var buf []byte // every line in one buffer, sized by the status line's "n octets" if any
	var ends []int
	resp, octets, err := c.longCmd(ctx, line, limit, func(resp string) {
		buf = make([]byte, 0, sizeHint(resp, c.opts.MaxMessage))
	}, func(l []byte) {
		buf = append(buf, l...)
		ends = append(ends, len(buf))
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
		return "", protoErr("-ERR APOP not supported by server")
	}
	sum := md5.Sum([]byte(ts + secret))
	digest := hex.EncodeToString(sum[:])
	resp, err := c.shortCmd(ctx, "APOP "+user+" "+digest, "APOP "+user+" ***")
	if err == nil {
		c.loggedIn = true
	}
	return resp, err
}

// Auth authenticates with a SASL mechanism (RFC 5034), sending the
// initial response with the command when the mechanism has one.
func (c *Client) Auth(ctx context.Context, m sasl.Mechanism) (string, error) {
	if err := c.usable(); err != nil {
		return "", err
	}
	mech := strings.ToUpper(m.Name)
	if err := checkArg(mech); err != nil || mech == "" || strings.Contains(mech, " ") {
		return "", protoErr("bad mechanism %q", m.Name)
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
		return "", c.wrap(ctx, err)
	}
	for {
		l, _, err := c.getLine(MaxLine)
		if err != nil {
			return "", c.wrap(ctx, err)
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
				return "", c.wrap(ctx, err)
			}
		default:
			return "", protoErr("%s", l)
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
		return 0, 0, protoErr("bad STAT reply: %s", resp)
	}
	count, err1 := strconv.ParseInt(f[1], 10, 64)
	size, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, protoErr("bad STAT reply: %s", resp)
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
	m, err := c.collect(ctx, "LIST", MaxLine)
	if err != nil {
		return nil, nil, err
	}
	out := make([]MsgSize, 0, len(m.Lines))
	for _, l := range m.Lines {
		s, err := parseSize(string(l))
		if err != nil {
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
	s, err := parseSize(strings.TrimSpace(strings.TrimPrefix(resp, "+OK")))
	return resp, s, err
}

func parseSize(s string) (MsgSize, error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return MsgSize{}, protoErr("bad LIST line: %s", s)
	}
	n, err1 := strconv.Atoi(f[0])
	size, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return MsgSize{}, protoErr("bad LIST line: %s", s)
	}
	return MsgSize{Num: n, Size: size}, nil
}

// Uidl lists every message's unique id.
func (c *Client) Uidl(ctx context.Context) (*Multi, []MsgUID, error) {
	m, err := c.collect(ctx, "UIDL", MaxLine)
	if err != nil {
		return nil, nil, err
	}
	out := make([]MsgUID, 0, len(m.Lines))
	for _, l := range m.Lines {
		u, err := parseUID(string(l))
		if err != nil {
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
	u, err := parseUID(strings.TrimSpace(strings.TrimPrefix(resp, "+OK")))
	return resp, u, err
}

func parseUID(s string) (MsgUID, error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return MsgUID{}, protoErr("bad UIDL line: %s", s)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return MsgUID{}, protoErr("bad UIDL line: %s", s)
	}
	return MsgUID{Num: n, UID: f[1]}, nil
}

// Retr retrieves message which as poplib does: lines dot-unstuffed.
func (c *Client) Retr(ctx context.Context, which string) (*Multi, error) {
	return c.collect(ctx, "RETR "+which, bodyLines)
}

// RetrTo streams message which to w, CRLF line endings, without holding it
// in memory; it returns the status line and poplib's octet count.
func (c *Client) RetrTo(ctx context.Context, which string, w io.Writer) (string, int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	var werr error
	resp, octets, err := c.longCmd(ctx, "RETR "+which, bodyLines, nil, func(l []byte) {
		if werr == nil {
			_, werr = bw.Write(l)
		}
		if werr == nil {
			_, werr = bw.WriteString("\r\n")
		}
	})
	if err == nil && werr == nil {
		werr = bw.Flush()
	}
	if err == nil && werr != nil {
		err = &Error{Text: "writing message: " + werr.Error(), Err: werr}
	}
	return resp, octets, err
}

// Top retrieves the header and the first howmuch lines of the body of
// message which.
func (c *Client) Top(ctx context.Context, which, howmuch string) (*Multi, error) {
	return c.collect(ctx, "TOP "+which+" "+howmuch, bodyLines)
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
	m, err := c.collect(ctx, "CAPA", MaxLine)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Err == nil {
			return nil, protoErr("-ERR CAPA not supported by server")
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
		return "", protoErr("-ERR TLS session already established")
	}
	if c.loggedIn {
		return "", protoErr("-ERR STLS is only allowed before login")
	}
	caps, err := c.Capa(ctx)
	if err != nil {
		return "", err
	}
	if _, ok := caps["STLS"]; !ok {
		return "", protoErr("-ERR STLS not supported by server")
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
		e := &Error{Text: "TLS handshake: " + err.Error(), Err: err, Cause: "tls"}
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
