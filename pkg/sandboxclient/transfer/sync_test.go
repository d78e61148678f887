//go:build unix

package transfer_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

func syncOpts(del bool) transfer.SyncOptions {
	return transfer.SyncOptions{Options: transfer.Options{Ignore: tmpRule}, Delete: del}
}

func TestSyncUpCopiesOnlyChanges(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	src := project(t)

	s1, err := transfer.SyncUp(ctx, sb, src, "app", syncOpts(false))
	if err != nil {
		t.Fatal(err)
	}
	if s1.Copied != 12 || s1.Skipped != 0 || s1.Deleted != 0 || s1.Bytes == 0 {
		t.Fatalf("first sync %+v", s1)
	}
	if got := strings.Join(copied(t, b.host("/home/user/app")), "\n"); got != strings.Join(wantTree, "\n") {
		t.Fatalf("synced tree:\n%s", got)
	}
	b.opsSeen()

	// Small files keep the sandbox's mtimes: the second sync compares
	// digests (one sha256sum in the sandbox) and writes nothing.
	s2, err := transfer.SyncUp(ctx, sb, src, "app", syncOpts(false))
	if err != nil {
		t.Fatal(err)
	}
	if s2.Copied != 0 || s2.Skipped != 12 || s2.Bytes != 0 {
		t.Fatalf("second sync %+v", s2)
	}
	ops := b.opsSeen()
	if count(ops, "writeFile") != 0 || count(ops, "exec") != 2 { // the listing, the digests
		t.Fatalf("second sync sent %v", ops)
	}

	// Same size, new content: copied.
	os.WriteFile(filepath.Join(src, "src/main.go"), []byte("package mian"), 0o644)
	// Same content, now executable: its mode is synced.
	os.Chmod(filepath.Join(src, "README.md"), 0o755)
	s3, err := transfer.SyncUp(ctx, sb, src, "app", syncOpts(false))
	if err != nil {
		t.Fatal(err)
	}
	if s3.Copied != 2 || s3.Skipped != 10 || s3.Bytes != 12 {
		t.Fatalf("third sync %+v", s3)
	}
	if got, _ := os.ReadFile(b.host("/home/user/app/src/main.go")); string(got) != "package mian" {
		t.Fatalf("main.go = %q", got)
	}
	if fi, _ := os.Stat(b.host("/home/user/app/README.md")); fi.Mode().Perm() != 0o755 {
		t.Fatalf("README.md mode %v", fi.Mode())
	}
	os.Chmod(filepath.Join(src, "README.md"), 0o644)
	if s4, err := transfer.SyncUp(ctx, sb, src, "app", syncOpts(false)); err != nil || s4.Copied != 1 {
		t.Fatalf("fourth sync %+v %v", s4, err)
	}
	if fi, _ := os.Stat(b.host("/home/user/app/README.md")); fi.Mode().Perm() != 0o644 {
		t.Fatalf("README.md mode %v", fi.Mode())
	}
}

