package job_test

import (
	"os"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
)

// TestMain lets the test binary serve as the sandbox init, as the nimbus
// binary does: the local backend re-executes it to start each command, so
// jobs run in the same isolation as under nimbus dev.
func TestMain(m *testing.M) {
	localsandbox.MaybeRunInit()
	os.Exit(m.Run())
}
