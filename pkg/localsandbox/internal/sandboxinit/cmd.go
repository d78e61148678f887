package sandboxinit

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Cmd is a shell command to run under an init. Fill in the exported fields,
// then call Start, Started and Wait, as with exec.Cmd.
type Cmd struct {
	// Mode says how the shell is contained; the zero value, Direct, needs
	// no init and no MaybeRun hook.
	Mode Mode
	// Path is the host path of the shell to run.
	Path string
	// Args is the shell's argv, Args[0] included; empty runs it with
	// Path alone as argv.
	Args []string
	// Env is the shell's whole environment as "key=value" strings; nil
	// and empty mean an empty environment, in every mode. Unlike
	// exec.Cmd, nothing is inherited from this process, whose environment
	// may hold secrets a sandbox must not see.
	Env []string
	// Dir is the host directory the command starts in.
	Dir string
	// SandboxDir is, in Namespaces mode, the host directory whose home/user
	// and tmp are mounted at /home/user and /tmp.
	SandboxDir string
	// Cwd is, in Namespaces mode, the directory to start in instead of Dir,
	// by its path in the namespaces; "" starts in Dir.
	Cwd string
	// TTY says Stdin is a terminal (a PTY's slave side): the shell then
	// leads a new session with it as its controlling terminal, as a login
	// shell does, instead of leading a new process group.
	TTY bool
	// Stdin is the shell's standard input, as in exec.Cmd; nil reads
	// from the null device.
	Stdin io.Reader
	// Stdout and Stderr are as in exec.Cmd: nil writes to the null
	// device; an *os.File is handed to the shell itself; any other writer
	// is fed through a pipe that Wait drains (see WaitDelay).
	Stdout, Stderr io.Writer
	// ExtraFiles are further open files, as in exec.Cmd: entry i is
	// descriptor 3+i in the shell, and a nil entry leaves that descriptor
	// closed.
	ExtraFiles []*os.File
	// WaitDelay bounds how long Wait, once the shell has ended, keeps
	// copying output that descendants still write to the Stdout and
	// Stderr pipes before it closes them; 0 waits until every writer is
	// gone, which a background process can make forever.
	WaitDelay time.Duration
	// Pool provides the init; nil starts one for this command alone.
	Pool *Pool

	cmd *exec.Cmd // Direct mode

	ini      *initProc // the init running the command
	pool     *Pool
	startErr error // what Started reports
	pid      int   // the shell's pid as the init reported it
	copying  sync.WaitGroup
	closers  []io.Closer // this side's pipe ends, closed by Wait
	killT    *time.Timer

	mu      sync.Mutex
	running bool // the init runs the shell; it has not reported its end
	killed  bool
	ended   bool
}

// killGrace is how long an init gets to report the end of a command it
// was asked to kill before it is killed itself.
const killGrace = 10 * time.Second

// errKilled: Kill came before the command started; it never will.
var errKilled = errors.New("sandboxinit: the command was killed before it started")

// IsKilledBeforeStart reports whether Start failed because Kill came
// first.
func IsKilledBeforeStart(err error) bool { return errors.Is(err, errKilled) }

