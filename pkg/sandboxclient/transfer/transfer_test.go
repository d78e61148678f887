package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

const do = "acme:_:job-1"

// user is the identity of the tests' token.
var user = sandboxtest.Identity{Tenant: "acme", Scopes: []string{"sandbox:use"}}

func setup(t *testing.T) (*sandboxtest.Server, *sc.Sandbox) {
	t.Helper()
	srv := sandboxtest.New(sandboxtest.Options{})
	t.Cleanup(srv.Close)
	c, err := sc.New(sc.Options{Endpoint: srv.URL, Tokens: sc.StaticToken(srv.Token(user))})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox("job-1", sc.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return srv, sb
}

func writeTree(t *testing.T, root string) map[string]os.FileMode {
	t.Helper()
	files := map[string]os.FileMode{
		"README.md":            0o644,
		"bin/run.sh":           0o755,
		"src/a/b/c/deep.txt":   0o644,
		"src/a/data.bin":       0o600,
		"src/empty-dir/.keep":  0o644,
		"src/a/b/tool":         0o750,
		"with space/and'quote": 0o644,
	}
	for p, mode := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, append([]byte(p+"\x00\xff"), bytes.Repeat([]byte{byte(len(p))}, len(p)*100)...), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(full, mode); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func TestUploadAndDownloadTree(t *testing.T) {
	srv, sb := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	src := filepath.Join(t.TempDir(), "proj")
	files := writeTree(t, src)
	var mu sync.Mutex
	var events []string
	sum, err := transfer.Upload(ctx, sb, src, "/home/user/app", transfer.Options{Recursive: true, Parallel: 3, Observer: transfer.ObserverFuncs{OnEvent: func(e transfer.Event) {
		mu.Lock()
		events = append(events, e.Remote)
		mu.Unlock()
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Files != len(files) || len(events) != len(files) {
		t.Fatalf("summary %+v events %d", sum, len(events))
	}
	for p, mode := range files {
		want, _ := os.ReadFile(filepath.Join(src, filepath.FromSlash(p)))
		got, ok := srv.File(do, "/home/user/app/"+p)
		if !ok || !bytes.Equal(got, want) {
			t.Fatalf("%s not uploaded intact", p)
		}
		m, _ := srv.Mode(do, "/home/user/app/"+p)
		if mode&0o111 != 0 && m != uint32(mode) {
			t.Fatalf("%s: remote mode %o, want %o", p, m, mode)
		}
	}
	// A second upload into the now existing directory nests, like cp.
	if _, err := transfer.Upload(ctx, sb, filepath.Join(src, "bin"), "app", transfer.Options{Recursive: true}); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.File(do, "/home/user/app/bin/run.sh"); !ok {
		t.Fatal("relative remote path not resolved against the root")
	}

	dst := filepath.Join(t.TempDir(), "out")
	sum, err = transfer.Download(ctx, sb, "/home/user/app", dst, transfer.Options{Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Files != len(files) {
		t.Fatalf("downloaded %+v", sum)
	}
	for p, mode := range files {
		want, _ := os.ReadFile(filepath.Join(src, filepath.FromSlash(p)))
		full := filepath.Join(dst, filepath.FromSlash(p))
		got, err := os.ReadFile(full)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %v", p, err)
		}
		fi, _ := os.Stat(full)
		if (fi.Mode().Perm()&0o111 != 0) != (mode&0o111 != 0) {
			t.Fatalf("%s: local mode %v, want exec bits of %v", p, fi.Mode(), mode)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(dst, "*", ".*nimbus-*"))
	if len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}

func TestSingleFilesAndErrors(t *testing.T) {
	srv, sb := setup(t)
	ctx := context.Background()
	dir := t.TempDir()
	f := filepath.Join(dir, "one.txt")
	os.WriteFile(f, []byte("one"), 0o644)
	if _, err := transfer.Upload(ctx, sb, f, "/home/user", transfer.Options{}); err != nil {
		t.Fatal(err)
	}
	if got, ok := srv.File(do, "/home/user/one.txt"); !ok || string(got) != "one" {
		t.Fatal("file into existing dir")
	}
	// A missing parent is refused, nothing created, unless MkPath.
	_, err := transfer.Upload(ctx, sb, f, "/home/user/new/dir/renamed.txt", transfer.Options{})
	var te *transfer.Error
	if !errors.As(err, &te) || te.Code != transfer.CodeNoParent || te.Dir != "/home/user/new/dir" || !te.Remote {
		t.Fatalf("upload under a missing directory: %v", err)
	}
	if _, ok := srv.File(do, "/home/user/new/dir/renamed.txt"); ok {
		t.Fatal("written under a missing directory")
	}
	if _, err := transfer.Upload(ctx, sb, f, "/home/user/new/dir/renamed.txt", transfer.Options{MkPath: true}); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.File(do, "/home/user/new/dir/renamed.txt"); !ok {
		t.Fatal("parents not created")
	}
	out := filepath.Join(dir, "back.txt")
	if _, err := transfer.Download(ctx, sb, "new/dir/renamed.txt", out, transfer.Options{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "one" {
		t.Fatal("download")
	}
	if _, err := transfer.Upload(ctx, sb, dir, "/x", transfer.Options{}); !errors.As(err, &te) || te.Code != transfer.CodeIsDirectory {
		t.Fatalf("%v", err)
	}
	if _, err := transfer.Upload(ctx, sb, filepath.Join(dir, "nope"), "/x", transfer.Options{}); !errors.As(err, &te) || te.Code != transfer.CodeNotFound {
		t.Fatalf("%v", err)
	}
	if _, err := transfer.Download(ctx, sb, "/home/user/none", dir, transfer.Options{}); !errors.As(err, &te) || te.Code != transfer.CodeNotFound {
		t.Fatalf("%v", err)
	}
	if _, err := transfer.Download(ctx, sb, "/home/user", dir, transfer.Options{}); !errors.As(err, &te) || te.Code != transfer.CodeIsDirectory {
		t.Fatalf("%v", err)
	}
}

func TestParsePair(t *testing.T) {
	cases := []struct {
		src, dst string
		ok       bool
	}{
		{"./a", "job-1:/x", true},
		{"job-1:/x", "out", true},
		{"job-1:x", "job-2:y", false},
		{"a", "b", false},
		{"./c:d", "job-1:.", true},
		{"./c:d", "job-1:", false},
		{"./c:d", "job-1: ", false},
		{"job-1:\t", "out", false},
		{"job-1:x", "", false},
		{"job-1:x", " ", false},
		{" \n", "job-1:x", false},
	}
	for _, tc := range cases {
		_, _, err := transfer.ParsePair(tc.src, tc.dst)
		if (err == nil) != tc.ok {
			t.Fatalf("%q %q: %v", tc.src, tc.dst, err)
		}
	}
	tg := transfer.ParseTarget("job-1:")
	if !tg.Remote() || tg.Path != "" {
		t.Fatalf("%+v", tg)
	}
}

// On Windows (its rules applied here by SetLocalOS) a path that starts
// with a drive is local, whatever follows the colon, and a sandbox path
// that looks like a Windows path (a drive, as Git Bash makes of
// /home/user, or a '\\') is refused before anything is sent, rather than
// becoming a name in the sandbox.
func TestParsePairWindows(t *testing.T) {
	transfer.SetLocalOS(t, "windows")
	for _, tc := range []struct {
		src, dst, local string
	}{
		{`C:\work\app`, "job-1:/home/user/app", `C:\work\app`},
		{"c:/work/app", "job-1:app", "c:/work/app"},
		{"C:app", "job-1:.", "C:app"},
		{"job-1:dist/out.txt", `D:\out`, `D:\out`},
		{`\\host\share\app`, "job-1:app", `\\host\share\app`},
	} {
		s, d, err := transfer.ParsePair(tc.src, tc.dst)
		if err != nil {
			t.Errorf("%q %q: %v", tc.src, tc.dst, err)
			continue
		}
		l := s
		if s.Remote() {
			l = d
		}
		if l.Path != tc.local {
			t.Errorf("%q %q: local %q, want %q", tc.src, tc.dst, l.Path, tc.local)
		}
	}
	for _, tc := range [][2]string{
		{"./app", "job-1:C:/Program Files/Git/home/user/app"},
		{"job-1:C:\\x", "out"},
		{"./app", `job-1:app\src`},
	} {
		_, _, err := transfer.ParsePair(tc[0], tc[1])
		var te *transfer.Error
		if !errors.As(err, &te) || te.Code != transfer.CodeBadTarget || !strings.Contains(te.Message, "sandbox path") {
			t.Errorf("%q %q: %v", tc[0], tc[1], err)
		}
	}
	if got := transfer.SandboxPathProblem("linux", `app\src`); got != "" {
		t.Errorf("linux keeps a backslash: %s", got)
	}
}

func TestWriteReaderAndLocalFile(t *testing.T) {
	srv := sandboxtest.New(sandboxtest.Options{})
	defer srv.Close()
	c, _ := sc.New(sc.Options{Endpoint: srv.URL, Tokens: sc.StaticToken(srv.Token(user)), WriteLimit: 10})
	sb, _ := c.Sandbox("job-1", sc.SandboxOptions{})
	ctx := context.Background()
	dst, n, err := transfer.WriteReader(ctx, sb, "deep/er/x.txt", bytes.NewReader([]byte("0123456789")), transfer.Options{})
	if err != nil || n != 10 || dst != "/home/user/deep/er/x.txt" {
		t.Fatalf("%s %d %v", dst, n, err)
	}
	if got, _ := srv.File(do, dst); string(got) != "0123456789" {
		t.Fatalf("%q", got)
	}
	// Above the write limit, the content is split into parts and joined.
	if _, _, err := transfer.WriteReader(ctx, sb, "y", bytes.NewReader([]byte("0123456789a")), transfer.Options{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := srv.File(do, "/home/user/y"); string(got) != "0123456789a" {
		t.Fatalf("%q", got)
	}
	local := filepath.Join(t.TempDir(), "big")
	os.WriteFile(local, []byte("abcdefghijklmnopqrstu"), 0o644)
	if _, _, err := transfer.WriteLocalFile(ctx, sb, "z", local, transfer.Options{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := srv.File(do, "/home/user/z"); string(got) != "abcdefghijklmnopqrstu" {
		t.Fatalf("%q", got)
	}
	var te *transfer.Error
	if _, _, err := transfer.WriteLocalFile(ctx, sb, "y", t.TempDir(), transfer.Options{}); !errors.As(err, &te) || te.Code != transfer.CodeIsDirectory {
		t.Fatalf("%v", err)
	}
}

func TestParallelismIsBounded(t *testing.T) {
	srv := sandboxtest.New(sandboxtest.Options{
		Delay: map[string]time.Duration{"writeFile": 30 * time.Millisecond, "readFileBytes": 30 * time.Millisecond},
	})
	defer srv.Close()
	c, _ := sc.New(sc.Options{Endpoint: srv.URL, Tokens: sc.StaticToken(srv.Token(user))})
	sb, _ := c.Sandbox("job-1", sc.SandboxOptions{})
	dir := t.TempDir()
	for i := range 12 {
		os.WriteFile(filepath.Join(dir, "f"+string(rune('a'+i))), []byte{byte(i)}, 0o644)
	}
	ctx := context.Background()
	if _, err := transfer.Upload(ctx, sb, dir, "/home/user/up", transfer.Options{Recursive: true, Parallel: 3}); err != nil {
		t.Fatal(err)
	}
	if got := srv.MaxInFlight("writeFile"); got != 3 {
		t.Fatalf("max writes in flight = %d, want 3", got)
	}
	if _, err := transfer.Download(ctx, sb, "/home/user/up", filepath.Join(t.TempDir(), "down"), transfer.Options{Recursive: true, Parallel: 2}); err != nil {
		t.Fatal(err)
	}
	if got := srv.MaxInFlight("readFileBytes"); got != 2 {
		t.Fatalf("max reads in flight = %d, want 2", got)
	}
}

// TestContentsOf: a source whose last name is "." or ".." is a
// directory's contents (GNU cp copies "DIR/.." into DEST, not DEST/..);
// any other name is the directory itself. On Windows a local path ends
// names at '\' and at a drive's colon too.
func TestContentsOf(t *testing.T) {
	for _, c := range []struct {
		p     string
		local bool
		want  bool
	}{
		{".", false, true}, {"./", false, true}, {"app/.", false, true}, {"app/./", false, true},
		{"..", false, true}, {"../", false, true}, {"app/..", false, true}, {"/home/user/..", false, true},
		{"app", false, false}, {"app/", false, false}, {"...", false, false}, {"app..", false, false},
		{"a.", false, false}, {"/", false, false}, {`app\..`, false, false}, {`app\..`, true, false},
		{"proj/sub/..", true, true},
	} {
		if got := transfer.ContentsOf(c.p, c.local); got != c.want {
			t.Errorf("ContentsOf(%q, local %v) = %v, want %v", c.p, c.local, got, c.want)
		}
	}
	transfer.SetLocalOS(t, "windows")
	for p, want := range map[string]bool{`..`: true, `app\..`: true, `C:..`: true, `C:\work\..\`: true, `C:.`: true, `C:app`: false, `app\`: false} {
		if got := transfer.ContentsOf(p, true); got != want {
			t.Errorf("windows: ContentsOf(%q, local) = %v, want %v", p, got, want)
		}
	}
	// A sandbox path is POSIX on every host.
	if transfer.ContentsOf(`app\..`, false) {
		t.Errorf(`windows: ContentsOf("app\..", remote) = true, want false`)
	}
}

// TestHostBase: the name a local source gives its copy inside a sandbox
// directory, by the rules of the system it was typed on. On Windows a
// drive or share root has none (filepath.Base said `\`, which became the
// sandbox name /home/user/\), and both separators end a name.
func TestHostBase(t *testing.T) {
	for _, c := range []struct{ goos, local, want string }{
		{"windows", `C:\`, ""},
		{"windows", `C:/`, ""},
		{"windows", `c:\\`, ""},
		{"windows", `\`, ""},
		{"windows", `/`, ""},
		{"windows", `\\host\share`, ""},
		{"windows", `\\host\share\`, ""},
		{"windows", `//host/share`, ""},
		{"windows", `\\?\C:\`, ""},
		{"windows", `\\host\share\app`, "app"},
		{"windows", `C:\work\app`, "app"},
		{"windows", `C:\work\app\`, "app"},
		{"windows", `C:/work/app/`, "app"},
		{"windows", `C:app`, "app"},
		{"windows", `C:`, "."},
		{"windows", `work\app`, "app"},
		{"windows", `app`, "app"},
		{"windows", `.`, "."},
		{"windows", `..`, ".."},
		{"linux", "/", ""},
		{"linux", "//", ""},
		{"linux", "/work/app/", "app"},
		{"linux", `a\b`, `a\b`},
		{"linux", `C:\`, `C:\`},
		{"darwin", ".", "."},
	} {
		if got := transfer.HostBase(c.goos, c.local); got != c.want {
			t.Errorf("HostBase(%s, %q) = %q, want %q", c.goos, c.local, got, c.want)
		}
	}
}
