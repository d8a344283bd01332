package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/mailscript/mailscript/internal/limit"
)

// newRunID is a run's id: 16 random hex digits, unique across runtimes.
func newRunID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// auditHook is the Audit function of one run: the host's Audit as it
// is, and AuditRun with the run's id.
func auditHook(audit func(string, ...any), auditRun func(string, string, ...any), run string) func(string, ...any) {
	switch {
	case auditRun == nil:
		return audit
	case audit == nil:
		return func(ev string, args ...any) { auditRun(run, ev, args...) }
	}
	return func(ev string, args ...any) {
		audit(ev, args...)
		auditRun(run, ev, args...)
	}
}

// limitError is the ScriptError of a run that hit a limit: the limit's
// message ("output limit of 1 MiB exceeded"), Kind "limit.output", and
// where the script was when it hit it.
func limitError(name string, err, le error) *ScriptError {
	se := &ScriptError{}
	if err != nil {
		se = scriptError(name, err)
	}
	se.Message = le.Error()
	var l *limit.Error
	if errors.As(le, &l) {
		se.Kind, se.Err = "limit."+l.Limit, l
	}
	return se
}