// Files from a MiB up get the local mtime in the sandbox, so the next sync
// skips them without reading them.
func TestSyncSetsTheMtimesOfBigFiles(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	src := t.TempDir()
	randomFile(t, src, "big.bin", 2<<20, 0o644)
	past := time.Now().Add(-time.Hour).Truncate(time.Millisecond).Add(123456789 % time.Millisecond)
	os.Chtimes(filepath.Join(src, "big.bin"), past, past)
	if _, err := transfer.SyncUp(ctx, sb, src, "d", transfer.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	rfi, _ := os.Stat(b.host("/home/user/d/big.bin"))
	if rfi.ModTime().UnixMilli() != past.UnixMilli() {
		t.Fatalf("mtime %v in the sandbox, %v locally", rfi.ModTime(), past)
	}
	b.opsSeen()
	s, err := transfer.SyncUp(ctx, sb, src, "d", transfer.SyncOptions{})
	if err != nil || s.Skipped != 1 {
		t.Fatalf("%+v %v", s, err)
	}
	if ops := b.opsSeen(); count(ops, "exec") != 1 { // the listing only
		t.Fatalf("ops %v", ops)
	}
}

func TestSyncUpDelete(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	src := project(t)
	if _, err := transfer.SyncUp(ctx, sb, src, "app", syncOpts(false)); err != nil {
		t.Fatal(err)
	}
	// Made in the sandbox: a build output the rules leave out, and a file
	// the source does not have.
	os.MkdirAll(b.host("/home/user/app/node_modules/dep"), 0o755)
	os.WriteFile(b.host("/home/user/app/node_modules/dep/i.js"), []byte("x"), 0o644)
	os.WriteFile(b.host("/home/user/app/stray.txt"), []byte("x"), 0o644)
	os.RemoveAll(filepath.Join(src, "with space"))
	os.Remove(filepath.Join(src, "dangling"))

	s, err := transfer.SyncUp(ctx, sb, src, "app", syncOpts(false))
	if err != nil || s.Deleted != 0 {
		t.Fatalf("without --delete: %+v %v", s, err)
	}
	if _, err := os.Stat(b.host("/home/user/app/stray.txt")); err != nil {
		t.Fatal("deleted without --delete")
	}
	s, err = transfer.SyncUp(ctx, sb, src, "app", syncOpts(true))
	if err != nil {
		t.Fatal(err)
	}
	// stray.txt, dangling, "with space/" and its file.
	if s.Deleted != 4 || s.Copied != 0 {
		t.Fatalf("with --delete: %+v", s)
	}
	for _, gone := range []string{"stray.txt", "with space", "dangling"} {
		if _, err := os.Lstat(b.host("/home/user/app/" + gone)); !os.IsNotExist(err) {
			t.Fatalf("%s not deleted", gone)
		}
	}
	if _, err := os.Stat(b.host("/home/user/app/node_modules/dep/i.js")); err != nil {
		t.Fatal("--delete removed a path the rules leave out")
	}
}

func TestSyncUpTypeChanges(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "was-file"), []byte("f"), 0o644)
	os.MkdirAll(filepath.Join(src, "was-dir/x"), 0o755)
	os.WriteFile(filepath.Join(src, "was-link"), []byte("target"), 0o644)
	if _, err := transfer.SyncUp(ctx, sb, src, "t", syncOpts(false)); err != nil {
		t.Fatal(err)
	}
	// In the sandbox, a symlink pointing at a file outside the tree, where
	// the source has a regular file: syncing must replace the link, not
	// write through it.
	os.WriteFile(b.host("/home/user/outside.txt"), []byte("keep me"), 0o644)
	os.Remove(b.host("/home/user/t/was-link"))
	os.Symlink("../outside.txt", b.host("/home/user/t/was-link"))
	os.WriteFile(filepath.Join(src, "was-link"), []byte("new"), 0o644)
	os.Remove(filepath.Join(src, "was-file"))
	os.MkdirAll(filepath.Join(src, "was-file"), 0o755)
	os.RemoveAll(filepath.Join(src, "was-dir"))
	os.WriteFile(filepath.Join(src, "was-dir"), []byte("now a file"), 0o644)

	_, err := transfer.SyncUp(ctx, sb, src, "t", syncOpts(false))
	var pe *transfer.PartialError
	if !errors.As(err, &pe) || len(pe.Failures) != 1 || pe.Failures[0].Code != transfer.CodeConflict {
		t.Fatalf("err = %v", err)
	}
	if got, _ := os.ReadFile(b.host("/home/user/outside.txt")); string(got) != "keep me" {
		t.Fatal("wrote through a sandbox symlink")
	}
	if fi, _ := os.Lstat(b.host("/home/user/t/was-link")); !fi.Mode().IsRegular() {
		t.Fatal("symlink not replaced by the file")
	}
	if fi, _ := os.Stat(b.host("/home/user/t/was-file")); !fi.IsDir() {
		t.Fatal("file not replaced by the directory")
	}
	if _, err := transfer.SyncUp(ctx, sb, src, "t", syncOpts(true)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(b.host("/home/user/t/was-dir")); string(got) != "now a file" {
		t.Fatal("--delete did not replace the directory")
	}
}

