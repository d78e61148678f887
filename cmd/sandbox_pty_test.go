//go:build unix

package cmd_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// ptySession runs nimbus on a pseudo-terminal, as a person would.
type ptySession struct {
	t    *testing.T
	tty  *os.File
	cmd  *exec.Cmd
	done chan struct{}

	mu   sync.Mutex
	out  bytes.Buffer
	seen int // offset up to which expect has matched
}

const ptyWait = 30 * time.Second

func startPTY(t *testing.T, env []string, args ...string) *ptySession {
	t.Helper()
	nimbus, err := exec.LookPath("nimbus")
	if err != nil {
		t.Fatal(err)
	}
	return startPTYProgram(t, env, nimbus, args...)
}

// startPTYProgram runs program (a shell that redirects nimbus's stdout,
// say) on a pseudo-terminal.
func startPTYProgram(t *testing.T, env []string, program string, args ...string) *ptySession {
	t.Helper()
	cmd := exec.Command(program, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	p := &ptySession{t: t, tty: tty, cmd: cmd, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				close(p.done)
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = tty.Close()
		_ = cmd.Wait()
	})
	return p
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// screen is the output so far without cursor and colour sequences.
func (p *ptySession) screen() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return ansi.ReplaceAllString(p.out.String(), "")
}

// raw is the output so far, escape sequences included.
func (p *ptySession) raw() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// expect waits until the output after the previous match matches re.
func (p *ptySession) expect(re string) string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(ptyWait)
	for {
		s := p.screen()
		p.mu.Lock()
		from := min(p.seen, len(s))
		p.mu.Unlock()
		if loc := rx.FindStringIndex(s[from:]); loc != nil {
			p.mu.Lock()
			p.seen = from + loc[1]
			p.mu.Unlock()
			return s[from+loc[0] : from+loc[1]]
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no %q on the terminal after %s; it shows:\n%s", re, ptyWait, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *ptySession) send(s string) {
	p.t.Helper()
	if _, err := io.WriteString(p.tty, s); err != nil {
		p.t.Fatal(err)
	}
}

// exit waits for nimbus to exit and returns its code.
func (p *ptySession) exit() int {
	p.t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- p.cmd.Wait() }()
	select {
	case err := <-errc:
		// What nimbus wrote just before it exited may still be in the
		// terminal's buffer: read it all (the reader ends when the last
		// holder of the terminal is gone), or the screen misses the last
		// lines. A grandchild that keeps the terminal open bounds this.
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			p.t.Fatal(err)
		}
		return 0
	case <-time.After(ptyWait):
		p.t.Fatalf("nimbus did not exit; the terminal shows:\n%s", p.screen())
		return -1
	}
}