// Start starts the command: it takes an init from the pool (starting one
// if none is idle) and hands it the command. Errors of the command itself
// (a missing shell, a refused cwd, namespaces the kernel refuses) are
// reported by Started; Start fails only when no init could be run at all,
// with a *SetupError when the kernel refused to create the namespaces, or
// when Kill came first.
func (c *Cmd) Start() error {
	if c.Mode == Direct {
		c.cmd = c.command(c.Path, c.Args)
		c.cmd.SysProcAttr = sysProcAttr(Direct)
		if c.TTY {
			c.cmd.SysProcAttr = ttyProcAttr()
		}
		return directStartError(startProcess(c.cmd), c.Dir)
	}
	if !Hooked() {
		return errors.New("sandboxinit: " + c.Mode.String() + " mode needs MaybeRun at the start of the program")
	}
	c.mu.Lock()
	killed := c.killed
	c.mu.Unlock()
	if killed {
		return errKilled
	}
	c.pool = c.Pool
	if c.pool == nil {
		c.pool = &Pool{MaxIdle: -1}
	}
	spec := &runSpec{dir: c.Dir, cwd: c.Cwd, path: c.Path, argv: c.Args, env: c.Env, tty: c.TTY}
	if c.Mode == Reaper {
		spec.cwd = ""
	}
	if len(spec.argv) == 0 {
		spec.argv = []string{c.Path}
	}
	fds, err := c.files(spec)
	if err != nil {
		c.closeAll()
		return err
	}
	frame, err := appendRunFrame(nil, spec)
	if err != nil {
		c.closeAll()
		return err
	}
	// A reused init that died while idle is replaced once.
	for attempt := 0; ; attempt++ {
		ini, reused, err := c.pool.get(c.Mode, c.SandboxDir)
		if err != nil {
			var ie *initError
			if errors.As(err, &ie) {
				c.startErr = ie.err
				c.closeAll()
				return nil
			}
			c.closeAll()
			return err
		}
		c.mu.Lock()
		if c.killed {
			c.mu.Unlock()
			c.pool.put(ini)
			c.closeAll()
			return errKilled
		}
		err = ini.sendRun(frame, fds)
		var pid int
		if err == nil {
			if c.pool.StartHook != nil {
				c.pool.StartHook()
			}
			pid, err = ini.started()
		}
		var fail *commandError
		switch {
		case err == nil:
			c.ini, c.pid, c.running = ini, pid, true
			c.mu.Unlock()
			c.closeChildEnds()
			return nil
		case errors.As(err, &fail):
			// The init is fine; the command could not start.
			c.mu.Unlock()
			c.pool.put(ini)
			c.startErr = fail
			c.closeAll()
			return nil
		}
		c.mu.Unlock()
		c.pool.drop(ini)
		if !reused || attempt > 0 || MayHaveStarted(err) {
			// A command the init was handed may have run: starting it
			// again could run it twice.
			c.startErr = err
			c.closeAll()
			return nil
		}
	}
}

// files returns the descriptors the shell gets (stdin, stdout, stderr,
// then the passed extra files), making pipes for readers and writers that
// are not files, as exec.Cmd does.
func (c *Cmd) files(spec *runSpec) ([]int, error) {
	var fds []int
	in, err := c.stdinFile()
	if err != nil {
		return nil, err
	}
	fds = append(fds, fdOf(in))
	for _, w := range []io.Writer{c.Stdout, c.Stderr} {
		f, err := c.writerFile(w)
		if err != nil {
			return nil, err
		}
		fds = append(fds, fdOf(f))
	}
	extra := make([]byte, len(c.ExtraFiles))
	for i, f := range c.ExtraFiles {
		extra[i] = '0'
		if f != nil {
			extra[i] = '1'
			fds = append(fds, fdOf(f))
		}
	}
	spec.extra = string(extra)
	return fds, nil
}

// childEnds are this side's copies of the pipe ends the shell uses: closed
// once the init has its own.
type childEnd struct{ *os.File }

func (c *Cmd) stdinFile() (*os.File, error) {
	switch r := c.Stdin.(type) {
	case nil:
		return devNull()
	case *os.File:
		return r, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, childEnd{pr}, pw)
	if writeAhead(pw, c.Stdin) {
		// All of it fit in the pipe: no goroutine to copy it, one per
		// command with input.
		_ = pw.Close()
		return pr, nil
	}
	c.copying.Add(1)
	go func() {
		defer c.copying.Done()
		_, _ = io.Copy(pw, c.Stdin)
		_ = pw.Close()
	}()
	return pr, nil
}

func (c *Cmd) writerFile(w io.Writer) (*os.File, error) {
	switch w := w.(type) {
	case nil:
		return devNull()
	case *os.File:
		return w, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, pr, childEnd{pw})
	c.copying.Add(1)
	go func() {
		defer c.copying.Done()
		_, _ = io.Copy(w, pr)
	}()
	return pw, nil
}

// closeChildEnds closes this side's copies of the shell's pipe ends, so
// that end of file comes when the command's processes are gone.
func (c *Cmd) closeChildEnds() {
	for _, cl := range c.closers {
		if ce, ok := cl.(childEnd); ok {
			_ = ce.Close()
		}
	}
}

func (c *Cmd) closeAll() {
	for _, cl := range c.closers {
		_ = cl.Close()
	}
}

var (
	devNullMu   sync.Mutex
	devNullFile *os.File
)

