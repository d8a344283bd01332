package runtime

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mailscript/mailscript/bindings"
	"github.com/mailscript/mailscript/internal/limit"
)

// The control channel between the parent and an isolated child carries
// frames: a 4-byte big-endian length and a JSON [wireMsg]. The child's
// writes, audit events and log lines go one way unanswered; its state
// store and getenv calls wait for the parent's "reply"; the last frame
// is the "result". Dials go over a second socket (see brokerDial).
const (
	maxChildFrame = 16 << 20 // what the parent reads from a child at most
	maxWriteChunk = 256 << 10
)

type wireMsg struct {
	Reports []bindings.RulesReport `json:"reports,omitempty"` // with Plan, in a "result"

	Op     string            `json:"op"`
	Stream int               `json:"stream,omitempty"` // out: 1 stdout, 2 stderr, 3 log
	Name   string            `json:"name,omitempty"`
	Data   []byte            `json:"data,omitempty"`
	Nil    bool              `json:"nil,omitempty"`
	ID     int64             `json:"id,omitempty"`
	Args   []any             `json:"args,omitempty"`
	Err    string            `json:"err,omitempty"`
	Run    *wireRun          `json:"run,omitempty"`
	Plan   []bindings.Action `json:"plan,omitempty"`
	Fail   *wireError        `json:"fail,omitempty"`
	// host modules: "require" and "call" (Name the module, Path the
	// function's keys, Vals the arguments), answered by a "reply" with
	// the values, or Err (with the script's position if Where, ending
	// the run as a Go panic does if Panic, the error value in Vals if it
	// is not a string)
	Path  []string  `json:"path,omitempty"`
	Vals  []wireVal `json:"vals,omitempty"`
	Where bool      `json:"where,omitempty"`
	Panic bool      `json:"panic,omitempty"`
}

// wireRun is what the child runs, with the options that can cross.
type wireRun struct {
	Name, Src string
	Args      []string
	Opts      wireOpts
	Modules   []string           // the host modules, loaded in the parent
	Values    map[string]wireVal // the exposed values, copied
}

type wireOpts struct {
	Sandbox, DryRun, Getenv bool
	WallTime, Timeout       time.Duration
	MaxConnections          int
	MaxOutput, MaxMemory    int64
	RegistryMax             int
	CallStackMax            int
	AllowHosts              []string
	Tenant                  string
	Debug                   int
	PinsFile                string // the host's pin file, read by the child
}

// wireError is a *ScriptError (and the *limit.Error it wraps) in transit.
type wireError struct {
	Message, File, Traceback, Kind string
	Line                           int
	Limit, Max                     string
}

func toWire(err error) *wireError {
	if err == nil {
		return nil
	}
	w := &wireError{Message: err.Error()}
	var se *ScriptError
	if errors.As(err, &se) {
		w = &wireError{Message: se.Message, File: se.File, Line: se.Line, Traceback: se.Traceback, Kind: se.Kind}
	}
	var le *limit.Error
	if errors.As(err, &le) {
		w.Limit, w.Max = le.Limit, le.Max
	}
	return w
}

func (w *wireError) scriptError() *ScriptError {
	se := &ScriptError{Message: w.Message, File: w.File, Line: w.Line, Traceback: w.Traceback, Kind: w.Kind}
	if w.Limit != "" {
		se.Err = &limit.Error{Limit: w.Limit, Max: w.Max}
	}
	return se
}

// childLimitError is the ScriptError of a limit the parent saw the child pass.
func childLimitError(name, max string) *ScriptError {
	le := &limit.Error{Limit: name, Max: max}
	return &ScriptError{Message: le.Error(), Kind: "limit." + name, Err: le}
}

func writeFrame(w io.Writer, m *wireMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	frame := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(frame, uint32(len(b)))
	copy(frame[4:], b)
	_, err = w.Write(frame)
	return err
}

// readFrame reads one frame of at most max bytes.
func readFrame(r io.Reader, max int) (*wireMsg, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if int64(n) > int64(max) {
		return nil, fmt.Errorf("isolate: frame of %d bytes exceeds %d", n, max)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	m := &wireMsg{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("isolate: bad frame: %w", err)
	}
	return m, nil
}
