package localdev

import (
	"testing"
	"time"
)

// SetProcsQuiet makes the servers t starts use d for ProcsQuiet, until t
// ends.
func SetProcsQuiet(t testing.TB, d time.Duration) {
	old := procsQuiet
	procsQuiet = d
	t.Cleanup(func() { procsQuiet = old })
}
