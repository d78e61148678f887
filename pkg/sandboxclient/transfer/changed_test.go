//go:build unix

package transfer_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

// shrinkOnRead truncates the sandbox file at its first read, after the
// listing or the stat gave its size: a file a build rewrote while it was
// copied, or a server whose read answers fewer bytes than its stat said.
func shrinkOnRead(b *backend, name string, size int64) {
	var done atomic.Bool
	b.setFault(func(w http.ResponseWriter, op string, args []json.RawMessage) bool {
		if (op == "readFileBytes" || op == "readRange") && strings.HasSuffix(argString(args, 0), name) && !done.Swap(true) {
			if err := os.Truncate(b.host(argString(args, 0)), size); err != nil {
				b.t.Error(err)
			}
		}
		return false
	})
}

// A downloaded file that arrives shorter than the size the sandbox gave
// for it is E_FILE_CHANGED, as on upload and for big files: never a
// shorter local file that looks complete.
func TestDownloadOfAFileThatShrankFails(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	if err := os.MkdirAll(b.host("/home/user/out"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"a.txt", "b.txt"} {
		if err := os.WriteFile(b.host("/home/user/out/"+f), []byte("0123456789"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	shrinkOnRead(b, "/a.txt", 4)
	dst := filepath.Join(t.TempDir(), "a.txt")
	_, err := transfer.Download(ctx, sb, "/home/user/out/a.txt", dst, transfer.Options{})
	if !sc.HasCode(err, transfer.CodeChanged) || !strings.Contains(err.Error(), "/home/user/out/a.txt") {
		t.Fatalf("single file: %v", err)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatalf("a partial file was left: %v", err)
	}

	os.WriteFile(b.host("/home/user/out/a.txt"), []byte("0123456789"), 0o644)
	shrinkOnRead(b, "/a.txt", 4)
	dir := filepath.Join(t.TempDir(), "tree")
	_, err = transfer.Download(ctx, sb, "/home/user/out", dir, transfer.Options{Recursive: true})
	var pe *transfer.PartialError
	if !errors.As(err, &pe) || len(pe.Failures) != 1 || pe.Failures[0].Code != transfer.CodeChanged || pe.Failures[0].Path != "/home/user/out/a.txt" {
		t.Fatalf("tree: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.txt")); !os.IsNotExist(err) {
		t.Fatalf("a partial file was left in the tree: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "b.txt")); err != nil || string(got) != "0123456789" {
		t.Fatalf("b.txt: %q %v", got, err)
	}

	// The big-file path (readRange chunks) says the same.
	os.WriteFile(b.host("/home/user/out/a.txt"), []byte(strings.Repeat("x", 100<<10)), 0o644)
	shrinkOnRead(b, "/a.txt", 50<<10)
	sb = b.sandbox(func(o *sc.Options) { o.ReadChunkThreshold, o.ReadChunkSize = 64<<10, 16<<10 })
	_, err = transfer.Download(ctx, sb, "/home/user/out/a.txt", dst, transfer.Options{PartParallel: 1})
	var te *transfer.Error
	if !errors.As(err, &te) || te.Code != transfer.CodeChanged {
		t.Fatalf("big file: %v", err)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatalf("a partial big file was left: %v", err)
	}
}

// growOnRead appends to the sandbox file at its first read, after the
// listing or the stat gave its size: a log still written to, or a file a
// build rewrote longer while it was copied.
func growOnRead(b *backend, name string, more []byte) {
	var done atomic.Bool
	b.setFault(func(w http.ResponseWriter, op string, args []json.RawMessage) bool {
		if (op == "readFileBytes" || op == "readRange") && strings.HasSuffix(argString(args, 0), name) && !done.Swap(true) {
			f, err := os.OpenFile(b.host(argString(args, 0)), os.O_WRONLY|os.O_APPEND, 0)
			if err == nil {
				_, err = f.Write(more)
				f.Close()
			}
			if err != nil {
				b.t.Error(err)
			}
		}
		return false
	})
}

// A file that grows while it is downloaded in readRange chunks is
// E_FILE_CHANGED, as it is when one read fetches it (by its length): the
// chunks read up to the size listed, and a copy of that prefix must not
// look complete. ReadFileTo, the reading of sandbox cat, says the same.
func TestDownloadOfAFileThatGrewFails(t *testing.T) {
	b := newBackend(t, backendOpts{})
	ctx := testCtx(t)
	if err := os.MkdirAll(b.host("/home/user/out"), 0o755); err != nil {
		t.Fatal(err)
	}
	big := func(o *sc.Options) { o.ReadChunkThreshold, o.ReadChunkSize = 64<<10, 16<<10 }
	dst := filepath.Join(t.TempDir(), "a.txt")
	for name, sb := range map[string]*sc.Sandbox{"one read": b.sandbox(nil), "chunks": b.sandbox(big)} {
		size := 10
		if name == "chunks" {
			size = 100 << 10
		}
		os.WriteFile(b.host("/home/user/out/a.txt"), []byte(strings.Repeat("x", size)), 0o644)
		growOnRead(b, "/a.txt", []byte("more"))
		_, err := transfer.Download(ctx, sb, "/home/user/out/a.txt", dst, transfer.Options{PartParallel: 1})
		var te *transfer.Error
		if !(sc.HasCode(err, transfer.CodeChanged) || errors.As(err, &te) && te.Code == transfer.CodeChanged) || !strings.Contains(err.Error(), "/home/user/out/a.txt") {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := os.Stat(dst); !os.IsNotExist(err) {
			t.Fatalf("%s: a partial file was left: %v", name, err)
		}

		os.WriteFile(b.host("/home/user/out/a.txt"), []byte(strings.Repeat("x", size)), 0o644)
		st, err := sb.Stat(ctx, "/home/user/out/a.txt")
		if err != nil {
			t.Fatal(err)
		}
		growOnRead(b, "/a.txt", []byte("more"))
		if n, err := sb.ReadStatTo(ctx, "/home/user/out/a.txt", st, io.Discard); !sc.HasCode(err, sc.CodeFileChanged) {
			t.Fatalf("%s: ReadStatTo: %d bytes, %v", name, n, err)
		}
	}
	// A file that keeps its size still arrives whole by chunks.
	b.setFault(nil)
	os.WriteFile(b.host("/home/user/out/a.txt"), []byte(strings.Repeat("y", 100<<10)), 0o644)
	if _, err := transfer.Download(ctx, b.sandbox(big), "/home/user/out/a.txt", dst, transfer.Options{PartParallel: 1}); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(dst); err != nil || len(got) != 100<<10 {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
}

// A sandbox listing is the server's word: names that climb out of the tree
// (.., an absolute path) are refused as E_UNSAFE_PATH and listed with the
// failures, and a symlink it lists cannot carry a later write outside the
// destination; the safe paths still arrive.
func TestDownloadRefusesAListingThatEscapes(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	os.MkdirAll(b.host("/home/user/tree"), 0o755)
	os.WriteFile(b.host("/home/user/tree/ok.txt"), []byte("ok"), 0o644)
	rec := func(typ, size, rel, link string) string {
		return typ + "\x00" + size + "\x001700000000.0\x00644\x00" + rel + "\x00" + link + "\x00"
	}
	listing := rec("f", "2", "ok.txt", "") + rec("f", "3", "../../escape.txt", "") + rec("f", "3", "/abs.txt", "") +
		rec("d", "0", "sub", "") + rec("f", "3", "sub/../../up.txt", "") +
		rec("l", "0", "lnk", "/tmp") + rec("f", "3", "lnk/pwned.txt", "") + "nimbus-list-end\x00"
	out, _ := json.Marshal(listing)
	b.setFault(func(w http.ResponseWriter, op string, args []json.RawMessage) bool {
		switch {
		case op == "exec" && strings.Contains(string(args[0]), "find . -mindepth 1"):
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"ok":true,"result":{"command":"find","exitCode":0,"success":true,"duration":1,"timestamp":1,"stdout":` + string(out) + `,"stderr":""}}`))
			return true
		case op == "readFileBytes" && !strings.HasSuffix(argString(args, 0), "/ok.txt"):
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"YmFk"}}`))
			return true
		}
		return false
	})
	parent := t.TempDir()
	dst := filepath.Join(parent, "a", "b", "dst")
	_, err := transfer.Download(ctx, sb, "/home/user/tree", dst, transfer.Options{Recursive: true, MkPath: true})
	var pe *transfer.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	unsafe := 0
	for _, f := range pe.Failures {
		if f.Code == transfer.CodeUnsafePath {
			unsafe++
		}
	}
	if unsafe != 3 {
		t.Errorf("%d unsafe paths refused, want 3: %+v", unsafe, pe.Failures)
	}
	for _, p := range []string{filepath.Join(parent, "a", "escape.txt"), filepath.Join(parent, "a", "b", "up.txt"), "/abs.txt", "/tmp/pwned.txt"} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s was written outside the destination", p)
		}
	}
	if got, err := os.ReadFile(filepath.Join(dst, "ok.txt")); err != nil || string(got) != "ok" {
		t.Errorf("ok.txt: %q %v", got, err)
	}
}
