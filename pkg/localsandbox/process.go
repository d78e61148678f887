package localsandbox

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/nimbus-sh/nimbus/internal/pipehup"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox/internal/sandboxinit"
	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// DefaultProcessLogBytes is the log ring of each background process when
// Options.ProcessLogBytes is 0: 64 KiB, as the Worker session's.
const DefaultProcessLogBytes = 64 << 10

// Log ring limits, as the session's: Options.ProcessLogBytes per process
// in chunks of at most 4 KiB; at most maxLogPIDs processes are remembered
// after exit, for logRetention.
const (
	logChunkBytes = 4 << 10
	maxLogPIDs    = 500
	logRetention  = 10 * time.Minute
	defaultLines  = 200
	// maxRestarts bounds restart:'on-failure' (with a growing pause), so a
	// command that always fails does not spin.
	maxRestarts = 3
)

// proc is a startProcess process: its log ring, stdin and exit.
type proc struct {
	sb      *sandbox
	pid     int64
	command string
	cwd     string
	execID  string
	start   time.Time
	restart string

	mu     sync.Mutex
	cmd    *sandboxinit.Cmd
	input  *inputQueue // standard input, fed in order
	chunks []logChunk
	size   int
	next   int64
	// pending is, per stream, an incomplete UTF-8 sequence held for
	// that stream's next chunk: the other stream's output is no
	// continuation of it.
	pending  map[string][]byte
	end      time.Time
	exitCode *int
	exitAt   int64
	reason   string
	killedBy string
	// signalled holds the signals a client sent this run (signalProcess),
	// bit n for signal n: a run ended by one of them was ended by the
	// client, not a failure, and restart:'on-failure' does not run it
	// again.
	signalled uint64
	restarts  int
	// restarting says the run ended and the next one waits for its
	// pause (restart:'on-failure'): no process runs, and a kill then
	// stops the restart.
	restarting bool
	endedChan  chan struct{}
}

type logChunk struct {
	seq    int64
	ts     int64
	stream string
	data   string
	binary bool
}

func (p *proc) exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitCode != nil
}

// kill signals the shell's process group; it reports whether the process
// was running. Whatever else the process started ends with the shell.
func (p *proc) kill(sig syscall.Signal, why string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exitCode != nil || p.cmd == nil {
		return false
	}
	if p.restarting {
		// Between two runs: nothing to signal, but a kill (or a timeout)
		// is not to be undone by the next run.
		if why == "" {
			return false
		}
		p.killedBy = why
		return true
	}
	if why != "" {
		p.killedBy = why
	} else if sig > 0 && sig < 64 {
		p.signalled |= 1 << sig
	}
	return p.cmd.Signal(sig) == nil
}

// destroyed records that destroy killed the process (through the
// sandbox's running commands); it reports whether it was running.
func (p *proc) destroyed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exitCode != nil || p.cmd == nil {
		return false
	}
	p.killedBy = "destroyed"
	return true
}

// appendLog adds output to the ring, in chunks of at most 4 KiB, evicting
// the oldest chunks beyond Options.ProcessLogBytes (the newest chunk
// stays, whatever its size).
func (p *proc) appendLog(stream string, b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.appendLogLocked(stream, b, false)
}

// appendNotice logs a line of the server's own on stream. It continues
// nothing the process wrote: a character the process left unfinished
// there is logged first, on its own, or the notice would be read as its
// continuation and become binary output with it.
func (p *proc) appendNotice(stream, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending[stream]) > 0 {
		p.appendLogLocked(stream, nil, true)
	}
	p.appendLogLocked(stream, []byte(line), false)
}

