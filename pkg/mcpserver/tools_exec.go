package mcpserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// MaxTimeoutMs is the largest timeoutMs exec and runCode accept (about 24.8
// days): the largest delay a JavaScript timer holds (a Worker fires a larger
// one at once), and far below the point where the client's own bound on
// the call would overflow.
const MaxTimeoutMs = math.MaxInt32

// runOptions are the options exec and runCode share.
type runOptions struct {
	Cwd       string            `json:"cwd,omitempty" jsonschema:"working directory: absolute, or relative to the sandbox root"`
	Env       map[string]string `json:"env,omitempty" jsonschema:"environment variables for this call only"`
	TimeoutMs int64             `json:"timeoutMs,omitempty" jsonschema:"kill it after this many milliseconds (exit code 124)"`
}

// execInput is exec's input: upstream's exec(command, opts) flattened.
type execInput struct {
	Command string `json:"command" jsonschema:"the shell command line to run (sh syntax: pipes, redirections and && work)"`
	runOptions
	Stdin   *string `json:"stdin,omitempty" jsonschema:"text given to the command on standard input"`
	ShellID string  `json:"shellId,omitempty" jsonschema:"name of a persistent shell: its working directory and exported variables carry over between calls with the same shellId"`
}

// runCodeInput is runCode's input.
type runCodeInput struct {
	Code     string `json:"code" jsonschema:"the program text"`
	Language string `json:"language,omitempty" jsonschema:"javascript (default), typescript, python, ruby or shell"`
	Install  string `json:"install,omitempty" jsonschema:"never (default) or ifMissing: install the python or ruby runtime first when it is missing"`
	runOptions
}

// ExecOutput is the structured result of exec and runCode: upstream's
// ExecResult plus what was cut for the model.
type ExecOutput struct {
	// Command is the command as the sandbox ran it.
	Command string `json:"command" jsonschema:"the command that ran"`
	// ExitCode is the exit code as sandboxclient.ExecResult.ExitCode
	// gives it: 124 after a timeout, -1 when the Worker sent a number
	// that is not a 32-bit integer.
	ExitCode int `json:"exitCode" jsonschema:"the command's exit code (124: timed out)"`
	// Success reports an exit code of 0.
	Success bool `json:"success" jsonschema:"exitCode is 0"`
	// Duration is the command's wall time in milliseconds.
	Duration int64 `json:"duration" jsonschema:"wall time in milliseconds"`
	// Timestamp is when the command ended, in milliseconds since the Unix
	// epoch.
	Timestamp int64 `json:"timestamp" jsonschema:"end time, milliseconds since the Unix epoch"`
	// Stdout is the standard output the model sees: at most
	// Options.MaxOutput bytes, the middle cut out when it was longer so
	// that both the start and the end (usually the error) survive. Binary
	// output (NUL bytes, or mostly not text) is replaced by a marker; Note
	// says where the whole of it was saved.
	Stdout string `json:"stdout" jsonschema:"standard output (cut in the middle when longer than the limit)"`
	// Stderr is standard error, cut like Stdout.
	Stderr string `json:"stderr" jsonschema:"standard error (cut in the middle when longer than the limit)"`
	// StdoutBytes and StderrBytes are the full lengths.
	StdoutBytes int64 `json:"stdoutBytes" jsonschema:"full length of standard output in bytes"`
	// StderrBytes is the full length of standard error in bytes, before
	// any cut.
	StderrBytes int64 `json:"stderrBytes" jsonschema:"full length of standard error in bytes"`
	// Truncated reports that Stdout or Stderr was cut or, being binary,
	// not shown; StdoutFile, StderrFile and Note then say where the rest
	// is.
	Truncated bool `json:"truncated" jsonschema:"some output was cut"`
	// StdoutFile and StderrFile name the sandbox files holding the full
	// output of a cut stream.
	StdoutFile string `json:"stdoutFile,omitempty" jsonschema:"sandbox file holding the full standard output, when it was cut"`
	// StderrFile is the sandbox file holding the full standard error when
	// it was cut; empty otherwise, and when saving is off (SpillDir "-") or
	// failed, which Note then says.
	StderrFile string `json:"stderrFile,omitempty" jsonschema:"sandbox file holding the full standard error, when it was cut"`
	// Note tells the model, in words, what was cut and how to read the
	// rest; empty when nothing was cut.
	Note string `json:"note,omitempty" jsonschema:"what was cut and how to read the rest"`
}

func positive(s *jsonschema.Schema, props ...string) {
	for _, p := range props {
		if ps := s.Properties[p]; ps != nil {
			ps.Minimum = jsonschema.Ptr(1.0)
		}
	}
}

// timeoutSchema bounds timeoutMs: positive, at most MaxTimeoutMs.
func timeoutSchema(s *jsonschema.Schema) {
	if ps := s.Properties["timeoutMs"]; ps != nil {
		ps.Minimum, ps.Maximum = jsonschema.Ptr(1.0), jsonschema.Ptr(float64(MaxTimeoutMs))
	}
}

