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
// and the init is PID 1, so when it ends the kernel ends everything else in
// the namespace. In Reaper mode (Linux without namespaces) the init is a
// child subreaper (PR_SET_CHILD_SUBREAPER): orphaned descendants become its
// children, and it kills them all. Either way the init ends, taking every
// descendant with it, when the shell exits, when the server asks, and when
// the server goes away (its end of the control socket closes).
package sandboxinit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Name is argv[0] of a re-executed init.
const Name = "nimbus-sandbox-init"

// protocol is argv[1] of a re-executed init: an init started by another
// build of the program refuses instead of misreading its arguments.
const protocol = "2"

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
type SetupError struct{ Reason string }

// Error says that the namespaces could not be set up, and why.
func (e *SetupError) Error() string { return "cannot set up the sandbox namespaces: " + e.Reason }

// Exit is how a command ended.
type Exit struct {
	// Code is the exit status when Signal is 0.
	Code int
	// Signal is the signal that killed the shell, or 0.
	Signal syscall.Signal
}

// Cmd is a shell command to run under an init. Fill in the exported fields,
// then call Start, Started and Wait, as with exec.Cmd.
type Cmd struct {
	Mode Mode
	// Path and Args are the shell and its argv (Args[0] included).
	Path string
	Args []string
	Env  []string
	// Dir is the host directory the command starts in.
	Dir string
	// SandboxDir is, in Namespaces mode, the host directory whose home/user
	// and tmp are mounted at /home/user and /tmp.
	SandboxDir string
	// Cwd is, in Namespaces mode, the directory to change to once the
	// mounts are made; "" stays in Dir.
	Cwd string
	// TTY says Stdin is a terminal (a PTY's slave side): the shell then
	// leads a new session with it as its controlling terminal, as a login
	// shell does, instead of leading a new process group.
	TTY bool
	// Stdin, Stdout, Stderr, ExtraFiles and WaitDelay are as in exec.Cmd;
	// ExtraFiles keep their numbers (3, 4, …) in the shell.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	ExtraFiles     []*os.File
	WaitDelay      time.Duration

	cmd   *exec.Cmd
	ctl   *os.File // this side of the control socket; nil in Direct mode
	msgs  *bufio.Reader
	mu    sync.Mutex
	pid   int // the shell's pid in Reaper mode, as the init reported it
	ended bool
}

// Messages from the init, one line each on the control socket.
const (
	msgReady  = "ready"  // ready <pid>: the shell runs
	msgSetup  = "setup"  // setup <reason>: the namespaces cannot be set up
	msgFail   = "fail"   // fail <reason>: the shell could not be started
	msgExit   = "exit"   // exit <code>
	msgSignal = "signal" // signal <n>
)

// killAll, sent on the control socket, asks the init to kill everything
// and end; any other byte is a signal for the shell's process group.
const killAll = 0

// Start starts the init (or, in Direct mode, the shell) without waiting
// for it to set up; call Started next. It is quick enough to call under a
// lock that orders it with Kill.
func (c *Cmd) Start() error {
	if c.Mode == Direct {
		c.cmd = c.command(c.Path, c.Args)
		c.cmd.SysProcAttr = sysProcAttr(Direct)
		if c.TTY {
			c.cmd.SysProcAttr = ttyProcAttr()
		}
		return c.cmd.Start()
	}
	if !Hooked() {
		return errors.New("sandboxinit: " + c.Mode.String() + " mode needs MaybeRun at the start of the program")
	}
	mine, theirs, err := socketPair()
	if err != nil {
		return err
	}
	extra := make([]byte, len(c.ExtraFiles))
	for i, f := range c.ExtraFiles {
		extra[i] = '1'
		if f == nil {
			extra[i] = '0'
		}
	}
	tty := "0"
	if c.TTY {
		tty = "1"
	}
	args := []string{Name, protocol, c.Mode.String(), string(extra), tty, c.SandboxDir, c.Cwd, c.Path}
	c.cmd = c.command(selfExe, append(args, c.Args...))
	c.cmd.ExtraFiles = append(c.cmd.ExtraFiles, theirs)
	c.cmd.SysProcAttr = sysProcAttr(c.Mode)
	err = c.cmd.Start()
	theirs.Close()
	if err != nil {
		mine.Close()
		if c.Mode == Namespaces {
			// The kernel refused the namespaces (clone, or the id maps).
			return &SetupError{Reason: err.Error()}
		}
		return err
	}
	c.ctl, c.msgs = mine, bufio.NewReader(mine)
	return nil
}

