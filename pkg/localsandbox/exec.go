package localsandbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox/internal/sandboxinit"
	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// shell is a named shell: its cwd and environment persist between calls,
// and calls on it run one at a time.
type shell struct {
	mu  sync.Mutex
	cwd string
	env map[string]string
}

// execReq is one command ready to run.
type execReq struct {
	command string // reported in results
	script  string // what the shell runs
	cwd     string // sandbox path
	hostCwd string
	// shellEnv is a named shell's environment (nil: a fresh one) and
	// optEnv the call's env option, applied over it.
	shellEnv map[string]string
	optEnv   map[string]string
	stdin    *string
	timeout  float64 // ms; 0 means none
	sh       *shell  // named shell (locked by prepare), or nil
	arg      string  // the command, as $1 of a named shell's wrapper
	nonce    string  // marks the named shell's state report (shellstate.go)
}

// prepare validates the exec options and resolves cwd, env and the named
// shell. On success with a named shell, the shell is locked: call done.
func (sb *sandbox) prepare(c *sandboxserver.Call, command, script string, o map[string]any) (*execReq, *sandboxserver.Error) {
	req := &execReq{command: command, script: script, timeout: timeoutMs(o)}
	if s, ok := o["stdin"].(string); ok {
		req.stdin = &s
	}
	if id, _ := o["shellId"].(string); id != "" {
		sb.mu.Lock()
		sh := sb.shells[id]
		if sh == nil {
			root, _ := o["shellRoot"].(string)
			if root == "" {
				root = c.Root
			}
			sh = &shell{cwd: cleanPath(root)}
			sb.shells[id] = sh
		}
		sb.mu.Unlock()
		sh.mu.Lock()
		req.sh = sh
		req.cwd = sh.cwd
	} else {
		req.cwd = c.Root
	}
	if cwd, _ := o["cwd"].(string); cwd != "" {
		req.cwd = cleanPath(cwd)
	}
	host, aerr := sb.hostDir(req.cwd)
	if aerr != nil && req.cwd == c.Root {
		// The root is made when missing (a command may have removed it).
		if aerr = sb.ensureDir(req.cwd); aerr == nil {
			host, aerr = sb.hostDir(req.cwd)
		}
	}
	if aerr != nil {
		req.done()
		return nil, aerr
	}
	req.hostCwd = host
	if req.sh != nil && req.sh.env != nil {
		req.shellEnv = map[string]string{}
		for k, v := range req.sh.env {
			req.shellEnv[k] = v
		}
	}
	if m, ok := o["env"].(map[string]any); ok {
		req.optEnv = map[string]string{}
		for k, v := range m {
			req.optEnv[k], _ = v.(string)
		}
	}
	if req.sh != nil {
		// The wrapper reports the shell's final cwd and environment on fd 3
		// so the next call on this shell starts from them.
		req.nonce = newNonce()
		req.script = shellWrapper(req.nonce)
		req.arg = script
	}
	return req, nil
}

// done releases the named shell.
func (r *execReq) done() {
	if r.sh != nil {
		r.sh.mu.Unlock()
	}
}

// baseEnv is the environment of a fresh shell: the host environment the
// server was given, with HOME and TMPDIR inside the sandbox (by their
// paths in the namespaces when ns, else by host paths).
func (sb *sandbox) baseEnv(ns bool) map[string]string {
	env := map[string]string{}
	for _, kv := range sb.s.opts.HostEnv {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			env[k] = v
		}
	}
	env["HOME"] = filepath.Join(sb.dir, "home", "user")
	env["TMPDIR"] = filepath.Join(sb.dir, "tmp")
	if ns {
		env["HOME"], env["TMPDIR"] = "/home/user", "/tmp"
	}
	env["NIMBUS_SANDBOX_ID"] = sb.id
	env["NIMBUS_SANDBOX_DIR"] = sb.dir
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
	}
	return env
}

func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// errBackendClosed: the sandbox was destroyed before the command started.
var errBackendClosed = errors.New("sandbox destroyed")