// appendLogLocked is appendLog with p.mu held; final logs a trailing
// incomplete UTF-8 sequence too (as binary output), as no more comes.
func (p *proc) appendLogLocked(stream string, b []byte, final bool) {
	data := append(p.pending[stream], b...)
	delete(p.pending, stream)
	// Hold back a trailing incomplete UTF-8 sequence.
	if cut := incompleteTail(data); cut > 0 && !final {
		if p.pending == nil {
			p.pending = map[string][]byte{}
		}
		p.pending[stream] = append([]byte(nil), data[len(data)-cut:]...)
		data = data[:len(data)-cut]
	}
	now := p.sb.s.opts.Now().UnixMilli()
	for len(data) > 0 {
		n := min(len(data), logChunkBytes)
		piece := data[:n]
		data = data[n:]
		ch := logChunk{seq: p.next, ts: now, stream: stream}
		if validText(piece) {
			ch.data = string(piece)
		} else {
			ch.data, ch.binary = "["+strconv.Itoa(len(piece))+" bytes of binary output]\n", true
		}
		p.next++
		p.chunks = append(p.chunks, ch)
		p.size += len(ch.data)
		for p.size > p.sb.s.opts.ProcessLogBytes && len(p.chunks) > 1 {
			p.size -= len(p.chunks[0].data)
			p.chunks = p.chunks[1:]
		}
	}
}

// flushPendingLocked logs the incomplete UTF-8 sequences held back, as
// binary output on their streams, when no more output will complete them
// (appendLog would hold them back again); p.mu is held.
func (p *proc) flushPendingLocked() {
	for _, stream := range []string{"stdout", "stderr"} {
		if len(p.pending[stream]) > 0 {
			p.appendLogLocked(stream, nil, true)
		}
	}
}

// incompleteTail returns how many trailing bytes are the start of a UTF-8
// sequence still missing its continuation bytes (0 to 3), so a character
// split across two reads is not mistaken for binary output.
func incompleteTail(b []byte) int {
	for i := 1; i <= 3 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c&0xC0 == 0x80 {
			continue
		}
		if c >= 0xC2 && c <= 0xF4 && !utf8.FullRune(b[len(b)-i:]) {
			return i
		}
		return 0
	}
	return 0
}

type procWriter struct {
	p      *proc
	stream string
}

func (w procWriter) Write(b []byte) (int, error) {
	w.p.appendLog(w.stream, b)
	return len(b), nil
}

func (p *proc) info() map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	state := "running"
	var exit, end any
	if p.exitCode != nil {
		state = "exited"
		if p.reason != "" {
			state = "killed"
		}
		exit, end = *p.exitCode, p.end.UnixMilli()
	}
	out := map[string]any{
		"pid": p.pid, "command": p.command, "argv": []string{p.command}, "cwd": p.cwd,
		"state": state, "exitCode": exit, "startTime": p.start.UnixMilli(), "endTime": end,
		"longRunning": true, "attachedTty": false,
	}
	if p.execID != "" {
		out["execId"] = p.execID
	}
	return out
}

// startProcess starts a background process and returns once it has a pid.
func (sb *sandbox) startProcess(c *sandboxserver.Call) (any, bool, *sandboxserver.Error) {
	if sb.s.opts.NoBackground {
		return nil, false, sandboxserver.RPCError("background processes are not available with this backend: " + sb.s.opts.NoBackgroundHint)
	}
	command, aerr := c.Str(0, "command")
	if aerr != nil {
		return nil, false, aerr
	}
	o, aerr := execOpts(c, 1)
	if aerr != nil {
		return nil, false, aerr
	}
	restart, _ := o["restart"].(string)
	if v, has := o["restart"]; has && restart != "never" && restart != "on-failure" {
		return nil, false, sandboxserver.RPCError("restart must be 'never' or 'on-failure', got " + jsString(v))
	}
	// A background process never holds a named shell.
	delete(o, "shellId")
	req, aerr := sb.prepare(c, command, command, o)
	if aerr != nil {
		return nil, false, aerr
	}
	sb.mu.Lock()
	if sb.closed {
		sb.mu.Unlock()
		return nil, false, sandboxserver.RPCError("cannot start process: " + errBackendClosed.Error())
	}
	if len(sb.procs) >= maxLogPIDs {
		sb.pruneLocked()
	}
	pid := sb.nextPID
	sb.nextPID++
	sb.mu.Unlock()
	p := &proc{sb: sb, pid: pid, command: command, cwd: req.cwd, start: sb.s.opts.Now(), restart: restart, endedChan: make(chan struct{})}
	p.execID, _ = o["execId"].(string)
	// The shell is registered with the sandbox's running commands as it
	// starts, which orders it with destroy.
	if err := sb.spawn(p, req); err != nil {
		if e := startOverloaded(err); e != nil {
			return nil, false, e
		}
		return nil, false, sandboxserver.RPCError("cannot start process: " + sb.startErrText("startProcess", err))
	}
	sb.mu.Lock()
	sb.procs[pid] = p
	sb.mu.Unlock()
	info := p.info()
	return map[string]any{"command": command, "pid": pid, "startedAt": p.start.UnixMilli(), "process": info, "ports": []any{}}, true, nil
}