func TestSyncDown(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	if _, err := transfer.SyncUp(ctx, sb, project(t), "app", syncOpts(false)); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "mirror")
	s1, err := transfer.SyncDown(ctx, sb, "app", dst, syncOpts(false))
	if err != nil || s1.Copied != 12 {
		t.Fatalf("%+v %v", s1, err)
	}
	if got := strings.Join(copied(t, dst), "\n"); got != strings.Join(wantTree, "\n") {
		t.Fatalf("mirror:\n%s", got)
	}
	b.opsSeen()
	s2, err := transfer.SyncDown(ctx, sb, "app", dst, syncOpts(false))
	if err != nil || s2.Copied != 0 || s2.Skipped != 12 {
		t.Fatalf("second: %+v %v", s2, err)
	}
	if ops := b.opsSeen(); count(ops, "readFileBytes") != 3 || count(ops, "stat") != 1 { // the ignore files
		t.Fatalf("second sync read files: %v", ops)
	}
	// A mode change in the sandbox reaches the local file's execute bits.
	os.Chmod(b.host("/home/user/app/README.md"), 0o755)
	if s, err := transfer.SyncDown(ctx, sb, "app", dst, syncOpts(false)); err != nil || s.Copied != 1 {
		t.Fatalf("mode sync: %+v %v", s, err)
	}
	if fi, _ := os.Stat(filepath.Join(dst, "README.md")); fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("README.md mode %v", fi.Mode())
	}
	// --delete keeps the local .git and what the rules leave out.
	os.MkdirAll(filepath.Join(dst, ".git"), 0o755)
	os.WriteFile(filepath.Join(dst, ".git/HEAD"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dst, "local-only.txt"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dst, "debug.tmp"), []byte("x"), 0o644)
	s3, err := transfer.SyncDown(ctx, sb, "app", dst, syncOpts(true))
	if err != nil || s3.Deleted != 1 {
		t.Fatalf("--delete: %+v %v", s3, err)
	}
	for name, want := range map[string]bool{".git/HEAD": true, "debug.tmp": true, "local-only.txt": false} {
		if _, err := os.Stat(filepath.Join(dst, name)); (err == nil) != want {
			t.Fatalf("%s exists=%v", name, err == nil)
		}
	}
}

func TestSyncDryRun(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	o := syncOpts(true)
	o.DryRun = true
	s, err := transfer.SyncUp(ctx, sb, project(t), "app", o)
	if err != nil || !s.DryRun || s.Copied != 12 {
		t.Fatalf("%+v %v", s, err)
	}
	for _, op := range b.opsSeen() {
		if op != "ready" && op != "stat" {
			t.Fatalf("dry run sent %s", op)
		}
	}
}

func TestSyncWithoutTouchUsesDigests(t *testing.T) {
	// A sandbox whose touch cannot set times: the second sync sees other
	// mtimes, compares digests, and still copies nothing.
	bin := t.TempDir()
	for _, tool := range []string{"find", "sha256sum", "ln", "cat", "rm"} {
		p, _ := lookPath(tool)
		os.Symlink(p, filepath.Join(bin, tool))
	}
	b := newBackend(t, backendOpts{path: bin})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	src := project(t)
	past := time.Now().Add(-time.Hour)
	filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			os.Chtimes(p, past, past)
		}
		return nil
	})
	if _, err := transfer.SyncUp(ctx, sb, src, "app", syncOpts(false)); err != nil {
		t.Fatal(err)
	}
	b.opsSeen()
	s, err := transfer.SyncUp(ctx, sb, src, "app", syncOpts(false))
	if err != nil || s.Copied != 0 || s.Skipped != 12 {
		t.Fatalf("%+v %v", s, err)
	}
	if ops := b.opsSeen(); count(ops, "writeFile") != 0 || count(ops, "exec") < 2 {
		t.Fatalf("ops %v", ops)
	}
}