// pumpBufs hold the buffers output is read into, by size: a command
// starts with a small one and moves up while its reads fill the buffer,
// so a quiet command costs 4 KiB (reused) and a stream gets frames of up
// to 256 KiB.
var pumpBufs = [3]sync.Pool{
	{New: func() any { b := make([]byte, 4<<10); return &b }},
	{New: func() any { b := make([]byte, 64<<10); return &b }},
	{New: func() any { b := make([]byte, 256<<10); return &b }},
}

func getPumpBuf(level int) []byte { return *pumpBufs[level].Get().(*[]byte) }

func putPumpBuf(b []byte, level int) { pumpBufs[level].Put(&b) }

// execution is a started command: its output pipes, the named shell's
// state pipe, and the init that runs it.
type execution struct {
	req          *execReq
	cmd          *sandboxinit.Cmd
	mode         sandboxinit.Mode
	outR, errR   *os.File
	pump         *pump
	stateR       *os.File
	pipesToClose []*os.File
	// stopped is closed once the command is being stopped (a timeout,
	// the caller's context, an out error); set by wait.
	stopped <-chan struct{}
}

// startExec starts req's command. On failure (nothing started) the named
// shell is released; otherwise wait must be called.
func (sb *sandbox) startExec(req *execReq) (*execution, error) {
	argv := []string{sb.s.opts.Shell, "-c", req.script}
	if req.sh != nil {
		argv = append(argv, "sh", req.arg)
	}
	var lio launchIO
	if req.stdin != nil {
		lio.stdin = func() io.Reader { return strings.NewReader(*req.stdin) }
	}
	x := &execution{req: req}
	fail := func(err error) (*execution, error) {
		for _, f := range x.pipesToClose {
			f.Close()
		}
		if x.pump != nil {
			x.pump.close()
		}
		req.done()
		return nil, err
	}
	pipe := func(newPipe func() (*os.File, *os.File, error)) (r, w *os.File, err error) {
		if r, w, err = newPipe(); err == nil {
			x.pipesToClose = append(x.pipesToClose, r, w)
		}
		return r, w, err
	}
	outR, outW, err := pipe(outputPipe)
	if err != nil {
		return fail(err)
	}
	errR, errW, err := pipe(outputPipe)
	if err != nil {
		return fail(err)
	}
	growPipe(outW)
	if x.pump, err = newPump(outR, errR); err != nil {
		return fail(err)
	}
	lio.stdout, lio.stderr = outW, errW
	var stateW *os.File
	if req.sh != nil {
		if x.stateR, stateW, err = pipe(os.Pipe); err != nil {
			return fail(err)
		}
		lio.extra = []*os.File{stateW}
	}
	cmd, mode, err := sb.launch(req, argv, lio)
	if err != nil {
		return fail(err)
	}
	// The shell has its copies of the write ends.
	outW.Close()
	errW.Close()
	if stateW != nil {
		stateW.Close()
	}
	x.cmd, x.mode, x.outR, x.errR = cmd, mode, outR, errR
	return x, nil
}