// spawn starts (or restarts) the process and a goroutine that waits for it.
func (sb *sandbox) spawn(p *proc, req *execReq) error {
	stdinR, stdin, err := os.Pipe()
	if err != nil {
		return err
	}
	// Stdout and Stderr are not *os.File, so Wait also waits for the
	// copying; a background job holding them open is cut off after this.
	cmd, _, err := sb.launch(req, []string{sb.s.opts.Shell, "-c", req.script}, launchIO{
		stdin:  func() io.Reader { return stdinR },
		stdout: procWriter{p, "stdout"}, stderr: procWriter{p, "stderr"},
		waitDelay: time.Second,
	})
	stdinR.Close()
	if err != nil {
		stdin.Close()
		return err
	}
	input := newInputQueue(stdin, stdin, maxPendingInput)
	// The process closed its input, or exited, though the wait for it
	// may not have ended yet.
	if rc, err := stdin.SyscallConn(); err == nil {
		input.gone = func() bool { return pipehup.ReaderGone(rc) }
	}
	if req.stdin != nil {
		_ = input.write(*req.stdin, true)
	}
	p.mu.Lock()
	p.cmd, p.input = cmd, input
	p.mu.Unlock()
	var timer *time.Timer
	if req.timeout > 0 {
		timer = time.AfterFunc(time.Duration(req.timeout*float64(time.Millisecond)), func() {
			if p.kill(syscall.SIGKILL, "timeout") {
				p.appendNotice("stderr", "command timed out after "+strconv.FormatFloat(req.timeout, 'f', -1, 64)+"ms\n")
			}
		})
	}
	go func() {
		ex, _ := cmd.Wait()
		// Nothing reads the input any more (a restart gets a new pipe).
		input.close()
		sb.untrack(cmd)
		if timer != nil {
			timer.Stop()
		}
		code, reason := exitCode(ex), ""
		if ex.Signal != 0 {
			reason = signalName(ex.Signal)
		}
		p.mu.Lock()
		// What the run still holds will not be completed, by it or by a
		// restart (a new run, whose output continues nothing): it is
		// logged now, on its own stream.
		p.flushPendingLocked()
		if p.killedBy == "timeout" {
			code, reason = 124, "timeout"
		}
		if ex.Signal > 0 && ex.Signal < 64 && p.signalled&(1<<ex.Signal) != 0 && p.killedBy == "" {
			// Ended by a signal a client sent: a stop, as a kill is
			// (the Worker re-drives a crash only), and no failure.
			p.killedBy = reason
		}
		p.signalled = 0
		again := p.restart == "on-failure" && code != 0 && p.killedBy == "" && p.restarts < maxRestarts
		if again {
			p.restarts++
			p.restarting = true
			p.mu.Unlock()
			time.Sleep(time.Duration(p.restarts) * 200 * time.Millisecond)
			if beforeRestart != nil {
				beforeRestart()
			}
			p.mu.Lock()
			killed := p.killedBy != ""
			p.restarting = false
			p.mu.Unlock()
			// Outside an operation: the restart holds the directory itself.
			if !killed && sb.acquireRoot() == nil {
				err := sb.spawn(p, req)
				sb.releaseRoot()
				if err == nil {
					return
				}
			}
			p.mu.Lock()
			if killed {
				// Killed while it waited to run again: it ends as a
				// killed process does.
				code, reason = 128+int(syscall.SIGKILL), signalName(syscall.SIGKILL)
			}
		}
		p.exitCode = &code
		p.end = sb.s.opts.Now()
		p.exitAt = p.end.UnixMilli()
		p.reason = reason
		p.mu.Unlock()
		close(p.endedChan)
	}()
	return nil
}

