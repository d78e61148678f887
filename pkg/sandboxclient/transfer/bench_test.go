//go:build unix

package transfer_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

// The benchmarks run the real local backend in-process over HTTP on
// loopback, so client and server share the CPU: compare figures with the
// floor (a local copy of the same bytes) measured in the same run. For the
// figures against a separate `nimbus dev` process (and the client's RSS),
// see benchmarks/scripts/transfer.sh.

const benchFileSize = 64 << 20

func benchFile(b *testing.B) string {
	b.Helper()
	p, _ := randomFile(b, b.TempDir(), "big.bin", benchFileSize, 0o644)
	return p
}

// BenchmarkCopyFloor copies the file locally: what any transfer must at
// least do (read it, write it).
func BenchmarkCopyFloor(b *testing.B) {
	src := benchFile(b)
	dst := filepath.Join(b.TempDir(), "copy.bin")
	b.SetBytes(benchFileSize)
	for b.Loop() {
		in, _ := os.Open(src)
		out, _ := os.Create(dst)
		if _, err := io.Copy(out, in); err != nil {
			b.Fatal(err)
		}
		in.Close()
		out.Close()
	}
}

func BenchmarkUploadBigFile(b *testing.B) {
	be := newBackend(b, backendOpts{})
	sb := be.sandbox(nil)
	src := benchFile(b)
	ctx := testCtx(b)
	b.SetBytes(benchFileSize)
	for b.Loop() {
		if _, err := transfer.Upload(ctx, sb, src, "/home/user/big.bin", transfer.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDownloadBigFile(b *testing.B) {
	be := newBackend(b, backendOpts{})
	sb := be.sandbox(nil)
	src := benchFile(b)
	ctx := testCtx(b)
	if _, err := transfer.Upload(ctx, sb, src, "/home/user/big.bin", transfer.Options{}); err != nil {
		b.Fatal(err)
	}
	dst := filepath.Join(b.TempDir(), "back.bin")
	b.SetBytes(benchFileSize)
	for b.Loop() {
		if _, err := transfer.Download(ctx, sb, "/home/user/big.bin", dst, transfer.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func benchTree(b *testing.B, n int) string {
	b.Helper()
	root := filepath.Join(b.TempDir(), "tree")
	for i := range n {
		d := filepath.Join(root, fmt.Sprintf("d%d", i%50))
		if i < 50 {
			os.MkdirAll(d, 0o755)
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d.txt", i)), make([]byte, 100+i%900), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return root
}

// BenchmarkUploadTree and BenchmarkDownloadTree move a tree of 1,000
// small files; ns/op divided by 1,000 is the cost per file.
func BenchmarkUploadTree(b *testing.B) {
	be := newBackend(b, backendOpts{})
	sb := be.sandbox(nil)
	src := benchTree(b, 1000)
	ctx := testCtx(b)
	for b.Loop() {
		if _, err := transfer.UploadTree(ctx, sb, src, "/home/user/tree", transfer.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDownloadTree(b *testing.B) {
	be := newBackend(b, backendOpts{})
	sb := be.sandbox(nil)
	src := benchTree(b, 1000)
	ctx := testCtx(b)
	if _, err := transfer.UploadTree(ctx, sb, src, "/home/user/tree", transfer.Options{}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := transfer.DownloadTree(ctx, sb, "/home/user/tree", b.TempDir(), transfer.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSyncUnchangedTree is the second sync of a tree: a listing and
// nothing else.
func BenchmarkSyncUnchangedTree(b *testing.B) {
	be := newBackend(b, backendOpts{})
	sb := be.sandbox(nil)
	src := benchTree(b, 1000)
	ctx := testCtx(b)
	if _, err := transfer.SyncUp(ctx, sb, src, "/home/user/tree", transfer.SyncOptions{}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s, err := transfer.SyncUp(ctx, sb, src, "/home/user/tree", transfer.SyncOptions{})
		if err != nil || s.Copied != 0 {
			b.Fatal(s, err)
		}
	}
}