// wait pumps the command's output to out (kind 1 stdout, 2 stderr), and
// a named shell's state stream, from this goroutine, until the command and everything it started have ended,
// and returns its exit code. Cancelling ctx or an out error kills the
// command and everything it started. On timeout the exit code is 124 after
// a stderr line "command timed out after <N>ms".
func (x *execution) wait(ctx context.Context, sb *sandbox, out func(kind byte, p []byte) error) (int, error) {
	req, cmd := x.req, x.cmd
	defer req.done()
	defer sb.untrack(cmd)
	defer func() {
		x.pump.close()
		for _, f := range x.pipesToClose {
			f.Close()
		}
	}()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	x.stopped = runCtx.Done()
	stop := context.AfterFunc(runCtx, cmd.Kill)
	defer stop()
	var timedOut atomic.Bool
	var timer *time.Timer
	if req.timeout > 0 {
		timer = time.AfterFunc(time.Duration(req.timeout*float64(time.Millisecond)), func() {
			if x.pump.endReported() {
				// It ended in time; this goroutine has not noticed
				// yet, held by a client slow to take the output.
				return
			}
			timedOut.Store(true)
			cancel()
		})
	}
	var state []byte
	stateDone := make(chan struct{})
	statePumped := x.stateR != nil && x.pump.watchState(x.stateR) == nil
	if x.stateR != nil && !statePumped {
		go func() {
			state = readTail(x.stateR)
			close(stateDone)
		}()
	} else {
		close(stateDone)
	}
	// A one-shot shell ends with its command: Wait returns once whatever
	// it started is gone too, so nothing holds the output open (without
	// an init, only its process group is killed).
	var ex sandboxinit.Exit
	waited := false
	ended := func() {
		ex, _ = cmd.Wait()
		waited = true
		if timer != nil {
			timer.Stop()
		}
		// Output already written is read to the end; a process that
		// escaped the group and holds the pipes open is cut off after a
		// grace period.
		x.pump.cutOff(time.Now().Add(2 * time.Second))
		if x.stateR != nil {
			_ = x.stateR.SetReadDeadline(time.Now().Add(2 * time.Second))
		}
	}
	// This goroutine pumps the output and notices the end itself, on the
	// descriptor the init reports it on; only a command without one (no
	// init) has a goroutine of its own block in Wait.
	var waitDone chan struct{}
	fd, known := cmd.EndFd()
	switch {
	case known:
		ended()
	case fd < 0 || x.pump.watchEnd(fd) != nil:
		waitDone = make(chan struct{})
		go func() {
			defer close(waitDone)
			ended()
		}()
	}
	for !x.pump.run(out, cancel) {
		ended()
	}
	if waitDone != nil {
		<-waitDone
	} else if !waited {
		ended()
	}
	<-stateDone
	if statePumped {
		state = x.pump.stateTail()
	}
	code := exitCode(ex)
	if timedOut.Load() && ctx.Err() == nil {
		_ = out(2, []byte("command timed out after "+strconv.FormatFloat(req.timeout, 'f', -1, 64)+"ms\n"))
		return 124, nil
	}
	if report, ok := parseState(state, req.nonce); req.sh != nil && ok {
		sb.saveShell(req.sh, report, x.mode == sandboxinit.Namespaces)
		sb.forgetCallEnv(req, x.mode == sandboxinit.Namespaces)
	}
	if err := ctx.Err(); err != nil {
		return code, err
	}
	return code, nil
}

// execStartError answers a command that could not be started: 503 with
// Retry-After when the server is out of descriptors or processes, else
// the Worker's "exec failed".
func (sb *sandbox) execStartError(err error) *sandboxserver.Error {
	if e := startOverloaded(err); e != nil {
		return e
	}
	return sandboxserver.RPCError("exec failed: " + sb.startErrText("exec", err))
}

// startErrText is the text of a command's failure to start as a client
// may see it: the host's text names the sandbox's host directory (the
// init's "chdir <dir>: permission denied" in host-paths isolation, its
// "open <dir>" in namespaces), which becomes the sandbox path; any other
// host path leaves only the errno. The full text goes to the server's log.
func (sb *sandbox) startErrText(what string, err error) string {
	full := err.Error()
	t := strings.ReplaceAll(full, sb.dir+"/", "/")
	t = strings.ReplaceAll(t, sb.dir, "/")
	if strings.Contains(t, sb.s.opts.DataDir) {
		t = hostErrText(err)
	}
	if rest, ok := strings.CutPrefix(t, "fork/exec /"); ok {
		// The program that did not start is the host's shell: the
		// terminal's is the operator's $SHELL, often under their home
		// (and so unseen in namespaces). Its name says enough.
		if i := strings.LastIndex(rest, ": "); i >= 0 {
			t = "fork/exec " + filepath.Base(rest[:i]) + rest[i:]
		}
	}
	if t != full {
		sb.s.logHost(what, sb.id, err)
	}
	return t
}