// beforeRestart, when set (by tests), runs when a process's pause before
// its restart is over, before the restart.
var beforeRestart func()

// pruneLocked forgets the oldest exited processes beyond the limits.
func (sb *sandbox) pruneLocked() {
	cutoff := sb.s.opts.Now().Add(-logRetention)
	for pid, p := range sb.procs {
		p.mu.Lock()
		old := p.exitCode != nil && (p.end.Before(cutoff) || len(sb.procs) >= maxLogPIDs)
		p.mu.Unlock()
		if old {
			delete(sb.procs, pid)
		}
	}
}

func signalName(s os.Signal) string {
	for _, e := range signals {
		if e.sig == s {
			return e.name
		}
	}
	return s.String()
}

// signalNamed returns the signal of a name such as "SIGTERM".
func signalNamed(name string) (syscall.Signal, bool) {
	for _, e := range signals {
		if e.name == name {
			return e.sig, true
		}
	}
	return 0, false
}

func (sb *sandbox) proc(pid int64) *proc {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.procs[pid]
}

func (sb *sandbox) processOp(c *sandboxserver.Call) (any, bool, *sandboxserver.Error) {
	if c.Op == "listProcesses" {
		sb.mu.Lock()
		sb.pruneLocked()
		ps := make([]*proc, 0, len(sb.procs))
		for _, p := range sb.procs {
			ps = append(ps, p)
		}
		sb.mu.Unlock()
		out := make([]any, 0, len(ps))
		for _, p := range ps {
			out = append(out, p.info())
		}
		sortByPID(out)
		return out, true, nil
	}
	f, aerr := c.Num(0, "pid")
	if aerr != nil {
		return nil, false, aerr
	}
	// The answers name the pid as sent (the Worker's Number(pid)); one
	// that is no integer names no process, rather than the one it would
	// truncate to.
	var pidOut any = f
	var p *proc
	pid := int64(f)
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		pidOut = pid
		p = sb.proc(pid)
	}
	ack := func(ok bool) (any, bool, *sandboxserver.Error) {
		return map[string]any{"ok": ok, "pid": pidOut}, true, nil
	}
	switch c.Op {
	case "processLogs":
		return sb.logs(c, pidOut, p)
	case "killProcess":
		return ack(p != nil && p.kill(syscall.SIGKILL, "SIGKILL"))
	case "signalProcess":
		name, aerr := c.Str(1, "signal")
		if aerr != nil {
			return nil, false, aerr
		}
		sig, ok := signalNamed(strings.ToUpper(name))
		if !ok {
			if n, err := strconv.Atoi(name); err == nil && n > 0 && n < 65 {
				sig, ok = syscall.Signal(n), true
			}
		}
		if !ok {
			return nil, false, sandboxserver.RPCError("Unknown signal: " + name)
		}
		return ack(p != nil && p.kill(sig, ""))
	case "writeProcessInput":
		data, aerr := c.Str(1, "data")
		if aerr != nil {
			return nil, false, aerr
		}
		if p == nil || p.exited() {
			return ack(false)
		}
		p.mu.Lock()
		in := p.input
		p.mu.Unlock()
		switch err := in.write(data, false); {
		case errors.Is(err, errInputFull):
			return nil, false, sandboxserver.RPCError("EAGAIN: process " + strconv.FormatInt(pid, 10) + " is not reading its input: " + strconv.Itoa(maxPendingInput>>20) + " MiB wait for it already; nothing was written")
		case err != nil:
			return ack(false)
		}
		return ack(true)
	case "endProcessInput":
		if p == nil || p.exited() {
			return ack(false)
		}
		p.mu.Lock()
		in := p.input
		p.mu.Unlock()
		return ack(in.end())
	default: // resizeProcess
		o := c.Obj(1)
		for _, k := range []string{"columns", "rows"} {
			if _, ok := sandboxserver.Number(o[k], o[k] != nil); !ok {
				return nil, false, sandboxserver.ArgError(k + " must be a number")
			}
		}
		// Local processes have no terminal to resize.
		return ack(false)
	}
}