// devEnv is the environment of a nimbus that talks to the dev server at
// endpoint with a token for sandbox id.
func devEnv(t *testing.T, endpoint, id string, scopes ...string) []string {
	t.Helper()
	if len(scopes) == 0 {
		scopes = []string{token.ScopeSandboxUse}
	}
	tok, err := token.Issuer{Secret: devSecret}.Mint(token.Input{Tenant: ptr("acme"), SessionID: &id, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	// The ledger's default is in the machine's temporary directory,
	// shared with the developer's own runs and other tests: completion
	// would offer their ids.
	home := t.TempDir()
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "NO_COLOR=1", "TERM=xterm",
		"NIMBUS_LEDGER=" + filepath.Join(home, "ledger.jsonl"),
		"NIMBUS_ENDPOINT=" + endpoint, "NIMBUS_TOKEN=" + tok}
}

// The shell on a terminal: a prompt with the last exit code, Ctrl-C
// interrupting the running command and keeping the shell, Ctrl-C at the
// prompt dropping the line, history recalled with Up and kept across
// sessions, exit N and Ctrl-D.
func TestShellOnTerminal(t *testing.T) {
	endpoint := startDevServer(t, devOptions{}).URL
	env := devEnv(t, endpoint, "demo")
	sh := startPTY(t, env, "sandbox", "shell", "demo")
	sh.expect(`Shell nimbus-shell-[0-9a-f]{8} on sandbox demo`)
	// The way to a full-screen program is the terminal in this one, as
	// the help says, not a browser page.
	sh.expect(`full-screen programs need: nimbus session attach demo[^\w.-]`)
	sh.expect(`demo:\S*\$ $`)

	sh.send("mkdir -p sub && cd sub && false\r")
	sh.expect(`demo:\S*/sub \[1\]\$ $`)

	sh.send("echo started; sleep 30; echo never\r")
	// The command's output, not the echo of the line.
	sh.expect(`\r\nstarted\r\n`)
	start := time.Now()
	sh.send("\x03")
	sh.expect(`\^C\r?\ndemo:\S*/sub \[130\]\$ $`)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the interrupt took %s", d)
	}
	sh.send("echo alive; basename $PWD\r")
	sh.expect(`alive\r\nsub\r\ndemo:\S*/sub\$ $`)

	// Ctrl-C at the prompt drops what was typed.
	sh.send("echo dropped\x03")
	sh.expect(`echo dropped\^C\r\ndemo:\S*\$ $`)
	// Up recalls the last line that ran, not the dropped one.
	sh.send("\x1b[A\r")
	sh.expect(`alive\r\nsub\r\n`)
	sh.send("exit 5\r")
	if code := sh.exit(); code != 5 {
		t.Fatalf("exit %d, want 5\n%s", code, sh.screen())
	}
	if regexp.MustCompile(`(?m)^never`).MatchString(sh.screen()) {
		t.Errorf("the interrupted command went on:\n%s", sh.screen())
	}

	// The history is kept per sandbox, mode 0600, without dropped lines.
	var cache string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "XDG_CACHE_HOME="); ok {
			cache = v
		}
	}
	hist := filepath.Join(cache, "nimbus", "history", "demo")
	b, err := os.ReadFile(hist)
	if err != nil {
		t.Fatal(err)
	}
	want := "mkdir -p sub && cd sub && false\necho started; sleep 30; echo never\necho alive; basename $PWD\nexit 5\n"
	if string(b) != want {
		t.Errorf("history %q, want %q", b, want)
	}
	if fi, _ := os.Stat(hist); fi.Mode().Perm() != 0o600 {
		t.Errorf("history mode %o", fi.Mode().Perm())
	}

	// A new session recalls it; Ctrl-D leaves with the last code.
	sh = startPTY(t, env, "sandbox", "shell", "demo")
	sh.expect(`demo:\S*\$ $`)
	sh.send("\x1b[A\x1b[A")
	sh.expect(`echo alive; basename \$PWD$`)
	sh.send("\x15sh -c 'exit 3'\r")
	sh.expect(`\[3\]\$ $`)
	sh.send("\x04")
	if code := sh.exit(); code != 3 {
		t.Fatalf("Ctrl-D: exit %d, want 3\n%s", code, sh.screen())
	}
}

