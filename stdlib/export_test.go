package stdlib

import "time"

// SetIdleFor shortens how long one IDLE lasts, for tests.
func SetIdleFor(d interface{ Seconds() float64 }) func() {
	old := idleFor
	idleFor = time.Duration(d.Seconds() * float64(time.Second))
	return func() { idleFor = old }
}
