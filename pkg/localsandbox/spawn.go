package localsandbox

import (
	"errors"
	"io"
	"os"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox/internal/sandboxinit"
)

// launchIO is a command's standard I/O. stdin is called once per attempt:
// a command that gives namespaces up starts again.
type launchIO struct {
	stdin          func() io.Reader
	stdout, stderr io.Writer
	extra          []*os.File
	waitDelay      time.Duration
	// shell replaces the server's shell (the terminal's interactive
	// shell); tty says stdin is its terminal (sandboxinit.Cmd.TTY).
	shell string
	tty   bool
}

// launch starts the shell with argv for req in the server's mode,
// registered with the sandbox so destroy kills it, and returns once it
// runs. If the kernel refuses namespaces before any command ran in them,
// the server gives them up for host paths and the command starts again.
func (sb *sandbox) launch(req *execReq, argv []string, lio launchIO) (*sandboxinit.Cmd, sandboxinit.Mode, error) {
	mode := sb.s.iso.current()
	for {
		c, err := sb.command(req, argv, mode, lio)
		if err == nil {
			err = sb.start(c)
		}
		if err == nil {
			if err = c.Started(); err == nil {
				if mode == sandboxinit.Namespaces {
					sb.s.iso.confirm()
				}
				return c, mode, nil
			}
			_, _ = c.Wait()
			sb.untrack(c)
		}
		var se *sandboxinit.SetupError
		if mode == sandboxinit.Namespaces && errors.As(err, &se) && sb.s.iso.fallBack(se.Reason) {
			mode = sb.s.iso.current()
			continue
		}
		return nil, mode, err
	}
}

// command prepares req's shell for mode: in namespaces, HOME is
// /home/user, TMPDIR is /tmp, and a cwd under them is entered by that
// path; elsewhere they are host paths.
func (sb *sandbox) command(req *execReq, argv []string, mode sandboxinit.Mode, lio launchIO) (*sandboxinit.Cmd, error) {
	ns := mode == sandboxinit.Namespaces
	if ns {
		// The mounts need both directories; a command may have removed
		// them.
		for _, d := range []string{"home/user", "tmp"} {
			if sb.plainDir(d) {
				continue
			}
			if err := sb.root.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
		}
	}
	env := sb.baseEnv(ns)
	if req.shellEnv != nil {
		env = make(map[string]string, len(req.shellEnv))
		for k, v := range req.shellEnv {
			env[k] = v
		}
	}
	for k, v := range req.optEnv {
		env[k] = v
	}
	shell := sb.s.opts.Shell
	if lio.shell != "" {
		shell = lio.shell
	}
	c := &sandboxinit.Cmd{Mode: mode, Path: shell, Args: argv, Dir: req.hostCwd, SandboxDir: sb.dir,
		Stdout: lio.stdout, Stderr: lio.stderr, ExtraFiles: lio.extra, WaitDelay: lio.waitDelay, TTY: lio.tty, Pool: sb.s.inits}
	env["PWD"] = req.hostCwd
	if ns && inView(req.cwd) {
		env["PWD"], c.Cwd = req.cwd, req.cwd
	}
	c.Env = envList(env)
	if lio.stdin != nil {
		c.Stdin = lio.stdin()
	}
	return c, nil
}

// exitCode is the code a shell reports for an exit: 128+n for signal n.
func exitCode(ex sandboxinit.Exit) int {
	if ex.Signal != 0 {
		return 128 + int(ex.Signal)
	}
	return ex.Code
}