// attach on a terminal: lines typed go to the process, Ctrl-P Ctrl-Q
// detaches and leaves it running, Ctrl-C sends it SIGINT, Ctrl-D ends its
// input (and the other keys still work after it), and nimbus exits with
// its code.
func TestAttachOnTerminal(t *testing.T) {
	dev := startDevServer(t, devOptions{})
	endpoint, nimbus := dev.URL, dev.Nimbus
	env := devEnv(t, endpoint, "demo")
	start := func(command string) string {
		c := exec.Command(nimbus, "sandbox", "start", "demo", "--", command)
		c.Env = env
		out, err := c.Output()
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	pid := start(`while read l; do echo "got:$l"; done; echo bye; exit 4`)
	a := startPTY(t, env, "sandbox", "attach", "demo", pid)
	a.expect(`Attached to process ` + pid + ` of demo: Ctrl-D ends its input, Ctrl-C sends SIGINT, Ctrl-P Ctrl-Q detaches\.`)
	a.send("hello\r")
	a.expect(`got:hello`)
	a.send("\x10\x11")
	if code := a.exit(); code != 0 {
		t.Fatalf("detach: exit %d\n%s", code, a.screen())
	}
	a.expect(`Detached; process ` + pid + ` keeps running\.`)

	a = startPTY(t, env, "sandbox", "attach", "demo", pid, "--lines", "1")
	a.expect(`detaches\.`)
	a.send("again\r")
	a.expect(`got:again`)
	a.send("\x04")
	a.expect(`bye`)
	if code := a.exit(); code != 4 {
		t.Fatalf("Ctrl-D: exit %d, want 4\n%s", code, a.screen())
	}
	a.expect(`Process ` + pid + ` exited with code 4\.`)

	pid = start(`trap 'echo interrupted; exit 9' INT; echo ready; while :; do sleep 0.1; done`)
	a = startPTY(t, env, "sandbox", "attach", "demo", pid)
	a.expect(`ready`)
	a.send("\x03")
	a.expect(`interrupted`)
	if code := a.exit(); code != 9 {
		t.Fatalf("Ctrl-C: exit %d, want 9\n%s", code, a.screen())
	}

	// After Ctrl-D the keys still work: the detach keys detach, and a line
	// typed is refused with a warning. x/term returned the same Ctrl-D again
	// on every later read, so attach spun a CPU reading it and never saw
	// another key.
	pid = start(`echo ready; exec sleep 600`)
	a = startPTY(t, env, "sandbox", "attach", "demo", pid)
	a.expect(`ready`)
	a.send("\x04")
	a.send("late\r")
	a.expect(`input is closed`)
	a.send("\x10\x11")
	if code := a.exit(); code != 0 {
		t.Fatalf("detach after Ctrl-D: exit %d\n%s", code, a.screen())
	}
	a.expect(`Detached; process ` + pid + ` keeps running\.`)
	kill := exec.Command(nimbus, "sandbox", "kill", "demo", pid)
	kill.Env = env
	if out, err := kill.CombinedOutput(); err != nil {
		t.Fatalf("kill: %v %s", err, out)
	}
}

// On a terminal, apps answer with a table and a summary; in pipes the
// same commands answer JSON (see testdata/dev/apps.txtar).
func TestAppsOnTerminal(t *testing.T) {
	dev := startDevServer(t, devOptions{})
	endpoint, nimbus, data := dev.URL, dev.Nimbus, dev.Data
	env := devEnv(t, endpoint, "demo")
	// The app server goes where the sandbox can run it.
	app, err := exec.LookPath("nimbus-testapp")
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, app, filepath.Join(data, "sandboxes", "acme:_:demo", "home", "user", "bin", "nimbus-testapp"))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "NIMBUS_") || strings.HasPrefix(k, "XDG_") {
			t.Setenv(k, v)
		}
	}
	t.Chdir(t.TempDir())
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(nimbus, "sandbox", "start", "demo", "--", "./bin/nimbus-testapp", port)
	c.Env = env
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("start: %v %s", err, out)
	}
	if code, _, stderr := runTTY(t, nil, "", "sandbox", "ports", "wait", "demo", port, "--no-color"); code != 0 || !strings.Contains(stderr, "port "+port+" is listening") {
		t.Fatalf("ports wait: %d %q", code, stderr)
	}
	// nimbus dev's preview host of the app, on its port (it names its
	// suffix).
	web := strings.Replace(endpoint, "//127.0.0.1:", "//web--demo.localhost:", 1) + "/"
	code, stdout, stderr := runTTY(t, nil, "", "sandbox", "apps", "expose", "demo", port, "--name", "web", "--no-color")
	if code != 0 || stdout != web+"\n" || !strings.Contains(stderr, "Exposed app web (port "+port+", scoped)") {
		t.Fatalf("expose: %d %q %q", code, stdout, stderr)
	}
	code, stdout, _ = runTTY(t, nil, "", "sandbox", "apps", "list", "demo", "--no-color")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || len(lines) != 2 || !regexp.MustCompile(`^NAME +PORT +PID +STATUS +VISIBILITY +URL +OWNER$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^web +`+port+` +\d+ +running +scoped +`+regexp.QuoteMeta(web)+` +auto:/home/user:\./bin/nimbus-testapp `+port+`$`).MatchString(lines[1]) {
		t.Fatalf("list: %d\n%s", code, stdout)
	}
	code, stdout, _ = runTTY(t, nil, "", "sandbox", "apps", "remove", "demo", "web", "--no-color")
	if code != 0 || !strings.Contains(stdout, "Removed app auto:/home/user:./bin/nimbus-testapp "+port+" (port "+port+")") {
		t.Fatalf("remove: %d %q", code, stdout)
	}
	code, stdout, stderr = runTTY(t, nil, "", "sandbox", "apps", "list", "demo", "--no-color")
	if code != 0 || stdout != "" || !strings.Contains(stderr, "No apps") {
		t.Fatalf("empty list: %d %q %q", code, stdout, stderr)
	}
}