func nonNegative(s *jsonschema.Schema, props ...string) {
	for _, p := range props {
		if ps := s.Properties[p]; ps != nil {
			ps.Minimum = jsonschema.Ptr(0.0)
		}
	}
}

func enum(s *jsonschema.Schema, prop string, values ...string) {
	if ps := s.Properties[prop]; ps != nil {
		ps.Enum = make([]any, len(values))
		for i, v := range values {
			ps.Enum[i] = v
		}
	}
}

func nonEmpty(s *jsonschema.Schema, props ...string) {
	for _, p := range props {
		if ps := s.Properties[p]; ps != nil {
			ps.MinLength = jsonschema.Ptr(1)
		}
	}
}

func (s *Server) registerExec() {
	timeoutDesc := "no timeout"
	if s.o.ExecTimeout > 0 {
		timeoutDesc = fmt.Sprintf("killed after %s unless timeoutMs says otherwise", s.o.ExecTimeout)
	}
	addTool(s, toolSpec{
		name: "exec", title: "Run a shell command",
		desc: "Run a shell command in the sandbox and wait for it to finish; returns the exit code, stdout and stderr. " +
			"Each call is a fresh shell unless shellId names a persistent one. Commands are " + timeoutDesc + ". " +
			"For servers and other long-running programs use " + s.name("startProcess") + ". " +
			"Output longer than the limit is cut in the middle; the full output is then saved in the sandbox and the result names the file.",
		openWorld: true,
		schema: func(js *jsonschema.Schema) {
			nonEmpty(js, "command")
			timeoutSchema(js)
			if ps := js.Properties["shellId"]; ps != nil {
				ps.Pattern = `^[A-Za-z0-9][A-Za-z0-9._:-]*$`
				ps.MaxLength = jsonschema.Ptr(160)
			}
		},
	}, s.exec)
	addTool(s, toolSpec{
		name: "runCode", title: "Run a code snippet",
		desc: "Run a snippet of JavaScript (default), TypeScript, Python, Ruby or shell in the sandbox and return its exit code, stdout and stderr. " +
			"Python and Ruby need their runtime: pass install: ifMissing to install it first. Runs are " + timeoutDesc + ".",
		openWorld: true,
		schema: func(js *jsonschema.Schema) {
			nonEmpty(js, "code")
			enum(js, "language", "javascript", "typescript", "python", "ruby", "shell")
			enum(js, "install", "never", "ifMissing")
			timeoutSchema(js)
		},
	}, s.runCode)
}

func (s *Server) timeout(ms int64) time.Duration {
	if ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return max(s.o.ExecTimeout, 0)
}

func (s *Server) exec(ctx context.Context, in execInput) (*mcp.CallToolResult, ExecOutput, error) {
	if err := checkCwd(in.Cwd); err != nil {
		return nil, ExecOutput{}, err
	}
	limit := s.o.MaxOutput
	spillCap := int64(0)
	if s.o.SpillDir != "-" {
		spillCap = s.sb.Client().WriteLimit()
	}
	stdout := newCapture(limit, s.o.LocalTempDir, spillCap)
	stderr := newCapture(limit, s.o.LocalTempDir, spillCap)
	defer stdout.close()
	defer stderr.close()
	var out progressOutput
	stop := s.reportProgress(ctx, &out)
	r, err := s.sb.Run(ctx, in.Command, sc.ExecOptions{
		Cwd: in.Cwd, Env: in.Env, Stdin: in.Stdin, ShellID: in.ShellID, Timeout: s.timeout(in.TimeoutMs),
	}, out.wrap(stdout), out.wrap(stderr))
	stop()
	if err != nil {
		return nil, ExecOutput{}, err
	}
	return nil, s.execOutput(ctx, r, stdout, stderr, nil, nil), nil
}

func (s *Server) runCode(ctx context.Context, in runCodeInput) (*mcp.CallToolResult, ExecOutput, error) {
	if err := checkCwd(in.Cwd); err != nil {
		return nil, ExecOutput{}, err
	}
	r, err := s.sb.RunCode(ctx, in.Code, sc.RunCodeOptions{
		ExecOptions: sc.ExecOptions{Cwd: in.Cwd, Env: in.Env, Timeout: s.timeout(in.TimeoutMs)},
		Language:    in.Language, Install: in.Install,
	})
	if err != nil {
		return nil, ExecOutput{}, err
	}
	stdout, stderr := captureString(r.Stdout, s.o.MaxOutput), captureString(r.Stderr, s.o.MaxOutput)
	return nil, s.execOutput(ctx, r, stdout, stderr, []byte(r.Stdout), []byte(r.Stderr)), nil
}

