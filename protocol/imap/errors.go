package imap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// Kind is imaplib's exception class: readonly ⊂ abort ⊂ error.
type Kind int

const (
	KindError    Kind = iota // imaplib.IMAP4.error
	KindAbort                // imaplib.IMAP4.abort: the connection is unusable
	KindReadOnly             // imaplib.IMAP4.readonly
)

func (k Kind) String() string {
	switch k {
	case KindAbort:
		return "abort"
	case KindReadOnly:
		return "readonly"
	}
	return "error"
}

// Cause names a network failure behind an error.
type Cause string

const (
	CauseTimeout Cause = "timeout"
	CauseEOF     Cause = "eof"
	CauseReset   Cause = "reset"
	CauseTLS     Cause = "tls"
	CauseRefused Cause = "refused"
	CauseDNS     Cause = "dns"
)

// Error is every error the client returns. Use [errors.As] to get it.
type Error struct {
	Kind    Kind
	Command string // the command's name only, never its arguments
	Type    string // the server's reply, NO, BAD or BYE, when the error is one
	Code    string // response code, such as TRYCREATE, where the server gave one
	Text    string // the server's or the client's message
	Cause   Cause  // for network failures
	Err     error  // underlying error, if any
}

func (e *Error) Error() string { return "imap." + e.Kind.String() + ": " + e.Text }
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error whose kind contains e's kind, so
// errors.Is(err, ErrAbort) holds for readonly errors too.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t.Text != "" || t.Command != "" {
		return false
	}
	return e.Kind >= t.Kind
}

// Class values for errors.Is: ErrError matches every *Error, ErrAbort
// abort and readonly ones, ErrReadOnly readonly ones.
var (
	ErrError    = &Error{Kind: KindError}
	ErrAbort    = &Error{Kind: KindAbort}
	ErrReadOnly = &Error{Kind: KindReadOnly}
)

// ParseError is malformed server input; it quotes the offending line.
type ParseError struct {
	Line []byte
	Msg  string
}

func (e *ParseError) Error() string {
	line := e.Line
	if len(line) > 200 {
		line = append(line[:200:200], "..."...)
	}
	return fmt.Sprintf("%s: %q", e.Msg, line)
}

// statusError is the error for r, a NO or BAD completion (or a BYE) of
// command cmd; text is the message, r.Text when empty.
func statusError(kind Kind, cmd string, r *Response, text string) *Error {
	if text == "" {
		text = r.Text
	}
	return &Error{Kind: kind, Command: cmd, Type: r.Type, Code: r.Code, Text: text}
}

func newError(kind Kind, cmd, format string, args ...any) *Error {
	return &Error{Kind: kind, Command: cmd, Text: fmt.Sprintf(format, args...)}
}

// netError turns an I/O failure into an abort error with its cause.
func netError(ctx context.Context, cmd string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	var pe *ParseError
	if errors.As(err, &pe) {
		return &Error{Kind: KindAbort, Command: cmd, Text: pe.Error(), Err: err}
	}
	out := &Error{Kind: KindAbort, Command: cmd, Err: err, Cause: causeOf(err)}
	if ctx != nil && ctx.Err() != nil {
		out.Err = ctx.Err()
		out.Cause = CauseTimeout
		out.Text = "socket error: " + ctx.Err().Error()
		return out
	}
	out.Text = "socket error: " + err.Error()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		out.Text = "socket error: EOF"
	}
	return out
}

func causeOf(err error) Cause {
	var dnsErr *net.DNSError
	var recErr tls.RecordHeaderError
	var certErr *tls.CertificateVerificationError
	var alert tls.AlertError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return CauseEOF
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return CauseTimeout
	case errors.As(err, &dnsErr):
		return CauseDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return CauseRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return CauseReset
	case errors.As(err, &recErr), errors.As(err, &certErr), errors.As(err, &alert):
		return CauseTLS
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return CauseTimeout
	}
	return ""
}
