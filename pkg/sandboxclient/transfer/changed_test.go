//go:build unix

package transfer_test

import (
	"encoding/json"
	"errors"
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
	var te *transfer.Error
	if !errors.As(err, &te) || te.Code != transfer.CodeChanged || !strings.Contains(te.Message, "/home/user/out/a.txt") {
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
	if !errors.As(err, &te) || te.Code != transfer.CodeChanged {
		t.Fatalf("big file: %v", err)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatalf("a partial big file was left: %v", err)
	}
}
