package sandboxtest

import (
	"context"
	"encoding/binary"
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

type opError struct {
	status int
	code   string
	msg    string
}

func argErr(msg string) *opError { return &opError{400, "E_ARG_SHAPE", msg} }
func rpcErr(msg string) *opError { return &opError{500, "E_NIMBUS_REMOTE_RPC", msg} }

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

func (s *Server) profile(name string) Profile {
	if p, ok := s.opts.Profiles[name]; ok {
		return p
	}
	if p, ok := s.opts.Profiles["default"]; ok {
		return p
	}
	return Profile{}
}

// call is one decoded rpc request.
type call struct {
	op      string
	args    []any
	profile string
	prof    Profile
	root    string
	do      string
	ident   *Identity
}

func (s *Server) serveRPC(w http.ResponseWriter, r *http.Request, id string, body []byte, rec *Request) {
	if r.Method == http.MethodOptions {
		apiHeaders(w.Header())
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodPost {
		writeFail(w, 405, "E_METHOD_NOT_ALLOWED", "Method not allowed")
		return
	}
	if !idRule.MatchString(id) {
		writeFail(w, 400, "E_SANDBOX_ID", "Invalid sandbox id")
		return
	}
	v, err := decodeWire(body)
	obj, isObj := v.(map[string]any)
	if err != nil || !isObj {
		msg := "body must be a JSON object"
		if err != nil {
			msg = err.Error()
		}
		writeFail(w, 400, "E_BAD_JSON", "Invalid JSON body: "+msg)
		return
	}
	var raw struct {
		Op   string          `json:"op"`
		Args json.RawMessage `json:"args"`
	}
	_ = json.Unmarshal(body, &raw)
	rec.Op, rec.Args = raw.Op, raw.Args

	prefix, ident, aerr := s.authenticate(r, id, s.opts.RequiredScopes)
	if aerr != nil {
		writeFail(w, aerr.Status, aerr.Code, aerr.Message)
		return
	}
	c := &call{do: prefix + ":" + id, ident: ident}
	rec.DO = c.do
	c.op, _ = obj["op"].(string)
	c.args, _ = obj["args"].([]any)
	c.profile, _ = obj["profile"].(string)
	if c.profile == "" {
		c.profile = "default"
	}
	c.prof = s.profile(c.profile)
	c.root, _ = obj["root"].(string)
	if c.root == "" {
		c.root = c.prof.Root
	}
	if c.root == "" {
		c.root = "/home/user"
	}
	s.mu.Lock()
	if n := s.fail503[c.op]; n > 0 {
		s.fail503[c.op] = n - 1
		s.mu.Unlock()
		writeFail(w, 503, "E_NIMBUS_DO_OVERLOADED", "Durable Object is overloaded.")
		return
	}
	s.mu.Unlock()
	defer s.track(c.op)()
	if c.op == "execStream" && !s.opts.NoExecStream {
		s.execStream(w, r, c)
		return
	}
	result, has, oerr := s.dispatch(r.Context(), c)
	if oerr != nil {
		writeFail(w, oerr.status, oerr.code, oerr.msg)
		return
	}
	if diag, _ := obj["diag"].(bool); diag {
		env := map[string]any{"ok": true, "rpcMs": 3}
		if has {
			env["result"] = result
		}
		writeJSON(w, 200, env)
		return
	}
	writeOK(w, result, has)
}

// arg helpers implementing the server's coercion rules.

func (c *call) arg(i int) any {
	if i < len(c.args) {
		return c.args[i]
	}
	return nil
}

func (c *call) str(i int, name string) (string, *opError) {
	s, ok := c.arg(i).(string)
	if !ok {
		return "", argErr(name + " must be a string")
	}
	return s, nil
}

func (c *call) num(i int, name string) (float64, *opError) {
	var f float64
	var err error
	switch v := c.arg(i).(type) {
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
		return 0, argErr(name + " must be a number")
	}
	return f, nil
}

func (c *call) obj(i int) map[string]any {
	if m, ok := c.arg(i).(map[string]any); ok {
		return m
	}
	return map[string]any{}
}

// fileOpts refuses cred in the trailing file options.
func (c *call) fileOpts(i int) *opError {
	if _, has := c.obj(i)["cred"]; has {
		return argErr("cred is not accepted over the remote API")
	}
	return nil
}

var execIDRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,159}$`)
var shellIDRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)

// execOpts validates ExecOptions the way the Worker and DO do.
func (c *call) execOpts(i int) (map[string]any, *opError) {
	o := c.obj(i)
	if _, has := o["cred"]; has {
		return nil, argErr("cred is not accepted over the remote API")
	}
	if v, has := o["execId"]; has {
		s, _ := v.(string)
		if !execIDRule.MatchString(s) {
			return nil, argErr(fmt.Sprintf("execId must be 1 to 160 characters from A-Z a-z 0-9 . _ : - and start with a letter or digit, got %d characters", len(s)))
		}
	}
	if v, has := o["cwd"]; has {
		s, _ := v.(string)
		if !strings.HasPrefix(s, "/") {
			return nil, rpcErr("cwd must be an absolute POSIX path starting with '/', got " + fmt.Sprint(v))
		}
	}
	if v, has := o["shellId"]; has {
		s, _ := v.(string)
		if len(s) > 160 || !shellIDRule.MatchString(s) {
			return nil, rpcErr("Invalid shellId: " + fmt.Sprint(v))
		}
	}
	return o, nil
}

// runtime policy (§2.7)
func (c *call) policy(spec, action string) *opError {
	name, _, _ := strings.Cut(spec, "@")
	rt := c.prof.Runtimes
	if rt == nil {
		return nil
	}
	if rt.Allow != nil && !contains(rt.Allow, name) {
		return &opError{403, "E_RUNTIME_NOT_ALLOWED", fmt.Sprintf("Nimbus runtime '%s' is not allowed by sandbox profile '%s'", name, c.profile)}
	}
	if action == "onDemand" && rt.OnDemand != nil && !*rt.OnDemand {
		pre := false
		for _, p := range rt.Preinstall {
			if n, _, _ := strings.Cut(p, "@"); n == name {
				pre = true
			}
		}
		if !pre {
			return &opError{403, "E_RUNTIME_ON_DEMAND_DISABLED", fmt.Sprintf("Nimbus runtime '%s' is not preinstalled and on-demand runtime installs are disabled by sandbox profile '%s'", name, c.profile)}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Server) nowMs() int64 { return s.opts.Now().UnixMilli() }

func (s *Server) dispatch(ctx context.Context, c *call) (any, bool, *opError) {
	switch c.op {
	case "ready":
		pre := []string{}
		if c.prof.Runtimes != nil && c.prof.Runtimes.Preinstall != nil {
			pre = c.prof.Runtimes.Preinstall
		} else if l, ok := c.obj(0)["preinstall"].([]any); ok {
			for _, x := range l {
				if s, ok := x.(string); ok {
					pre = append(pre, s)
				}
			}
		}
		for _, p := range pre {
			if err := c.policy(p, "preinstall"); err != nil {
				return nil, false, err
			}
		}
		s.mu.Lock()
		sb := s.sandboxLocked(c.do, c.root)
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
	case "destroy":
		if aerr := destroyAllowed(c.ident); aerr != nil {
			return nil, false, &opError{aerr.Status, aerr.Code, aerr.Message}
		}
		reason, _ := c.obj(0)["reason"].(string)
		return s.destroy(c.do, reason), true, nil
	case "exec", "runCode":
		return s.execBuffered(ctx, c)
	case "detachExec":
		if _, err := c.str(0, "detachId"); err != nil {
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
	return nil, false, &opError{400, "E_REMOTE_OP", "Unknown Nimbus sandbox operation: " + c.op}
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
	reason = strings.TrimSpace(reason)
	if len(reason) > 200 {
		reason = reason[:200]
	}
	var rv any
	if reason != "" {
		rv = reason
	}
	return map[string]any{"ok": true, "killed": killed, "destroyedAt": s.nowMs(), "reason": rv}
}

// prepare builds the job for an exec-family call. The returned release
// must be called when the command has finished: it restores the named
// shell's environment (the call's env applies to this call only) and lets
// the next call on that shell run.
func (s *Server) prepare(ctx context.Context, c *call, o map[string]any, out func(byte, []byte)) (*job, func()) {
	s.mu.Lock()
	sb := s.sandboxLocked(c.do, c.root)
	var sh *shellState
	if id, _ := o["shellId"].(string); id != "" {
		sh = sb.shells[id]
		if sh == nil {
			root, _ := o["shellRoot"].(string)
			if root == "" {
				root = c.root
			}
			sh = &shellState{cwd: root, env: map[string]string{}}
			sb.shells[id] = sh
		}
	} else {
		sh = &shellState{cwd: c.root, env: map[string]string{}}
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
	return &job{s: s, do: c.do, ctx: ctx, sh: sh, stdin: stdin, out: out}, release
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

func (s *Server) codeScript(c *call, code string, o map[string]any) (string, string, *opError) {
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
		if err := c.policy(lang, map[bool]string{true: "onDemand", false: "use"}[action == "onDemand"]); err != nil {
			return "", "", err
		}
		if lang == "python" {
			return "python -c " + q, evalPrint(code, "print(", ")"), nil
		}
		return "ruby -e " + q, evalPrint(code, "puts ", ""), nil
	case "shell":
		if err := c.policy("shell", "use"); err != nil {
			return "", "", err
		}
		return code, code, nil
	case "javascript", "typescript":
		if err := c.policy("node", "use"); err != nil {
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

func (s *Server) execBuffered(ctx context.Context, c *call) (any, bool, *opError) {
	cmd, err := c.str(0, "command")
	if err != nil {
		return nil, false, err
	}
	o, err := c.execOpts(1)
	if err != nil {
		return nil, false, err
	}
	script, command := cmd, cmd
	if c.op == "runCode" {
		var perr *opError
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
		return nil, false, rpcErr(j.errFrame)
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
func (s *Server) execStream(w http.ResponseWriter, r *http.Request, c *call) {
	cmd, err := c.str(0, "command")
	if err == nil {
		_, err = c.execOpts(1)
	}
	if err != nil {
		writeFail(w, err.status, err.code, err.msg)
		return
	}
	o := c.obj(1)
	apiHeaders(w.Header())
	w.Header().Set("Content-Type", "application/vnd.nimbus.exec-stream")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	var wmu sync.Mutex
	write := func(kind byte, payload []byte) {
		wmu.Lock()
		defer wmu.Unlock()
		frame := make([]byte, 5+len(payload))
		frame[0] = kind
		binary.BigEndian.PutUint32(frame[1:5], uint32(len(payload)))
		copy(frame[5:], payload)
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
		p, _ := json.Marshal(map[string]string{"message": j.errFrame})
		write(4, p)
		return
	}
	end := s.opts.Now()
	p, _ := json.Marshal(map[string]any{"command": cmd, "exitCode": code, "success": code == 0, "duration": end.Sub(start).Milliseconds(), "timestamp": end.UnixMilli()})
	write(3, p)
}

// errKilled is the cancel cause of a killed process.
type errKilled struct {
	code   int
	reason string
}

func (e errKilled) Error() string { return e.reason }

func (s *Server) startProcess(c *call) (any, bool, *opError) {
	cmd, err := c.str(0, "command")
	if err != nil {
		return nil, false, err
	}
	o, err := c.execOpts(1)
	if err != nil {
		return nil, false, err
	}
	if rs, has := o["restart"]; has && rs != "never" && rs != "on-failure" {
		return nil, false, rpcErr("restart must be 'never' or 'on-failure'")
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	s.mu.Lock()
	pid := s.nextPID
	s.nextPID++
	sb := s.sandboxLocked(c.do, c.root)
	cwd, _ := o["cwd"].(string)
	if cwd == "" {
		cwd = c.root
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
	go func() {
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

func (s *Server) fileOp(c *call) (result any, has bool, oerr *opError, handled bool) {
	type fileFn func(sb *sandbox) (any, bool, *opError)
	var fn fileFn
	pathArg := func(i int, name string) (string, *opError) {
		p, err := c.str(i, name)
		if err != nil {
			return "", err
		}
		return cleanPath(p), nil
	}
	now := s.opts.Now()
	fsErr := func(e *fsError) *opError { return rpcErr(e.msg) }
	switch c.op {
	case "readFile", "readFileBytes", "stat", "lstat", "readlink", "readdir", "exists", "mkdir":
		p, err := pathArg(0, "path")
		if err != nil {
			return nil, false, err, true
		}
		if err := c.fileOpts(1); err != nil {
			return nil, false, err, true
		}
		fn = func(sb *sandbox) (any, bool, *opError) {
			n := sb.fs.get(p)
			switch c.op {
			case "readFile", "readFileBytes":
				if n == nil {
					return nil, false, nil
				}
				if n.dir {
					return nil, false, fsErr(errEISDIR("read", p))
				}
				if int64(len(n.data)) > s.opts.ReadLimit {
					return nil, false, rpcErr(fmt.Sprintf("filesystem RPC read payload of %d bytes exceeds the %d-byte limit", len(n.data), s.opts.ReadLimit))
				}
				if c.op == "readFile" {
					return strings.ToValidUTF8(string(n.data), "\uFFFD"), true, nil
				}
				return append([]byte{}, n.data...), true, nil
			case "stat", "lstat":
				if n == nil {
					return nil, false, nil
				}
				typ, mode := "file", uint32(0o100000)
				if n.dir {
					typ, mode = "directory", 0o040000
				}
				return map[string]any{"type": typ, "size": len(n.data), "mtime": n.mtime.UnixMilli(), "mode": mode | n.mode, "ctime": n.mtime.UnixMilli(), "revision": sb.revision, "uid": 1000}, true, nil
			case "readlink":
				return nil, false, nil
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
		switch v := c.arg(1).(type) {
		case string:
			data = []byte(v)
		case []byte:
			data = v
		default:
			return nil, false, argErr("content must be a string or Uint8Array"), true
		}
		if err := c.fileOpts(2); err != nil {
			return nil, false, err, true
		}
		fn = func(sb *sandbox) (any, bool, *opError) {
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
		fn = func(sb *sandbox) (any, bool, *opError) {
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
		mode, err := c.num(1, "mode")
		if err != nil {
			return nil, false, err, true
		}
		fn = func(sb *sandbox) (any, bool, *opError) {
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
		off, err := c.num(1, "offset")
		if err != nil {
			return nil, false, err, true
		}
		length, err := c.num(2, "length")
		if err != nil {
			return nil, false, err, true
		}
		fn = func(sb *sandbox) (any, bool, *opError) {
			n := sb.fs.get(p)
			if n == nil {
				return nil, false, nil
			}
			if n.dir {
				return nil, false, fsErr(errEISDIR("read", p))
			}
			if int64(length) > s.opts.ReadLimit {
				return nil, false, rpcErr(fmt.Sprintf("filesystem RPC read payload of %d bytes exceeds the %d-byte limit", int64(length), s.opts.ReadLimit))
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
		o := c.obj(1)
		if _, has := o["cred"]; has {
			return nil, false, argErr("cred is not accepted over the remote API"), true
		}
		rec, _ := o["recursive"].(bool)
		fn = func(sb *sandbox) (any, bool, *opError) {
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
	r, h, e := fn(s.sandboxLocked(c.do, c.root))
	return r, h, e, true
}

func (s *Server) otherOp(c *call) (result any, has bool, oerr *opError, handled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := s.sandboxLocked(c.do, c.root)
	pidArg := func() (int64, *opError) {
		f, err := c.num(0, "pid")
		return int64(f), err
	}
	ack := func(pid int64, ok bool) map[string]any { return map[string]any{"ok": ok, "pid": pid} }
	switch c.op {
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
		if c.op == "installRuntime" {
			sp, err := c.str(0, "spec")
			if err != nil {
				return nil, false, err, true
			}
			specs = []string{sp}
		} else {
			l, ok := c.arg(0).([]any)
			if !ok {
				return nil, false, argErr("specs must be an array"), true
			}
			for _, x := range l {
				sp, ok := x.(string)
				if !ok {
					return nil, false, argErr("specs must be an array of strings"), true
				}
				specs = append(specs, sp)
			}
		}
		out := []any{}
		for _, sp := range specs {
			if err := c.policy(sp, "onDemand"); err != nil {
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
		if c.op == "installRuntime" {
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
		o := c.obj(1)
		opt := map[string]int64{}
		for _, k := range []string{"cursor", "lines", "bytes"} {
			if v, has := o[k]; has {
				n, ok := v.(json.Number)
				i, ierr := n.Int64()
				if !ok || ierr != nil || i < 0 {
					return nil, false, argErr(k + " must be a non-negative integer"), true
				}
				opt[k] = i
			}
		}
		p := sb.procs[pid]
		if p == nil {
			return nil, false, rpcErr(fmt.Sprintf("no such process: %d", pid)), true
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
		if c.op == "signalProcess" {
			sg, err := c.str(1, "signal")
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
		data, err := c.str(1, "data")
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
		o := c.obj(1)
		if _, ok := o["columns"]; !ok {
			return nil, false, argErr("columns must be a number"), true
		}
		if _, ok := o["rows"]; !ok {
			return nil, false, argErr("rows must be a number"), true
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
		f, err := c.num(0, "port")
		if err != nil {
			return nil, false, err, true
		}
		port := int(f)
		o := c.obj(1)
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
		f, err := c.num(0, "port")
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
		key, port, aerr := appTarget(c.arg(0))
		if aerr != nil {
			return nil, false, aerr, true
		}
		if c.op == "removeApp" {
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
			if c.op == "rotateLink" {
				return nil, false, rpcErr("no app matches " + key), true
			}
			a = map[string]any{"owner": key, "name": nil, "port": port, "pid": nil, "status": "running", "visibility": "scoped", "capability": nil, "restart": "never", "diagnostic": nil, "url": nil}
			sb.apps[key] = a
		}
		o := c.obj(1)
		if c.op == "exposeApp" {
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
		o, ok := c.arg(0).(map[string]any)
		owner, _ := o["owner"].(string)
		if !ok || owner == "" {
			return nil, false, argErr("owner must be a string"), true
		}
		if c.op == "removeDurableApp" {
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
func appTarget(v any) (string, any, *opError) {
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
	return "", nil, argErr("app target must be a port, pid, name or owner")
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
