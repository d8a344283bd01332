package stdlib

import (
	"context"
	"time"
)

// Polling, for a server that offers no IDLE (or mode "poll"): every
// poll_interval the service runs the watcher's catch-up, whose NOOP and
// STATUS on the account's main connection find what came. It needs no
// connection of its own, and a dead main connection is made again by the
// catch-up.

// polls says whether w polls rather than idles.
func (w *watcher) polls() bool {
	return w.timers.mode == "poll" || (w.timers.mode != "idle" && !w.a.c.HasCap("IDLE"))
}

// pollLoop signals i every interval until ctx ends.
func pollLoop(ctx context.Context, i int, events chan<- int, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			select {
			case events <- i:
			case <-ctx.Done():
				return
			}
		}
	}
}