// execOutput is the result the model sees: the exit, the captured streams
// and, when a stream was cut, where its full text was saved. wholeOut and
// wholeErr are the full streams when the caller has them (runCode);
// otherwise the captures' spill files are saved.
func (s *Server) execOutput(ctx context.Context, r *sc.ExecResult, stdout, stderr *capture, wholeOut, wholeErr []byte) ExecOutput {
	setExit(ctx, r.ExitCode)
	binOut, binErr := stdout.binary(), stderr.binary()
	out := ExecOutput{
		Command: r.Command, ExitCode: r.ExitCode, Success: r.Success, Duration: r.Duration, Timestamp: r.Timestamp,
		Stdout: shownText(stdout, binOut), Stderr: shownText(stderr, binErr), StdoutBytes: stdout.total, StderrBytes: stderr.total,
		Truncated: stdout.truncated() || stderr.truncated() || binOut || binErr,
	}
	if out.Truncated {
		n := s.seq.Add(1)
		var notes []string
		out.StdoutFile, notes = s.saveStream(ctx, n, "stdout", stdout, binOut, wholeOut, notes)
		out.StderrFile, notes = s.saveStream(ctx, n, "stderr", stderr, binErr, wholeErr, notes)
		out.Note = strings.Join(notes, " ")
	}
	return out
}

// shownText is what the model sees of a stream: its text, or for binary
// output a marker saying how much there was.
func shownText(c *capture, binary bool) string {
	if binary {
		return fmt.Sprintf("[binary output, %s, not shown]", byteCount(c.total))
	}
	return c.text()
}

// saveStream saves the full text of a cut stream in the sandbox (from the
// capture's spill file, or from whole when the caller has it) and appends
// the note saying what the model missed and where to find it.
func (s *Server) saveStream(ctx context.Context, n int64, stream string, c *capture, binary bool, whole []byte, notes []string) (string, []string) {
	if !c.truncated() && !binary {
		return "", notes
	}
	if whole == nil && !c.truncated() {
		// Binary output short enough to be kept whole.
		whole = c.all
	}
	what := fmt.Sprintf("%s was %s; the middle %s was cut.", stream, byteCount(c.total), byteCount(c.cut()))
	rerun := " To see it, rerun with the output redirected to a file and read that file with " + s.name("readFile") + " (offset and length) or search it with grep."
	read := ": read it with " + s.name("readFile") + " (offset and length) or search it with grep via " + s.name("exec") + "."
	if binary {
		what = fmt.Sprintf("%s is binary (%s with NUL bytes or mostly not text), so it is not shown.", stream, byteCount(c.total))
		rerun = " To see it, rerun with the output redirected to a file and inspect that file with xxd or od via " + s.name("exec") + "."
		read = ": inspect it with xxd or od via " + s.name("exec") + ", or read it with " + s.name("readFile") + " (binary data comes back as a resource)."
	}
	if s.o.SpillDir == "-" {
		return "", append(notes, what+rerun)
	}
	path := fmt.Sprintf("%s/%s-%d-%s.txt", strings.TrimRight(s.o.SpillDir, "/"), s.run, n, stream)
	err := s.sb.Mkdir(ctx, s.o.SpillDir)
	complete := true
	if err == nil {
		if whole != nil {
			if int64(len(whole)) > s.sb.Client().WriteLimit() {
				whole, complete = whole[:s.sb.Client().WriteLimit()], false
			}
			err = s.sb.WriteFileFrom(ctx, path, bytes.NewReader(whole), int64(len(whole)))
		} else if f, full := c.spillFile(); f != nil {
			complete = full
			var size int64
			if fi, serr := f.Stat(); serr == nil {
				size = fi.Size()
			}
			err = s.sb.WriteFileFrom(ctx, path, f, size)
		} else {
			err = c.spillErr
			if err == nil {
				err = fmt.Errorf("no local copy")
			}
		}
	}
	if err != nil {
		return "", append(notes, what+" Saving the full output in the sandbox failed ("+toolError(err).Code+")."+rerun)
	}
	note := what + " The full " + stream + " is in " + path + read
	if !complete {
		note = what + " The first " + byteCount(s.sb.Client().WriteLimit()) + " of it is in " + path + "." + rerun
	}
	return path, append(notes, note)
}

// progressOutput counts the bytes a running command has printed.
type progressOutput struct {
	mu    sync.Mutex
	bytes int64
}

func (p *progressOutput) wrap(w io.Writer) io.Writer {
	return writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		p.bytes += int64(len(b))
		p.mu.Unlock()
		return w.Write(b)
	})
}

func (p *progressOutput) total() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// reportProgress sends MCP progress notifications while a command runs,
// when the client asked for them with a progress token: the seconds
// elapsed (always increasing, as the protocol requires) and how much the
// command has printed. It returns the function that stops the reports.
func (s *Server) reportProgress(ctx context.Context, out *progressOutput) (stop func()) {
	req, _ := ctx.Value(requestKey{}).(*mcp.CallToolRequest)
	if req == nil || req.Params == nil || req.Session == nil {
		return func() {}
	}
	token := req.Params.GetProgressToken()
	if token == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	start := s.o.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(s.o.ProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				elapsed := s.o.Now().Sub(start)
				_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
					ProgressToken: token,
					Progress:      elapsed.Seconds(),
					Message:       fmt.Sprintf("running for %s; %s of output so far", elapsed.Round(time.Second), byteCount(out.total())),
				})
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
