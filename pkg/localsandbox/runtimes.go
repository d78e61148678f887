package localsandbox

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// hostRuntime is a runtime the host provides on PATH.
type hostRuntime struct {
	name    string
	bins    []string // found binaries, first is the main one
	paths   []string // their absolute paths
	version string
}

// runtimeBins lists, per runtime name, the binaries that provide it; the
// first one found is the interpreter.
var runtimeBins = []struct {
	name string
	bins []string
}{
	{"node", []string{"node", "npm", "npx"}},
	{"bun", []string{"bun"}},
	{"npm", []string{"npm"}},
	{"git", []string{"git"}},
	{"python", []string{"python3", "python", "pip3", "pip"}},
	{"ruby", []string{"ruby", "gem"}},
	{"clang", []string{"clang"}},
	{"shell", []string{"sh"}},
}

// lookPath finds bin on the PATH of the commands' environment (never the
// server's own).
func (s *Server) lookPath(bin string) string {
	if strings.Contains(bin, "/") {
		return bin
	}
	pathVar := "/usr/local/bin:/usr/bin:/bin"
	for _, kv := range s.opts.HostEnv {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, bin)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// hostRuntime returns the runtime name if the host has it (no version).
func (s *Server) hostRuntime(_ context.Context, name string) *hostRuntime {
	for _, rb := range runtimeBins {
		if rb.name != name {
			continue
		}
		rt := &hostRuntime{name: name}
		for _, b := range rb.bins {
			if b == "sh" {
				rt.bins, rt.paths = append(rt.bins, b), append(rt.paths, s.opts.Shell)
				continue
			}
			if p := s.lookPath(b); p != "" {
				rt.bins, rt.paths = append(rt.bins, b), append(rt.paths, p)
			}
		}
		if len(rt.bins) == 0 || (name == "python" && !strings.HasPrefix(rt.bins[0], "python")) || (name == "ruby" && rt.bins[0] != "ruby") || (name == "node" && rt.bins[0] != "node") {
			return nil
		}
		return rt
	}
	return nil
}

// version finds the first dotted number (as in "Python 3.12.7" or
// "v22.11.0") in a --version output.
func version(out string) string {
	for i := 0; i < len(out); i++ {
		if !isDigit(out[i]) {
			continue
		}
		j, dots := i, 0
		for j < len(out) && (isDigit(out[j]) || out[j] == '.' && j+1 < len(out) && isDigit(out[j+1])) {
			if out[j] == '.' {
				dots++
			}
			j++
		}
		if dots > 0 {
			return out[i:j]
		}
		i = j
	}
	return ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// hostRuntimes detects every runtime with its version. Which runtimes
// the host has is looked up once per server; a version is kept once
// `--version` answered, and asked again on the next call when it did not
// (it failed to start, exited non-zero or timed out: a machine briefly
// out of processes must not leave a runtime without its version for the
// life of the server).
func (s *Server) hostRuntimes(ctx context.Context) []hostRuntime {
	s.rtMu.Lock()
	defer s.rtMu.Unlock()
	if !s.rtFound {
		for _, rb := range runtimeBins {
			if rt := s.hostRuntime(ctx, rb.name); rt != nil {
				s.rt = append(s.rt, *rt)
			}
		}
		s.rtFound = true
		s.rtKnown = make([]bool, len(s.rt))
	}
	var wg sync.WaitGroup
	for i := range s.rt {
		if s.rt[i].name == "shell" || s.rtKnown[i] {
			continue
		}
		wg.Add(1)
		go func(rt *hostRuntime, known *bool) {
			defer wg.Done()
			vctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			cmd := exec.CommandContext(vctx, rt.paths[0], "--version")
			cmd.Env = s.opts.HostEnv
			out, err := cmd.CombinedOutput()
			rt.version, *known = version(string(out)), err == nil
		}(&s.rt[i], &s.rtKnown[i])
	}
	wg.Wait()
	return slices.Clone(s.rt)
}

// notLocal explains a missing runtime.
func notLocal(name string) string {
	return name + " is not available locally: the local backend uses the host's runtimes and cannot install them; install " + name + " on this machine"
}

func (sb *sandbox) runtimeOp(ctx context.Context, c *sandboxserver.Call) (any, bool, *sandboxserver.Error) {
	switch c.Op {
	case "listRuntimes":
		inst := []any{}
		for _, rt := range sb.s.hostRuntimes(ctx) {
			inst = append(inst, map[string]any{
				// root is where a Worker installed the runtime in the
				// sandbox; here it is a directory of the host's PATH, which
				// a client is not told (the server's log is): the field
				// stays, empty.
				"name": rt.name, "version": rt.version, "root": "",
				"abi": "host", "bins": rt.bins, "sizeBytes": 0, "license": "",
			})
		}
		return map[string]any{"installed": inst, "available": []any{}}, true, nil
	case "installRuntime":
		spec, aerr := c.Str(0, "spec")
		if aerr != nil {
			return nil, false, aerr
		}
		if aerr := c.Policy(spec, "onDemand"); aerr != nil {
			return nil, false, aerr
		}
		return sb.install(ctx, spec), true, nil
	default: // ensureRuntimes
		v := c.Arg(0)
		l, ok := v.([]any)
		if !ok {
			return nil, false, sandboxserver.ArgError("specs must be an array")
		}
		var specs []string
		for _, x := range l {
			// Each spec is String(x), as the Worker's dispatcher does.
			sp := jsToString(x)
			if aerr := c.Policy(sp, "onDemand"); aerr != nil {
				return nil, false, aerr
			}
			specs = append(specs, sp)
		}
		out := []any{}
		for _, sp := range specs {
			out = append(out, sb.install(ctx, sp))
		}
		return out, true, nil
	}
}

// install answers an install locally: a runtime the host has is already
// there; anything else cannot be installed by this backend. The answers
// name the runtime and its version, never where the host keeps it (a
// directory of the host's PATH): a failure gives that to the server's log.
func (sb *sandbox) install(ctx context.Context, spec string) map[string]any {
	name, want, versioned := strings.Cut(spec, "@")
	if rt := sb.s.hostRuntime(ctx, name); rt != nil {
		if versioned {
			// Only a versioned spec asks the host's version (which may
			// start `--version` processes).
			have := sb.s.hostVersion(ctx, name)
			if !versionNumber(want) {
				// A tag or a range ("latest", "lts", "^22"): the host's
				// version is what this backend has, and the answer says
				// which one, rather than fail a script that does not pin
				// a version.
				return map[string]any{"spec": spec, "exitCode": 0, "stdout": name + " is provided by the host, version " + orUnknown(have) + "; \"" + want + "\" is not checked locally\n", "stderr": ""}
			}
			// A version number is there only if the host's is that one:
			// success for another would claim an install that did not
			// happen.
			if !versionMatches(have, want) {
				if have == "" {
					have = "of a version it does not tell"
				}
				sb.s.logHost("install of "+spec+" refused", sb.id, errors.New("the host's "+name+" is "+rt.paths[0]+", version "+orUnknown(have)))
				return map[string]any{"spec": spec, "exitCode": 1, "stdout": "", "stderr": spec + " is not available locally: the host provides " + name + " " + have + " and the local backend cannot install another version; install " + name + " " + want + " on this machine, or ask for " + name + " without a version\n"}
			}
		}
		return map[string]any{"spec": spec, "exitCode": 0, "stdout": name + " is provided by the host\n", "stderr": ""}
	}
	return map[string]any{"spec": spec, "exitCode": 1, "stdout": "", "stderr": "runtime installs are not available locally: " + notLocal(name) + "\n"}
}

// codeScript turns runCode's code into the command it reports and the
// script it runs, after the runtime policy check. missing is set (and the
// command not run) when the host lacks the interpreter, or has a node too
// old to strip TypeScript's types.
func (sb *sandbox) codeScript(ctx context.Context, c *sandboxserver.Call, o map[string]any) (command, script, missing string, aerr *sandboxserver.Error) {
	lang, _ := o["language"].(string)
	if lang == "" {
		lang = "javascript"
	}
	install, _ := o["install"].(string)
	// The policy applies before the code is even read.
	codeArg := func() (string, *sandboxserver.Error) { return c.Str(0, "code") }
	var rtName, flag, shown string
	switch lang {
	case "python", "ruby":
		action := "use"
		if install == "ifMissing" {
			action = "onDemand"
		}
		if aerr := c.Policy(lang, action); aerr != nil {
			return "", "", "", aerr
		}
		rtName, flag, shown = lang, "-c", "python"
		if lang == "ruby" {
			flag, shown = "-e", "ruby"
		}
	case "shell":
		if aerr := c.Policy("shell", "use"); aerr != nil {
			return "", "", "", aerr
		}
		code, aerr := codeArg()
		return code, code, "", aerr
	case "javascript", "typescript":
		if aerr := c.Policy("node", "use"); aerr != nil {
			return "", "", "", aerr
		}
		rtName, flag, shown = "node", "-e", "node"
	default:
		if _, aerr := codeArg(); aerr != nil {
			return "", "", "", aerr
		}
		return "", "", "", sandboxserver.RPCError("Unsupported runCode language: " + lang)
	}
	code, aerr := codeArg()
	if aerr != nil {
		return "", "", "", aerr
	}
	q := shellQuote(code)
	command = shown + " " + flag + " " + q
	rt := sb.s.hostRuntime(ctx, rtName)
	if rt == nil {
		return command, "", notLocal(rtName) + "\n", nil
	}
	interp := shellQuote(rt.paths[0])
	if lang == "typescript" {
		flags, refusal := sb.s.typeScriptFlags(ctx, rt.paths[0])
		if refusal != nil {
			sb.s.logHost("typescript refused", sb.id, refusal)
			return command, "", refusal.answer, nil
		}
		for _, f := range flags {
			interp += " " + f
		}
	}
	return command, interp + " " + flag + " " + q, "", nil
}

// shellQuote single-quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// jsToString is JavaScript's String(x) for decoded JSON values.
func jsToString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(t)
	case json.Number:
		if f, ok := sandboxserver.Number(t, true); ok {
			return sandboxserver.JSNumber(f)
		}
		return string(t)
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			if x != nil {
				parts[i] = jsToString(x)
			}
		}
		return strings.Join(parts, ",")
	case []byte:
		parts := make([]string, len(t))
		for i, b := range t {
			parts[i] = strconv.Itoa(int(b))
		}
		return strings.Join(parts, ",")
	}
	return "[object Object]"
}

// hostVersion is the version of the host's runtime name ("" when unknown).
func (s *Server) hostVersion(ctx context.Context, name string) string {
	for _, rt := range s.hostRuntimes(ctx) {
		if rt.name == name {
			return rt.version
		}
	}
	return ""
}

// versionNumber reports whether a spec's version is a version number
// ("22", "v22.11.0", "3.12.7"), which the host's version must match, rather
// than a tag or a range.
func versionNumber(want string) bool {
	want = strings.TrimPrefix(want, "v")
	if want == "" {
		return false
	}
	for _, c := range want {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

// orUnknown is v, or "unknown" when the host does not tell it.
func orUnknown(v string) string {
	if v == "" {
		return "unknown"
	}
	return v
}

// versionMatches reports whether the host's version have is the version
// want of a spec: the same, or want is a leading part of it at a dot
// ("22" and "22.11" match "22.11.0"; "2" does not match "22.11.0").
func versionMatches(have, want string) bool {
	have, want = strings.TrimPrefix(have, "v"), strings.TrimPrefix(want, "v")
	return have != "" && (have == want || want != "" && strings.HasPrefix(have, want+"."))
}