// forgetCallEnv takes the call's env option back out of the named shell's
// saved environment ("merged over the shell environment for this call"),
// unless the command itself changed the variable: a name goes back to what
// the shell had before the call (a fresh shell's being baseEnv), or away.
func (sb *sandbox) forgetCallEnv(req *execReq, ns bool) {
	if req.sh.env == nil || len(req.optEnv) == 0 {
		return
	}
	prior := req.shellEnv
	if prior == nil {
		prior = sb.baseEnv(ns)
	}
	for k, v := range req.optEnv {
		if cur, ok := req.sh.env[k]; !ok || cur != v {
			continue
		}
		if old, had := prior[k]; had {
			req.sh.env[k] = old
		} else {
			delete(req.sh.env, k)
		}
	}
}

// saveShell records a named shell's final cwd and environment, as reported
// by its exit trap: "pwd\n" then NUL-separated env -0 output. The cwd is a
// host path inside the sandbox or, in namespaces (ns), a path under
// /home/user or /tmp.
func (sb *sandbox) saveShell(sh *shell, state []byte, ns bool) {
	line, rest, ok := bytes.Cut(state, []byte("\n"))
	if !ok {
		return
	}
	if r, err := filepath.Rel(sb.dir, string(line)); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
		sh.cwd = cleanPath(filepath.ToSlash(r))
	} else if ns && inView(string(line)) {
		sh.cwd = cleanPath(string(line))
	}
	env := map[string]string{}
	for _, kv := range bytes.Split(rest, []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		if !ok || k == "" {
			continue
		}
		switch k {
		case "PWD", "OLDPWD", "SHLVL", "_", "__nimbus_rc":
			continue
		}
		env[k] = v
	}
	if len(env) > 0 {
		sh.env = env
	}
}

// execBuffered runs exec and runCode: the output is collected and answered
// as an ExecResult once the command has exited.
func (sb *sandbox) execBuffered(ctx context.Context, c *sandboxserver.Call) (any, bool, *sandboxserver.Error) {
	var cmdText string
	var o map[string]any
	var aerr *sandboxserver.Error
	if c.Op == "runCode" {
		// The Worker's order: options, the runtime policy, then the code.
		o, aerr = execOpts(c, 1)
	} else if cmdText, aerr = c.Str(0, "command"); aerr == nil {
		o, aerr = execOpts(c, 1)
	}
	if aerr != nil {
		return nil, false, aerr
	}
	command, script := cmdText, cmdText
	if c.Op == "runCode" {
		var missing string
		command, script, missing, aerr = sb.codeScript(ctx, c, o)
		if aerr != nil {
			return nil, false, aerr
		}
		if missing != "" {
			now := sb.s.opts.Now()
			return map[string]any{"command": command, "exitCode": 127, "success": false, "duration": 0, "timestamp": now.UnixMilli(), "stdout": "", "stderr": missing}, true, nil
		}
	}
	req, aerr := sb.prepare(c, command, script, o)
	if aerr != nil {
		return nil, false, aerr
	}
	// The output is charged to the server's budget for buffered output
	// until the answer is written (Admit), or until this returns.
	hold, release := sb.s.holdFor(c)
	defer release()
	limit := sb.s.opts.MaxBufferedOutput
	var stdout, stderr limitedBuffer
	stdout.limit, stderr.limit = limit, limit
	start := sb.s.opts.Now()
	x, err := sb.startExec(req)
	if err != nil {
		return nil, false, sb.execStartError(err)
	}
	var mu sync.Mutex
	var lost *sandboxserver.Error // output that could not be kept
	charge := func(n int64) *sandboxserver.Error { return hold.take(n, x.stopped) }
	code, err := x.wait(ctx, sb, func(kind byte, p []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if lost != nil {
			return lost
		}
		b := &stdout
		if kind != 1 {
			b = &stderr
		}
		if aerr := b.write(p, charge); aerr != nil {
			// The command is killed (an out error does that): it
			// cannot go on without its output being lost. What it
			// kept goes now, as its charge did.
			lost = aerr
			stdout.blocks, stderr.blocks = nil, nil
			return aerr
		}
		return nil
	})
	if err != nil {
		return nil, false, sandboxserver.RPCError("exec failed: " + sb.startErrText("exec", err))
	}
	if lost != nil {
		return nil, false, lost
	}
	end := sb.s.opts.Now()
	return map[string]any{
		"command": command, "exitCode": code, "success": code == 0,
		"duration": end.Sub(start).Milliseconds(), "timestamp": end.UnixMilli(),
		"stdout": stdout.text(), "stderr": stderr.text(),
	}, true, nil
}

