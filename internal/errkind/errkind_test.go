package errkind

import (
	"errors"
	"fmt"
	"testing"
)

// TestExitCode holds the one kind-to-exit-code table that docs/runtime.md
// and docs/setup.md describe (sysexits(3), as internal/exitcode lists it).
func TestExitCode(t *testing.T) {
	for k, want := range map[Kind]int{
		Internal: 70, Usage: 64, Data: 65, Unavailable: 69, NotFound: 69,
		Config: 78, CantCreate: 73, Conflict: 75, Permission: 77, Interrupted: 130, OSErr: 71,
		Kind(-1): 70, OSErr + 1: 70,
	} {
		if got := k.ExitCode(); got != want {
			t.Errorf("Kind(%d).ExitCode() = %d, want %d", k, got, want)
		}
	}
	var zero Kind
	if zero != Internal {
		t.Fatal("the zero Kind must be Internal: an unclassified error is a bug")
	}
}

type testError struct{ msg string }

func (e *testError) Error() string { return e.msg }

func TestAs(t *testing.T) {
	inner := &testError{"inner"}
	if e, ok := As[*testError](fmt.Errorf("outer: %w", inner)); !ok || e != inner {
		t.Fatalf("As on a wrapped error: %v, %v", e, ok)
	}
	if e, ok := As[*testError](errors.New("other")); ok || e != nil {
		t.Fatalf("As on another error: %v, %v", e, ok)
	}
	if e, ok := As[*testError](nil); ok || e != nil {
		t.Fatalf("As on nil: %v, %v", e, ok)
	}
}