// A transfer on a terminal draws the progress bar (files, bytes, rate,
// time left) on stderr; with --quiet, or when stderr is a pipe, there is
// none, and the copy is the same.
func TestTransferProgressOnTerminal(t *testing.T) {
	endpoint := startDevServer(t, devOptions{}).URL
	env := devEnv(t, endpoint, "demo")
	src := filepath.Join(t.TempDir(), "tree")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "big.bin"), bytes.Repeat([]byte("nimbus"), 4<<20), 0o644)
	os.WriteFile(filepath.Join(src, "sub", "small.txt"), []byte("x"), 0o644)
	bar := regexp.MustCompile(`↑ \d+/2 files +\d+% [█░]+ \([0-9.]+ ?[KM]?i?B?/24 MiB`)

	cp := startPTY(t, env, "sandbox", "cp", "-r", src, "demo:tree")
	cp.expect(`Copied 2 file\(s\), 24\.0 MiB`)
	if code := cp.exit(); code != 0 {
		t.Fatalf("cp exit %d\n%s", code, cp.screen())
	}
	if !bar.MatchString(cp.screen()) {
		t.Fatalf("no progress bar on the terminal:\n%q", cp.screen())
	}

	quiet := startPTY(t, env, "sandbox", "cp", "-r", "--quiet", src, "demo:quiet")
	if code := quiet.exit(); code != 0 {
		t.Fatalf("cp --quiet exit %d\n%s", code, quiet.screen())
	}
	if s := quiet.screen(); strings.Contains(s, "█") || strings.Contains(s, "░") || strings.Contains(s, "MiB/s") {
		t.Fatalf("--quiet drew progress:\n%q", s)
	}

	// A dumb terminal prints escape sequences as text: it gets no bar
	// (the bar is redrawn by erasing its line) and no escape at all, only
	// the summary.
	dumbEnv := append(slices.Clone(env), "TERM=dumb")
	dumbEnv = slices.DeleteFunc(dumbEnv, func(kv string) bool { return kv == "TERM=xterm" || kv == "NO_COLOR=1" })
	dumb := startPTY(t, dumbEnv, "sandbox", "cp", "-r", src, "demo:dumb")
	if code := dumb.exit(); code != 0 {
		t.Fatalf("cp on a dumb terminal exit %d\n%q", code, dumb.raw())
	}
	dumb.expect(`Copied 2 file\(s\), 24\.0 MiB`)
	if s := dumb.raw(); strings.ContainsAny(s, "\x1b█░") || strings.Contains(s, "MiB/s") {
		t.Fatalf("a dumb terminal got progress or escape sequences:\n%q", s)
	}

	nimbus, _ := exec.LookPath("nimbus")
	c := exec.Command(nimbus, "sandbox", "cp", "-r", src, "demo:piped")
	c.Env, c.Dir = env, t.TempDir()
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("piped cp: %v\n%s", err, stderr.String())
	}
	if s := stderr.String(); strings.Contains(s, "█") || strings.Contains(s, "\r") || strings.Contains(s, "\x1b[") {
		t.Fatalf("progress drawn into a pipe: %q", s)
	}
}