func TestWatchSyncsChanges(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx, cancel := contextWithCancel(t)
	src := project(t)
	type result struct {
		s   *transfer.SyncSummary
		err error
	}
	rounds := make(chan result, 16)
	done := make(chan error, 1)
	go func() {
		done <- transfer.Watch(ctx, sb, src, "app", transfer.WatchOptions{
			SyncOptions: syncOpts(true),
			Settle:      50 * time.Millisecond,
			Round:       func(s *transfer.SyncSummary, err error) { rounds <- result{s, err} },
		})
	}()
	next := func() result {
		t.Helper()
		select {
		case r := <-rounds:
			return r
		case <-time.After(30 * time.Second):
			t.Fatal("no sync round")
		}
		return result{}
	}
	if r := next(); r.err != nil || r.s.Copied != 12 {
		t.Fatalf("first round %+v %v", r.s, r.err)
	}
	// A new directory with a file is synced (and watched from then on); a
	// path the rules leave out is not.
	os.WriteFile(filepath.Join(src, "ignored.tmp"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(src, "new/deeper"), 0o755)
	os.WriteFile(filepath.Join(src, "new/deeper/file.txt"), []byte("hello"), 0o644)
	r := next()
	for r.err == nil && r.s.Copied == 0 {
		r = next() // the directory may be seen before its file
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got, _ := os.ReadFile(b.host("/home/user/app/new/deeper/file.txt")); string(got) != "hello" {
		t.Fatal("new file not synced")
	}
	if _, err := os.Stat(b.host("/home/user/app/ignored.tmp")); err == nil {
		t.Fatal("excluded file synced")
	}
	os.WriteFile(filepath.Join(src, "new/deeper/file.txt"), []byte("hello again"), 0o644)
	if r := next(); r.err != nil || r.s.Copied != 1 {
		t.Fatalf("change round %+v %v", r.s, r.err)
	}
	os.Remove(filepath.Join(src, "README.md"))
	if r := next(); r.err != nil || r.s.Deleted != 1 {
		t.Fatalf("delete round %+v %v", r.s, r.err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not stop")
	}
}

// Names sha256sum has to escape (a line break, a backslash) are matched.
func TestSyncDigestsOfOddNames(t *testing.T) {
	bin := t.TempDir()
	for _, tool := range []string{"find", "sha256sum"} {
		p, _ := lookPath(tool)
		os.Symlink(p, filepath.Join(bin, tool))
	}
	b := newBackend(t, backendOpts{path: bin}) // no touch: digests decide
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	src := t.TempDir()
	past := time.Now().Add(-time.Hour)
	for _, name := range []string{"line\nbreak", "back\\slash", "-dash", "plain"} {
		os.WriteFile(filepath.Join(src, name), []byte(name), 0o644)
		os.Chtimes(filepath.Join(src, name), past, past)
	}
	if _, err := transfer.SyncUp(ctx, sb, src, "odd", transfer.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	b.opsSeen()
	s, err := transfer.SyncUp(ctx, sb, src, "odd", transfer.SyncOptions{})
	if err != nil || s.Copied != 0 || s.Skipped != 4 {
		t.Fatalf("%+v %v", s, err)
	}
	// The listing and one sha256sum.
	if ops := b.opsSeen(); count(ops, "exec") != 2 || count(ops, "mkdir") != 0 {
		t.Fatalf("ops %v", ops)
	}
}

// A source directory that cannot be read must not make --delete remove
// its copy in the destination: like rsync, an incomplete source listing
// skips every deletion (and says so), while the rest is still synced.
func TestSyncDeleteSkippedWhenTheLocalSourceCannotBeRead(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "data"), 0o755)
	for _, f := range []string{"data/a", "data/b", "keep.txt", "stray.txt"} {
		os.WriteFile(filepath.Join(src, f), []byte(f), 0o644)
	}
	if _, err := transfer.SyncUp(ctx, sb, src, "app", syncOpts(true)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(src, "stray.txt"))
	os.WriteFile(filepath.Join(src, "keep.txt"), []byte("changed"), 0o644)
	unreadable := filepath.Join(src, "data")
	transfer.SetWalkFault(t, func(p string) error {
		if p == unreadable {
			return &os.PathError{Op: "open", Path: p, Err: syscall.EACCES}
		}
		return nil
	})
	s, err := transfer.SyncUp(ctx, sb, src, "app", syncOpts(true))
	var pe *transfer.PartialError
	if !errors.As(err, &pe) || len(pe.Failures) != 1 || !strings.Contains(pe.Failures[0].Path, "data") {
		t.Fatalf("err = %v", err)
	}
	if s.Deleted != 0 || !s.DeletionsSkipped || s.Copied != 1 {
		t.Fatalf("summary %+v", s)
	}
	for _, f := range []string{"data/a", "data/b", "stray.txt"} {
		if _, err := os.Stat(b.host("/home/user/app/" + f)); err != nil {
			t.Fatalf("%s deleted although the source listing failed", f)
		}
	}
	if got, _ := os.ReadFile(b.host("/home/user/app/keep.txt")); string(got) != "changed" {
		t.Fatal("the readable rest was not synced")
	}
	// Readable again: the deletion happens.
	transfer.SetWalkFault(t, nil)
	if s, err := transfer.SyncUp(ctx, sb, src, "app", syncOpts(true)); err != nil || s.Deleted != 1 || s.DeletionsSkipped {
		t.Fatalf("%+v %v", s, err)
	}
}

// The same the other way: a sandbox directory that cannot be listed keeps
// its local copy.
func TestSyncDeleteSkippedWhenTheSandboxSourceCannotBeRead(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "data"), 0o755)
	for _, f := range []string{"data/a", "data/b", "keep.txt"} {
		os.WriteFile(filepath.Join(src, f), []byte(f), 0o644)
	}
	if _, err := transfer.SyncUp(ctx, sb, src, "app", syncOpts(false)); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if _, err := transfer.SyncDown(ctx, sb, "app", dst, syncOpts(true)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dst, "local-only.txt"), []byte("x"), 0o644)
	// No find in the sandbox, and its data directory cannot be read.
	b.setFault(func(w http.ResponseWriter, op string, args []json.RawMessage) bool {
		if op == "exec" && strings.Contains(string(args[0]), "find .") ||
			op == "readdir" && strings.HasSuffix(argString(args, 0), "/app/data") {
			rpcError(w, "EACCES: permission denied, scandir '"+argString(args, 0)+"'")
			return true
		}
		return false
	})
	s, err := transfer.SyncDown(ctx, sb, "app", dst, syncOpts(true))
	var pe *transfer.PartialError
	if !errors.As(err, &pe) || len(pe.Failures) != 1 {
		t.Fatalf("err = %v", err)
	}
	if s.Deleted != 0 || !s.DeletionsSkipped {
		t.Fatalf("summary %+v", s)
	}
	for _, f := range []string{"data/a", "data/b", "local-only.txt"} {
		if _, err := os.Stat(filepath.Join(dst, f)); err != nil {
			t.Fatalf("%s deleted although the sandbox listing failed", f)
		}
	}
}

