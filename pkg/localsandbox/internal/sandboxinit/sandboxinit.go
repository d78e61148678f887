// Package sandboxinit starts each command of a local sandbox under a small
// init process, so that every process the command starts can be found and
// killed, including those that leave its process group (setsid, double
// forks, nohup).
//
// The init is the running program itself, re-executed with argv[0] = Name:
// programs that start sandboxes call MaybeRun first thing in main (and in
// TestMain), which runs the init when asked and otherwise records that this
// executable can serve as one. A program that never calls it gets Direct
// mode only, so an executable is never re-run without knowing how.
//
// In Namespaces mode (Linux, where unprivileged user namespaces are
// allowed) the init runs in new user, mount and PID namespaces: the
// sandbox's home/user is bind-mounted at /home/user and its tmp at /tmp,
// and the init is PID 1, so it can kill everything else in the namespace,
// and when it ends the kernel does. In Reaper mode (Linux without
// namespaces) the init is a child subreaper (PR_SET_CHILD_SUBREAPER):
// orphaned descendants become its children, and it kills them all.
//
// An init runs one command at a time and, once the shell has exited, kills
// everything the command started before it reports the exit: so a command
// never outlives its Wait, and the init is clean for the next command. A
// Pool keeps inits between commands (per sandbox in Namespaces mode, shared
// in Reaper mode), so a command costs one fork+exec of the shell, not the
// start of a Go program, namespaces and mounts. An init ends, taking every
// descendant with it, when the server asks and when the server goes away
// (its end of the control socket closes).
package sandboxinit

import (
	"os"
	"sync/atomic"
	"syscall"
)

// Name is argv[0] of a re-executed init.
const Name = "nimbus-sandbox-init"

// protocol is argv[1] of a re-executed init: an init started by another
// build of the program refuses instead of misreading its arguments.
const protocol = "4"

// Mode is how a command is started.
type Mode int

const (
	// Direct starts the shell as a child of this process, leader of its
	// own process group: its group is killed, processes that leave the
	// group are not.
	Direct Mode = iota
	// Reaper starts the shell under an init that is a child subreaper and
	// kills every descendant (Linux).
	Reaper
	// Namespaces starts the shell under an init that is PID 1 of new user,
	// mount and PID namespaces, with the sandbox mounted at /home/user and
	// /tmp (Linux).
	Namespaces
)

// String names the mode as the docs and diagnostics do.
func (m Mode) String() string {
	switch m {
	case Reaper:
		return "reaper"
	case Namespaces:
		return "namespaces"
	}
	return "direct"
}

var hooked atomic.Bool

// MaybeRun runs the init and exits when this process was started as one;
// otherwise it records that this executable can serve as the init and
// returns. Call it before anything else in main, and in TestMain of tests
// that start sandboxes; it costs one comparison.
func MaybeRun() {
	if len(os.Args) > 0 && os.Args[0] == Name {
		os.Exit(initMain(os.Args[1:]))
	}
	hooked.Store(true)
}

// Hooked reports whether MaybeRun was called in this process, that is
// whether Reaper and Namespaces modes can re-execute this program.
func Hooked() bool { return hooked.Load() }

// SetupError reports that the init could not set up its namespaces: the
// kernel or its configuration refuses them. Nothing of the command ran, so
// it can be started again in another mode.
type SetupError struct {
	// Reason is the refusal in words (the step that failed and its
	// error); the local backend shows it as the reason it fell back to
	// host paths.
	Reason string
}

// Error says that the namespaces could not be set up, and why.
func (e *SetupError) Error() string { return "cannot set up the sandbox namespaces: " + e.Reason }

// Exit is how a command ended.
type Exit struct {
	// Code is the exit status when Signal is 0.
	Code int
	// Signal is the signal that killed the shell, or 0.
	Signal syscall.Signal
}