// files write and files read of a big file take as long as cp of it, and
// drew nothing on the terminal meanwhile: they now draw cp's bar on stderr
// (files read when its bytes go to a file, not to the terminal), and still
// write the same bytes; in a pipe stderr stays empty.
func TestFilesProgressOnTerminal(t *testing.T) {
	endpoint := startDevServer(t, devOptions{}).URL
	env := devEnv(t, endpoint, "demo")
	dir := t.TempDir()
	src := filepath.Join(dir, "big.bin")
	content := bytes.Repeat([]byte("nimbus"), 4<<20)
	if err := os.WriteFile(src, content, 0o644); err != nil {
		t.Fatal(err)
	}

	w := startPTY(t, env, "sandbox", "files", "write", "demo", "big.bin", "--from", src)
	w.expect(`Wrote 25165824 bytes to /home/user/big.bin`)
	if code := w.exit(); code != 0 {
		t.Fatalf("files write exit %d\n%s", code, w.screen())
	}
	if up := regexp.MustCompile(`↑ \d+/1 files +\d+% [█░]+ \([0-9.]+ ?[KM]?i?B?/24 MiB`); !up.MatchString(w.screen()) {
		t.Fatalf("files write drew no progress bar:\n%q", w.screen())
	}

	out := filepath.Join(dir, "read.bin")
	r := startPTYProgram(t, env, "/bin/sh", "-c", `exec nimbus sandbox files read demo big.bin > "$0"`, out)
	if code := r.exit(); code != 0 {
		t.Fatalf("files read exit %d\n%s", code, r.screen())
	}
	if down := regexp.MustCompile(`↓ \d+/1 files +\d+% [█░]+ \([0-9.]+ ?[KM]?i?B?/24 MiB`); !down.MatchString(r.screen()) {
		t.Fatalf("files read drew no progress bar:\n%q", r.screen())
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("files read wrote %d bytes (%v), want the %d written", len(got), err, len(content))
	}

	code, stdout, stderr := runJSONStdin(t, dir, env, "", "sandbox", "files", "write", "demo", "piped.bin", "--from", src)
	if code != 0 || len(stdout) != 0 || len(stderr) != 0 {
		t.Fatalf("piped files write: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = runJSON(t, dir, env, "sandbox", "files", "read", "demo", "piped.bin")
	if code != 0 || !bytes.Equal(stdout, content) || len(stderr) != 0 {
		t.Fatalf("piped files read: exit %d, %d bytes, stderr %q", code, len(stdout), stderr)
	}
}

// TestStdinFromTerminalSaysSo: 'files write ID PATH' (content from
// standard input, the default) and 'run-code ID -' with a terminal on
// stdin waited without a word, looking hung to someone who forgot --from
// or a pipe. They now say they are reading the terminal and how to end
// the input; what was typed is written.
func TestStdinFromTerminalSaysSo(t *testing.T) {
	endpoint := startDevServer(t, devOptions{}).URL
	env := devEnv(t, endpoint, "demo")
	w := startPTY(t, env, "sandbox", "files", "write", "demo", "typed.txt")
	w.expect(`reading the content from the terminal; end it with Ctrl-D`)
	w.send("typed line\r\x04")
	if code := w.exit(); code != 0 {
		t.Fatalf("files write exit %d\n%s", code, w.screen())
	}
	code, stdout, stderr := runJSON(t, t.TempDir(), env, "sandbox", "files", "read", "demo", "typed.txt")
	if code != 0 || string(stdout) != "typed line\n" {
		t.Fatalf("files read: exit %d, %q\n%s", code, stdout, stderr)
	}

	r := startPTY(t, env, "sandbox", "run-code", "demo", "--language", "shell", "-")
	r.expect(`reading the code from the terminal; end it with Ctrl-D`)
	r.send("echo ran-$((6*7))\r\x04")
	r.expect(`ran-42`)
	if code := r.exit(); code != 0 {
		t.Fatalf("run-code exit %d\n%s", code, r.screen())
	}
}

// TestFilesReadBinaryOnTerminalRefused: 'files read' wrote whatever the
// file held to the terminal, so a file with escape sequences retitled the
// window (or wrote the clipboard, cleared the screen). On a terminal it
// now writes text only and refuses the rest with E_NOT_TEXT and a hint,
// as curl does; a pipe still gets the bytes unchanged.
func TestFilesReadBinaryOnTerminalRefused(t *testing.T) {
	endpoint := startDevServer(t, devOptions{})
	env := devEnv(t, endpoint.URL, "demo")
	hostile := "before\n\x1b]0;pwned\a\x1b[2Jafter\n"
	for name, content := range map[string]string{"hostile.txt": hostile, "text.txt": "plain text\r\nwith\ttab ünïcode\n"} {
		if code, _, stderr := runJSONStdin(t, t.TempDir(), env, content, "sandbox", "files", "write", "demo", name); code != 0 {
			t.Fatalf("files write %s: exit %d\n%s", name, code, stderr)
		}
	}

	r := startPTY(t, env, "sandbox", "files", "read", "demo", "hostile.txt")
	if code := r.exit(); code != 64 {
		t.Fatalf("files read of escapes on a terminal: exit %d, want 64\n%q", code, r.raw())
	}
	if s := r.raw(); strings.Contains(s, "\x1b]0;") || strings.Contains(s, "pwned") || strings.Contains(s, "\x1b[2J") {
		t.Fatalf("the file's escape sequences reached the terminal:\n%q", s)
	}
	r.expect(`hostile\.txt is not text .*\(E_NOT_TEXT\)`)
	r.expect(`hint: .*nimbus sandbox files read demo hostile\.txt > FILE`)

	ok := startPTY(t, env, "sandbox", "files", "read", "demo", "text.txt")
	if code := ok.exit(); code != 0 {
		t.Fatalf("files read of text on a terminal: exit %d\n%q", code, ok.raw())
	}
	ok.expect(`plain text`)
	ok.expect(`with\ttab ünïcode`)

	code, stdout, stderr := runJSON(t, t.TempDir(), env, "sandbox", "files", "read", "demo", "hostile.txt")
	if code != 0 || string(stdout) != hostile {
		t.Fatalf("files read into a pipe: exit %d, %q\n%s", code, stdout, stderr)
	}
}