// devNull is one /dev/null for every command's missing stdio, opened by
// the first command that needs it. A failure to open it (the process out
// of descriptors) is not kept: it would refuse every later command, long
// after descriptors were freed.
func devNull() (*os.File, error) {
	devNullMu.Lock()
	defer devNullMu.Unlock()
	if devNullFile == nil {
		f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		devNullFile = f
	}
	return devNullFile, nil
}

// fdOf returns the descriptor to pass for f, in blocking mode as the
// shell expects (as exec.Cmd does): the open file description is shared.
func fdOf(f *os.File) int {
	fd := fdOf0(f)
	if fd < 0 || isNonblock(fd) {
		// Fd switches the file (and the description) to blocking mode.
		fd = int(f.Fd())
	}
	return fd
}

// directStartError tells a Direct start that failed in the child's chdir
// from one whose exec failed: os/exec reports both as "fork/exec <path>:
// <errno>", and a caller that reads that as the program being unusable
// (the terminal's fallback to the command shell) would blame it for a
// directory that is gone. The child runs with this process's
// credentials, so a look at dir now is the look the child had; a
// directory that cannot be entered gives "chdir <dir>: <errno>", the
// init's text for the same failure in the other modes.
func directStartError(err error, dir string) error {
	var pe *fs.PathError
	if err == nil || dir == "" || !errors.As(err, &pe) || pe.Op != "fork/exec" {
		return err
	}
	if derr := enterable(dir); derr != nil {
		return &fs.PathError{Op: "chdir", Path: dir, Err: derr}
	}
	return err
}

func (c *Cmd) command(path string, args []string) *exec.Cmd {
	env := c.Env
	if env == nil {
		env = []string{} // exec.Cmd would inherit this process's
	}
	cmd := &exec.Cmd{Path: path, Args: args, Env: env, Dir: c.Dir,
		Stdin: c.Stdin, Stdout: c.Stdout, Stderr: c.Stderr, WaitDelay: c.WaitDelay}
	cmd.ExtraFiles = append(cmd.ExtraFiles, c.ExtraFiles...)
	return cmd
}

// Started reports whether the shell runs: a *SetupError means the
// namespaces cannot be set up here; any other error that the command could
// not start. Wait must still be called.
func (c *Cmd) Started() error { return c.startErr }

// Pid returns the host pid of the process that every process of the
// command that can be tracked descends from: the init, or the shell in
// Direct mode. It is 0 before Start.
func (c *Cmd) Pid() int {
	if c.cmd != nil && c.cmd.Process != nil {
		return c.cmd.Process.Pid
	}
	if c.ini != nil {
		return c.ini.pid()
	}
	return 0
}

// Signal sends sig to the shell's process group.
func (c *Cmd) Signal(sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		if c.ended || c.cmd.Process == nil {
			return os.ErrProcessDone
		}
		return signalGroup(c.cmd.Process.Pid, sig)
	}
	if !c.running {
		return os.ErrProcessDone
	}
	if sig <= 0 || sig > 255 {
		return syscall.EINVAL
	}
	return c.ini.write([]byte{frameSignal, byte(sig)})
}

// Kill kills the command and everything it started; before Start, it
// keeps the command from starting. It does not wait.
func (c *Cmd) Kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return
	}
	c.killed = true
	if c.cmd != nil {
		if c.cmd.Process != nil {
			_ = signalGroup(c.cmd.Process.Pid, syscall.SIGKILL)
		}
		return
	}
	if !c.running {
		return
	}
	ini := c.ini
	if err := ini.write([]byte{frameKill}); err != nil {
		ini.kill()
		return
	}
	if c.killT == nil {
		// An init that does not report the end in time goes with it.
		c.killT = time.AfterFunc(killGrace, func() { c.killUnreported(ini) })
	}
}

// killUnreported kills ini, asked to kill the command killGrace ago, if
// it has not reported the end since. One that has is healthy, and can
// run the sandbox's next command, though Wait has not read the report
// yet: a caller may be slow to get to Wait (localsandbox notices the end
// between writes to a client that can be slow to read, after a genuine
// timeout too). Killing it lost the report and the init.
func (c *Cmd) killUnreported(ini *initProc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running && !ini.reported() {
		ini.kill()
	}
}

