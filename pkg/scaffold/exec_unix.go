//go:build unix

package scaffold

import (
	"os/exec"
	"syscall"
)

// stopGroup makes cmd the leader of a process group of its own, and
// makes the end of its context stop that group: npm runs install scripts
// (and git hooks or helpers) as its children, and SIGKILL to npm alone,
// os/exec's default, leaves them running after nimbus has exited.
// SIGTERM lets them clean up; os/exec kills the leader StopGrace later,
// and killGroup the rest. The group no longer gets the terminal's Ctrl-C
// itself (it is not the foreground group), which is why the caller's
// context, which Ctrl-C ends, stops it.
func stopGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group's id is the leader's pid, which cannot be reused
		// while the leader is not waited for.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	cmd.WaitDelay = StopGrace
}

// killGroup kills what is left of cmd's process group once cmd has
// ended after its context did: children that ignored SIGTERM, or that the
// leader did not wait for. A group whose members are all gone no longer
// exists (ESRCH), and its id cannot have been given to another group
// while any member lived, so this reaches only cmd's processes.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
