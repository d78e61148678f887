package sandboxclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ExecOptions are the options of exec-family ops (exec, execStream,
// startProcess, runCode). Zero values are left out of the request.
type ExecOptions struct {
	// Cwd is the working directory; a relative one is resolved against the
	// sandbox root as the SDK does.
	Cwd string
	// Env is merged over the shell environment for this call.
	Env map[string]string
	// Timeout kills the command after this long (exit code 124); it is sent
	// as timeoutMs.
	Timeout time.Duration
	// Stdin is sent as the command's stdin when non-nil.
	Stdin *string
	// ShellID names a persistent shell; "" takes the handle's ShellID.
	ShellID string
	// ExecID tags the command and its descendants.
	ExecID string
	// DetachID is the invocation id for DetachExec.
	DetachID string
}

// wireExecOptions is ExecOptions as sent, after normalisation.
type wireExecOptions struct {
	Cwd       string            `json:"cwd,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	TimeoutMs int64             `json:"timeoutMs,omitempty"`
	Stdin     *string           `json:"stdin,omitempty"`
	ShellID   string            `json:"shellId,omitempty"`
	ShellRoot string            `json:"shellRoot,omitempty"`
	ExecID    string            `json:"execId,omitempty"`
	DetachID  string            `json:"detachId,omitempty"`
	Restart   string            `json:"restart,omitempty"`
	Language  string            `json:"language,omitempty"`
	Install   string            `json:"install,omitempty"`
}

// normalize applies the SDK's rules: shellId from the handle; a relative cwd
// resolved against the root; with a shellId, shellRoot = root and cwd only
// when given; otherwise cwd defaults to the root.
func (s *Sandbox) normalize(o ExecOptions) wireExecOptions {
	w := wireExecOptions{Env: o.Env, Stdin: o.Stdin, ExecID: o.ExecID, DetachID: o.DetachID, ShellID: o.ShellID}
	if w.ShellID == "" {
		w.ShellID = s.opts.ShellID
	}
	if o.Timeout > 0 {
		w.TimeoutMs = int64((o.Timeout + time.Millisecond - 1) / time.Millisecond)
	}
	if o.Cwd != "" {
		w.Cwd = ResolvePath(s.opts.Root, o.Cwd)
	}
	if w.ShellID != "" {
		w.ShellRoot = s.opts.Root
	} else if w.Cwd == "" {
		w.Cwd = s.opts.Root
	}
	return w
}

// ExecResult is the result of exec and runCode (and of a collected stream).
type ExecResult struct {
	// Command is the command line as the server ran it (wire "command").
	Command string `json:"command"`
	// ExitCode is the remote exit code when it is an integer within 32
	// bits, else -1. It is not limited to 0-255: do not mask it.
	ExitCode int `json:"exitCode"`
	// ExitCodeRaw is the exit code exactly as the server sent it (a JSON
	// number such as 256 or 1.5).
	ExitCodeRaw json.Number `json:"-"`
	// Success is the server's "success": true exactly when the exit code
	// is 0.
	Success bool `json:"success"`
	// Duration is how long the command ran, in milliseconds (wire
	// "duration").
	Duration int64 `json:"duration"`
	// Timestamp is when the command ended, in milliseconds since the Unix
	// epoch (wire "timestamp").
	Timestamp int64 `json:"timestamp"`
	// Stdout is the command's whole standard output (wire "stdout"),
	// decoded by the server as UTF-8 with invalid bytes replaced, so it
	// is not binary-safe. Run leaves it empty because the output went to
	// its writers.
	Stdout string `json:"stdout"`
	// Stderr is the command's whole standard error (wire "stderr"),
	// decoded like Stdout; after a timeout it ends with the line "command
	// timed out after <N>ms".
	Stderr string `json:"stderr"`
}

// CommandGrace is how long past a command's Timeout the client waits for
// the Worker to report the timeout itself (exit code 124 and its message)
// before giving up with CodeTimeout: as long again as the timeout, between
// 1s and 5s.
func CommandGrace(timeout time.Duration) time.Duration {
	return min(max(timeout, time.Second), 5*time.Second)
}

// boundCommand bounds a command call by its timeout plus CommandGrace; a
// zero timeout leaves ctx as it is (the command may run for hours).
func boundCommand(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, timeout+CommandGrace(timeout), &Error{
		Code:    CodeTimeout,
		Message: fmt.Sprintf("the command did not end within its timeout of %s, and the Worker did not report it", timeout),
		Err:     context.DeadlineExceeded,
	})
}

// commandErr turns the end of a bounded command's context into its
// CodeTimeout error.
func commandErr(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	var te *Error
	if cause := context.Cause(ctx); errors.As(cause, &te) && te.Code == CodeTimeout {
		return cause
	}
	return err
}

// Exec runs command with op exec: the server collects the output and answers
// once the command has exited. Never retried. With a Timeout, the answer is
// awaited for the timeout plus CommandGrace (CodeTimeout after); without
// one, as long as the command runs.
func (s *Sandbox) Exec(ctx context.Context, command string, opts ExecOptions) (*ExecResult, error) {
	if err := s.readyFirst(ctx, opts.Timeout); err != nil {
		return nil, err
	}
	ctx, cancel := boundCommand(ctx, opts.Timeout)
	defer cancel()
	var r ExecResult
	if err := s.callWait(ctx, "exec", []any{command, s.normalize(opts)}, &r, s.commandWait(opts.Timeout)); err != nil {
		return nil, commandErr(ctx, err)
	}
	return &r, nil
}

// ExecStream is a running execStream: read it with Next until io.EOF, or
// Close it to cancel (closing the body cancels the remote command).
type ExecStream struct {
	req  *http.Request // the request, whose token error frames must not repeat
	body io.ReadCloser
	dec  *StreamDecoder
	exit *ExitInfo
}

// ExecStream starts command with op execStream. Failures before the command
// starts are returned as errors (a *RemoteError with E_REMOTE_OP on servers
// that predate streaming). Never retried.
func (s *Sandbox) ExecStream(ctx context.Context, command string, opts ExecOptions) (*ExecStream, error) {
	if err := s.ensureReady(ctx); err != nil {
		return nil, err
	}
	b, err := json.Marshal(s.body("execStream", []any{command, s.normalize(opts)}))
	if err != nil {
		return nil, newError(CodeInvalidArgument, "execStream: cannot encode arguments", err)
	}
	resp, err := s.c.send(ctx, s.rpcRequest("execStream", staticBody(b), mediaStream))
	if err != nil {
		return nil, err
	}
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, mediaStream) {
		if err := s.c.decodeEnvelope(ctx, "execStream", resp, nil); err != nil {
			return nil, err
		}
		return nil, &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: "execStream answered JSON success instead of a stream"}
	}
	return &ExecStream{req: resp.Request, body: resp.Body, dec: NewStreamDecoder(resp.Body)}, nil
}

// Next returns the next output chunk (FrameStdout or FrameStderr). At the end
// of the command it returns io.EOF, after which Exit is set. An error frame
// gives an *Error with CodeExecFailed; a truncated stream gives
// CodeStreamTruncated.
func (e *ExecStream) Next() (Chunk, error) {
	c, err := e.dec.Next()
	if err != nil {
		return c, err
	}
	switch c.Kind {
	case FrameExit:
		info, perr := parseExit(c.Data)
		if perr != nil {
			e.dec.err = perr
			return Chunk{}, perr
		}
		e.exit = info
		e.dec.err = io.EOF
		return Chunk{}, io.EOF
	case FrameError:
		ferr := parseErrorFrame(c.Data, e.req)
		e.dec.err = ferr
		return Chunk{}, ferr
	}
	return c, nil
}

// Exit returns the exit frame once Next has returned io.EOF.
func (e *ExecStream) Exit() *ExitInfo { return e.exit }

// Close releases the stream; before the exit frame this cancels the remote
// command.
func (e *ExecStream) Close() error { return e.body.Close() }

// Run runs command and copies its output to stdout and stderr as it arrives.
// It uses execStream and falls back to exec when the server answers
// E_REMOTE_OP (older servers). The returned result carries the exit code; its
// Stdout and Stderr are empty because the output went to the writers. With
// a Timeout, a Worker that has not ended the command by the timeout plus
// CommandGrace gets CodeTimeout (the stream is closed, which cancels it),
// counted from when the stream started, as the Worker counts its own
// timeout from the command's start (see boundStream).
func (s *Sandbox) Run(ctx context.Context, command string, opts ExecOptions, stdout, stderr io.Writer) (*ExecResult, error) {
	if err := s.readyFirst(ctx, opts.Timeout); err != nil {
		return nil, err
	}
	ctx, started, cancel := s.boundStream(ctx, opts.Timeout)
	defer cancel()
	r, err := s.run(ctx, started, command, opts, stdout, stderr)
	return r, commandErr(ctx, err)
}

// readyFirst makes the sandbox ready before a command with a timeout is
// bounded: a cold sandbox's ready is not the command's time, and has
// bounds of its own.
func (s *Sandbox) readyFirst(ctx context.Context, timeout time.Duration) error {
	if timeout <= 0 {
		return nil
	}
	return s.ensureReady(ctx)
}

// boundStream bounds a streamed command as boundCommand does, counting the
// timeout and its grace from when the stream starts (started): the
// Worker answers a stream only once the command has started, and starts
// its timeout then, so a cold start before it is not the command's time.
// Until then the wait is longer by the HTTP timeout, the time a start may
// take, so that a stream that never starts is still bounded.
func (s *Sandbox) boundStream(ctx context.Context, timeout time.Duration) (context.Context, func(), context.CancelFunc) {
	if timeout <= 0 {
		return ctx, func() {}, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	limit := timeout + CommandGrace(timeout)
	expired := func() {
		cancel(&Error{
			Code:    CodeTimeout,
			Message: fmt.Sprintf("the command did not end within its timeout of %s, and the Worker did not report it", timeout),
			Err:     context.DeadlineExceeded,
		})
	}
	t := time.AfterFunc(limit+max(s.c.timeout, 0), expired)
	started := func() {
		if t.Stop() {
			t.Reset(limit)
		}
	}
	return ctx, started, func() { t.Stop(); cancel(context.Canceled) }
}

func (s *Sandbox) run(ctx context.Context, started func(), command string, opts ExecOptions, stdout, stderr io.Writer) (*ExecResult, error) {
	st, err := s.ExecStream(ctx, command, opts)
	if err == nil {
		started()
	}
	if HasCode(err, CodeRemoteOp) {
		r, err := s.Exec(ctx, command, opts)
		if err != nil {
			return nil, err
		}
		if _, err := io.WriteString(stdout, r.Stdout); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(stderr, r.Stderr); err != nil {
			return nil, err
		}
		r.Stdout, r.Stderr = "", ""
		return r, nil
	}
	if err != nil {
		return nil, err
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { _ = st.Close() })
	defer stop()
	for {
		c, err := st.Next()
		if err == io.EOF {
			x := st.Exit()
			return &ExecResult{Command: x.Command, ExitCode: x.ExitCode, ExitCodeRaw: x.ExitCodeRaw, Success: x.Success, Duration: x.Duration, Timestamp: x.Timestamp}, nil
		}
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
			return nil, err
		}
		w := stdout
		if c.Kind == FrameStderr {
			w = stderr
		}
		if _, err := w.Write(c.Data); err != nil {
			return nil, err
		}
	}
}

// StartOptions are ExecOptions plus startProcess's restart policy.
type StartOptions struct {
	ExecOptions
	// Restart is "never" or "on-failure"; "" leaves it to the server.
	Restart string
}

// Process describes a sandbox process.
type Process struct {
	// PID is the process id inside the sandbox (wire "pid"); pass it to
	// ProcessLogs, KillProcess and the other process ops.
	PID int64 `json:"pid"`
	// Command is the command line the process was started with (wire
	// "command").
	Command string `json:"command"`
	// Argv is the process's argument vector as the server reports it
	// (wire "argv").
	Argv []string `json:"argv"`
	// Cwd is the directory the process was started in (wire "cwd").
	Cwd string `json:"cwd"`
	// State is the server's state name (wire "state"), such as "running",
	// "exited" or "killed"; the set is open, so unknown values should be
	// shown as they are.
	State string `json:"state"`
	// ExitCode is the exit code (wire "exitCode"); nil while the process
	// runs.
	ExitCode *int `json:"exitCode"`
	// StartTime is when the process started, in milliseconds since the
	// Unix epoch (wire "startTime").
	StartTime int64 `json:"startTime"`
	// EndTime is when the process ended, in milliseconds since the Unix
	// epoch (wire "endTime"); nil while it runs.
	EndTime *int64 `json:"endTime"`
	// LongRunning reports whether the server classes the process as
	// long-running, such as a dev server or a watcher, rather than a command
	// expected to end by itself (wire "longRunning").
	LongRunning bool `json:"longRunning"`
	// AttachedTTY reports whether the process has its own terminal (wire
	// "attachedTty"): its I/O then lives on its own terminal socket and is
	// not mirrored into the session terminal.
	AttachedTTY bool `json:"attachedTty"`
	// ExecID is the execId tag the process inherited from the command
	// that started it (wire "execId"); empty when it has none.
	ExecID string `json:"execId,omitempty"`
}

// StartResult is the result of startProcess.
type StartResult struct {
	// Command is the command line as the server started it (wire
	// "command").
	Command string `json:"command"`
	// PID is the new process's pid (wire "pid"), the same as Process.PID.
	PID int64 `json:"pid"`
	// StartedAt is when the process started, in milliseconds since the
	// Unix epoch (wire "startedAt").
	StartedAt int64 `json:"startedAt"`
	// Process describes the new process (wire "process"). Servers before
	// 2026-08-11 answered with exec fields instead, leaving it zero.
	Process Process `json:"process"`
	// Ports are the ports exposed when the process started (wire
	// "ports"); usually empty, because the process has had no time to
	// listen yet.
	Ports []Port `json:"ports"`
}

// StartProcess starts a background process and returns as soon as it has a
// pid. Never retried.
func (s *Sandbox) StartProcess(ctx context.Context, command string, opts StartOptions) (*StartResult, error) {
	w := s.normalize(opts.ExecOptions)
	w.Restart = opts.Restart
	var r StartResult
	if err := s.call(ctx, "startProcess", []any{command, w}, &r); err != nil {
		return nil, err
	}
	if r.PID <= 0 {
		return nil, malformed("startProcess", "no pid")
	}
	return &r, nil
}

// RunCodeOptions are ExecOptions plus runCode's language and install mode.
type RunCodeOptions struct {
	ExecOptions
	// Language is javascript (default), typescript, python, ruby or shell.
	Language string
	// Install is "never" (default) or "ifMissing".
	Install string
}

// RunCode runs a code snippet in the given language. Never retried. Like
// Exec, the answer may take as long as the code runs, or its Timeout plus
// CommandGrace.
func (s *Sandbox) RunCode(ctx context.Context, code string, opts RunCodeOptions) (*ExecResult, error) {
	if err := s.readyFirst(ctx, opts.Timeout); err != nil {
		return nil, err
	}
	ctx, cancel := boundCommand(ctx, opts.Timeout)
	defer cancel()
	w := s.normalize(opts.ExecOptions)
	w.Language, w.Install = opts.Language, opts.Install
	if w.Language == "" {
		w.Language = "javascript"
	}
	if w.Install == "" {
		w.Install = "never"
	}
	var r ExecResult
	if err := s.callWait(ctx, "runCode", []any{code, w}, &r, s.commandWait(opts.Timeout)); err != nil {
		return nil, commandErr(ctx, err)
	}
	return &r, nil
}

// DetachExec releases a named shell from a still-running command started
// with DetachID, without killing it.
func (s *Sandbox) DetachExec(ctx context.Context, detachID string) (bool, error) {
	var r struct {
		Detached bool `json:"detached"`
	}
	if err := s.call(ctx, "detachExec", []any{detachID}, &r); err != nil {
		return false, err
	}
	return r.Detached, nil
}
