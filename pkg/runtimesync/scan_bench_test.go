package runtimesync

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/nimbus-sh/nimbus/internal/npmtest"
)

// benchTarball writes a runtime package with 8 MiB of incompressible blobs
// (wasm compresses little) and returns its path and unpacked size.
func benchTarball(b *testing.B) (string, int64) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	rt := npmtest.Runtime{Name: "bench", Version: "1.0.0", License: "MIT"}
	var total int64
	for i, n := range []int{5 << 20, 2 << 20, 1 << 20} {
		data := make([]byte, n)
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		rt.Files = append(rt.Files, npmtest.RuntimeFile{Path: "share/f" + string(rune('a'+i)), Src: "f" + string(rune('a'+i)), Data: data})
		total += int64(n)
	}
	path := filepath.Join(b.TempDir(), "bench.tgz")
	if err := os.WriteFile(path, rt.Tarball(npmtest.ManifestLast()), 0o644); err != nil {
		b.Fatal(err)
	}
	return path, total
}

// BenchmarkScanTarball measures the one verifying pass over a cached
// tarball (gunzip, tar, SHA-256 of every blob); BenchmarkScanFloor does the
// same decompression and hashing with the standard library alone, the
// floor the scan is compared against.
func BenchmarkScanTarball(b *testing.B) {
	path, total := benchTarball(b)
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		sc, err := scanTarball(context.Background(), path, "", nil)
		if err != nil || len(sc.blobs) != 3 {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanFloor(b *testing.B) {
	path, total := benchTarball(b)
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		f, _ := os.Open(path)
		gz, _ := gzip.NewReader(f)
		tr := tar.NewReader(gz)
		for {
			if _, err := tr.Next(); err != nil {
				break
			}
			h := sha256.New()
			io.Copy(h, tr)
		}
		f.Close()
	}
}
