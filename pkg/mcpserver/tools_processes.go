package mcpserver

import (
	"context"
	"fmt"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

type startProcessInput struct {
	Command string            `json:"command" jsonschema:"the shell command line to start in the background"`
	Cwd     string            `json:"cwd,omitempty" jsonschema:"working directory: absolute, or relative to the sandbox root"`
	Env     map[string]string `json:"env,omitempty" jsonschema:"environment variables for the process"`
	Restart string            `json:"restart,omitempty" jsonschema:"never (default) or on-failure: restart the process when it exits with an error"`
}

type pidInput struct {
	PID int64 `json:"pid" jsonschema:"the process id (from startProcess or listProcesses)"`
}

type signalInput struct {
	PID    int64  `json:"pid" jsonschema:"the process id"`
	Signal string `json:"signal" jsonschema:"signal name such as SIGTERM, SIGINT, SIGHUP or SIGKILL"`
}

type writeInput struct {
	PID  int64  `json:"pid" jsonschema:"the process id"`
	Data string `json:"data" jsonschema:"text written to the process's standard input (add \\n to end a line)"`
}

type resizeInput struct {
	PID     int64 `json:"pid" jsonschema:"the process id"`
	Columns int   `json:"columns" jsonschema:"terminal width in columns"`
	Rows    int   `json:"rows" jsonschema:"terminal height in rows"`
}

type logsInput struct {
	PID    int64  `json:"pid" jsonschema:"the process id"`
	Lines  *int64 `json:"lines,omitempty" jsonschema:"return the last N lines (default 200)"`
	Bytes  *int64 `json:"bytes,omitempty" jsonschema:"return the last N bytes instead of lines"`
	Cursor *int64 `json:"cursor,omitempty" jsonschema:"return only output after this cursor (from a previous logs result)"`
}

// LogsOutput is the logs tool's result.
type LogsOutput struct {
	// PID is the process the log belongs to.
	PID int64 `json:"pid"`
	// Text is the output, stdout and stderr interleaved; when longer than
	// Options.MaxOutput its start is cut, keeping the newest output. Binary
	// output (see ExecOutput.Stdout) is replaced by a marker.
	Text string `json:"text" jsonschema:"the output, stdout and stderr interleaved (its start is cut when longer than the limit)"`
	// Cursor is passed back as the cursor input to get only newer output.
	Cursor int64 `json:"cursor" jsonschema:"pass it back as cursor to get only newer output"`
	// Truncated reports that older output is missing: evicted by the
	// sandbox's log ring, or cut from Text here.
	Truncated bool `json:"truncated" jsonschema:"older output was dropped: by the sandbox's log ring, or cut here"`
	// Exit is the process's exit once it has ended; nil while it runs.
	Exit *sc.LogExit `json:"exit" jsonschema:"the exit, once the process has ended; null while it runs"`
	// Note says how much of Text was cut and how to avoid it; empty when
	// nothing was cut here.
	Note string `json:"note,omitempty"`
}

// ProcessesOutput is listProcesses's result.
type ProcessesOutput struct {
	// Processes are the sandbox's processes as
	// sandboxclient.Sandbox.ListProcesses returns them, with a nil Argv
	// made empty so the JSON never holds null there.
	Processes []sc.Process `json:"processes"`
}

func (s *Server) registerProcesses() {
	pid := func(js *jsonschema.Schema) { positive(js, "pid") }
	addTool(s, toolSpec{
		name: "startProcess", title: "Start a background process", openWorld: true,
		desc: "Start a long-running command (a server, a watcher) in the background and return its pid at once. " +
			"Read its output with " + s.name("logs") + ", stop it with " + s.name("killProcess") + ", reach its port with " + s.name("exposePort") + ".",
		schema: func(js *jsonschema.Schema) {
			nonEmpty(js, "command")
			enum(js, "restart", "never", "on-failure")
		},
	}, func(ctx context.Context, in startProcessInput) (*mcp.CallToolResult, *sc.StartResult, error) {
		if err := checkCwd(in.Cwd); err != nil {
			return nil, nil, err
		}
		r, err := s.sb.StartProcess(ctx, in.Command, sc.StartOptions{ExecOptions: sc.ExecOptions{Cwd: in.Cwd, Env: in.Env}, Restart: in.Restart})
		if err == nil && r.Ports == nil {
			r.Ports = []sc.Port{}
		}
		if err == nil && r.Process.Argv == nil {
			r.Process.Argv = []string{}
		}
		return nil, r, err
	})
	addTool(s, toolSpec{
		name: "killProcess", title: "Kill a process", destructive: true, idempotent: true,
		desc: "Kill a sandbox process (SIGKILL) and its children.", schema: pid,
	}, func(ctx context.Context, in pidInput) (*mcp.CallToolResult, *sc.ProcessAck, error) {
		r, err := s.sb.KillProcess(ctx, in.PID)
		return nil, r, err
	})
	addTool(s, toolSpec{
		name: "signalProcess", title: "Send a signal", destructive: true,
		desc: "Send a signal (SIGTERM, SIGINT, SIGHUP, SIGKILL…) to a sandbox process.",
		schema: func(js *jsonschema.Schema) {
			positive(js, "pid")
			js.Properties["signal"].Pattern = `^SIG[A-Z0-9]+$`
		},
	}, func(ctx context.Context, in signalInput) (*mcp.CallToolResult, *sc.ProcessAck, error) {
		r, err := s.sb.SignalProcess(ctx, in.PID, in.Signal)
		return nil, r, err
	})
	addTool(s, toolSpec{
		name: "writeProcessInput", title: "Write to a process's stdin",
		desc: "Write text to the standard input of a process started with " + s.name("startProcess") + ".", schema: pid,
	}, func(ctx context.Context, in writeInput) (*mcp.CallToolResult, *sc.ProcessAck, error) {
		r, err := s.sb.WriteProcessInput(ctx, in.PID, in.Data)
		return nil, r, err
	})
	addTool(s, toolSpec{
		name: "endProcessInput", title: "Close a process's stdin", idempotent: true,
		desc: "Close the standard input of a process (end of file).", schema: pid,
	}, func(ctx context.Context, in pidInput) (*mcp.CallToolResult, *sc.ProcessAck, error) {
		r, err := s.sb.EndProcessInput(ctx, in.PID)
		return nil, r, err
	})
	addTool(s, toolSpec{
		name: "resizeProcess", title: "Resize a process's terminal", idempotent: true,
		desc: "Set the terminal size of a process.",
		schema: func(js *jsonschema.Schema) {
			positive(js, "pid", "columns", "rows")
			js.Properties["columns"].Maximum = jsonschema.Ptr(1000.0)
			js.Properties["rows"].Maximum = jsonschema.Ptr(1000.0)
		},
	}, func(ctx context.Context, in resizeInput) (*mcp.CallToolResult, *sc.ProcessAck, error) {
		r, err := s.sb.ResizeProcess(ctx, in.PID, in.Columns, in.Rows)
		return nil, r, err
	})
	addTool(s, toolSpec{
		name: "logs", title: "Read a process's output", read: true,
		desc: "Read the output of a background process: the last lines by default, or only what came after cursor. " +
			"exit is set once the process has ended. The sandbox keeps 64 KiB of output per process.",
		schema: func(js *jsonschema.Schema) {
			positive(js, "pid")
			nonNegative(js, "lines", "bytes", "cursor")
		},
	}, s.logs)
	addTool(s, toolSpec{
		name: "listProcesses", title: "List processes", read: true,
		desc: "List the sandbox's processes with their pid, command, state and exit code.",
	}, func(ctx context.Context, _ struct{}) (*mcp.CallToolResult, ProcessesOutput, error) {
		ps, err := s.sb.ListProcesses(ctx)
		for i := range ps {
			if ps[i].Argv == nil {
				ps[i].Argv = []string{}
			}
		}
		return nil, ProcessesOutput{Processes: ps}, err
	})
}

func (s *Server) logs(ctx context.Context, in logsInput) (*mcp.CallToolResult, LogsOutput, error) {
	l, err := s.sb.ProcessLogs(ctx, in.PID, sc.LogOptions{Cursor: in.Cursor, Lines: in.Lines, Bytes: in.Bytes})
	if err != nil {
		return nil, LogsOutput{}, err
	}
	text, cut := tailText(l.Text, s.o.MaxOutput)
	out := LogsOutput{PID: l.PID, Text: text, Cursor: l.Cursor, Truncated: l.Truncated || cut > 0, Exit: l.Exit}
	if cut > 0 {
		out.Note = fmt.Sprintf("the first %s of this output were cut; ask for fewer lines or bytes, or poll with cursor more often", byteCount(cut))
	}
	if c := captureString(text, len(text)+2); c.binary() {
		// Escaped in JSON, binary output would cost the model several
		// times its size; cursor still moves past it.
		out.Text = fmt.Sprintf("[binary output, %s, not shown]", byteCount(int64(len(l.Text))))
		out.Truncated = true
		out.Note = "the process printed binary output (NUL bytes or mostly not text), not shown; have it write to a file in the sandbox and inspect that with xxd or od via " + s.name("exec")
	}
	if l.Exit != nil {
		setExit(ctx, l.Exit.Code)
	}
	return nil, out, nil
}
