//go:build unix

package transfer_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/ignore"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

// project writes a checkout-like tree and returns its root.
func project(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "proj")
	files := map[string]string{
		"README.md":               "readme",
		"bin/run.sh":              "#!/bin/sh\necho run\n",
		"src/main.go":             "package main",
		"src/gen/out.o":           "object",
		"src/sub/.gitignore":      "*.cache\n!keep.cache\n",
		"src/sub/a.cache":         "cached",
		"src/sub/keep.cache":      "kept",
		".gitignore":              "*.o\nnode_modules/\n/dist\n",
		".nimbusignore":           "secrets.env\n",
		"secrets.env":             "TOKEN=x",
		"notes.tmp":               "tmp",
		"node_modules/x/index.js": "module",
		"dist/app.js":             "built",
		"lib/dist/kept.js":        "not the root dist",
		".git/HEAD":               "ref: refs/heads/main",
		".git/objects/ab/cd":      "blob",
		"with space/it's.txt":     "quoted",
	}
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(root, "bin/run.sh"), 0o755)
	os.MkdirAll(filepath.Join(root, "empty/dir"), 0o755)
	os.Symlink("../README.md", filepath.Join(root, "bin/readme-link"))
	os.Symlink("/etc/passwd", filepath.Join(root, "outside"))
	os.Symlink("missing-target", filepath.Join(root, "dangling"))
	if err := syscall.Mkfifo(filepath.Join(root, "a.fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// copied lists the regular files, symlinks ("-> target") and directories
// ("/") under dir, relative and sorted.
func copied(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		switch {
		case d.Type()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out = append(out, rel+" -> "+l)
		case d.IsDir():
			out = append(out, rel+"/")
		default:
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// tmpRule is the --exclude of every test here.
var tmpRule = ignore.Options{Excludes: []string{"*.tmp"}}

var wantTree = []string{
	".gitignore",
	".nimbusignore",
	"README.md",
	"bin/",
	"bin/readme-link -> ../README.md",
	"bin/run.sh",
	"dangling -> missing-target",
	"empty/",
	"empty/dir/",
	"lib/",
	"lib/dist/",
	"lib/dist/kept.js",
	"outside -> /etc/passwd",
	"src/",
	"src/gen/",
	"src/main.go",
	"src/sub/",
	"src/sub/.gitignore",
	"src/sub/keep.cache",
	"with space/",
	"with space/it's.txt",
}

func TestTreeRoundTripWithIgnoreRules(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	src := project(t)
	var mu sync.Mutex
	var skipped []string
	obs := transfer.ObserverFuncs{OnEvent: func(e transfer.Event) {
		if e.Kind == transfer.Skipped {
			mu.Lock()
			skipped = append(skipped, filepath.Base(e.Local))
			mu.Unlock()
		}
	}}
	opts := transfer.Options{Recursive: true, Ignore: tmpRule, Observer: obs}
	sum, err := transfer.Upload(ctx, sb, src, "/home/user/app", opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(copied(t, b.host("/home/user/app")), "\n"); got != strings.Join(wantTree, "\n") {
		t.Fatalf("uploaded tree:\n%s\nwant:\n%s", got, strings.Join(wantTree, "\n"))
	}
	if sum.Files != 9 || sum.Symlinks != 3 || sum.Skipped != 1 || len(skipped) != 1 || skipped[0] != "a.fifo" {
		t.Fatalf("summary %+v, skipped %v", sum, skipped)
	}
	// .git, node_modules/, /dist, *.o, a.cache, secrets.env, notes.tmp
	if sum.Excluded != 7 {
		t.Fatalf("excluded %d, want 7", sum.Excluded)
	}
	if fi, _ := os.Stat(b.host("/home/user/app/bin/run.sh")); fi.Mode().Perm() != 0o755 {
		t.Fatalf("run.sh mode %v", fi.Mode())
	}

	// And back: the sandbox tree's own ignore files apply, symlinks stay
	// symlinks, modes follow the umask.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	os.WriteFile(b.host("/home/user/app/src/sub/b.cache"), []byte("made in the sandbox"), 0o644)
	dst := filepath.Join(t.TempDir(), "back")
	if _, err := transfer.Download(ctx, sb, "app", dst, transfer.Options{Recursive: true}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(copied(t, dst), "\n"); got != strings.Join(wantTree, "\n") {
		t.Fatalf("downloaded tree:\n%s", got)
	}
	for name, want := range map[string]os.FileMode{"bin/run.sh": 0o700, "README.md": 0o600} {
		fi, _ := os.Stat(filepath.Join(dst, name))
		if fi.Mode().Perm() != want {
			t.Fatalf("%s: mode %v, want %v (umask 077)", name, fi.Mode().Perm(), want)
		}
	}

	// Without the rules everything but the fifo comes along.
	all := filepath.Join(t.TempDir(), "all")
	sum, err = transfer.DownloadTree(ctx, sb, "app", all, transfer.Options{Ignore: ignore.Options{NoGitIgnore: true, NoIgnoreFile: true}})
	if err != nil || sum.Excluded != 0 {
		t.Fatalf("%+v %v", sum, err)
	}
	if _, err := os.Stat(filepath.Join(all, "src/sub/b.cache")); err != nil {
		t.Fatal("--no-gitignore did not include b.cache")
	}
}

func TestTreeFailuresAreReportedAndTheRestArrives(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	src := project(t)
	b.setFault(func(w http.ResponseWriter, op string, args []json.RawMessage) bool {
		if op == "writeFile" && strings.HasSuffix(argString(args, 0), "/main.go") {
			rpcError(w, "EACCES: permission denied, open '"+argString(args, 0)+"'")
			return true
		}
		return false
	})
	var mu sync.Mutex
	var reported []string
	obs := transfer.ObserverFuncs{
		// A file that disappears between the walk and its copy.
		OnPlan: func(int, int64) { os.Remove(filepath.Join(src, "README.md")) },
		OnFailed: func(f transfer.Failure) {
			mu.Lock()
			reported = append(reported, f.Path)
			mu.Unlock()
		},
	}
	sum, err := transfer.Upload(ctx, sb, src, "/home/user/app", transfer.Options{Recursive: true, Ignore: tmpRule, Observer: obs})
	var pe *transfer.PartialError
	if !errors.As(err, &pe) || len(pe.Failures) != 2 {
		t.Fatalf("err = %v", err)
	}
	sort.Strings(reported)
	if len(reported) != 2 || !strings.HasSuffix(reported[0], "README.md") || !strings.HasSuffix(reported[1], "src/main.go") {
		t.Fatalf("reported %v", reported)
	}
	for _, f := range pe.Failures {
		if !strings.Contains(f.String(), "README.md") && !strings.Contains(f.String(), "main.go") {
			t.Fatalf("failure does not name its path: %s", f)
		}
	}
	if sum.Files != 7 {
		t.Fatalf("summary %+v", sum)
	}
	if _, err := os.Stat(b.host("/home/user/app/with space/it's.txt")); err != nil {
		t.Fatal("the rest did not arrive")
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	src := project(t)
	var planned []string
	obs := transfer.ObserverFuncs{OnEvent: func(e transfer.Event) {
		if e.Kind == transfer.Planned {
			planned = append(planned, e.Remote)
		}
	}}
	sum, err := transfer.Upload(ctx, sb, src, "/home/user/app", transfer.Options{Recursive: true, DryRun: true, Ignore: tmpRule, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.DryRun || sum.Files != 9 || sum.Bytes == 0 || len(sum.Entries) != len(wantTree)+1 || len(planned) != len(wantTree) {
		t.Fatalf("summary %+v, %d planned", sum, len(planned))
	}
	for _, op := range b.opsSeen() {
		if op != "ready" && op != "stat" {
			t.Fatalf("dry run sent %s", op)
		}
	}
	if _, err := os.Stat(b.host("/home/user/app")); !os.IsNotExist(err) {
		t.Fatal("dry run created the target")
	}
}

func TestListingWithoutFind(t *testing.T) {
	// Without find in the sandbox the tree is listed with readdir and stat.
	bin := t.TempDir()
	for _, tool := range []string{"ln", "cat", "rm"} {
		p, _ := lookPath(tool)
		os.Symlink(p, filepath.Join(bin, tool))
	}
	b := newBackend(t, backendOpts{path: bin})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	if _, err := transfer.Upload(ctx, sb, project(t), "/home/user/app", transfer.Options{Recursive: true, Ignore: tmpRule}); err != nil {
		t.Fatal(err)
	}
	b.opsSeen()
	dst := filepath.Join(t.TempDir(), "back")
	if _, err := transfer.DownloadTree(ctx, sb, "app", dst, transfer.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(copied(t, dst), "\n"); got != strings.Join(wantTree, "\n") {
		t.Fatalf("downloaded tree:\n%s", got)
	}
	ops := b.opsSeen()
	if count(ops, "readdir") == 0 || count(ops, "readlink") != 3 {
		t.Fatalf("ops: %v", ops)
	}
}

func TestParallelismIsBoundedOnTheRealBackend(t *testing.T) {
	b := newBackend(t, backendOpts{})
	b.delay["writeFile"] = 20 * time.Millisecond
	b.delay["readFileBytes"] = 20 * time.Millisecond
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	dir := t.TempDir()
	for i := range 16 {
		os.WriteFile(filepath.Join(dir, "f"+string(rune('a'+i))), []byte{byte(i)}, 0o644)
	}
	if _, err := transfer.UploadTree(ctx, sb, dir, "up", transfer.Options{Parallel: 3}); err != nil {
		t.Fatal(err)
	}
	if got := b.peakOf("writeFile"); got != 3 {
		t.Fatalf("peak writes in flight %d, want 3", got)
	}
	if _, err := transfer.DownloadTree(ctx, sb, "up", t.TempDir(), transfer.Options{Parallel: 2}); err != nil {
		t.Fatal(err)
	}
	if got := b.peakOf("readFileBytes"); got != 2 {
		t.Fatalf("peak reads in flight %d, want 2", got)
	}
}

// A path ending in "/" names a directory to put a file into, created with
// MkPath (else refused), both ways.
func TestTrailingSlashMeansInto(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	f := filepath.Join(t.TempDir(), "report.txt")
	os.WriteFile(f, []byte("r"), 0o644)
	var te *transfer.Error
	if _, err := transfer.Upload(ctx, sb, f, "new/dir/", transfer.Options{}); !errors.As(err, &te) || te.Code != transfer.CodeNoParent {
		t.Fatalf("upload into a missing new/dir/: %v", err)
	}
	if _, err := transfer.Upload(ctx, sb, f, "new/dir/", transfer.Options{MkPath: true}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(b.host("/home/user/new/dir/report.txt")); string(got) != "r" {
		t.Fatal("not uploaded into new/dir/")
	}
	out := filepath.Join(t.TempDir(), "fresh") + "/"
	if _, err := transfer.Download(ctx, sb, "new/dir/report.txt", out, transfer.Options{}); !errors.As(err, &te) || te.Code != transfer.CodeNoParent || te.Remote {
		t.Fatalf("download into a missing %s: %v", out, err)
	}
	if _, err := transfer.Download(ctx, sb, "new/dir/report.txt", out, transfer.Options{MkPath: true}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "report.txt")); string(got) != "r" {
		t.Fatal("not downloaded into fresh/")
	}
}

// Downloading to Windows (its rules applied here by SetLocalOS), the names
// Windows takes for something else are refused with E_UNSAFE_PATH, each
// once at its top-most path, and nothing is created for them; the rest
// arrives. Also for one file whose name comes from the sandbox path.
func TestDownloadRefusesWindowsUnsafeNames(t *testing.T) {
	transfer.SetLocalOS(t, "windows")
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	for _, name := range []string{"ok.txt", "CON", "aux.log", "a:b", "trail.", "lpt1/inner.txt", "sub/nul.txt", "sub/fine.txt"} {
		p := b.host("/home/user/out/" + name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	local := filepath.Join(t.TempDir(), "out")
	_, err := transfer.DownloadTree(ctx, sb, "out", local, transfer.Options{})
	var pe *transfer.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	var got []string
	for _, f := range pe.Failures {
		if f.Code != transfer.CodeUnsafePath {
			t.Errorf("failure %s: code %s", f, f.Code)
		}
		got = append(got, strings.TrimPrefix(f.Path, "/home/user/out/"))
	}
	sort.Strings(got)
	if want := "CON,a:b,aux.log,lpt1,sub/nul.txt,trail."; strings.Join(got, ",") != want {
		t.Errorf("refused %v, want %s", got, want)
	}
	if c := copied(t, local); strings.Join(c, ",") != "ok.txt,sub/,sub/fine.txt" {
		t.Errorf("local tree %v", c)
	}

	// sync down lists the sandbox the same way.
	synced := t.TempDir()
	_, err = transfer.SyncDown(ctx, sb, "out", synced, transfer.SyncOptions{Delete: true})
	if !errors.As(err, &pe) || len(pe.Failures) != 6 || pe.Failures[0].Code != transfer.CodeUnsafePath {
		t.Errorf("sync down: %v", err)
	}
	if c := copied(t, synced); strings.Join(c, ",") != "ok.txt,sub/,sub/fine.txt" {
		t.Errorf("synced tree %v", c)
	}

	// One file into a directory: its name is the sandbox's.
	_, err = transfer.Download(ctx, sb, "out/CON", t.TempDir(), transfer.Options{})
	var te *transfer.Error
	if !errors.As(err, &te) || te.Code != transfer.CodeUnsafePath || !strings.Contains(te.Message, "device") {
		t.Errorf("single file: %v", err)
	}
}

// Downloading to Windows, a symlink whose target Windows would take for
// something else (a device, a data stream, a path of its own through '\')
// is refused with E_UNSAFE_PATH and not created; the other links arrive.
func TestDownloadRefusesWindowsUnsafeLinkTargets(t *testing.T) {
	transfer.SetLocalOS(t, "windows")
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	dir := b.host("/home/user/out")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "fine.txt"), []byte("ok"), 0o644)
	for name, target := range map[string]string{
		"ok": "fine.txt", "up": "../out/fine.txt",
		"dev": "CON", "ads": "fine.txt:hidden", "unc": `\\host\share\x`, "back": `..\..\x`, "trail": "fine.",
	} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, down := range []func(local string) error{
		func(local string) error {
			_, err := transfer.DownloadTree(ctx, sb, "out", local, transfer.Options{})
			return err
		},
		func(local string) error {
			_, err := transfer.SyncDown(ctx, sb, "out", local, transfer.SyncOptions{})
			return err
		},
	} {
		local := filepath.Join(t.TempDir(), "out")
		err := down(local)
		var pe *transfer.PartialError
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v", err)
		}
		var got []string
		for _, f := range pe.Failures {
			if f.Code != transfer.CodeUnsafePath || !strings.Contains(f.Message, "its target") {
				t.Errorf("failure %s: code %s", f, f.Code)
			}
			got = append(got, strings.TrimPrefix(f.Path, "/home/user/out/"))
		}
		sort.Strings(got)
		if want := "ads,back,dev,trail,unc"; strings.Join(got, ",") != want {
			t.Errorf("refused %v, want %s", got, want)
		}
		if c := copied(t, local); strings.Join(c, ",") != "fine.txt,ok -> fine.txt,up -> ../out/fine.txt" {
			t.Errorf("local tree %v", c)
		}
	}
}

// Uploading from Windows (its rules applied here by SetLocalOS), a
// symlink's '\' separators become '/', so "..\lib\x" still leads to
// lib/x in the sandbox instead of naming a file "..\lib\x", and the sync
// that follows finds the links equal; a target on a drive, a share or the
// current drive's root is a path of this machine: refused with
// E_UNSAFE_PATH, never sent as text for the sandbox to resolve.
func TestUploadFromWindowsConvertsLinkTargets(t *testing.T) {
	transfer.SetLocalOS(t, "windows")
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	local := filepath.Join(t.TempDir(), "app")
	os.MkdirAll(filepath.Join(local, "lib"), 0o755)
	os.WriteFile(filepath.Join(local, "lib", "x.txt"), []byte("x"), 0o644)
	for name, target := range map[string]string{
		"back": `lib\x.txt`, "up": `..\app\lib\x.txt`, "fwd": "lib/x.txt",
		"drive": `C:\Users\me\x.txt`, "driverel": `C:x.txt`, "unc": `\\host\share\x`, "rooted": `\x`,
	} {
		if err := os.Symlink(target, filepath.Join(local, name)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := transfer.UploadTree(ctx, sb, local, "app", transfer.Options{})
	var pe *transfer.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	var got []string
	for _, f := range pe.Failures {
		if f.Code != transfer.CodeUnsafePath || !strings.Contains(f.Message, "path on this Windows machine") {
			t.Errorf("failure %s: code %s", f, f.Code)
		}
		got = append(got, filepath.Base(f.Path))
	}
	sort.Strings(got)
	if want := "drive,driverel,rooted,unc"; strings.Join(got, ",") != want {
		t.Errorf("refused %v, want %s", got, want)
	}
	want := "back -> lib/x.txt,fwd -> lib/x.txt,lib/,lib/x.txt,up -> ../app/lib/x.txt"
	if c := copied(t, b.host("/home/user/app")); strings.Join(c, ",") != want {
		t.Errorf("sandbox tree %v, want %s", c, want)
	}
	for _, n := range []string{"drive", "driverel", "unc", "rooted"} {
		os.Remove(filepath.Join(local, n))
	}
	sum, err := transfer.SyncUp(ctx, sb, local, "app", transfer.SyncOptions{})
	if err != nil || sum.Copied != 0 {
		t.Errorf("sync after the upload: copied %v, err %v", sum, err)
	}
}

// A directory and a file that cannot be read during the walk are reported
// as they are found (before the copy starts), and everything else is
// copied. Made unreadable by a fault in the walk, so the test means the
// same when it runs as root, whom chmod does not stop.
func TestWalkFailuresAreReportedAndTheRestArrives(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	src := project(t)
	badDir, badFile := filepath.Join(src, "src/sub"), filepath.Join(src, "README.md")
	transfer.SetWalkFault(t, func(p string) error {
		if p == badDir || p == badFile {
			return &os.PathError{Op: "open", Path: p, Err: syscall.EACCES}
		}
		return nil
	})
	var mu sync.Mutex
	var reported []string
	planned := false
	obs := transfer.ObserverFuncs{
		OnPlan: func(int, int64) { mu.Lock(); planned = true; mu.Unlock() },
		OnFailed: func(f transfer.Failure) {
			mu.Lock()
			defer mu.Unlock()
			if planned {
				t.Errorf("%s reported after the walk", f.Path)
			}
			reported = append(reported, f.Path)
		},
	}
	sum, err := transfer.Upload(ctx, sb, src, "/home/user/app", transfer.Options{Recursive: true, Ignore: tmpRule, Observer: obs})
	var pe *transfer.PartialError
	if !errors.As(err, &pe) || len(pe.Failures) != 2 {
		t.Fatalf("err = %v", err)
	}
	sort.Strings(reported)
	if strings.Join(reported, ",") != badFile+","+badDir {
		t.Fatalf("reported %v", reported)
	}
	for _, f := range pe.Failures {
		if f.Code != transfer.CodeLocalIO || !strings.Contains(f.Message, "permission denied") {
			t.Fatalf("failure %+v", f)
		}
	}
	// Everything but README.md and src/sub/ arrived.
	var want []string
	for _, p := range wantTree {
		if p != "README.md" && !strings.HasPrefix(p, "src/sub/") {
			want = append(want, p)
		}
	}
	if got := copied(t, b.host("/home/user/app")); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("copied:\n%s", strings.Join(got, "\n"))
	}
	if sum.Files != 6 {
		t.Fatalf("summary %+v", sum)
	}
}

// A sandbox whose listing never ends (each directory holds another, as a
// hostile server or a looping mount can answer) is walked no deeper than
// the longest path a sandbox can have: the copy fails, naming the path,
// instead of listing for ever.
func TestWalkOfAnEndlessTreeIsBounded(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sb.Mkdir(ctx, "/home/user/loop"); err != nil {
		t.Fatal(err)
	}
	b.setFault(func(w http.ResponseWriter, op string, _ []json.RawMessage) bool {
		switch op {
		case "exec": // no find: the walk lists with readdir
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"ok":true,"result":{"command":"find","exitCode":127,"success":false,"duration":1,"timestamp":1,"stdout":"","stderr":"find: not found"}}`)
			return true
		case "readdir":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"ok":true,"result":[{"name":"loop","type":"directory"}]}`)
			return true
		}
		return false
	})
	// A dry run: the point is the listing (creating 800 nested local
	// directories adds nothing).
	sum, err := transfer.DownloadTree(ctx, sb, "/home/user/loop", filepath.Join(t.TempDir(), "back"), transfer.Options{DryRun: true})
	if ctx.Err() != nil {
		t.Fatalf("the walk did not end: %v", err)
	}
	if err != nil || len(sum.Failures) != 1 || sum.Failures[0].Code != transfer.CodeUnsafePath || !strings.Contains(sum.Failures[0].Message, "longer than") {
		first := ""
		if len(sum.Failures) > 0 {
			first = sum.Failures[0].Code + " " + sc.BoundServerText(sum.Failures[0].Message)
		}
		t.Fatalf("err = %v, %d dirs, %d failures, first %s", err, sum.Dirs, len(sum.Failures), first)
	}
	if n := count(b.opsSeen(), "readdir"); n > 4096/len("/loop") {
		t.Fatalf("%d readdir calls", n)
	}
}
