//go:build windows

package localsandbox

import (
	"os"
	"os/exec"
	"syscall"
)

// setGroup is a no-op: New refuses to run on Windows, this only keeps the
// package building for the release matrix.
func setGroup(*exec.Cmd) {}

func signalGroup(pid int, _ syscall.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

var signals = map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT, "SIGKILL": syscall.SIGKILL}
