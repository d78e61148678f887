package sandboxclient

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// LogChunk is one chunk of a process log.
type LogChunk struct {
	// Seq is the chunk's sequence number within the process's log (wire
	// "seq"); it increases by one per chunk, so a gap before the first
	// chunk means older ones were evicted.
	Seq int64 `json:"seq"`
	// TS is when the output was logged, in milliseconds since the Unix
	// epoch (wire "ts").
	TS int64 `json:"ts"`
	// Stream is "stdout" or "stderr" (wire "stream").
	Stream string `json:"stream"`
	// Data is the output text (wire "data"), at most 4 KiB per chunk;
	// when Binary is set it is a "[N bytes of binary output]\n" placeholder
	// instead of the bytes.
	Data string `json:"data"`
	// Binary reports that the output was not text and Data is a
	// placeholder (wire "binary"); false when the server omits it.
	Binary bool `json:"binary,omitempty"`
	// sequenced records that the server sent seq: only such a chunk can
	// be known to have been shown already (see FollowLogs).
	sequenced bool
}

// UnmarshalJSON decodes a chunk, noting whether it carries a seq.
func (c *LogChunk) UnmarshalJSON(data []byte) error {
	type plain LogChunk
	var w struct {
		*plain
		Seq *int64 `json:"seq"`
	}
	w.plain = (*plain)(c)
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	c.Seq, c.sequenced = 0, w.Seq != nil
	if w.Seq != nil {
		c.Seq = *w.Seq
	}
	return nil
}

// LogExit is a process's exit as reported by processLogs. Code follows
// ExecResult.ExitCode's rule: -1 when the number sent is not an integer
// that fits in 32 bits, CodeRaw keeping it as sent; a missing or
// non-numeric code is a bad answer, never 0.
type LogExit struct {
	// Code is the exit code (wire "code"), under the rule in the type's
	// comment; 124 after a timeout.
	Code int `json:"code"`
	// CodeRaw is the exit code exactly as the server sent it.
	CodeRaw json.Number `json:"-"`
	// At is when the process exited, in milliseconds since the Unix epoch
	// (wire "at").
	At int64 `json:"at"`
	// Reason says why the process ended when it did not exit by itself,
	// such as a signal name ("SIGKILL") or "timeout" (wire "reason"); nil
	// for a normal exit.
	Reason *string `json:"reason,omitempty"`
}

// Logs is the result of processLogs.
type Logs struct {
	// PID is the process the log belongs to (wire "pid").
	PID int64 `json:"pid"`
	// Chunks are the log chunks selected by the LogOptions, oldest first
	// (wire "chunks").
	Chunks []LogChunk `json:"chunks"`
	// Text is the Data of Chunks joined (wire "text"), for callers that
	// do not need the split by stream.
	Text string `json:"text"`
	// Cursor is the position after the last chunk returned (wire
	// "cursor"): pass it back as LogOptions.Cursor to get only newer
	// chunks.
	Cursor int64 `json:"cursor"`
	// Truncated reports that older chunks were evicted from the server's
	// 64 KiB log ring before they could be returned (wire "truncated"),
	// so output is missing.
	Truncated bool `json:"truncated"`
	// Exit is the process's exit (wire "exit"); nil while it runs. Stop
	// polling once it is set.
	Exit *LogExit `json:"exit"`
	// Lost is set by FollowLogs (it is not on the wire) on a poll by
	// cursor that reports Truncated: chunks were evicted from the log
	// ring after the previous poll and before this one, so output between
	// the two is missing. On the first poll, a tail, Truncated only says
	// that older output exists.
	Lost bool `json:"-"`
}

// LogOptions select a tail (Lines or Bytes) or the chunks after Cursor.
// Nil fields are left out.
type LogOptions struct {
	// Cursor asks for the chunks after a Logs.Cursor of an earlier call
	// (wire "cursor"); nil asks for a tail.
	Cursor *int64 `json:"cursor,omitempty"`
	// Lines is how many lines of tail to return when Cursor is nil (wire
	// "lines"); nil takes the server default of 200.
	Lines *int64 `json:"lines,omitempty"`
	// Bytes is how many bytes of tail to return when Cursor is nil (wire
	// "bytes"), used instead of the line default; nil leaves it out.
	Bytes *int64 `json:"bytes,omitempty"`
}

// ProcessAck is the result of the process control ops.
type ProcessAck struct {
	// OK is the server's "ok": false when the process does not exist, has
	// exited or could not take the action (a process without a terminal
	// cannot be resized), which is why it is a result rather than an
	// error.
	OK bool `json:"ok"`
	// PID is the pid the op was sent for (wire "pid").
	PID int64 `json:"pid"`
}

