package sandboxtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// sandbox is the state of one Durable Object.
type sandbox struct {
	fs        *memfs
	shells    map[string]*shellState
	procs     map[int64]*process
	ports     map[int]map[string]any
	apps      map[string]map[string]any
	installed map[string]string
	revision  int64
	running   sync.WaitGroup
}

// process is a startProcess process and its log ring.
type process struct {
	info   map[string]any
	cancel context.CancelCauseFunc
	chunks []map[string]any
	next   int64
	exit   map[string]any
	stdin  []string
}

func (s *Server) sandboxLocked(do, root string) *sandbox {
	sb := s.sandboxes[do]
	if sb == nil {
		sb = &sandbox{
			fs:        newFS(s.opts.Now(), root),
			shells:    map[string]*shellState{},
			procs:     map[int64]*process{},
			ports:     map[int]map[string]any{},
			apps:      map[string]map[string]any{},
			installed: map[string]string{},
		}
		s.sandboxes[do] = sb
	}
	return sb
}

// backend runs the fake's ops for the core handler (sandboxserver).
type backend struct{ s *Server }

// Decoded records the op and raw args of an rpc request whose body
// decoded, before auth, so refused calls are recorded too.
func (b backend) Decoded(r *http.Request, c *sandboxserver.Call) {
	st := stateOf(r)
	var raw struct {
		Op   string          `json:"op"`
		Args json.RawMessage `json:"args"`
	}
	_ = json.Unmarshal(st.body, &raw)
	st.rec.Op, st.rec.Args = raw.Op, raw.Args
}

// Admit records the DO name, then injects the 503s asked for with Fail503
// and counts the op in flight.
func (b backend) Admit(r *http.Request, c *sandboxserver.Call) (func(), *sandboxserver.Error) {
	s := b.s
	stateOf(r).rec.DO = c.DO
	s.mu.Lock()
	if n := s.fail503[c.Op]; n > 0 {
		s.fail503[c.Op] = n - 1
		s.mu.Unlock()
		return nil, sandboxserver.NewError(http.StatusServiceUnavailable, sandboxserver.CodeOverloaded, "Durable Object is overloaded.")
	}
	s.mu.Unlock()
	return s.track(c.Op), nil
}

// Op runs every op but destroy (and execStream when streaming).
func (b backend) Op(ctx context.Context, c *sandboxserver.Call) (any, bool, *sandboxserver.Error) {
	return b.s.dispatch(ctx, c)
}

// ExecStream streams unless the fake plays a server without execStream.
func (b backend) ExecStream(w http.ResponseWriter, r *http.Request, c *sandboxserver.Call) bool {
	if b.s.opts.NoExecStream {
		return false
	}
	b.s.execStream(w, r, c)
	return true
}

// Destroy kills the sandbox's processes and forgets it.
func (b backend) Destroy(r *http.Request, c *sandboxserver.Call, reason string) (any, *sandboxserver.Error) {
	stateOf(r).rec.DO = c.DO
	return b.s.destroy(c.DO, reason), nil
}

