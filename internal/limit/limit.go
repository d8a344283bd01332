// Package limit holds what the limits of a script's run share: the error
// a limit hit raises, whichever layer (VM, Go function, child process)
// noticed it.
package limit

import "fmt"

// Error is a limit a run went past. Its message names the limit:
// "memory limit of 256 MiB exceeded".
type Error struct {
	Limit string // "memory", "time", "output", "connection", "stack", "coroutine", "script size", "nesting"
	Max   string // the limit as a person reads it: "256 MiB", "1m0s", "8"
}

func (e *Error) Error() string { return e.Limit + " limit of " + e.Max + " exceeded" }

// Bytes formats n for a limit's message: "256 MiB", "512 KiB", "100 bytes".
func Bytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
