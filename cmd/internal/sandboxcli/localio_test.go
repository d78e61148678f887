package sandboxcli

import (
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

// TestLocalIOHint: every E_LOCAL_IO error a transfer returns gets the hint
// naming what to check, whatever its cause (running as root, a test
// cannot make the permission case happen for real).
func TestLocalIOHint(t *testing.T) {
	for _, c := range []struct {
		errno syscall.Errno
		want  string
	}{
		{syscall.EACCES, "permission"},
		{syscall.EPERM, "permission"},
		{syscall.ENOSPC, "space left"},
		{syscall.EROFS, "read-only"},
		{syscall.EIO, "check the local path"},
	} {
		err := &transfer.Error{Code: transfer.CodeLocalIO, Message: "out/a.txt: cannot create",
			Err: &fs.PathError{Op: "open", Path: "out/a.txt", Err: c.errno}}
		ce, ok := Error(err).(*clierr.Error)
		if !ok || ce.Code != transfer.CodeLocalIO || !strings.Contains(ce.Hint, c.want) {
			t.Errorf("%v: got %#v, want E_LOCAL_IO with a hint about %q", c.errno, Error(err), c.want)
		}
	}
}
