//go:build !unix

package scaffold

import "os/exec"

// stopGroup leaves os/exec's default on Windows: the end of the context
// kills the program alone, so children it started (npm's install
// scripts) may outlive it (docs/init.md). WaitDelay still bounds the wait
// for output pipes those children hold open.
func stopGroup(cmd *exec.Cmd) {
	cmd.WaitDelay = StopGrace
}

// killGroup has no process group to kill on Windows.
func killGroup(*exec.Cmd) {}
