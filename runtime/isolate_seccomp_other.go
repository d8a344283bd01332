//go:build linux && !amd64

package runtime

import "errors"

// installSeccomp has a filter for linux/amd64 only.
func installSeccomp() error { return errors.New("no seccomp filter for this architecture") }
