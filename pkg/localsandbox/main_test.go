package localsandbox_test

import (
	"os"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
)

// TestMain lets the test binary serve as the sandbox init, as the nimbus
// binary does: the backend re-executes it to start each command. It also
// serves a backend in a child process (maybeServeChild) for the tests that
// need the host to deny the backend something, and an init short of
// descriptors, dying before it sets up or as it is handed a command when
// a test asks (maybeLimitInitFDs, maybeKillInit,
// maybeKillInitAtRun).
func TestMain(m *testing.M) {
	maybeLimitInitFDs()
	maybeKillInit()
	maybeKillInitAtRun()
	localsandbox.MaybeRunInit()
	maybeServeChild()
	os.Exit(m.Run())
}
