//go:build unix

package localsandbox

import (
	"os"
	"os/exec"
	"syscall"

	"github.com/creack/pty"
)

// startPTY starts shell on a new PTY of cols×rows as the leader of a new
// session with the PTY as its controlling terminal, registered with the
// sandbox so that destroy kills it, and returns the PTY's master side.
func (sb *sandbox) startPTY(shell, dir string, env []string, cols, rows int) (*os.File, *exec.Cmd, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, nil, err
	}
	if err := setPTYSize(ptmx, cols, rows); err != nil {
		_ = ptmx.Close()
		_ = tty.Close()
		return nil, nil, err
	}
	c := &exec.Cmd{
		Path: shell, Args: []string{shell}, Dir: dir, Env: env,
		Stdin: tty, Stdout: tty, Stderr: tty,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0},
	}
	err = sb.start(c)
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
