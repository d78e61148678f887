//go:build unix

package localsandbox

import (
	"io"
	"os"

	"github.com/creack/pty"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox/internal/sandboxinit"
)

// startPTY starts shell for req on a new PTY of cols×rows, through the
// same launch as every command (its namespaces, its init that takes the
// shell's processes with it), as the leader of a new session with the PTY
// as its controlling terminal. It returns the PTY's master side.
func (sb *sandbox) startPTY(req *execReq, shell string, cols, rows int) (*os.File, *sandboxinit.Cmd, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, nil, err
	}
	if err := setPTYSize(ptmx, cols, rows); err != nil {
		_ = ptmx.Close()
		_ = tty.Close()
		return nil, nil, err
	}
	c, _, err := sb.launch(req, []string{shell}, launchIO{
		stdin: func() io.Reader { return tty }, stdout: tty, stderr: tty, shell: shell, tty: true,
	})
	// The shell has its own copy; the PTY reports the end of its output
	// once the shell and everything it started closed theirs.
	_ = tty.Close()
	if err != nil {
		_ = ptmx.Close()
		return nil, nil, err
	}
	return ptmx, c, nil
}

func setPTYSize(ptmx *os.File, cols, rows int) error {
	return pty.Setsize(ptmx, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)})
}
