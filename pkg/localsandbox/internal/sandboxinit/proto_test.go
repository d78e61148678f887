package sandboxinit

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// TestFailCarriesTheErrno: a fail line carries the errno of the failure as
// a number, which errors.Is finds on the parsed error (a host out of
// processes must be told from the command's own failure without reading
// the text), and the text unchanged; a failure without one carries 0 and
// unwraps to nothing. Setup failures of a host out of resources are not
// taken for the kernel refusing namespaces.
func TestFailCarriesTheErrno(t *testing.T) {
	err := &os.PathError{Op: "fork/exec", Path: "/bin/sh", Err: syscall.EAGAIN}
	got := parseFail(failArg(err, err.Error()))
	if !errors.Is(got, syscall.EAGAIN) || got.Error() != "fork/exec /bin/sh: resource temporarily unavailable" {
		t.Errorf("EAGAIN: %#v", got)
	}
	got = parseFail(failArg(nil, "chdir /x: outside the sandbox"))
	if got.Unwrap() != nil || got.Error() != "chdir /x: outside the sandbox" {
		t.Errorf("no errno: %#v", got)
	}
	if !outOfResources(parseFail(failArg(syscall.EMFILE, "cannot watch the mount table: too many open files"))) {
		t.Error("EMFILE at setup is not out of resources")
	}
}
