package forward

import "time"

// SetIdleTimeout sets how long Serve keeps an idle connection, until the
// test ends.
func SetIdleTimeout(d time.Duration) (restore func()) {
	old := idleTimeout
	idleTimeout = d
	return func() { idleTimeout = old }
}
