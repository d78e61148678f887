//go:build unix

package job_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/job"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

const secret = "job-test-secret-0123456789abcdef0123"

// backend is the real local backend over HTTP; dir returns the host
// directory of a sandbox.
func backend(t *testing.T) (url string, dir func(id string) string) {
	t.Helper()
	srv, err := localsandbox.New(localsandbox.Options{DataDir: t.TempDir(), Secret: secret, HostEnv: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return hs.URL, func(id string) string { return srv.SandboxDir("acme:_:" + id) }
}

func sandbox(t *testing.T, url, id string, scopes ...string) *sc.Sandbox {
	t.Helper()
	if len(scopes) == 0 {
		scopes = []string{token.ScopeSandboxUse, token.ScopeSessionDestroy}
	}
	tn := "acme"
	tok, err := token.Issuer{Secret: secret}.Mint(token.Input{Tenant: &tn, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sc.New(sc.Options{Endpoint: url, Tokens: sc.StaticToken(tok)})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox(id, sc.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

// recorder keeps the events as "phase status" strings.
type recorder struct {
	mu  sync.Mutex
	evs []job.Event
}

func (r *recorder) add(e job.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.evs {
		out = append(out, e.Phase+" "+e.Status)
	}
	return strings.Join(out, ", ")
}

func gone(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("sandbox directory %s still exists", dir)
	}
}

func TestParseSpecs(t *testing.T) {
	for in, want := range map[string]job.Upload{
		".":               {Local: "."},
		"./app:/srv/app":  {Local: "./app", Remote: "/srv/app"},
		"report.zip:in/":  {Local: "report.zip", Remote: "in/"},
		"a:b:c":           {Local: "a", Remote: "b:c"},
		"dir/with space:": {Local: "dir/with space"},
	} {
		if got := job.ParseUpload(in); got != want {
			t.Errorf("ParseUpload(%q) = %+v", in, got)
		}
	}
	if got := job.ParseDownload("out/junit.xml:reports/"); got != (job.Download{Remote: "out/junit.xml", Local: "reports/"}) {
		t.Errorf("%+v", got)
	}
	if id := job.NewID(); !strings.HasPrefix(id, "run-") || len(id) != 20 || !sc.ValidID(id) || id == job.NewID() {
		t.Errorf("NewID() = %q", id)
	}
}

// On Windows (its rules applied here by SetLocalOS) a LOCAL that starts
// with a drive keeps it, with either separator or none (C:app is app in
// the current directory of drive C); elsewhere "C" is a local name like
// any other.
func TestParseSpecsWindows(t *testing.T) {
	job.SetLocalOS(t, "windows")
	for in, want := range map[string]job.Upload{
		`C:\work\app:/srv/app`: {Local: `C:\work\app`, Remote: "/srv/app"},
		"c:/work/app":          {Local: "c:/work/app"},
		"C:app:app":            {Local: "C:app", Remote: "app"},
		`.\app:app`:            {Local: `.\app`, Remote: "app"},
	} {
		if got := job.ParseUpload(in); got != want {
			t.Errorf("ParseUpload(%q) = %+v", in, got)
		}
	}
	if got := job.ParseDownload(`dist:D:\out`); got != (job.Download{Remote: "dist", Local: `D:\out`}) {
		t.Errorf("%+v", got)
	}
	job.SetLocalOS(t, "linux")
	if got := job.ParseUpload("C:app"); got != (job.Upload{Local: "C", Remote: "app"}) {
		t.Errorf("linux: %+v", got)
	}
}

func TestRunFailingCommandStillDownloadsAndDestroys(t *testing.T) {
	url, dir := backend(t)
	sb := sandbox(t, url, "job-1")
	src := filepath.Join(t.TempDir(), "proj")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "in.txt"), []byte("input"), 0o644)
	os.WriteFile(filepath.Join(src, ".gitignore"), []byte("*.log\n"), 0o644)
	os.WriteFile(filepath.Join(src, "x.log"), []byte("left out"), 0o644)
	one := filepath.Join(t.TempDir(), "one.txt")
	os.WriteFile(one, []byte("one"), 0o644)
	out := t.TempDir()
	rec := &recorder{}
	var stdout, stderr bytes.Buffer
	res, err := job.Run(context.Background(), sb, job.Spec{
		Uploads:   []job.Upload{{Local: src, Remote: "work"}, {Local: one, Remote: "/home/user/extra/"}},
		Downloads: []job.Download{{Remote: "report.txt", Local: out}},
		Env:       map[string]string{"WHO": "ci"},
		Command:   `cat in.txt ../extra/one.txt; ls -A; echo "report for $WHO" > report.txt; echo oops >&2; exit 3`,
	}, rec.add, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Ran || res.ExitCode != 3 || !res.Destroyed || !res.Reached || len(res.Failed) != 0 {
		t.Fatalf("result %+v", res)
	}
	if got := stdout.String(); got != "inputone.gitignore\nin.txt\n" || stderr.String() != "oops\n" {
		t.Fatalf("stdout %q stderr %q", got, stderr.String())
	}
	if b, _ := os.ReadFile(filepath.Join(out, "report.txt")); string(b) != "report for ci\n" {
		t.Fatalf("report %q", b)
	}
	want := "upload start, upload done, upload start, upload done, exec start, exec done, download start, download done, destroy start, destroy done"
	if rec.String() != want {
		t.Fatalf("events %s", rec)
	}
	gone(t, dir("job-1"))
}

func TestRunUploadFailureSkipsTheCommand(t *testing.T) {
	url, dir := backend(t)
	sb := sandbox(t, url, "job-2")
	rec := &recorder{}
	var stdout bytes.Buffer
	res, err := job.Run(context.Background(), sb, job.Spec{
		Uploads: []job.Upload{{Local: filepath.Join(t.TempDir(), "missing")}},
		Command: "echo never",
	}, rec.add, &stdout, &stdout)
	if err != nil {
		t.Fatal(err)
	}
	// The missing source failed before any request: Reached is false.
	if res.Ran || len(res.Failed) != 1 || res.Failed[0] != job.PhaseUpload || res.Err == nil || !res.Destroyed || res.Reached || stdout.Len() != 0 {
		t.Fatalf("result %+v, output %q", res, stdout.String())
	}
	if rec.String() != "upload start, upload failed, destroy start, destroy done" {
		t.Fatalf("events %s", rec)
	}
	gone(t, dir("job-2"))
}

// A Worker that refuses the sandbox itself (here a token pinned to another
// id) fails the upload with its own error: the tree copy used to try every
// path and report the refusal once per path as a partial copy
// (E_TRANSFER_PARTIAL), which 'nimbus sandbox run' then showed as such.
func TestRunUploadRefusedByTheWorkerIsOneError(t *testing.T) {
	url, _ := backend(t)
	tn, sid := "acme", "job-1"
	tok, err := token.Issuer{Secret: secret}.Mint(token.Input{Tenant: &tn, SessionID: &sid, Scopes: []string{token.ScopeSandboxUse, token.ScopeSessionDestroy}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sc.New(sc.Options{Endpoint: url, Tokens: sc.StaticToken(tok)})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox("job-2", sc.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(src, "sub", "b.txt"), []byte("b"), 0o644)
	res, err := job.Run(context.Background(), sb, job.Spec{
		Uploads: []job.Upload{{Local: src, Remote: "app"}},
		Command: "echo never",
	}, func(job.Event) {}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var re *sc.RemoteError
	if res.Ran || !errors.As(res.Err, &re) || re.Code != "E_SESSION_PIN_MISMATCH" {
		t.Fatalf("ran %v, error %T %v; want the Worker's E_SESSION_PIN_MISMATCH", res.Ran, res.Err, res.Err)
	}
	// Refused before the sandbox was called: no sandbox exists, whose
	// failed destroy would be worth a word.
	if res.Reached || res.Destroyed {
		t.Fatalf("reached %v, destroyed %v; want neither", res.Reached, res.Destroyed)
	}
}

func TestRunInterruptedStillDestroys(t *testing.T) {
	url, dir := backend(t)
	sb := sandbox(t, url, "job-3")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	var once sync.Once
	out := writerFunc(func(p []byte) (int, error) {
		once.Do(func() { close(started) })
		return len(p), nil
	})
	done := make(chan struct{})
	var res *job.Result
	var err error
	go func() {
		defer close(done)
		res, err = job.Run(ctx, sb, job.Spec{Command: "echo started; sleep 60", Downloads: []job.Download{{Remote: "x"}}}, nil, out, out)
	}()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("command did not start")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after the interrupt")
	}
	if !errors.Is(err, context.Canceled) || !res.Destroyed || res.Interrupted != "canceled" || res.ExitCodeRaw != nil {
		t.Fatalf("err %v result %+v", err, res)
	}
	if b, _ := json.Marshal(res); !strings.Contains(string(b), `"exitCode":null,"interrupted":"canceled"`) {
		t.Fatalf("result JSON %s", b)
	}
	gone(t, dir("job-3"))
}

func TestRunKeepAndDestroyFailure(t *testing.T) {
	url, dir := backend(t)
	sb := sandbox(t, url, "job-4")
	res, err := job.Run(context.Background(), sb, job.Spec{Command: "echo kept > k.txt", Keep: true}, nil, &bytes.Buffer{}, &bytes.Buffer{})
	if err != nil || res.Destroyed || res.ExitCode != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(dir("job-4"), "home/user/k.txt")); err != nil {
		t.Fatal("--keep did not keep the sandbox")
	}
	// Without session:destroy the destroy fails: reported, not hidden.
	sb = sandbox(t, url, "job-5", token.ScopeSandboxUse)
	rec := &recorder{}
	res, err = job.Run(context.Background(), sb, job.Spec{Command: "true"}, rec.add, &bytes.Buffer{}, &bytes.Buffer{})
	if err != nil || res.Destroyed || len(res.Failed) != 1 || res.Failed[0] != job.PhaseDestroy {
		t.Fatalf("%+v %v", res, err)
	}
	if !strings.HasSuffix(rec.String(), "destroy start, destroy failed") {
		t.Fatalf("events %s", rec)
	}
}

func TestRunRuntimeFailure(t *testing.T) {
	url, dir := backend(t)
	sb := sandbox(t, url, "job-6")
	res, err := job.Run(context.Background(), sb, job.Spec{Runtimes: []string{"no-such-runtime@0"}, Command: "echo never"}, nil, &bytes.Buffer{}, &bytes.Buffer{})
	if err != nil || res.Ran || len(res.Failed) != 1 || res.Failed[0] != job.PhaseRuntime || !res.Destroyed {
		t.Fatalf("%+v %v", res, err)
	}
	gone(t, dir("job-6"))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestRunDownloadRefusesAWindowsUnsafeDirectoryName: `--download DIR`
// without LOCAL names the local directory after the sandbox's; downloading
// to Windows (its rules applied here by SetLocalOS), a name Windows takes
// for something else (aux: a device) is refused as a tree's names are,
// and nothing is created for it; a fine one arrives.
func TestRunDownloadRefusesAWindowsUnsafeDirectoryName(t *testing.T) {
	job.SetLocalOS(t, "windows")
	url, _ := backend(t)
	sb := sandbox(t, url, "job-win")
	cwd := t.TempDir()
	t.Chdir(cwd)
	rec := &recorder{}
	res, err := job.Run(context.Background(), sb, job.Spec{
		Downloads: []job.Download{{Remote: "aux"}, {Remote: "out"}},
		Command:   `mkdir aux out && echo a > aux/f && echo o > out/f`,
	}, rec.add, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) != 1 || res.Failed[0] != "download" {
		t.Fatalf("result %+v", res)
	}
	var failed *job.Event
	for i, e := range rec.evs {
		if e.Phase == job.PhaseDownload && e.Status == job.StatusFailed {
			failed = &rec.evs[i]
		}
	}
	if failed == nil || failed.Code != "E_UNSAFE_PATH" || !strings.Contains(failed.Error, "device") {
		t.Fatalf("download failure %+v", failed)
	}
	if _, err := os.Lstat(filepath.Join(cwd, "aux")); !os.IsNotExist(err) {
		t.Fatalf("aux was created: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(cwd, "out", "f")); string(b) != "o\n" {
		t.Fatalf("out/f %q", b)
	}
}

// A cancel that comes while the destroy's last event is handled (where
// nimbus's watch of the destroy, which answers a signal with "still
// destroying … stopped now", ends) is an interruption of the job: Run
// must say so, or nimbus would print that warning and exit 0 all the same.
func TestRunCancelAtTheDestroysLastEventIsAnInterruption(t *testing.T) {
	url, dir := backend(t)
	for _, scopes := range [][]string{nil, {token.ScopeSandboxUse}} {
		id := "job-late-" + strings.Join(scopes, "")
		id = strings.NewReplacer(":", "-").Replace(id)
		sb := sandbox(t, url, id, scopes...)
		ctx, cancel := context.WithCancel(context.Background())
		rec := &recorder{}
		events := func(e job.Event) {
			rec.add(e)
			if e.Phase == job.PhaseDestroy && e.Status != job.StatusStart {
				cancel()
			}
		}
		res, err := job.Run(ctx, sb, job.Spec{Command: "true"}, events, &bytes.Buffer{}, &bytes.Buffer{})
		cancel()
		if !errors.Is(err, context.Canceled) || res.Interrupted != "canceled" {
			t.Fatalf("scopes %v: err %v, interrupted %q; want the cancel (events %s)", scopes, err, res.Interrupted, rec)
		}
		if scopes == nil {
			if !res.Destroyed {
				t.Fatalf("not destroyed: %+v", res)
			}
			gone(t, dir(id))
		}
	}
}
