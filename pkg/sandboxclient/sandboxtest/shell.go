package sandboxtest

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The fake runs commands with a tiny shell: statements separated by ";",
// newlines, "&&" and "||"; words with single and double quotes and $VAR
// expansion; redirections ">&2", "> FILE" and ">> FILE"; and the builtins
// echo, printf (%s and \n only), cat, pwd, cd, export, printenv, env, true,
// false, exit, sleep, seq, ls, mkdir -p, rm, chmod, and nimbus-fake-error
// MESSAGE (which ends the exec stream with an error frame). Anything else is
// "command not found" with exit 127.

// shellState is a named shell's persistent cwd and environment.
type shellState struct {
	// mu makes calls on one named shell run one at a time, as the DO does.
	mu  sync.Mutex
	cwd string
	env map[string]string
}

// job is one command execution.
type job struct {
	s     *Server
	do    string
	ctx   context.Context
	sh    *shellState
	stdin string
	out   func(kind byte, data []byte)
	// errFrame is set by nimbus-fake-error.
	errFrame string
}

var errExit = errors.New("exit")

type stmt struct {
	words []string
	op    string // operator that FOLLOWS the statement: ";", "&&", "||"
}

// parse splits a script into statements of raw (unexpanded) words.
func parse(script string) ([]stmt, error) {
	var out []stmt
	var words []string
	var cur strings.Builder
	inWord := false
	flushWord := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	flushStmt := func(op string) {
		flushWord()
		if len(words) > 0 {
			out = append(out, stmt{words: words, op: op})
		} else if len(out) > 0 && op != ";" {
			out[len(out)-1].op = op
		}
		words = nil
	}
	for i := 0; i < len(script); i++ {
		c := script[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(script[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated quote")
			}
			cur.WriteByte('\x00') // marks a quoted segment: no expansion
			cur.WriteString(script[i+1 : i+1+j])
			cur.WriteByte('\x00')
			inWord = true
			i += j + 1
		case c == '"':
			j := i + 1
			for ; j < len(script) && script[j] != '"'; j++ {
				if script[j] == '\\' && j+1 < len(script) {
					j++
				}
			}
			if j >= len(script) {
				return nil, errors.New("unterminated quote")
			}
			cur.WriteByte('\x01') // double-quoted: expansion allowed
			cur.WriteString(strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\$`, "\x02").Replace(script[i+1 : j]))
			cur.WriteByte('\x01')
			inWord = true
			i = j
		case c == '\\' && i+1 < len(script):
			cur.WriteByte('\x00')
			cur.WriteByte(script[i+1])
			cur.WriteByte('\x00')
			inWord = true
			i++
		case c == ' ' || c == '\t':
			flushWord()
		case c == ';' || c == '\n':
			flushStmt(";")
		case c == '&' && i+1 < len(script) && script[i+1] == '&':
			flushStmt("&&")
			i++
		case c == '|' && i+1 < len(script) && script[i+1] == '|':
			flushStmt("||")
			i++
		case c == '>' || (c == '1' && !inWord && i+1 < len(script) && script[i+1] == '>'):
			flushWord()
			j := i
			for j < len(script) && strings.IndexByte("12>&", script[j]) >= 0 {
				j++
			}
			words = append(words, "\x03"+script[i:j])
			i = j - 1
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flushStmt(";")
	return out, nil
}

// expand resolves quotes markers and $VAR references of a raw word.
func (j *job) expand(w string) string {
	var b strings.Builder
	mode := byte(0) // 0 unquoted, '\x00' single, '\x01' double
	inQuote := false
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c == '\x00' || c == '\x01' {
			if inQuote && c == mode {
				inQuote = false
			} else if !inQuote {
				inQuote, mode = true, c
			}
			continue
		}
		if c == '\x02' {
			b.WriteByte('$')
			continue
		}
		if c == '$' && !(inQuote && mode == '\x00') && i+1 < len(w) {
			name, n := varName(w[i+1:])
			if n > 0 {
				b.WriteString(j.getenv(name))
				i += n
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func varName(s string) (string, int) {
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end > 1 {
			return s[1:end], end + 1
		}
		return "", 0
	}
	if strings.HasPrefix(s, "?") {
		return "?", 1
	}
	n := 0
	for n < len(s) && (s[n] == '_' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= 'a' && s[n] <= 'z' || n > 0 && s[n] >= '0' && s[n] <= '9') {
		n++
	}
	return s[:n], n
}

func (j *job) getenv(k string) string {
	switch k {
	case "PWD":
		return j.sh.cwd
	case "HOME":
		if v, ok := j.sh.env["HOME"]; ok {
			return v
		}
		return "/home/user"
	}
	return j.sh.env[k]
}

// run executes script and returns its exit code.
func (j *job) run(script string) int {
	stmts, err := parse(script)
	if err != nil {
		j.out(2, []byte("sh: syntax error: "+err.Error()+"\n"))
		return 2
	}
	code := 0
	run := true
	for _, st := range stmts {
		if run {
			code, err = j.runStmt(st.words, code)
			if errors.Is(err, errExit) || j.errFrame != "" || j.ctx.Err() != nil {
				return code
			}
			j.sh.env["?"] = strconv.Itoa(code)
		}
		switch st.op {
		case "&&":
			run = code == 0
		case "||":
			run = code != 0
		default:
			run = true
		}
	}
	return code
}

func (j *job) abs(p string) string {
	if strings.HasPrefix(p, "/") {
		return cleanPath(p)
	}
	return cleanPath(j.sh.cwd + "/" + p)
}

func (j *job) runStmt(raw []string, last int) (int, error) {
	var args []string
	stdoutKind := byte(1)
	var redirectFile string
	appendMode := false
	for i := 0; i < len(raw); i++ {
		w := raw[i]
		if strings.HasPrefix(w, "\x03") {
			op := w[1:]
			switch op {
			case ">&2", "1>&2":
				stdoutKind = 2
			case ">", "1>", ">>", "1>>":
				if i+1 >= len(raw) {
					j.out(2, []byte("sh: syntax error near redirection\n"))
					return 2, nil
				}
				redirectFile = j.abs(j.expand(raw[i+1]))
				appendMode = strings.HasSuffix(op, ">>")
				i++
			default:
				j.out(2, []byte("sh: unsupported redirection "+op+"\n"))
				return 2, nil
			}
			continue
		}
		args = append(args, j.expand(w))
	}
	if len(args) == 0 {
		return last, nil
	}
	var captured []byte
	out := func(b []byte) { j.out(stdoutKind, b) }
	if redirectFile != "" {
		out = func(b []byte) { captured = append(captured, b...) }
	}
	errOut := func(s string) { j.out(2, []byte(s)) }
	code, err := j.builtin(args, out, errOut)
	if redirectFile != "" {
		j.s.mu.Lock()
		fs := j.s.sandboxLocked(j.do, "/home/user").fs
		if p := fs.get(parentOf(redirectFile)); p == nil || !p.dir {
			j.s.mu.Unlock()
			errOut("sh: " + redirectFile + ": No such file or directory\n")
			return 1, nil
		}
		n := fs.get(redirectFile)
		if n == nil {
			n = &node{mode: 0o644}
			fs.nodes[redirectFile] = n
		}
		if appendMode {
			n.data = append(n.data, captured...)
		} else {
			n.data = captured
		}
		n.mtime = j.s.opts.Now()
		j.s.mu.Unlock()
	}
	return code, err
}

func (j *job) builtin(args []string, out func([]byte), errOut func(string)) (int, error) {
	name := args[0]
	switch name {
	case "true", ":":
		return 0, nil
	case "false":
		return 1, nil
	case "exit":
		code := 0
		if len(args) > 1 {
			code, _ = strconv.Atoi(args[1])
		}
		return code & 0xff, errExit
	case "echo":
		a := args[1:]
		nl := true
		if len(a) > 0 && a[0] == "-n" {
			nl, a = false, a[1:]
		}
		s := strings.Join(a, " ")
		if nl {
			s += "\n"
		}
		out([]byte(s))
		return 0, nil
	case "printf":
		if len(args) < 2 {
			return 0, nil
		}
		f := strings.ReplaceAll(args[1], `\n`, "\n")
		for _, a := range args[2:] {
			f = strings.Replace(f, "%s", a, 1)
		}
		out([]byte(f))
		return 0, nil
	case "pwd":
		out([]byte(j.sh.cwd + "\n"))
		return 0, nil
	case "cd":
		target := j.getenv("HOME")
		if len(args) > 1 {
			target = j.abs(args[1])
		}
		j.s.mu.Lock()
		n := j.s.sandboxLocked(j.do, "/home/user").fs.get(target)
		j.s.mu.Unlock()
		if n == nil || !n.dir {
			errOut("sh: cd: " + target + ": No such file or directory\n")
			return 1, nil
		}
		j.sh.cwd = target
		return 0, nil
	case "export":
		for _, a := range args[1:] {
			if k, v, ok := strings.Cut(a, "="); ok {
				j.sh.env[k] = v
			}
		}
		return 0, nil
	case "printenv":
		if len(args) < 2 {
			return j.builtin([]string{"env"}, out, errOut)
		}
		v, ok := j.sh.env[args[1]]
		if !ok {
			return 1, nil
		}
		out([]byte(v + "\n"))
		return 0, nil
	case "env":
		keys := make([]string, 0, len(j.sh.env))
		for k := range j.sh.env {
			if k != "?" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			out([]byte(k + "=" + j.sh.env[k] + "\n"))
		}
		return 0, nil
	case "sleep":
		if len(args) < 2 {
			errOut("sleep: missing operand\n")
			return 1, nil
		}
		secs, err := strconv.ParseFloat(strings.TrimSuffix(args[1], "s"), 64)
		if err != nil {
			errOut("sleep: invalid time interval '" + args[1] + "'\n")
			return 1, nil
		}
		t := time.NewTimer(time.Duration(secs * float64(time.Second)))
		defer t.Stop()
		select {
		case <-t.C:
			return 0, nil
		case <-j.ctx.Done():
			return 130, j.ctx.Err()
		}
	case "seq":
		if len(args) < 2 {
			return 1, nil
		}
		lo, hi := 1, 0
		if len(args) == 2 {
			hi, _ = strconv.Atoi(args[1])
		} else {
			lo, _ = strconv.Atoi(args[1])
			hi, _ = strconv.Atoi(args[2])
		}
		var b []byte
		for i := lo; i <= hi; i++ {
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, '\n')
			if len(b) >= 4096 {
				out(b)
				b = nil
			}
		}
		if len(b) > 0 {
			out(b)
		}
		return 0, nil
	case "cat":
		if len(args) == 1 {
			out([]byte(j.stdin))
			return 0, nil
		}
		code := 0
		for _, a := range args[1:] {
			p := j.abs(a)
			j.s.mu.Lock()
			n := j.s.sandboxLocked(j.do, "/home/user").fs.get(p)
			var data []byte
			if n != nil {
				data = append([]byte(nil), n.data...)
			}
			j.s.mu.Unlock()
			switch {
			case n == nil:
				errOut("cat: " + a + ": No such file or directory\n")
				code = 1
			case n.dir:
				errOut("cat: " + a + ": Is a directory\n")
				code = 1
			default:
				out(data)
			}
		}
		return code, nil
	case "ls":
		p := j.sh.cwd
		if len(args) > 1 {
			p = j.abs(args[len(args)-1])
		}
		j.s.mu.Lock()
		fs := j.s.sandboxLocked(j.do, "/home/user").fs
		n := fs.get(p)
		var names []string
		if n != nil && n.dir {
			for _, c := range fs.children(p) {
				names = append(names, c[strings.LastIndexByte(c, '/')+1:])
			}
		}
		j.s.mu.Unlock()
		if n == nil {
			errOut("ls: cannot access '" + p + "': No such file or directory\n")
			return 2, nil
		}
		for _, nm := range names {
			out([]byte(nm + "\n"))
		}
		return 0, nil
	case "mkdir":
		j.s.mu.Lock()
		defer j.s.mu.Unlock()
		fs := j.s.sandboxLocked(j.do, "/home/user").fs
		for _, a := range args[1:] {
			if a == "-p" {
				continue
			}
			if err := fs.mkdirAll(j.abs(a), j.s.opts.Now()); err != nil {
				errOut("mkdir: " + err.msg + "\n")
				return 1, nil
			}
		}
		return 0, nil
	case "rm":
		j.s.mu.Lock()
		defer j.s.mu.Unlock()
		fs := j.s.sandboxLocked(j.do, "/home/user").fs
		for _, a := range args[1:] {
			if strings.HasPrefix(a, "-") {
				continue
			}
			fs.removeTree(j.abs(a))
		}
		return 0, nil
	case "nimbus-fake-error":
		j.errFrame = strings.Join(args[1:], " ")
		return 1, nil
	}
	errOut("sh: " + name + ": command not found\n")
	return 127, nil
}