// num is the fake's "number" rule: stricter than JavaScript's Number()
// (null, arrays and 0x strings are refused).
func num(c *sandboxserver.Call, i int, name string) (float64, *sandboxserver.Error) {
	var f float64
	var err error
	switch v := c.Arg(i).(type) {
	case json.Number:
		f, err = v.Float64()
	case string:
		if strings.TrimSpace(v) == "" {
			f = 0
		} else {
			f, err = strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	case bool:
		if v {
			f = 1
		}
	case nil:
		err = fmt.Errorf("missing")
	default:
		err = fmt.Errorf("not a number")
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, sandboxserver.ArgError(name + " must be a number")
	}
	return f, nil
}

var execIDRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,159}$`)
var shellIDRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)

// execOpts validates ExecOptions the way the Worker and DO do.
func execOpts(c *sandboxserver.Call, i int) (map[string]any, *sandboxserver.Error) {
	o := c.Obj(i)
	if _, has := o["cred"]; has {
		return nil, sandboxserver.ArgError("cred is not accepted over the remote API")
	}
	if v, has := o["execId"]; has {
		s, _ := v.(string)
		if !execIDRule.MatchString(s) {
			return nil, sandboxserver.ArgError(fmt.Sprintf("execId must be 1 to 160 characters from A-Z a-z 0-9 . _ : - and start with a letter or digit, got %d characters", len(s)))
		}
	}
	if v, has := o["cwd"]; has {
		s, _ := v.(string)
		if !strings.HasPrefix(s, "/") {
			return nil, sandboxserver.RPCError("cwd must be an absolute POSIX path starting with '/', got " + fmt.Sprint(v))
		}
	}
	if v, has := o["shellId"]; has {
		s, _ := v.(string)
		if len(s) > 160 || !shellIDRule.MatchString(s) {
			return nil, sandboxserver.RPCError("Invalid shellId: " + fmt.Sprint(v))
		}
	}
	return o, nil
}

func (s *Server) nowMs() int64 { return s.opts.Now().UnixMilli() }

func (s *Server) dispatch(ctx context.Context, c *sandboxserver.Call) (any, bool, *sandboxserver.Error) {
	switch c.Op {
	case "ready":
		pre, aerr := c.Preinstalls()
		if aerr != nil {
			return nil, false, aerr
		}
		s.mu.Lock()
		sb := s.sandboxLocked(c.DO, c.Root)
		for _, p := range pre {
			n, v, _ := strings.Cut(p, "@")
			sb.installed[n] = v
		}
		s.mu.Unlock()
		out := make([]any, len(pre))
		for i, p := range pre {
			out[i] = p
		}
		return map[string]any{"ok": true, "preinstalled": out}, true, nil
	case "bootProbe":
		return map[string]any{"ok": true}, true, nil
	case "exec", "runCode":
		return s.execBuffered(ctx, c)
	case "detachExec":
		if _, err := c.Str(0, "detachId"); err != nil {
			return nil, false, err
		}
		return map[string]any{"detached": false}, true, nil
	case "startProcess":
		return s.startProcess(c)
	}
	if r, has, err, ok := s.fileOp(c); ok {
		return r, has, err
	}
	if r, has, err, ok := s.otherOp(c); ok {
		return r, has, err
	}
	return nil, false, sandboxserver.NewError(400, "E_REMOTE_OP", "Unknown Nimbus sandbox operation: "+c.Op)
}

func (s *Server) destroy(do, reason string) map[string]any {
	s.mu.Lock()
	sb := s.sandboxes[do]
	delete(s.sandboxes, do)
	s.mu.Unlock()
	killed := 0
	if sb != nil {
		s.mu.Lock()
		for _, p := range sb.procs {
			if p.exit == nil {
				killed++
				p.cancel(errKilled{137, "destroyed"})
			}
		}
		s.mu.Unlock()
	}
	return sandboxserver.DestroyResult(killed, s.opts.Now(), reason)
}

// prepare builds the job for an exec-family call. The returned release
// must be called when the command has finished: it restores the named
// shell's environment (the call's env applies to this call only) and lets
// the next call on that shell run.
func (s *Server) prepare(ctx context.Context, c *sandboxserver.Call, o map[string]any, out func(byte, []byte)) (*job, func()) {
	s.mu.Lock()
	sb := s.sandboxLocked(c.DO, c.Root)
	var sh *shellState
	if id, _ := o["shellId"].(string); id != "" {
		sh = sb.shells[id]
		if sh == nil {
			root, _ := o["shellRoot"].(string)
			if root == "" {
				root = c.Root
			}
			sh = &shellState{cwd: root, env: map[string]string{}}
			sb.shells[id] = sh
		}
	} else {
		sh = &shellState{cwd: c.Root, env: map[string]string{}}
	}
	s.mu.Unlock()
	sh.mu.Lock()
	if cwd, _ := o["cwd"].(string); cwd != "" {
		sh.cwd = cleanPath(cwd)
	}
	type saved struct {
		v   string
		had bool
	}
	restore := map[string]saved{}
	if env, ok := o["env"].(map[string]any); ok {
		for k, v := range env {
			if vs, ok := v.(string); ok {
				old, had := sh.env[k]
				restore[k] = saved{old, had}
				sh.env[k] = vs
			}
		}
	}
	stdin, _ := o["stdin"].(string)
	release := func() {
		for k, sv := range restore {
			if sv.had {
				sh.env[k] = sv.v
			} else {
				delete(sh.env, k)
			}
		}
		sh.mu.Unlock()
	}
	return &job{s: s, do: c.DO, ctx: ctx, sh: sh, stdin: stdin, out: out}, release
}

// runWithTimeout runs the job's script honouring timeoutMs: on expiry a
// stderr line and exit code 124, as the DO does.
func (s *Server) runWithTimeout(j *job, script string, o map[string]any) int {
	if s.opts.ExecDelay > 0 {
		select {
		case <-time.After(s.opts.ExecDelay):
		case <-j.ctx.Done():
			return 130
		}
	}
	parent := j.ctx
	var tms float64
	if v, ok := o["timeoutMs"].(json.Number); ok && !s.opts.IgnoreTimeout {
		tms, _ = v.Float64()
	}
	if tms > 0 {
		ctx, cancel := context.WithTimeout(parent, time.Duration(tms*float64(time.Millisecond)))
		defer cancel()
		j.ctx = ctx
	}
	code := j.run(script)
	if tms > 0 && j.ctx.Err() != nil && parent.Err() == nil {
		j.out(2, []byte(fmt.Sprintf("command timed out after %sms\n", strconv.FormatFloat(tms, 'f', -1, 64))))
		return 124
	}
	return code
}

func (s *Server) codeScript(c *sandboxserver.Call, code string, o map[string]any) (string, string, *sandboxserver.Error) {
	lang, _ := o["language"].(string)
	if lang == "" {
		lang = "javascript"
	}
	install, _ := o["install"].(string)
	action := "use"
	if install == "ifMissing" {
		action = "onDemand"
	}
	q := "'" + strings.ReplaceAll(code, "'", `'\''`) + "'"
	switch lang {
	case "python", "ruby":
		if err := c.Policy(lang, map[bool]string{true: "onDemand", false: "use"}[action == "onDemand"]); err != nil {
			return "", "", err
		}
		if lang == "python" {
			return "python -c " + q, evalPrint(code, "print(", ")"), nil
		}
		return "ruby -e " + q, evalPrint(code, "puts ", ""), nil
	case "shell":
		if err := c.Policy("shell", "use"); err != nil {
			return "", "", err
		}
		return code, code, nil
	case "javascript", "typescript":
		if err := c.Policy("node", "use"); err != nil {
			return "", "", err
		}
		return "node -e " + q, evalPrint(code, "console.log(", ")"), nil
	}
	return code, code, nil
}

// evalPrint turns print(<int expr or string>) into an echo script: enough
// for tests of runCode's plumbing.
func evalPrint(code, open, close string) string {
	code = strings.TrimSpace(code)
	if !strings.HasPrefix(code, open) || !strings.HasSuffix(code, close) {
		return "true"
	}
	expr := strings.TrimSpace(code[len(open) : len(code)-len(close)])
	if len(expr) >= 2 && (expr[0] == '"' || expr[0] == '\'') && expr[len(expr)-1] == expr[0] {
		return "echo '" + strings.ReplaceAll(expr[1:len(expr)-1], "'", `'\''`) + "'"
	}
	sum := 0
	for _, part := range strings.Split(expr, "+") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return "echo 'NaN'"
		}
		sum += n
	}
	return "echo " + strconv.Itoa(sum)
}

func (s *Server) execBuffered(ctx context.Context, c *sandboxserver.Call) (any, bool, *sandboxserver.Error) {
	cmd, err := c.Str(0, "command")
	if err != nil {
		return nil, false, err
	}
	o, err := execOpts(c, 1)
	if err != nil {
		return nil, false, err
	}
	script, command := cmd, cmd
	if c.Op == "runCode" {
		var perr *sandboxserver.Error
		command, script, perr = s.codeScript(c, cmd, o)
		if perr != nil {
			return nil, false, perr
		}
	}
	var stdout, stderr []byte
	start := s.opts.Now()
	j, release := s.prepare(ctx, c, o, func(k byte, b []byte) {
		if k == 1 {
			stdout = append(stdout, b...)
		} else {
			stderr = append(stderr, b...)
		}
	})
	code := s.runWithTimeout(j, script, o)
	release()
	if j.errFrame != "" {
		return nil, false, sandboxserver.RPCError(j.errFrame)
	}
	end := s.opts.Now()
	return map[string]any{
		"command": command, "exitCode": code, "success": code == 0,
		"duration": end.Sub(start).Milliseconds(), "timestamp": end.UnixMilli(),
		"stdout": strings.ToValidUTF8(string(stdout), "\uFFFD"), "stderr": strings.ToValidUTF8(string(stderr), "\uFFFD"),
	}, true, nil
}

// execStream answers the binary stream, writing every frame in random small
// pieces with a flush after each, so clients see frames split at any byte.
func (s *Server) execStream(w http.ResponseWriter, r *http.Request, c *sandboxserver.Call) {
	cmd, err := c.Str(0, "command")
	if err == nil {
		_, err = execOpts(c, 1)
	}
	if err != nil {
		sandboxserver.WriteFail(w, err)
		return
	}
	o := c.Obj(1)
	sandboxserver.StartStream(w)
	fl, _ := w.(http.Flusher)
	var wmu sync.Mutex
	write := func(kind byte, payload []byte) {
		wmu.Lock()
		defer wmu.Unlock()
		frame, err := sandboxserver.AppendFrame(make([]byte, 0, 5+len(payload)), kind, payload)
		if err != nil {
			return
		}
		for len(frame) > 0 {
			s.mu.Lock()
			n := 1 + s.rng.IntN(s.opts.MaxPiece)
			s.mu.Unlock()
			n = min(n, len(frame))
			if _, err := w.Write(frame[:n]); err != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
			frame = frame[n:]
		}
	}
	start := s.opts.Now()
	j, release := s.prepare(r.Context(), c, o, func(k byte, b []byte) {
		if len(b) > 0 {
			write(k, b)
		}
	})
	code := s.runWithTimeout(j, cmd, o)
	release()
	s.mu.Lock()
	trunc := s.opts.TruncateStream
	s.mu.Unlock()
	if trunc || r.Context().Err() != nil {
		return
	}
	if j.errFrame != "" {
		write(sandboxserver.FrameError, sandboxserver.ErrorPayload(j.errFrame))
		return
	}
	write(sandboxserver.FrameExit, sandboxserver.ExitPayload(cmd, code, start, s.opts.Now()))
}

// errKilled is the cancel cause of a killed process.
type errKilled struct {
	code   int
	reason string
}

func (e errKilled) Error() string { return e.reason }

func (s *Server) startProcess(c *sandboxserver.Call) (any, bool, *sandboxserver.Error) {
	cmd, err := c.Str(0, "command")
	if err != nil {
		return nil, false, err
	}
	o, err := execOpts(c, 1)
	if err != nil {
		return nil, false, err
	}
	if rs, has := o["restart"]; has && rs != "never" && rs != "on-failure" {
		return nil, false, sandboxserver.RPCError("restart must be 'never' or 'on-failure'")
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	s.mu.Lock()
	pid := s.nextPID
	s.nextPID++
	sb := s.sandboxLocked(c.DO, c.Root)
	cwd, _ := o["cwd"].(string)
	if cwd == "" {
		cwd = c.Root
	}
	now := s.nowMs()
	info := map[string]any{
		"pid": pid, "command": cmd, "argv": []any{cmd}, "cwd": cwd, "state": "running",
		"exitCode": nil, "startTime": now, "endTime": nil, "longRunning": true, "attachedTty": false,
	}
	if id, ok := o["execId"].(string); ok {
		info["execId"] = id
	}
	p := &process{info: info, cancel: cancel}
	sb.procs[pid] = p
	s.mu.Unlock()
	j, release := s.prepare(ctx, c, o, func(k byte, b []byte) {
		s.mu.Lock()
		defer s.mu.Unlock()
		stream := "stdout"
		if k == 2 {
			stream = "stderr"
		}
		p.chunks = append(p.chunks, map[string]any{"seq": p.next, "ts": s.nowMs(), "stream": stream, "data": string(b)})
		p.next++
		if len(p.chunks) > 256 {
			p.chunks = p.chunks[1:]
		}
	})
	sb.running.Add(1)
	go func() {
		defer sb.running.Done()
		code := s.runWithTimeout(j, cmd, o)
		release()
		s.mu.Lock()
		defer s.mu.Unlock()
		exit := map[string]any{"code": code, "at": s.nowMs()}
		var k errKilled
		if cause := context.Cause(ctx); cause != nil {
			if ke, ok := cause.(errKilled); ok {
				k = ke
				exit["code"], exit["reason"] = k.code, k.reason
				code = k.code
			}
		}
		p.exit = exit
		p.info["state"] = "exited"
		p.info["exitCode"] = code
		p.info["endTime"] = s.nowMs()
	}()
	infoCopy := map[string]any{}
	s.mu.Lock()
	for k, v := range info {
		infoCopy[k] = v
	}
	s.mu.Unlock()
	return map[string]any{"command": cmd, "pid": pid, "startedAt": now, "process": infoCopy, "ports": []any{}}, true, nil
}

func (s *Server) fileOp(c *sandboxserver.Call) (result any, has bool, oerr *sandboxserver.Error, handled bool) {
	type fileFn func(sb *sandbox) (any, bool, *sandboxserver.Error)
	var fn fileFn
	pathArg := func(i int, name string) (string, *sandboxserver.Error) {
		p, err := c.Str(i, name)
		if err != nil {
			return "", err
		}
		return cleanPath(p), nil
	}
	now := s.opts.Now()
	fsErr := func(e *fsError) *sandboxserver.Error { return sandboxserver.RPCError(e.msg) }
	switch c.Op {
	case "readFile", "readFileBytes", "stat", "lstat", "readlink", "readdir", "exists", "mkdir":
		p, err := pathArg(0, "path")
		if err != nil {
			return nil, false, err, true
		}
		if err := c.FileOpts(1); err != nil {
			return nil, false, err, true
		}
		fn = func(sb *sandbox) (any, bool, *sandboxserver.Error) {
			n := sb.fs.get(p)
			switch c.Op {
			case "readFile", "readFileBytes":
				if n == nil {
					return nil, true, nil
				}
				if n.dir {
					return nil, false, fsErr(errEISDIR("read", p))
				}
				if int64(len(n.data)) > s.opts.ReadLimit {
					return nil, false, sandboxserver.RPCError(fmt.Sprintf("filesystem RPC read payload of %d bytes exceeds the %d-byte limit", len(n.data), s.opts.ReadLimit))
				}
				if c.Op == "readFile" {
					return strings.ToValidUTF8(string(n.data), "\uFFFD"), true, nil
				}
				return append([]byte{}, n.data...), true, nil
			case "stat", "lstat":
				if n == nil {
					return nil, true, nil
				}
				typ, mode := "file", uint32(0o100000)
				if n.dir {
					typ, mode = "directory", 0o040000
				}
				return map[string]any{"type": typ, "size": len(n.data), "mtime": n.mtime.UnixMilli(), "mode": mode | n.mode, "ctime": n.mtime.UnixMilli(), "revision": sb.revision, "uid": 1000}, true, nil
			case "readlink":
				return nil, true, nil
			case "readdir":
				if n == nil {
					return nil, false, fsErr(errENOENT("scandir", p))
				}
				if !n.dir {
					return nil, false, fsErr(errENOTDIR("scandir", p))
				}
				out := []any{}
				for _, ch := range sb.fs.children(p) {
					t := "file"
					if sb.fs.nodes[ch].dir {
						t = "directory"
					}
					out = append(out, map[string]any{"name": ch[strings.LastIndexByte(ch, '/')+1:], "type": t})
				}
				return out, true, nil
			case "exists":
				return n != nil, true, nil
			default: // mkdir
				if e := sb.fs.mkdirAll(p, now); e != nil {
					return nil, false, fsErr(e)
				}
				return nil, false, nil
			}
		}
	case "writeFile":
		p, err := pathArg(0, "path")
		if err != nil {
			return nil, false, err, true
		}
		var data []byte
		switch v := c.Arg(1).(type) {
		case string:
			data = []byte(v)
		case []byte:
			data = v
		default:
			return nil, false, sandboxserver.ArgError("content must be a string or Uint8Array"), true
		}
		if err := c.FileOpts(2); err != nil {
			return nil, false, err, true
		}
		fn = func(sb *sandbox) (any, bool, *sandboxserver.Error) {
			parent := sb.fs.get(parentOf(p))
			if parent == nil {
				return nil, false, fsErr(errENOENT("open", p))
			}
			if !parent.dir {
				return nil, false, fsErr(errENOTDIR("open", p))
			}
			n := sb.fs.get(p)
			if n != nil && n.dir {
				return nil, false, fsErr(errEISDIR("open", p))
			}
			if n == nil {
				n = &node{mode: 0o644}
				sb.fs.nodes[p] = n
			}
			n.data, n.mtime = data, now
			sb.revision++
			return sb.revision, true, nil
		}
	case "rename":
		from, err := pathArg(0, "from")
		if err != nil {
			return nil, false, err, true
		}
		to, err := pathArg(1, "to")
		if err != nil {
			return nil, false, err, true
		}
		fn = func(sb *sandbox) (any, bool, *sandboxserver.Error) {
			if sb.fs.get(from) == nil {
				return nil, false, fsErr(errENOENT("rename", from))
			}
			if sb.fs.get(parentOf(to)) == nil {
				return nil, false, fsErr(errENOENT("rename", to))
			}
			prefix := from + "/"
			for k, v := range sb.fs.nodes {
				if k == from || strings.HasPrefix(k, prefix) {
					delete(sb.fs.nodes, k)
					sb.fs.nodes[to+k[len(from):]] = v
				}
			}
			return nil, false, nil
		}
	case "chmod":
		p, err := pathArg(0, "path")
		if err != nil {
			return nil, false, err, true
		}
		mode, err := num(c, 1, "mode")
		if err != nil {
			return nil, false, err, true
		}
		fn = func(sb *sandbox) (any, bool, *sandboxserver.Error) {
			n := sb.fs.get(p)
			if n == nil {
				return nil, false, fsErr(errENOENT("chmod", p))
			}
			n.mode = uint32(mode) & 0o7777
			return nil, false, nil
		}
	case "readRange":
		p, err := pathArg(0, "path")
		if err != nil {
			return nil, false, err, true
		}
		off, err := num(c, 1, "offset")
		if err != nil {
			return nil, false, err, true
		}
		length, err := num(c, 2, "length")
		if err != nil {
			return nil, false, err, true
		}
		fn = func(sb *sandbox) (any, bool, *sandboxserver.Error) {
			n := sb.fs.get(p)
			if n == nil {
				return nil, true, nil
			}
			if n.dir {
				return nil, false, fsErr(errEISDIR("read", p))
			}
			if int64(length) > s.opts.ReadLimit {
				return nil, false, sandboxserver.RPCError(fmt.Sprintf("filesystem RPC read payload of %d bytes exceeds the %d-byte limit", int64(length), s.opts.ReadLimit))
			}
			lo := min(int(off), len(n.data))
			hi := min(lo+int(length), len(n.data))
			return append([]byte{}, n.data[lo:hi]...), true, nil
		}
	case "deleteFile":
		p, err := pathArg(0, "path")
		if err != nil {
			return nil, false, err, true
		}
		o := c.Obj(1)
		if _, has := o["cred"]; has {
			return nil, false, sandboxserver.ArgError("cred is not accepted over the remote API"), true
		}
		rec, _ := o["recursive"].(bool)
		fn = func(sb *sandbox) (any, bool, *sandboxserver.Error) {
			n := sb.fs.get(p)
			if n == nil {
				return nil, false, nil
			}
			if n.dir && !rec && len(sb.fs.children(p)) > 0 {
				return nil, false, fsErr(errENOTEMPTY("rmdir", p))
			}
			sb.fs.removeTree(p)
			return nil, false, nil
		}
	default:
		return nil, false, nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, h, e := fn(s.sandboxLocked(c.DO, c.Root))
	return r, h, e, true
}

func (s *Server) otherOp(c *sandboxserver.Call) (result any, has bool, oerr *sandboxserver.Error, handled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := s.sandboxLocked(c.DO, c.Root)
	pidArg := func() (int64, *sandboxserver.Error) {
		f, err := num(c, 0, "pid")
		return int64(f), err
	}
	ack := func(pid int64, ok bool) map[string]any { return map[string]any{"ok": ok, "pid": pid} }
	switch c.Op {
	case "listRuntimes":
		inst := []any{}
		names := make([]string, 0, len(sb.installed))
		for n := range sb.installed {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			v := sb.installed[n]
			if v == "" {
				v = catalogue[n]
			}
			inst = append(inst, map[string]any{"name": n, "version": v, "root": "/usr/local/lib/nimbus/runtimes/" + n, "abi": "wasi", "bins": []any{n}, "sizeBytes": 1 << 20, "license": "MIT"})
		}
		avail := []any{}
		for _, n := range catalogueNames() {
			if _, ok := sb.installed[n]; ok {
				continue
			}
			avail = append(avail, map[string]any{"name": n, "abi": "wasi", "defaultVersion": catalogue[n], "versions": []any{map[string]any{"version": catalogue[n], "sizeBytes": 1 << 20, "license": "MIT"}}})
		}
		return map[string]any{"installed": inst, "available": avail}, true, nil, true
	case "installRuntime", "ensureRuntimes":
		var specs []string
		if c.Op == "installRuntime" {
			sp, err := c.Str(0, "spec")
			if err != nil {
				return nil, false, err, true
			}
			specs = []string{sp}
		} else {
			l, ok := c.Arg(0).([]any)
			if !ok {
				return nil, false, sandboxserver.ArgError("specs must be an array"), true
			}
			for _, x := range l {
				sp, ok := x.(string)
				if !ok {
					return nil, false, sandboxserver.ArgError("specs must be an array of strings"), true
				}
				specs = append(specs, sp)
			}
		}
		out := []any{}
		for _, sp := range specs {
			if err := c.Policy(sp, "onDemand"); err != nil {
				return nil, false, err, true
			}
			n, v, _ := strings.Cut(sp, "@")
			if _, known := catalogue[n]; !known {
				out = append(out, map[string]any{"spec": sp, "exitCode": 1, "stdout": "", "stderr": "unknown runtime " + n + "\n"})
				continue
			}
			sb.installed[n] = v
			out = append(out, map[string]any{"spec": sp, "exitCode": 0, "stdout": "installed " + sp + "\n", "stderr": ""})
		}
		if c.Op == "installRuntime" {
			return out[0], true, nil, true
		}
		return out, true, nil, true
	case "listProcesses":
		out := []any{}
		pids := make([]int64, 0, len(sb.procs))
		for pid := range sb.procs {
			pids = append(pids, pid)
		}
		sort.Slice(pids, func(i, j int) bool { return pids[i] < pids[j] })
		for _, pid := range pids {
			out = append(out, sb.procs[pid].info)
		}
		return out, true, nil, true
	case "processLogs":
		pid, err := pidArg()
		if err != nil {
			return nil, false, err, true
		}
		o := c.Obj(1)
		opt := map[string]int64{}
		for _, k := range []string{"cursor", "lines", "bytes"} {
			if v, has := o[k]; has {
				n, ok := v.(json.Number)
				i, ierr := n.Int64()
				if !ok || ierr != nil || i < 0 {
					return nil, false, sandboxserver.ArgError(k + " must be a non-negative integer"), true
				}
				opt[k] = i
			}
		}
		p := sb.procs[pid]
		if p == nil {
			return nil, false, sandboxserver.RPCError(fmt.Sprintf("no such process: %d", pid)), true
		}
		var chunks []map[string]any
		if cur, ok := opt["cursor"]; ok {
			for _, ch := range p.chunks {
				if ch["seq"].(int64) >= cur {
					chunks = append(chunks, ch)
				}
			}
		} else {
			lines := int64(200)
			if l, ok := opt["lines"]; ok {
				lines = l
			}
			count := int64(0)
			i := len(p.chunks)
			for i > 0 && count < lines {
				i--
				count += int64(strings.Count(p.chunks[i]["data"].(string), "\n"))
			}
			chunks = p.chunks[i:]
		}
		out := []any{}
		var text strings.Builder
		for _, ch := range chunks {
			out = append(out, ch)
			text.WriteString(ch["data"].(string))
		}
		var exit any
		if p.exit != nil {
			exit = p.exit
		}
		return map[string]any{"pid": pid, "chunks": out, "text": text.String(), "cursor": p.next, "truncated": false, "exit": exit}, true, nil, true
	case "killProcess", "signalProcess":
		pid, err := pidArg()
		if err != nil {
			return nil, false, err, true
		}
		sig := "SIGKILL"
		if c.Op == "signalProcess" {
			sg, err := c.Str(1, "signal")
			if err != nil {
				return nil, false, err, true
			}
			sig = sg
		}
		p := sb.procs[pid]
		if p == nil || p.exit != nil {
			return ack(pid, false), true, nil, true
		}
		code := 137
		switch sig {
		case "SIGTERM":
			code = 143
		case "SIGINT":
			code = 130
		}
		p.cancel(errKilled{code, sig})
		return ack(pid, true), true, nil, true
	case "writeProcessInput":
		pid, err := pidArg()
		if err != nil {
			return nil, false, err, true
		}
		data, err := c.Str(1, "data")
		if err != nil {
			return nil, false, err, true
		}
		p := sb.procs[pid]
		if p != nil {
			p.stdin = append(p.stdin, data)
		}
		return ack(pid, p != nil), true, nil, true
	case "endProcessInput":
		pid, err := pidArg()
		if err != nil {
			return nil, false, err, true
		}
		return ack(pid, sb.procs[pid] != nil), true, nil, true
	case "resizeProcess":
		pid, err := pidArg()
		if err != nil {
			return nil, false, err, true
		}
		o := c.Obj(1)
		if _, ok := o["columns"]; !ok {
			return nil, false, sandboxserver.ArgError("columns must be a number"), true
		}
		if _, ok := o["rows"]; !ok {
			return nil, false, sandboxserver.ArgError("rows must be a number"), true
		}
		return ack(pid, sb.procs[pid] != nil), true, nil, true
	case "listPorts":
		out := []any{}
		ports := make([]int, 0, len(sb.ports))
		for p := range sb.ports {
			ports = append(ports, p)
		}
		sort.Ints(ports)
		for _, p := range ports {
			e := sb.ports[p]
			out = append(out, map[string]any{"port": p, "pid": e["pid"], "registeredAt": e["registeredAt"], "capability": e["capability"]})
		}
		return out, true, nil, true
	case "exposePort":
		f, err := num(c, 0, "port")
		if err != nil {
			return nil, false, err, true
		}
		port := int(f)
		o := c.Obj(1)
		vis := "scoped"
		if o["visibility"] == "public" {
			vis = "public"
		}
		var name any
		if n, ok := o["name"].(string); ok && n != "" {
			name = n
		}
		e := sb.ports[port]
		if e == nil {
			e = map[string]any{"port": port, "listening": false, "pid": nil, "registeredAt": s.nowMs(), "capability": s.hexLocked(24), "owner": nil}
			sb.ports[port] = e
		}
		e["visibility"], e["name"] = vis, name
		return e, true, nil, true
	case "unexposePort":
		f, err := num(c, 0, "port")
		if err != nil {
			return nil, false, err, true
		}
		_, ok := sb.ports[int(f)]
		delete(sb.ports, int(f))
		return map[string]any{"port": int(f), "ok": ok}, true, nil, true
	case "listApps":
		out := []any{}
		keys := make([]string, 0, len(sb.apps))
		for k := range sb.apps {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, sb.apps[k])
		}
		return out, true, nil, true
	case "exposeApp", "rotateLink", "removeApp":
		key, port, aerr := appTarget(c.Arg(0))
		if aerr != nil {
			return nil, false, aerr, true
		}
		if c.Op == "removeApp" {
			a := sb.apps[key]
			delete(sb.apps, key)
			var p any
			if a != nil {
				p = a["port"]
			}
			return map[string]any{"owner": key, "removed": a != nil, "port": p}, true, nil, true
		}
		a := sb.apps[key]
		if a == nil {
			if c.Op == "rotateLink" {
				return nil, false, sandboxserver.RPCError("no app matches " + key), true
			}
			a = map[string]any{"owner": key, "name": nil, "port": port, "pid": nil, "status": "running", "visibility": "scoped", "capability": nil, "restart": "never", "diagnostic": nil, "url": nil}
			sb.apps[key] = a
		}
		o := c.Obj(1)
		if c.Op == "exposeApp" {
			if o["visibility"] == "public" {
				a["visibility"] = "public"
			}
			if n, ok := o["name"].(string); ok {
				a["name"] = n
			}
		}
		a["capability"] = s.hexLocked(24)
		return a, true, nil, true
	case "ensureDurableApp", "removeDurableApp":
		o, ok := c.Arg(0).(map[string]any)
		owner, _ := o["owner"].(string)
		if !ok || owner == "" {
			return nil, false, sandboxserver.ArgError("owner must be a string"), true
		}
		if c.Op == "removeDurableApp" {
			a := sb.apps[owner]
			delete(sb.apps, owner)
			var p any
			if a != nil {
				p = a["port"]
			}
			return map[string]any{"owner": owner, "removed": a != nil, "port": p}, true, nil, true
		}
		port := 8000 + len(sb.apps)
		if pp, ok := o["preferredPort"].(json.Number); ok {
			if n, err := pp.Int64(); err == nil {
				port = int(n)
			}
		}
		vis := "scoped"
		if o["visibility"] == "public" {
			vis = "public"
		}
		sb.apps[owner] = map[string]any{"owner": owner, "name": nil, "port": port, "pid": nil, "status": "starting", "visibility": vis, "capability": nil, "restart": "on-failure", "diagnostic": nil, "url": nil}
		var capa any
		if vis == "public" {
			capa = s.hexLocked(24)
		}
		return map[string]any{"port": port, "capability": capa, "visibility": vis}, true, nil, true
	}
	return nil, false, nil, false
}

// appTarget accepts a number, a string, or {port}/{pid}/{name}/{owner}.
func appTarget(v any) (string, any, *sandboxserver.Error) {
	switch t := v.(type) {
	case json.Number:
		n, err := t.Int64()
		if err != nil {
			break
		}
		return "port:" + strconv.FormatInt(n, 10), n, nil
	case string:
		if t != "" {
			return t, nil, nil
		}
	case map[string]any:
		for _, k := range []string{"port", "pid", "name", "owner"} {
			if x, ok := t[k]; ok {
				return appTarget(x)
			}
		}
	}
	return "", nil, sandboxserver.ArgError("app target must be a port, pid, name or owner")
}

var catalogue = map[string]string{"node": "22.11.0", "python": "3.12.7", "ruby": "3.4.1", "clang": "19.1.0", "git": "2.47.0"}

func catalogueNames() []string {
	out := make([]string, 0, len(catalogue))
	for n := range catalogue {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
