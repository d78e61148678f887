package sandboxclient

import (
	"context"
	"encoding/json"
	"time"
)

// LogChunk is one chunk of a process log.
type LogChunk struct {
	Seq    int64  `json:"seq"`
	TS     int64  `json:"ts"`
	Stream string `json:"stream"`
	Data   string `json:"data"`
	Binary bool   `json:"binary,omitempty"`
}

// LogExit is a process's exit as reported by processLogs. Code follows
// ExecResult.ExitCode's rule: -1 when the number sent is not an integer
// that fits in 32 bits, CodeRaw keeping it as sent; a missing or
// non-numeric code is a bad answer, never 0.
type LogExit struct {
	Code int `json:"code"`
	// CodeRaw is the exit code exactly as the server sent it.
	CodeRaw json.Number `json:"-"`
	At      int64       `json:"at"`
	Reason  *string     `json:"reason,omitempty"`
}

// Logs is the result of processLogs.
type Logs struct {
	PID       int64      `json:"pid"`
	Chunks    []LogChunk `json:"chunks"`
	Text      string     `json:"text"`
	Cursor    int64      `json:"cursor"`
	Truncated bool       `json:"truncated"`
	Exit      *LogExit   `json:"exit"`
}

// LogOptions select a tail (Lines or Bytes) or the chunks after Cursor.
// Nil fields are left out.
type LogOptions struct {
	Cursor *int64 `json:"cursor,omitempty"`
	Lines  *int64 `json:"lines,omitempty"`
	Bytes  *int64 `json:"bytes,omitempty"`
}

// ProcessAck is the result of the process control ops.
type ProcessAck struct {
	OK  bool  `json:"ok"`
	PID int64 `json:"pid"`
}

// ListProcesses lists the sandbox's processes.
func (s *Sandbox) ListProcesses(ctx context.Context) ([]Process, error) {
	var r []Process
	if err := s.call(ctx, "listProcesses", nil, &r); err != nil {
		return nil, err
	}
	if r == nil {
		r = []Process{}
	}
	return r, nil
}

// ProcessLogs reads a process's log.
func (s *Sandbox) ProcessLogs(ctx context.Context, pid int64, opts LogOptions) (*Logs, error) {
	var r Logs
	if err := s.call(ctx, "processLogs", []any{pid, opts}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// FollowLogs polls processLogs as the SDK's attach stream does: first a tail
// of lines (0 means the server default), then by cursor every interval
// (clamped to 25ms–5s) until the process has exited. Each non-empty poll is
// passed to fn; an error from fn stops the loop. It returns the exit.
func (s *Sandbox) FollowLogs(ctx context.Context, pid int64, lines int64, interval time.Duration, fn func(*Logs) error) (*LogExit, error) {
	interval = min(max(interval, 25*time.Millisecond), 5*time.Second)
	opts := LogOptions{}
	if lines > 0 {
		opts.Lines = &lines
	}
	for {
		l, err := s.ProcessLogs(ctx, pid, opts)
		if err != nil {
			return nil, err
		}
		if len(l.Chunks) > 0 || l.Text != "" {
			if err := fn(l); err != nil {
				return nil, err
			}
		}
		if l.Exit != nil {
			return l.Exit, nil
		}
		cur := l.Cursor
		opts = LogOptions{Cursor: &cur}
		if err := sleep(ctx, interval); err != nil {
			return nil, err
		}
	}
}

func (s *Sandbox) processAck(ctx context.Context, op string, args []any) (*ProcessAck, error) {
	var r ProcessAck
	if err := s.call(ctx, op, args, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// KillProcess kills pid. Never retried.
func (s *Sandbox) KillProcess(ctx context.Context, pid int64) (*ProcessAck, error) {
	return s.processAck(ctx, "killProcess", []any{pid})
}

// SignalProcess sends a signal by name (SIGTERM, SIGINT, SIGKILL…).
func (s *Sandbox) SignalProcess(ctx context.Context, pid int64, signal string) (*ProcessAck, error) {
	return s.processAck(ctx, "signalProcess", []any{pid, signal})
}

// WriteProcessInput writes data to the process's stdin.
func (s *Sandbox) WriteProcessInput(ctx context.Context, pid int64, data string) (*ProcessAck, error) {
	return s.processAck(ctx, "writeProcessInput", []any{pid, data})
}

// EndProcessInput closes the process's stdin.
func (s *Sandbox) EndProcessInput(ctx context.Context, pid int64) (*ProcessAck, error) {
	return s.processAck(ctx, "endProcessInput", []any{pid})
}

// ResizeProcess sets the process terminal size.
func (s *Sandbox) ResizeProcess(ctx context.Context, pid int64, columns, rows int) (*ProcessAck, error) {
	return s.processAck(ctx, "resizeProcess", []any{pid, map[string]int{"columns": columns, "rows": rows}})
}
