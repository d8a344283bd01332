//go:build !linux

package runtime

import (
	"context"
	"errors"
)

// ErrIsolation is what an isolated run cannot do.
var ErrIsolation = errors.New("isolation does not support this")

func (rt *Runtime) runIsolated(ctx context.Context, name, src string, args []string) (*Result, error) {
	return nil, errors.New("isolation needs Linux: " + ErrIsolation.Error())
}