// ListProcesses lists the sandbox's processes.
func (s *Sandbox) ListProcesses(ctx context.Context) ([]Process, error) {
	var r []Process
	if err := s.call(ctx, "listProcesses", nil, &r); err != nil {
		return nil, err
	}
	for _, p := range r {
		if p.PID <= 0 {
			return nil, malformed("listProcesses", "a process has no pid")
		}
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

// FollowNew is the lines of FollowLogs that asks for no earlier output:
// only what the process writes from the first poll on (tail -f -n 0).
const FollowNew int64 = -1

// ProcessLogEnd returns the state of a process's log without its output:
// Cursor is the current end (pass it back to get only what comes next),
// Exit says whether the process has exited, Chunks and Text are empty.
// The API does not say what a tail of 0 lines is (a missing count gets
// the default of 200), so it reads a tail of one byte, at most one chunk,
// and drops it: the cursor of any tail is the end of the log.
func (s *Sandbox) ProcessLogEnd(ctx context.Context, pid int64) (*Logs, error) {
	one := int64(1)
	l, err := s.ProcessLogs(ctx, pid, LogOptions{Bytes: &one})
	if err != nil {
		return nil, err
	}
	l.Chunks, l.Text, l.Truncated = []LogChunk{}, "", false
	return l, nil
}

// FollowLogs polls processLogs as the SDK's attach stream does: first a tail
// of lines (0 means the server default; FollowNew, or any negative count,
// none: it starts at the current end, see ProcessLogEnd), then by cursor
// every interval (clamped to 25ms–5s) until the process has exited. Each
// poll with chunks, or with output lost since the previous one
// (Logs.Lost), is passed to fn; an error from fn stops the loop. It
// returns the exit. It polls a quiet process every interval too: a
// follow for long, by a user, wants FollowLogsPaced with a Pacer, which
// polls a quiet process less and less.
func (s *Sandbox) FollowLogs(ctx context.Context, pid int64, lines int64, interval time.Duration, fn func(*Logs) error) (*LogExit, error) {
	interval = ClampInterval(interval)
	return s.FollowLogsPaced(ctx, pid, lines, func(ctx context.Context, _ bool) error { return sleep(ctx, interval) }, fn)
}

// ClampInterval is the polling interval FollowLogs uses for interval:
// clamped to 25ms–5s, the SDK's bounds.
func ClampInterval(interval time.Duration) time.Duration {
	return min(max(interval, 25*time.Millisecond), 5*time.Second)
}

// FollowLogsPaced is FollowLogs with the wait between two polls left to
// wait, for a follower that polls faster or slower as it goes (a quiet
// process that will be sent nothing needs no poll ten times a second:
// see Pacer, whose Wait it takes). wait is called after each poll that
// did not bring the exit, output says whether that poll passed anything
// to fn, and the next poll is made once it returns; an error from it
// (ctx's end) stops the loop.
func (s *Sandbox) FollowLogsPaced(ctx context.Context, pid int64, lines int64, wait func(ctx context.Context, output bool) error, fn func(*Logs) error) (*LogExit, error) {
	opts := LogOptions{}
	if lines > 0 {
		opts.Lines = &lines
	}
	// The highest seq handed to fn: a chunk at or below it was shown
	// already. A server that does not move its cursor on (or sends old
	// chunks again) would otherwise have every poll print the same
	// output again, ten times a second, into a CI log without end.
	shown := int64(-1)
	for {
		var l *Logs
		var err error
		if lines < 0 && opts.Cursor == nil {
			l, err = s.ProcessLogEnd(ctx, pid)
		} else {
			l, err = s.ProcessLogs(ctx, pid, opts)
		}
		if err != nil {
			return nil, err
		}
		if opts.Cursor != nil && l.Cursor < *opts.Cursor {
			// Not a lag but another log: output would be shown twice
			// or, once seqs start over, hidden as if already shown.
			return nil, &Error{Code: CodeBadResponse, Message: fmt.Sprintf("processLogs: the log cursor went back from %d to %d", *opts.Cursor, l.Cursor)}
		}
		l.Chunks, l.Text = unseen(l.Chunks, l.Text, shown)
		for _, c := range l.Chunks {
			if c.sequenced {
				shown = max(shown, c.Seq)
			}
		}
		// A chatty process can fill the ring between two polls: what
		// was evicted is gone, and the caller must be able to say so
		// rather than print the rest as if it were the whole output.
		l.Lost = opts.Cursor != nil && l.Truncated
		output := len(l.Chunks) > 0 || l.Text != "" || l.Lost
		if output {
			if err := fn(l); err != nil {
				return nil, err
			}
		}
		if l.Exit != nil {
			return l.Exit, nil
		}
		cur := l.Cursor
		opts = LogOptions{Cursor: &cur}
		if err := wait(ctx, output); err != nil {
			return nil, err
		}
	}
}

// unseen drops the chunks at or below seq shown (all were handed out
// before), rebuilding text from the rest when any was dropped. A chunk
// without a seq cannot be placed and is kept.
func unseen(chunks []LogChunk, text string, shown int64) ([]LogChunk, string) {
	kept := chunks[:0:0]
	for _, c := range chunks {
		if !c.sequenced || c.Seq > shown {
			kept = append(kept, c)
		}
	}
	if len(kept) == len(chunks) {
		return chunks, text
	}
	var b strings.Builder
	for _, c := range kept {
		b.WriteString(c.Data)
	}
	return kept, b.String()
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
