package transfer_test

import (
	"os"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
)

// TestMain lets the test binary serve as the sandbox init, as the nimbus
// binary does: the local backend behind sandboxtest re-executes it to
// start each command.
func TestMain(m *testing.M) {
	localsandbox.MaybeRunInit()
	os.Exit(m.Run())
}