// Wait waits for the command and for everything it started to end, and
// returns how the shell ended.
func (c *Cmd) Wait() (Exit, error) {
	if c.cmd != nil {
		return c.waitDirect()
	}
	if c.ini == nil {
		// It never started.
		c.mu.Lock()
		c.ended = true
		c.mu.Unlock()
		return Exit{}, nil
	}
	ex, clean := c.ini.finished()
	c.mu.Lock()
	c.running, c.ended = false, true
	if c.killT != nil {
		c.killT.Stop()
	}
	c.mu.Unlock()
	if clean {
		c.pool.put(c.ini)
	} else {
		c.pool.drop(c.ini)
	}
	c.waitCopies()
	return ex, nil
}

// waitCopies waits for the copying of non-file stdio, for at most
// WaitDelay when it is set, and closes this side's pipe ends.
func (c *Cmd) waitCopies() {
	if c.WaitDelay <= 0 {
		// No bound: nothing to wait for but the copies (and no
		// goroutine to wait for them, started per command).
		c.copying.Wait()
		c.closeAll()
		return
	}
	done := make(chan struct{})
	go func() {
		c.copying.Wait()
		close(done)
	}()
	t := time.NewTimer(c.WaitDelay)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		c.closeAll()
		<-done
	}
	c.closeAll()
}

func (c *Cmd) waitDirect() (Exit, error) {
	// Wait would hold a thread in waitid until the shell ends; the
	// poller waits without one (see awaitExit). A shell that never
	// started leaves Wait to say so.
	if c.cmd.Process != nil {
		awaitExit(c.cmd.Process.Pid)
	}
	werr := c.cmd.Wait()
	c.mu.Lock()
	c.ended = true
	c.mu.Unlock()
	st := c.cmd.ProcessState
	if st == nil {
		return Exit{}, werr
	}
	// Background jobs of a Direct command go with it.
	_ = signalGroup(c.cmd.Process.Pid, syscall.SIGKILL)
	return exitOf(st), nil
}

// exitOf reads a process state the way a shell reports it.
func exitOf(st *os.ProcessState) Exit {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return Exit{Code: -1, Signal: ws.Signal()}
	}
	return Exit{Code: st.ExitCode()}
}

// Messages from the init, one line each on the control socket.
const (
	msgInit   = "init"   // init: set up, waiting for commands
	msgReady  = "ready"  // ready <pid>: the shell runs
	msgSetup  = "setup"  // setup <errno> <reason>: the namespaces cannot be set up
	msgFail   = "fail"   // fail <errno> <reason>: the init or the shell could not be started
	msgExit   = "exit"   // exit <code>
	msgSignal = "signal" // signal <n>
	msgRetire = "retire" // retire <reason>: before exit or signal, the init ends after this command
)

// commandError: the init could not start the command (it is still fine),
// or, inside an *initError, could not set up. errno is the system call's
// error the init reported with the reason, 0 for none: errors.Is finds
// it (a fork that failed with EAGAIN is the host out of processes, not
// the command's fault), which the text alone did not let a caller tell.
type commandError struct {
	reason string
	errno  syscall.Errno
}

func (e *commandError) Error() string { return e.reason }

// Unwrap returns the errno, or nil when the init reported none.
func (e *commandError) Unwrap() error {
	if e.errno == 0 {
		return nil
	}
	return e.errno
}

// failArg is the argument of a fail or setup line: the decimal errno that
// err holds (0 for none), a space, then text.
func failArg(err error, text string) string {
	var errno syscall.Errno // stays 0 when err holds none
	errors.As(err, &errno)
	return strconv.FormatUint(uint64(errno), 10) + " " + text
}

// parseFail reads the argument of a fail or setup line. An argument
// without a leading number is taken as the reason alone.
func parseFail(arg string) *commandError {
	n, reason, ok := strings.Cut(arg, " ")
	if !ok {
		n, reason = arg, ""
	}
	v, err := strconv.ParseUint(n, 10, 32)
	if err != nil {
		return &commandError{reason: arg}
	}
	return &commandError{reason: reason, errno: syscall.Errno(v)}
}

// initError: the init could not set up (it has exited); err is a
// *SetupError when the kernel refused the namespaces.
type initError struct{ err error }

func (e *initError) Error() string { return e.err.Error() }

func parseLine(line string) (kind, arg string) {
	kind, arg, _ = strings.Cut(strings.TrimSuffix(line, "\n"), " ")
	return kind, arg
}

func unexpected(line string) error {
	return fmt.Errorf("sandboxinit: unexpected message %q from the init", line)
}

func atoi(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil
}