// limitedBuffer keeps at most limit bytes and counts the rest. It keeps
// them in blocks of up to outBlock, each charged as it is allocated: no
// copy of what it holds while it grows, and memory counted as taken.
type limitedBuffer struct {
	blocks  [][]byte
	n       int
	limit   int
	dropped int64
}

// write keeps what p brings under the limit; a charge that fails stops it
// with that failure.
func (b *limitedBuffer) write(p []byte, charge func(int64) *sandboxserver.Error) *sandboxserver.Error {
	room := b.limit - b.n
	if room < len(p) {
		b.dropped += int64(len(p) - max(room, 0))
		p = p[:max(room, 0)]
	}
	for len(p) > 0 {
		k := len(b.blocks)
		if k == 0 || len(b.blocks[k-1]) == cap(b.blocks[k-1]) {
			size := 512
			if k > 0 {
				size = 2 * cap(b.blocks[k-1])
			}
			size = min(max(size, len(p)), outBlock, b.limit-b.n)
			if aerr := charge(int64(size)); aerr != nil {
				return aerr
			}
			b.blocks = append(b.blocks, make([]byte, 0, size))
			k++
		}
		last := b.blocks[k-1]
		m := min(len(p), cap(last)-len(last))
		b.blocks[k-1] = append(last, p[:m]...)
		b.n += m
		p = p[m:]
	}
	return nil
}

func (b *limitedBuffer) text() string {
	var sb strings.Builder
	sb.Grow(b.n)
	for _, blk := range b.blocks {
		sb.Write(blk)
	}
	s := strings.ToValidUTF8(sb.String(), "\uFFFD")
	if b.dropped > 0 {
		s += "\n[" + strconv.FormatInt(b.dropped, 10) + " more bytes dropped by the local backend: use execStream for large output]\n"
	}
	return s
}

// execStream answers the binary exec stream. Failures before the command
// starts are JSON errors; ctx ending (the client going away, a destroy)
// kills the command.
func (sb *sandbox) execStream(ctx context.Context, w http.ResponseWriter, c *sandboxserver.Call) {
	cmdText, aerr := c.Str(0, "command")
	var o map[string]any
	if aerr == nil {
		o, aerr = execOpts(c, 1)
	}
	var req *execReq
	if aerr == nil {
		req, aerr = sb.prepare(c, cmdText, cmdText, o)
	}
	if aerr != nil {
		sandboxserver.WriteFail(w, aerr)
		return
	}
	start := sb.s.opts.Now()
	x, err := sb.startExec(req)
	if err != nil {
		sandboxserver.WriteFail(w, sb.execStartError(err))
		return
	}
	sandboxserver.StartStream(w)
	rc := http.NewResponseController(w)
	fw := sandboxserver.NewFrameWriter(w, rc.Flush)
	_ = rc.Flush()
	code, err := x.wait(ctx, sb, fw.Frame)
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); cause == errSandboxDestroyed {
			_ = fw.Frame(sandboxserver.FrameError, sandboxserver.ErrorPayload("exec failed: "+cause.Error()))
		}
		return
	}
	if err != nil {
		_ = fw.Frame(sandboxserver.FrameError, sandboxserver.ErrorPayload("exec failed: "+sb.startErrText("exec", err)))
		return
	}
	_ = fw.Frame(sandboxserver.FrameExit, sandboxserver.ExitPayload(cmdText, code, start, sb.s.opts.Now()))
}