func (c *Cmd) command(path string, args []string) *exec.Cmd {
	cmd := &exec.Cmd{Path: path, Args: args, Env: c.Env, Dir: c.Dir,
		Stdin: c.Stdin, Stdout: c.Stdout, Stderr: c.Stderr, WaitDelay: c.WaitDelay}
	cmd.ExtraFiles = append(cmd.ExtraFiles, c.ExtraFiles...)
	return cmd
}

// startTimeout bounds the init's setup: a re-executed program and a few
// mounts, normally a few milliseconds.
const startTimeout = 30 * time.Second

// Started waits until the shell runs. A *SetupError means the namespaces
// cannot be set up here; the init has then exited and Wait must still be
// called.
func (c *Cmd) Started() error {
	if c.ctl == nil {
		return nil
	}
	_ = c.ctl.SetReadDeadline(time.Now().Add(startTimeout))
	line, err := c.msgs.ReadString('\n')
	_ = c.ctl.SetReadDeadline(time.Time{})
	kind, arg, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
	switch {
	case err == nil && kind == msgReady:
		pid, _ := strconv.Atoi(arg)
		c.mu.Lock()
		c.pid = pid
		c.mu.Unlock()
		return nil
	case err == nil && kind == msgSetup:
		return &SetupError{Reason: arg}
	case err == nil && kind == msgFail:
		return errors.New(arg)
	case err == nil:
		c.Kill()
		return fmt.Errorf("sandboxinit: unexpected message %q from the init", line)
	}
	c.Kill()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("sandboxinit: the init did not start the command within %v", startTimeout)
	}
	return errors.New("sandboxinit: the init ended before starting the command")
}

// Pid returns the host pid of the process this package started (the
// init, or the shell in Direct mode): every process of the command that
// can be tracked descends from it. It is 0 before Start.
func (c *Cmd) Pid() int {
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// Signal sends sig to the shell's process group.
func (c *Cmd) Signal(sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended || c.cmd == nil || c.cmd.Process == nil {
		return os.ErrProcessDone
	}
	if c.ctl == nil {
		return signalGroup(c.cmd.Process.Pid, sig)
	}
	if sig <= 0 || sig > 255 {
		return syscall.EINVAL
	}
	_, err := c.ctl.Write([]byte{byte(sig)})
	return err
}

// Kill kills the command and everything it started. It does not wait.
func (c *Cmd) Kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended || c.cmd == nil || c.cmd.Process == nil {
		return
	}
	if c.ctl == nil {
		_ = signalGroup(c.cmd.Process.Pid, syscall.SIGKILL)
		return
	}
	if _, err := c.ctl.Write([]byte{killAll}); err != nil && c.pid > 0 {
		// The init is gone: kill what is left of the shell's group.
		_ = signalGroup(c.pid, syscall.SIGKILL)
	}
	if c.Mode == Namespaces {
		// Ending PID 1 ends the namespace at once. The os.Process is safe
		// against pid reuse once the init has been waited for.
		_ = c.cmd.Process.Kill()
	}
}

// Wait waits for the command and for everything it started to end, and
// returns how the shell ended.
func (c *Cmd) Wait() (Exit, error) {
	werr := c.cmd.Wait()
	c.mu.Lock()
	c.ended = true
	c.mu.Unlock()
	st := c.cmd.ProcessState
	if st == nil {
		return Exit{}, werr
	}
	if c.ctl == nil {
		// Background jobs of a Direct command go with it.
		_ = signalGroup(c.cmd.Process.Pid, syscall.SIGKILL)
		return exitOf(st), nil
	}
	defer c.ctl.Close()
	// The init reports the shell's end as its last words; without them it
	// was killed (by Kill in Namespaces mode, or from outside).
	ex := exitOf(st)
	_ = c.ctl.SetReadDeadline(time.Now().Add(time.Second))
	for {
		line, err := c.msgs.ReadString('\n')
		kind, arg, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		n, nerr := strconv.Atoi(arg)
		switch {
		case nerr != nil:
		case kind == msgExit:
			ex = Exit{Code: n}
		case kind == msgSignal:
			ex = Exit{Code: -1, Signal: syscall.Signal(n)}
		}
		if err != nil {
			return ex, nil
		}
	}
}

// exitOf reads a process state the way a shell reports it.
func exitOf(st *os.ProcessState) Exit {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return Exit{Code: -1, Signal: ws.Signal()}
	}
	return Exit{Code: st.ExitCode()}
}
