//go:build unix

package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The GitHub Action is tested without act: action.yml's steps run here with
// bash the way the runner runs a composite action (inputs and step outputs
// substituted into env, GITHUB_OUTPUT and GITHUB_PATH files, if: always()),
// against a real `nimbus dev` and a fake release server that serves this
// commit's binary, archived and checksummed as .goreleaser.yaml names them.

const actionVersion = "0.0.1-actiontest"

type actionStep struct {
	ID    string            `yaml:"id"`
	If    string            `yaml:"if"`
	Shell string            `yaml:"shell"`
	Env   map[string]string `yaml:"env"`
	Run   string            `yaml:"run"`
}

type actionFile struct {
	Inputs map[string]struct {
		Required bool   `yaml:"required"`
		Default  string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Value string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string       `yaml:"using"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"runs"`
}

// fixture is what every scenario shares: the release server, nimbus dev.
type fixture struct {
	action   actionFile
	bin      string // this commit's nimbus, as released
	release  *httptest.Server
	sums     []byte // checksums.txt as served
	endpoint string
	data     string // nimbus dev's data directory
	secret   string
	// jobEnv is the workflow's env: for every step, as a job sets it.
	jobEnv []string
	// stall makes the release server send the archive's first bytes and
	// then nothing more, as a server that stops answering does.
	stall atomic.Bool
	// unstall ends the stalled answers (when the test gives up on them).
	unstall chan struct{}
}

func loadAction(t *testing.T) actionFile {
	t.Helper()
	b, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a actionFile
	if err := yaml.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	if a.Runs.Using != "composite" {
		t.Fatalf("runs.using %q, want composite", a.Runs.Using)
	}
	return a
}

// archiveName renders .goreleaser.yaml's archive name template for this
// machine, so a renamed archive breaks this test rather than the action.
func archiveName(t *testing.T) (archive, checksums string) {
	t.Helper()
	b, err := os.ReadFile(".goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ProjectName string `yaml:"project_name"`
		Archives    []struct {
			NameTemplate    string   `yaml:"name_template"`
			Formats         []string `yaml:"formats"`
			FormatOverrides []struct {
				Goos    string   `yaml:"goos"`
				Formats []string `yaml:"formats"`
			} `yaml:"format_overrides"`
		} `yaml:"archives"`
		Checksum struct {
			NameTemplate string `yaml:"name_template"`
		} `yaml:"checksum"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Archives) != 1 || !slices.Equal(cfg.Archives[0].Formats, []string{"tar.gz"}) {
		t.Fatalf("archives: %+v", cfg.Archives)
	}
	// The action fetches .tar.gz, and .zip on Windows (which this test
	// cannot run): the release must make exactly those.
	if o := cfg.Archives[0].FormatOverrides; len(o) != 1 || o[0].Goos != "windows" || !slices.Equal(o[0].Formats, []string{"zip"}) {
		t.Fatalf("format_overrides %+v: action.yml downloads .zip on Windows and .tar.gz elsewhere", o)
	}
	if cfg.Checksum.NameTemplate != "checksums.txt" {
		t.Fatalf("checksum name %q: action.yml downloads checksums.txt", cfg.Checksum.NameTemplate)
	}
	name := cfg.Archives[0].NameTemplate
	for k, v := range map[string]string{"{{ .ProjectName }}": cfg.ProjectName, "{{ .Version }}": actionVersion, "{{ .Os }}": runtime.GOOS, "{{ .Arch }}": runtime.GOARCH} {
		name = strings.ReplaceAll(name, k, v)
	}
	if strings.Contains(name, "{{") {
		t.Fatalf("archive name template %q uses fields this test does not know", cfg.Archives[0].NameTemplate)
	}
	return name + ".tar.gz", cfg.Checksum.NameTemplate
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("the action's steps need bash")
	}
	f := &fixture{action: loadAction(t), secret: "action-test-secret-0123456789abcdef"}
	dir := t.TempDir()
	bin := filepath.Join(dir, "nimbus")
	f.bin = bin
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X github.com/nimbus-sh/nimbus/internal/buildinfo.Version="+actionVersion, "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	archive, sumsName := archiveName(t)
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	exe, _ := os.ReadFile(bin)
	for _, e := range []struct {
		name string
		mode int64
		data []byte
	}{{"README.md", 0o644, []byte("# nimbus\n")}, {"nimbus", 0o755, exe}} {
		tw.WriteHeader(&tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.data)), ModTime: time.Unix(0, 0)})
		tw.Write(e.data)
	}
	tw.Close()
	zw.Close()
	sum := sha256.Sum256(tgz.Bytes())
	f.sums = []byte(hex.EncodeToString(sum[:]) + "  " + archive + "\n" + strings.Repeat("0", 64) + "  nimbus_" + actionVersion + "_plan9_amd64.tar.gz\n")
	var mu sync.Mutex
	f.release = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.stall.Load() && r.URL.Path == "/releases/download/v"+actionVersion+"/"+archive {
			w.Header().Set("Content-Length", strconv.Itoa(tgz.Len()))
			w.Write(tgz.Bytes()[:512])
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-f.unstall:
			}
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/releases/latest":
			http.Redirect(w, r, "/releases/tag/v"+actionVersion, http.StatusFound)
		case "/releases/tag/v" + actionVersion:
			w.Write([]byte("release page"))
		case "/releases/download/v" + actionVersion + "/" + archive:
			w.Write(tgz.Bytes())
		case "/releases/download/v" + actionVersion + "/" + sumsName:
			w.Write(f.sums)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.release.Close)

	// nimbus dev, the released binary's own.
	f.data = filepath.Join(dir, "devdata")
	dev := exec.Command(bin, "dev", "--addr", "127.0.0.1:0", "--data", f.data)
	dev.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "JWT_SECRET=" + f.secret}
	out, _ := dev.StdoutPipe()
	var devErr bytes.Buffer
	dev.Stderr = &devErr
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dev.Process.Signal(syscall.SIGINT)
		dev.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("nimbus dev: %v\n%s", err, devErr.String())
	}
	go io.Copy(io.Discard, out)
	f.endpoint = strings.TrimSpace(line)
	return f
}

// stepResult is one step's outcome.
type stepResult struct {
	ran    bool
	status int
	log    string
}

// runAction runs action.yml's steps with inputs, as the runner would in a
// fresh job whose temporary directory is runnerTemp. kill, when set, is
// called with each step's process as it starts (to cancel it).
func (f *fixture) runAction(t *testing.T, runnerTemp, workspace string, inputs map[string]string, kill func(step string, p *os.Process)) (map[string]string, map[string]*stepResult) {
	t.Helper()
	in := map[string]string{}
	for k, v := range f.action.Inputs {
		in[k] = v.Default
	}
	for k, v := range inputs {
		if _, ok := f.action.Inputs[k]; !ok {
			t.Fatalf("action.yml has no input %q", k)
		}
		in[k] = v
	}
	for k, v := range f.action.Inputs {
		if v.Required && in[k] == "" {
			t.Fatalf("required input %q not given", k)
		}
	}
	outputs := map[string]map[string]string{}
	expr := regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)
	eval := func(e string) string {
		switch {
		case strings.HasPrefix(e, "inputs."):
			return in[strings.TrimPrefix(e, "inputs.")]
		case strings.HasPrefix(e, "steps."):
			parts := strings.Split(e, ".")
			if len(parts) != 4 || parts[2] != "outputs" {
				t.Fatalf("expression %q", e)
			}
			return outputs[parts[1]][parts[3]]
		}
		t.Fatalf("action.yml uses an expression this runner does not know: %q", e)
		return ""
	}
	subst := func(s string) string {
		return expr.ReplaceAllStringFunc(s, func(m string) string { return eval(expr.FindStringSubmatch(m)[1]) })
	}
	// condition evaluates the if: forms action.yml uses.
	failed := false
	condition := func(c string) bool {
		if c == "" {
			return !failed
		}
		ok := true
		for _, term := range strings.Split(c, "&&") {
			term = strings.TrimSpace(term)
			switch {
			case term == "always()":
			case term == "success()":
				ok = ok && !failed
			case strings.Contains(term, "!="):
				l, r, _ := strings.Cut(term, "!=")
				ok = ok && eval(strings.TrimSpace(l)) != strings.Trim(strings.TrimSpace(r), "'")
			case strings.Contains(term, "=="):
				l, r, _ := strings.Cut(term, "==")
				ok = ok && eval(strings.TrimSpace(l)) == strings.Trim(strings.TrimSpace(r), "'")
			default:
				t.Fatalf("if: term %q is not understood by this runner", term)
			}
		}
		return ok
	}
	osName := map[string]string{"linux": "Linux", "darwin": "macOS"}[runtime.GOOS]
	arch := map[string]string{"amd64": "X64", "arm64": "ARM64"}[runtime.GOARCH]
	pathFile := filepath.Join(runnerTemp, "github_path")
	os.WriteFile(pathFile, nil, 0o644)
	results := map[string]*stepResult{}
	for _, st := range f.action.Runs.Steps {
		r := &stepResult{}
		results[st.ID] = r
		if st.Shell != "bash" {
			t.Fatalf("step %s: shell %q (only bash runs on every runner)", st.ID, st.Shell)
		}
		if !condition(st.If) {
			continue
		}
		r.ran = true
		outFile := filepath.Join(runnerTemp, "output_"+st.ID)
		os.WriteFile(outFile, nil, 0o644)
		script := filepath.Join(runnerTemp, "step_"+st.ID+".sh")
		os.WriteFile(script, []byte(subst(st.Run)), 0o644)
		path := os.Getenv("PATH")
		if b, _ := os.ReadFile(pathFile); len(b) > 0 {
			for _, p := range strings.Fields(string(b)) {
				path = p + ":" + path
			}
		}
		// GitHub's bash invocation for shell: bash.
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
		cmd.Dir = workspace
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Env = []string{"PATH=" + path, "HOME=" + runnerTemp, "RUNNER_TEMP=" + runnerTemp, "RUNNER_OS=" + osName, "RUNNER_ARCH=" + arch,
			"GITHUB_OUTPUT=" + outFile, "GITHUB_PATH=" + pathFile, "GITHUB_RUN_ID=4242", "GITHUB_RUN_ATTEMPT=1", "GITHUB_ACTIONS=true", "TMPDIR=" + runnerTemp}
		cmd.Env = append(cmd.Env, f.jobEnv...)
		for k, v := range st.Env {
			cmd.Env = append(cmd.Env, k+"="+subst(v))
		}
		var log lockedBuf
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if kill != nil {
			kill(st.ID, cmd.Process)
		}
		err := cmd.Wait()
		r.log = log.String()
		if ee, ok := err.(*exec.ExitError); ok {
			r.status = ee.ExitCode()
			failed = true
		} else if err != nil {
			t.Fatal(err)
		}
		outputs[st.ID] = map[string]string{}
		b, _ := os.ReadFile(outFile)
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				outputs[st.ID][k] = v
			}
		}
	}
	out := map[string]string{}
	for k, v := range f.action.Outputs {
		out[k] = subst(v.Value)
	}
	return out, results
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (f *fixture) sandboxes() []string {
	ents, _ := os.ReadDir(filepath.Join(f.data, "sandboxes"))
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func (f *fixture) creds() map[string]string {
	return map[string]string{"endpoint": f.endpoint, "jwt-secret": f.secret, "tenant": "ci", "release-url": f.release.URL + "/releases"}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func dump(results map[string]*stepResult) string {
	var b strings.Builder
	for id, r := range results {
		fmt.Fprintf(&b, "--- step %s (ran %v, status %d)\n%s\n", id, r.ran, r.status, r.log)
	}
	return b.String()
}

// shown is what the job's log shows: the runner consumes ::add-mask::
// commands (and masks their value everywhere after).
func shown(results map[string]*stepResult) string {
	var b strings.Builder
	for _, l := range strings.Split(dump(results), "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func TestAction(t *testing.T) {
	f := newFixture(t)

	t.Run("upload run download destroy", func(t *testing.T) {
		temp, ws := t.TempDir(), t.TempDir()
		os.MkdirAll(filepath.Join(ws, "src"), 0o755)
		os.WriteFile(filepath.Join(ws, "src", "input.txt"), []byte("from the workspace\n"), 0o644)
		out, res := f.runAction(t, temp, ws, with(f.creds(),
			"upload", "src\n# a comment\n",
			"download", "report.txt",
			"command", "cat input.txt > report.txt\necho built $(wc -c < report.txt)",
		), nil)
		if res["run"].status != 0 || out["exit-code"] != "0" || !strings.HasPrefix(out["sandbox-id"], "gha-4242-1-") {
			t.Fatalf("outputs %v\n%s", out, dump(res))
		}
		if !strings.Contains(res["run"].log, "built 19") || !strings.Contains(res["install"].log, actionVersion) {
			t.Fatalf("logs:\n%s", dump(res))
		}
		if b, err := os.ReadFile(filepath.Join(ws, "report.txt")); err != nil || string(b) != "from the workspace\n" {
			t.Fatalf("download: %q %v", b, err)
		}
		if !res["destroy"].ran || len(f.sandboxes()) != 0 {
			t.Fatalf("left %v\n%s", f.sandboxes(), dump(res))
		}
		if strings.Contains(shown(res), f.secret) {
			t.Fatalf("the secret appears in a log:\n%s", shown(res))
		}
	})

	t.Run("a failing command fails the step and the sandbox is destroyed", func(t *testing.T) {
		temp, ws := t.TempDir(), t.TempDir()
		out, res := f.runAction(t, temp, ws, with(f.creds(), "version", actionVersion, "command", "echo partial > out.txt; exit 3", "download", "out.txt"), nil)
		if res["run"].status != 3 || out["exit-code"] != "3" || !res["destroy"].ran || res["destroy"].status != 0 {
			t.Fatalf("%v\n%s", out, dump(res))
		}
		if b, _ := os.ReadFile(filepath.Join(ws, "out.txt")); string(b) != "partial\n" {
			t.Fatalf("download after a failure: %q", b)
		}
		if len(f.sandboxes()) != 0 {
			t.Fatalf("left %v", f.sandboxes())
		}
	})

	t.Run("a timeout kills the command, downloads and destroys", func(t *testing.T) {
		temp, ws := t.TempDir(), t.TempDir()
		out, res := f.runAction(t, temp, ws, with(f.creds(), "timeout", "1s", "command", "echo before > out.txt; sleep 30", "download", "out.txt"), nil)
		if res["run"].status != 124 || out["exit-code"] != "124" || !res["destroy"].ran || res["destroy"].status != 0 {
			t.Fatalf("%v\n%s", out, dump(res))
		}
		if b, _ := os.ReadFile(filepath.Join(ws, "out.txt")); string(b) != "before\n" {
			t.Fatalf("download after a timeout: %q", b)
		}
		if len(f.sandboxes()) != 0 {
			t.Fatalf("left %v", f.sandboxes())
		}
		_, res = f.runAction(t, t.TempDir(), t.TempDir(), with(f.creds(), "timeout", "soon", "command", "true"), nil)
		// run passes the command's code through, so its own failures, usage
		// included, are 125.
		if res["run"].status != 125 || !strings.Contains(res["run"].log, `invalid argument "soon" for "--timeout"`) {
			t.Fatalf("a bad timeout: %s", dump(res))
		}
	})

	t.Run("a cancelled run leaks nothing", func(t *testing.T) {
		temp, ws := t.TempDir(), t.TempDir()
		out, res := f.runAction(t, temp, ws, with(f.creds(), "command", "touch started; sleep 60"), func(step string, p *os.Process) {
			if step != "run" {
				return
			}
			// Wait for the command, then kill the whole step as a lost
			// runner would: nimbus gets no chance to clean up.
			deadline := time.Now().Add(30 * time.Second)
			for len(f.sandboxes()) == 0 || !started(f) {
				if time.Now().After(deadline) {
					t.Errorf("the command never started")
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			syscall.Kill(-p.Pid, syscall.SIGKILL)
		})
		if res["run"].status == 0 || !res["destroy"].ran || res["destroy"].status != 0 || !strings.Contains(res["destroy"].log, out["sandbox-id"]) {
			t.Fatalf("%v\n%s", out, dump(res))
		}
		if len(f.sandboxes()) != 0 {
			t.Fatalf("left %v\n%s", f.sandboxes(), dump(res))
		}
	})

	t.Run("keep leaves the sandbox to the job's ledger", func(t *testing.T) {
		temp, ws := t.TempDir(), t.TempDir()
		out, res := f.runAction(t, temp, ws, with(f.creds(), "keep", "true", "command", "echo kept > f"), nil)
		if res["run"].status != 0 || res["destroy"].ran {
			t.Fatalf("%v\n%s", out, dump(res))
		}
		if !slices.Contains(f.sandboxes(), "ci:_:"+out["sandbox-id"]) {
			t.Fatalf("kept sandbox gone: %v", f.sandboxes())
		}
		// The job's final step, as the README shows it.
		c := exec.Command(filepath.Join(temp, "nimbus-"+actionVersion+"-"+runtime.GOOS+"-"+runtime.GOARCH, "bin", "nimbus"), "sandbox", "destroy", "--ledger")
		c.Env = []string{"RUNNER_TEMP=" + temp, "NIMBUS_ENDPOINT=" + f.endpoint, "JWT_SECRET=" + f.secret, "NIMBUS_TENANT=ci", "HOME=" + temp}
		if b, err := c.CombinedOutput(); err != nil || !strings.Contains(string(b), out["sandbox-id"]) {
			t.Fatalf("destroy --ledger: %v\n%s", err, b)
		}
		if len(f.sandboxes()) != 0 {
			t.Fatalf("left %v", f.sandboxes())
		}
	})

	t.Run("a token instead of the secret", func(t *testing.T) {
		temp, ws := t.TempDir(), t.TempDir()
		tok := mintForAction(t, f)
		_, res := f.runAction(t, temp, ws, map[string]string{"endpoint": f.endpoint, "token": tok, "release-url": f.release.URL + "/releases", "command": "echo with-token"}, nil)
		if res["run"].status != 0 || !strings.Contains(res["run"].log, "with-token") || strings.Contains(shown(res), tok) {
			t.Fatalf("%s", dump(res))
		}
		if len(f.sandboxes()) != 0 {
			t.Fatalf("left %v", f.sandboxes())
		}
	})

	t.Run("a secret of several lines is masked line by line", func(t *testing.T) {
		// The runner masks within a line: ::add-mask:: of a value with a
		// newline printed its second line as plain log text (and a line
		// such as ::warning::… would have been run as a command).
		_, res := f.runAction(t, t.TempDir(), t.TempDir(), map[string]string{"endpoint": f.endpoint, "token": "tok-first-line\ntok-second-line 100%", "release-url": f.release.URL + "/releases", "command": "true"}, nil)
		if !res["run"].ran || strings.Contains(shown(res), "tok-second-line") || strings.Contains(shown(res), "tok-first-line") {
			t.Fatalf("%s", shown(res))
		}
		if !strings.Contains(res["run"].log, "::add-mask::tok-first-line%0Atok-second-line 100%25\n") || !strings.Contains(res["run"].log, "::add-mask::tok-second-line 100%25\n") {
			t.Fatalf("%s", dump(res))
		}
		noCommands(t, res, "::add-mask::", "::error ")
	})

	t.Run("a bad checksum stops the install", func(t *testing.T) {
		good := f.sums
		f.sums = bytes.Replace(good, good[:8], []byte("deadbeef"), 1)
		defer func() { f.sums = good }()
		temp, ws := t.TempDir(), t.TempDir()
		_, res := f.runAction(t, temp, ws, with(f.creds(), "command", "true"), nil)
		if res["install"].status == 0 || !strings.Contains(res["install"].log, "checksum mismatch") || res["run"].ran || !res["destroy"].ran || res["destroy"].status != 0 {
			t.Fatalf("%s", dump(res))
		}
		if !strings.Contains(res["destroy"].log, "nothing to destroy") {
			t.Fatalf("destroy: %s", res["destroy"].log)
		}
	})

	t.Run("a release server that stops answering fails the install", func(t *testing.T) {
		// The download is bounded by NIMBUS_HTTP_TIMEOUT as nimbus's own
		// requests are: without a bound curl would wait for the job's
		// timeout (6 hours by default on GitHub).
		f.unstall = make(chan struct{})
		f.stall.Store(true)
		f.jobEnv = []string{"NIMBUS_HTTP_TIMEOUT=1s"}
		unstall := func() { f.stall.Store(false); close(f.unstall); f.jobEnv = nil }
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		done := make(chan map[string]*stepResult, 1)
		go func() {
			_, res := f.runAction(t, t.TempDir(), t.TempDir(), with(f.creds(), "command", "true"), nil)
			done <- res
		}()
		select {
		case res := <-done:
			unstall()
			if res["install"].status == 0 || !strings.Contains(res["install"].log, "cannot download") || res["run"].ran {
				t.Fatalf("%s", dump(res))
			}
		case <-ctx.Done():
			unstall() // the download ends, and with it the action
			<-done
			t.Fatal("the install step still waited for a release server that stopped answering after a minute")
		}
	})

	t.Run("bad inputs", func(t *testing.T) {
		_, res := f.runAction(t, t.TempDir(), t.TempDir(), with(f.creds(), "command", "true", "keep", "yes"), nil)
		if res["prepare"].status == 0 || !strings.Contains(res["prepare"].log, "keep must be true or false") {
			t.Fatalf("%s", dump(res))
		}
		_, res = f.runAction(t, t.TempDir(), t.TempDir(), with(f.creds(), "command", "true", "version", "9.9.9"), nil)
		if res["install"].status == 0 || !strings.Contains(res["install"].log, "cannot download") {
			t.Fatalf("%s", dump(res))
		}
		// A version is a directory name and part of the download URLs:
		// "1/../../x" made the install create (and, run again, remove)
		// x-<os>-<arch> outside RUNNER_TEMP.
		parent := t.TempDir()
		temp := filepath.Join(parent, "runner-temp")
		os.Mkdir(temp, 0o755)
		for range 2 {
			_, res = f.runAction(t, temp, t.TempDir(), with(f.creds(), "command", "true", "version", "1/../../escaped"), nil)
			if res["install"].status == 0 || !strings.Contains(res["install"].log, "version '1/../../escaped' is not a release version") {
				t.Fatalf("%s", dump(res))
			}
		}
		if ents, _ := os.ReadDir(parent); len(ents) != 1 {
			t.Fatalf("the install wrote outside RUNNER_TEMP: %v", ents)
		}
	})

	t.Run("the sandbox's output runs no workflow commands unless asked", func(t *testing.T) {
		// What a hostile or careless command prints: a mask, an output, an
		// annotation, its own stop-commands and resume, and a last line
		// without a newline.
		command := `printf '::add-mask::leak\n::set-output name=x::y\n::error file=a.go,line=1::lint\n::stop-commands::mine\n::warning::after\n::mine::\n::notice::last'`
		var tokens []string
		for range 2 {
			_, res := f.runAction(t, t.TempDir(), t.TempDir(), with(f.creds(), "command", command), nil)
			if res["run"].status != 0 || !strings.Contains(res["run"].log, "::error file=a.go,line=1::lint\n") {
				t.Fatalf("%s", dump(res))
			}
			// The action's own masks stay commands; nothing of the
			// sandbox's is one, its last line included.
			noCommands(t, res, "::add-mask::"+f.secret)
			if !strings.Contains(res["run"].log, "::notice::last\n") {
				t.Errorf("the resume shares the last line of the output:\n%s", res["run"].log)
			}
			m := regexp.MustCompile(`(?m)^::stop-commands::(nimbus-[0-9a-f]{32})$`).FindStringSubmatch(res["run"].log)
			if m == nil || !strings.Contains(res["run"].log, "\n::"+m[1]+"::\n") {
				t.Fatalf("no stop-commands token of 128 random bits, or no resume:\n%s", res["run"].log)
			}
			tokens = append(tokens, m[1])
		}
		if tokens[0] == tokens[1] {
			t.Fatalf("the same token twice: %s", tokens[0])
		}

		// workflow-commands: true lets a linter's annotations through.
		_, res := f.runAction(t, t.TempDir(), t.TempDir(), with(f.creds(), "command", command, "workflow-commands", "true"), nil)
		cmds := workflowCommands(res["run"].log)
		if res["run"].status != 0 || !slices.Contains(cmds, "::error file=a.go,line=1::lint") || strings.Contains(res["run"].log, "::stop-commands::nimbus-") {
			t.Fatalf("commands %q\n%s", cmds, dump(res))
		}
		_, res = f.runAction(t, t.TempDir(), t.TempDir(), with(f.creds(), "command", "true", "workflow-commands", "yes"), nil)
		if res["prepare"].status == 0 || !strings.Contains(res["prepare"].log, "workflow-commands must be true or false") || res["run"].ran {
			t.Fatalf("%s", dump(res))
		}
	})

	t.Run("inputs in error messages cannot inject workflow commands", func(t *testing.T) {
		// The runner reads every log line that starts with :: as a
		// command: an input quoted in ::error must be escaped (%, CR, LF)
		// or its second line is a command of the input's choosing.
		inject := "x\n::warning::injected 50%\r::notice::also"
		escaped := "x%0A::warning::injected 50%25%0D::notice::also"
		_, res := f.runAction(t, t.TempDir(), t.TempDir(), with(f.creds(), "command", "true", "keep", inject), nil)
		if res["prepare"].status == 0 || !strings.Contains(res["prepare"].log, "::error title=nimbus::keep must be true or false, not '"+escaped+"'") {
			t.Fatalf("%s", dump(res))
		}
		noCommands(t, res, "::error ")
		_, res = f.runAction(t, t.TempDir(), t.TempDir(), with(f.creds(), "command", "true", "version", "1.0"+inject), nil)
		if res["install"].status == 0 || !strings.Contains(res["install"].log, escaped) {
			t.Fatalf("%s", dump(res))
		}
		noCommands(t, res, "::error ")
	})
}

// noCommands fails unless every workflow command in the steps' logs (see
// workflowCommands) is one of the allowed kinds, such as "::error ".
func noCommands(t *testing.T, results map[string]*stepResult, allowed ...string) {
	t.Helper()
	for id, r := range results {
		for _, l := range workflowCommands(r.log) {
			if !slices.ContainsFunc(allowed, func(p string) bool { return strings.HasPrefix(l, p) }) {
				t.Errorf("step %s printed the workflow command %q", id, l)
			}
		}
	}
}

// workflowCommands returns the workflow commands the runner acts on in a
// step's log: the lines (split, as the runner splits them, at CR or LF)
// that start with ::, except from a ::stop-commands::TOKEN line to the
// next ::TOKEN:: line (the two included), which the runner prints as text.
func workflowCommands(log string) []string {
	var out []string
	stop := ""
	for _, l := range strings.FieldsFunc(log, func(c rune) bool { return c == '\n' || c == '\r' }) {
		switch {
		case !strings.HasPrefix(l, "::"):
		case stop != "":
			if l == "::"+stop+"::" {
				stop = ""
			}
		case strings.HasPrefix(l, "::stop-commands::") && len(l) > len("::stop-commands::"):
			stop = strings.TrimPrefix(l, "::stop-commands::")
		default:
			out = append(out, l)
		}
	}
	return out
}

// started reports whether the cancelled scenario's command has begun.
func started(f *fixture) bool {
	for _, s := range f.sandboxes() {
		if _, err := os.Stat(filepath.Join(f.data, "sandboxes", s, "home", "user", "started")); err == nil {
			return true
		}
	}
	return false
}

// mintForAction mints a token with the released binary, as a user would.
func mintForAction(t *testing.T, f *fixture) string {
	t.Helper()
	c := exec.Command(f.bin, "token", "mint", "--tenant", "ci", "--scopes", "sandbox:use,session:destroy", "--ttl", "10m")
	c.Env = []string{"JWT_SECRET=" + f.secret, "HOME=" + t.TempDir()}
	out, err := c.Output()
	if err != nil {
		t.Fatalf("token mint: %v", err)
	}
	return strings.TrimSpace(string(out))
}