func (sb *sandbox) logs(c *sandboxserver.Call, pid any, p *proc) (any, bool, *sandboxserver.Error) {
	o := c.Obj(1)
	opt := map[string]int64{}
	// As the Worker: a value that is no number is an argument error (null
	// is 0); a number that is negative or fractional fails in the session.
	for _, k := range []string{"cursor", "lines", "bytes"} {
		v, has := o[k]
		if !has {
			continue
		}
		f, ok := sandboxserver.Number(v, true)
		if !ok {
			return nil, false, sandboxserver.ArgError(k + " must be a number")
		}
		opt[k] = int64(f)
		if f < 0 || f != float64(int64(f)) {
			return nil, false, sandboxserver.RPCError(k + " must be a non-negative integer, got " + sandboxserver.JSNumber(f))
		}
	}
	if p == nil {
		n := fmt.Sprint(pid)
		if f, ok := pid.(float64); ok {
			n = sandboxserver.JSNumber(f)
		}
		return nil, false, sandboxserver.RPCError("no such process: " + n)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var chunks []logChunk
	truncated := false
	if cur, ok := opt["cursor"]; ok {
		for _, ch := range p.chunks {
			if ch.seq >= cur {
				chunks = append(chunks, ch)
			}
		}
		truncated = len(p.chunks) > 0 && p.chunks[0].seq > cur
	} else {
		chunks = p.chunks[tailStart(p.chunks, opt):]
	}
	out := make([]any, 0, len(chunks))
	var text strings.Builder
	for _, ch := range chunks {
		m := map[string]any{"seq": ch.seq, "ts": ch.ts, "stream": ch.stream, "data": ch.data}
		if ch.binary {
			m["binary"] = true
		}
		out = append(out, m)
		text.WriteString(ch.data)
	}
	var exit any
	if p.exitCode != nil {
		e := map[string]any{"code": *p.exitCode, "at": p.exitAt}
		if p.reason != "" {
			e["reason"] = p.reason
		}
		exit = e
	}
	return map[string]any{"pid": pid, "chunks": out, "text": text.String(), "cursor": p.next, "truncated": truncated, "exit": exit}, true, nil
}

// tailStart is the index of the first chunk of a tail read, as the
// Worker's ProcessLogStore finds it: walking back from the newest chunk,
// the chunk that brings the count to the lines (or bytes) asked for is
// included, so a tail holds at least what was asked when the ring has it;
// 0 asks for nothing. "bytes" wins over "lines", which defaults to 200.
// A tail is never "truncated": the Worker reports that only for a cursor.
func tailStart(chunks []logChunk, opt map[string]int64) int {
	limit, byBytes := opt["bytes"]
	if !byBytes {
		limit = defaultLines
		if l, ok := opt["lines"]; ok {
			limit = l
		}
	}
	if limit == 0 {
		return len(chunks)
	}
	count := int64(0)
	for i := len(chunks) - 1; i >= 0; i-- {
		if byBytes {
			count += int64(len(chunks[i].data))
		} else {
			count += int64(strings.Count(chunks[i].data, "\n"))
		}
		if count >= limit {
			return i
		}
	}
	return 0
}

func sortByPID(l []any) {
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && l[j].(map[string]any)["pid"].(int64) < l[j-1].(map[string]any)["pid"].(int64); j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
}
