package localdev_test

import (
	"os"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
)

// TestMain lets the test binary serve as the sandbox init, as the nimbus
// binary does.
func TestMain(m *testing.M) {
	localsandbox.MaybeRunInit()
	os.Exit(m.Run())
}