// A sandbox name that is not valid UTF-8 reaches the client with U+FFFD
// in place of its bytes (exec output and readdir are text): it names
// another file, or none. sync neither copies nor deletes by that name:
// the path is a failure (E_UNSAFE_PATH), a local file really named with
// U+FFFD is not overwritten or deleted, and the sandbox's file is not
// deleted in its place either.
func TestSyncNamesThatAreNotUTF8(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "keep.txt"), []byte("keep"), 0o644)
	if _, err := transfer.SyncUp(ctx, sb, src, "app", syncOpts(false)); err != nil {
		t.Fatal(err)
	}
	app := b.host("/home/user/app")
	os.WriteFile(filepath.Join(app, "bad\xff"), []byte("sandbox's bad\\xff"), 0o644)
	os.WriteFile(filepath.Join(app, "real\uFFFD"), []byte("sandbox's real"), 0o644)

	// Down: the local file named bad\uFFFD is neither overwritten nor
	// deleted.
	dst := t.TempDir()
	os.WriteFile(filepath.Join(dst, "bad\uFFFD"), []byte("local"), 0o644)
	s, err := transfer.SyncDown(ctx, sb, "app", dst, syncOpts(true))
	var pe *transfer.PartialError
	if !errors.As(err, &pe) || len(pe.Failures) != 2 || pe.Failures[0].Code != transfer.CodeUnsafePath {
		t.Fatalf("down: %+v, %v", s, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "bad\uFFFD")); string(got) != "local" {
		t.Fatalf("down: the local bad\\uFFFD holds %q", got)
	}

	// Up: the sandbox's bad\xff and real\uFFFD are not deleted, and the
	// local bad\uFFFD arrives under its own name.
	s, err = transfer.SyncUp(ctx, sb, dst, "app", syncOpts(true))
	if !errors.As(err, &pe) || len(pe.Failures) != 2 || !s.DeletionsSkipped {
		t.Fatalf("up: %+v, %v", s, err)
	}
	for name, want := range map[string]string{"bad\xff": "sandbox's bad\\xff", "real\uFFFD": "sandbox's real", "bad\uFFFD": "local"} {
		if got, err := os.ReadFile(filepath.Join(app, name)); err != nil || string(got) != want {
			t.Errorf("up: the sandbox's %q holds %q, %v", name, got, err)
		}
	}
}
