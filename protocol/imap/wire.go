package imap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/mailscript/mailscript/internal/quickack"
)

// Default limits; see [Options].
const (
	DefaultMaxLine    = 1_000_000 // imaplib's _MAXLINE
	DefaultMaxLiteral = 256 << 20
	DefaultMaxDepth   = 100
)

// conn is what the client reads and writes: a net.Conn, a TLS connection
// or a child process's pipes.
type conn interface {
	io.ReadWriteCloser
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// errLineTooLong is imaplib's error (not abort) for an over-long line.
type lineTooLongError struct{ max int }

func (e lineTooLongError) Error() string { return fmt.Sprintf("got more than %d bytes", e.max) }

// reader buffers the connection. Unlike bufio.Reader it keeps a partial
// line across a failed read, so an IDLE wait that times out mid-response
// never corrupts the stream.
type reader struct {
	c          conn
	buf        []byte
	start, end int
	maxLine    int
	timeout    time.Duration // per read; 0 means none
	deadline   time.Time     // overrides timeout when set
	canceled   atomic.Bool   // set by a context's AfterFunc
	cancelErr  atomic.Value  // the context's error
	nread      int64
	filled     bool   // the last read filled the buffer: more was waiting
	ack        func() // called before each read (package quickack)
}

// A connection's buffers start small and grow while it is busy, so the
// thousand idle connections of a watch service cost little.
const (
	minBuf = 4 << 10
	maxBuf = 32 << 10 // reads and writes no bigger pay for no more
)

func newReader(c conn, maxLine int) *reader {
	r := &reader{c: c, buf: make([]byte, minBuf), maxLine: maxLine}
	if nc, ok := c.(net.Conn); ok {
		r.ack = quickack.For(nc)
	}
	return r
}

func (r *reader) buffered() int { return r.end - r.start }

func (r *reader) setDeadline() error {
	d := r.deadline
	if d.IsZero() && r.timeout > 0 {
		d = time.Now().Add(r.timeout)
	}
	_ = r.c.SetReadDeadline(d)
	// Checked after setting the deadline: a cancel that raced with it has
	// already stored the flag.
	if r.canceled.Load() {
		if err, ok := r.cancelErr.Load().(error); ok {
			return err
		}
		return errors.New("canceled")
	}
	return nil
}

// fill reads once from the connection into free buffer space.
func (r *reader) fill() error {
	if r.start > 0 && r.start == r.end {
		r.start, r.end = 0, 0
	}
	if r.filled && len(r.buf) < maxBuf && r.end-r.start < len(r.buf)/2 {
		nb := make([]byte, 2*len(r.buf))
		r.end = copy(nb, r.buf[r.start:r.end])
		r.start, r.buf = 0, nb
	}
	if r.end == len(r.buf) {
		if r.start > 0 {
			copy(r.buf, r.buf[r.start:r.end])
			r.end -= r.start
			r.start = 0
		} else {
			nb := make([]byte, 2*len(r.buf))
			copy(nb, r.buf[:r.end])
			r.buf = nb
		}
	}
	if err := r.setDeadline(); err != nil {
		return err
	}
	if r.ack != nil && !r.filled { // a stream that fills the buffer needs no quick ACK
		r.ack()
	}
	n, err := r.c.Read(r.buf[r.end:])
	r.filled = r.end+n == len(r.buf)
	r.end += n
	r.nread += int64(n)
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// readLine returns the next line with its line ending. The slice is valid
// until the next read. A line longer than maxLine is an error.
func (r *reader) readLine() ([]byte, error) {
	scanned := 0
	for {
		if i := bytes.IndexByte(r.buf[r.start+scanned:r.end], '\n'); i >= 0 {
			line := r.buf[r.start : r.start+scanned+i+1]
			if len(line) > r.maxLine+2 {
				r.start += len(line)
				return nil, lineTooLongError{r.maxLine}
			}
			r.start += len(line)
			return line, nil
		}
		scanned = r.end - r.start
		if scanned > r.maxLine+1 {
			return nil, lineTooLongError{r.maxLine}
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
}

// literalReader reads one literal: at most n bytes, from the buffer
// first, then the connection; never a byte of what follows it.
type literalReader struct {
	r    *reader
	left int64
}

func (l *literalReader) Read(b []byte) (int, error) {
	if l.left == 0 {
		return 0, io.EOF
	}
	if l.r.buffered() == 0 {
		if err := l.r.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(b[:min(int64(len(b)), l.left)], l.r.buf[l.r.start:l.r.end])
	l.r.start += n
	l.left -= int64(n)
	return n, nil
}

// readFull reads a literal of exactly n bytes, allocating as the bytes
// arrive rather than all at once, so a lying size costs nothing until
// data comes.
func (r *reader) readFull(n int64) ([]byte, error) {
	const chunk = 1 << 20
	lr := &literalReader{r: r, left: n}
	out := make([]byte, 0, min(n, chunk))
	for lr.left > 0 {
		if len(out) == cap(out) {
			grow := min(int64(cap(out)), lr.left)
			out = append(out, make([]byte, grow)...)[:len(out)]
		}
		k, err := lr.Read(out[len(out):cap(out)])
		out = out[:len(out)+k]
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// waitData waits until at least one byte is buffered or the deadline
// passes. A timeout leaves the stream intact.
func (r *reader) waitData(deadline time.Time) error {
	if r.buffered() > 0 {
		return nil
	}
	saved := r.deadline
	r.deadline = deadline
	defer func() { r.deadline = saved }()
	return r.fill()
}

// waitLine waits until a whole line is buffered or the deadline passes;
// a timeout leaves the partial line buffered for the next read (an IDLE
// ends at its deadline even mid-line, and the line is finished later).
func (r *reader) waitLine(deadline time.Time) error {
	saved := r.deadline
	r.deadline = deadline
	defer func() { r.deadline = saved }()
	scanned := 0
	for {
		i := bytes.IndexByte(r.buf[r.start+scanned:r.end], '\n')
		switch {
		case i >= 0 && scanned == 0 && i == 1 && r.buf[r.start] == '\r':
			r.start += 2 // a blank line between responses, skipped as readResponse does
			continue
		case i >= 0:
			return nil
		}
		scanned = r.end - r.start
		if scanned > r.maxLine+1 {
			return nil // readLine reports it
		}
		if err := r.fill(); err != nil {
			return err
		}
	}
}

// sendBuf collects what is sent until Flush. Unlike a bufio.Writer it
// holds only what it was given (up to maxBuf, past which it writes on),
// and like one its first write error sticks.
type sendBuf struct {
	write func([]byte) (int, error)
	b     []byte
	err   error
}

func (s *sendBuf) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if len(s.b)+len(p) > maxBuf {
		if err := s.Flush(); err != nil {
			return 0, err
		}
		if len(p) >= maxBuf { // a big literal goes straight out
			if _, s.err = s.write(p); s.err != nil {
				return 0, s.err
			}
			return len(p), nil
		}
	}
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *sendBuf) WriteString(p string) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if len(s.b)+len(p) > maxBuf {
		return s.Write([]byte(p))
	}
	s.b = append(s.b, p...)
	return len(p), nil
}

// Flush writes what is held.
func (s *sendBuf) Flush() error {
	if s.err != nil {
		return s.err
	}
	if len(s.b) > 0 {
		_, s.err = s.write(s.b)
		s.b = s.b[:0]
	}
	return s.err
}
