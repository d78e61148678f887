//go:build unix

package transfer_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

// small limits make "big" files cheap: parts of 64 KiB, reads chunked
// above 96 KiB in 40 KiB ranges.
func smallLimits(o *sc.Options) {
	o.WriteLimit = 64 << 10
	o.ReadChunkThreshold = 96 << 10
	o.ReadChunkSize = 40 << 10
}

func randomFile(t testing.TB, dir, name string, size int, mode os.FileMode) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(size), 7))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func count(ops []string, op string) int {
	n := 0
	for _, o := range ops {
		if o == op {
			n++
		}
	}
	return n
}

func TestBigFileRoundTrip(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(smallLimits)
	ctx := testCtx(t)
	size := 10*(64<<10) + 12345 // 11 parts, the last one short
	local, data := randomFile(t, t.TempDir(), "big.bin", size, 0o755)

	var sent atomic.Int64
	obs := transfer.ObserverFuncs{OnTransferred: func(n int64) { sent.Add(n) }}
	sum, err := transfer.Upload(ctx, sb, local, "/home/user/data/big.bin", transfer.Options{Observer: obs, PartParallel: 3, MkPath: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Files != 1 || sum.Bytes != int64(size) || sent.Load() != int64(size) {
		t.Fatalf("summary %+v, observed %d bytes", sum, sent.Load())
	}
	got, err := os.ReadFile(b.host("/home/user/data/big.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("uploaded file differs (%d bytes, %v)", len(got), err)
	}
	if fi, _ := os.Stat(b.host("/home/user/data/big.bin")); fi.Mode().Perm() != 0o755 {
		t.Fatalf("mode %v", fi.Mode())
	}
	ops := b.opsSeen()
	if n := count(ops, "writeFile"); n != 11 {
		t.Fatalf("%d writeFile calls, want 11 parts: %v", n, ops)
	}
	// One exec joins, one hashes the ranges of the joined file; no samples.
	if count(ops, "exec") != 2 || count(ops, "readRange") != 0 {
		t.Fatalf("ops %v", ops)
	}
	if l := leftovers(t, b.host("/home/user")); len(l) != 0 {
		t.Fatalf("temporary files left: %v", l)
	}

	out := filepath.Join(t.TempDir(), "back.bin")
	sent.Store(0)
	sum, err = transfer.Download(ctx, sb, "data/big.bin", out, transfer.Options{Observer: obs, PartParallel: 3})
	if err != nil {
		t.Fatal(err)
	}
	back, _ := os.ReadFile(out)
	if !bytes.Equal(back, data) || sum.Bytes != int64(size) || sent.Load() != int64(size) {
		t.Fatalf("downloaded %d bytes (summary %+v, observed %d)", len(back), sum, sent.Load())
	}
	// 17 chunks, and the byte past the end that says the file did not grow.
	if n := count(b.opsSeen(), "readRange"); n != 18 {
		t.Fatalf("%d readRange calls, want 18", n)
	}
}

func TestBigFileVerifiedWithoutSha256sum(t *testing.T) {
	// A sandbox whose PATH has cat and rm but no sha256sum: the joined
	// file is checked by sampled ranges instead.
	bin := t.TempDir()
	for _, tool := range []string{"cat", "rm"} {
		p, err := lookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	b := newBackend(t, backendOpts{path: bin})
	sb := b.sandbox(smallLimits)
	ctx := testCtx(t)
	local, data := randomFile(t, t.TempDir(), "big.bin", 3*(64<<10)+1, 0o644)
	if _, err := transfer.Upload(ctx, sb, local, "/home/user/big.bin", transfer.Options{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(b.host("/home/user/big.bin")); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	if n := count(b.opsSeen(), "readRange"); n < 4 {
		t.Fatalf("%d readRange samples, want one per part edge and the end", n)
	}
}

// opensslLike answers `openssl dgst -sha256 -r` as openssl does ("HEX
// *stdin"), computing the digest with the host's sha256sum (SHA_SUM), so
// that the openssl path is tested where openssl is not installed.
const opensslLike = "#!/bin/sh\n[ \"$*\" = \"dgst -sha256 -r\" ] || exit 1\nh=$(\"$SHA_SUM\"); echo \"${h%% *} *stdin\"\n"

// writeOpenssl puts an openssl command of script into bin.
func writeOpenssl(t *testing.T, bin, script string) {
	t.Helper()
	sum, err := lookPath("sha256sum")
	if err != nil {
		t.Fatal(err)
	}
	script = strings.Replace(script, "\"$SHA_SUM\"", shellQuote(sum), 1)
	if err := os.WriteFile(filepath.Join(bin, "openssl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// The ranges of the joined file are hashed in the sandbox by openssl where
// it works, else by sha256sum; an openssl that hashes wrong is not used.
func TestBigFileRangeHashers(t *testing.T) {
	for name, tc := range map[string]struct {
		tools   []string
		openssl string // script of an openssl command, if any
	}{
		"openssl only":   {openssl: opensslLike},
		"sha256sum only": {tools: []string{"sha256sum"}},
		"broken openssl": {tools: []string{"sha256sum"}, openssl: "#!/bin/sh\ncat >/dev/null; echo 0000000000000000000000000000000000000000000000000000000000000000 '*stdin'\n"},
	} {
		t.Run(name, func(t *testing.T) {
			bin := t.TempDir()
			for _, tool := range append([]string{"cat", "rm", "tail", "head"}, tc.tools...) {
				p, err := lookPath(tool)
				if err != nil {
					t.Fatal(err)
				}
				os.Symlink(p, filepath.Join(bin, tool))
			}
			if tc.openssl != "" {
				writeOpenssl(t, bin, tc.openssl)
			}
			b := newBackend(t, backendOpts{path: bin})
			sb := b.sandbox(smallLimits)
			ctx := testCtx(t)
			local, data := randomFile(t, t.TempDir(), "big.bin", 3*(64<<10)+5, 0o644)
			if _, err := transfer.Upload(ctx, sb, local, "/home/user/big.bin", transfer.Options{}); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(b.host("/home/user/big.bin")); !bytes.Equal(got, data) {
				t.Fatal("content differs")
			}
			// Checked by range digests: no sampled reads.
			if n := count(b.opsSeen(), "readRange"); n != 0 {
				t.Fatalf("%d readRange samples: the range digests were not used", n)
			}
		})
	}
}

// A cat that reorders its arguments joins the parts in the wrong order:
// the check catches it (by digest, or by samples without sha256sum), the
// target keeps its old content and no temporary file stays behind.
func TestBadJoinIsCaught(t *testing.T) {
	for name, tc := range map[string]struct {
		tools []string
		says  string
	}{
		"ranges":     {[]string{"sha256sum", "tail", "head"}, "bytes 0 to 65535 of the joined file differ"},
		"openssl":    {[]string{"openssl", "tail", "head"}, "bytes 0 to 65535 of the joined file differ"}, // opensslLike
		"whole file": {[]string{"sha256sum"}, "the joined file's sha256 in the sandbox is"},
		"samples":    {nil, "the joined file differs from the local file near byte"},
	} {
		tools := tc.tools
		t.Run(name, func(t *testing.T) {
			bin := t.TempDir()
			catPath, _ := lookPath("cat")
			rmPath, _ := lookPath("rm")
			script := "#!/bin/sh\nfirst=$1; shift\n" + catPath + " \"$@\" \"$first\"\n"
			if err := os.WriteFile(filepath.Join(bin, "cat"), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			os.Symlink(rmPath, filepath.Join(bin, "rm"))
			for _, tool := range tools {
				if tool == "openssl" {
					writeOpenssl(t, bin, opensslLike)
					continue
				}
				p, _ := lookPath(tool)
				os.Symlink(p, filepath.Join(bin, tool))
			}
			b := newBackend(t, backendOpts{path: bin})
			sb := b.sandbox(smallLimits)
			ctx := testCtx(t)
			if err := os.MkdirAll(b.host("/home/user"), 0o755); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(b.host("/home/user/target"), []byte("old content"), 0o644)
			local, _ := randomFile(t, t.TempDir(), "big.bin", 2*(64<<10)+7, 0o644)
			_, err := transfer.Upload(ctx, sb, local, "/home/user/target", transfer.Options{})
			var te *transfer.Error
			if !errors.As(err, &te) || te.Code != transfer.CodeVerify || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v", err)
			}
			if got, _ := os.ReadFile(b.host("/home/user/target")); string(got) != "old content" {
				t.Fatalf("target changed: %q", got[:min(20, len(got))])
			}
			if l := leftovers(t, b.host("/home/user")); len(l) != 0 {
				t.Fatalf("temporary files left: %v", l)
			}
		})
	}
}

// A write that fails mid-way (the third part hits a full disk) leaves the
// target untouched and removes the parts already written.
func TestSplitWriteFailsMidway(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(smallLimits)
	ctx := testCtx(t)
	os.MkdirAll(b.host("/home/user"), 0o755)
	os.WriteFile(b.host("/home/user/target"), []byte("old content"), 0o600)
	var writes atomic.Int32
	b.setFault(func(w http.ResponseWriter, op string, args []json.RawMessage) bool {
		if op == "writeFile" && writes.Add(1) == 3 {
			rpcError(w, "ENOSPC: no space left on device, write '"+argString(args, 0)+"'")
			return true
		}
		return false
	})
	local, _ := randomFile(t, t.TempDir(), "big.bin", 6*(64<<10), 0o644)
	_, err := transfer.Upload(ctx, sb, local, "/home/user/target", transfer.Options{PartParallel: 1})
	var re *sc.RemoteError
	if !errors.As(err, &re) || re.Errno() != "ENOSPC" {
		t.Fatalf("err = %v", err)
	}
	if got, _ := os.ReadFile(b.host("/home/user/target")); string(got) != "old content" {
		t.Fatal("target changed")
	}
	if l := leftovers(t, b.host("/home/user")); len(l) != 0 {
		t.Fatalf("parts left behind: %v", l)
	}
	if n := writes.Load(); n != 3 {
		t.Fatalf("%d writes: the failure did not stop the others", n)
	}
}

// Interrupting a split write still removes its parts.
func TestSplitWriteInterrupted(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(smallLimits)
	ctx, cancel := contextWithCancel(t)
	var writes atomic.Int32
	b.setFault(func(w http.ResponseWriter, op string, args []json.RawMessage) bool {
		if op == "writeFile" && writes.Add(1) == 2 {
			cancel()
		}
		return false
	})
	local, _ := randomFile(t, t.TempDir(), "big.bin", 8*(64<<10), 0o644)
	_, err := transfer.Upload(ctx, sb, local, "/home/user/target", transfer.Options{PartParallel: 1})
	if !errors.Is(err, ctxCanceled) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(b.host("/home/user/target")); !os.IsNotExist(err) {
		t.Fatal("target created")
	}
	if l := leftovers(t, b.host("/home/user")); len(l) != 0 {
		t.Fatalf("parts left behind: %v", l)
	}
}

func TestBigWriteFromStdin(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(func(o *sc.Options) { o.WriteLimit = 1 << 20 })
	ctx := testCtx(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 600<<10) // 9.4 MiB: spooled, 10 parts
	dst, n, err := transfer.WriteReader(ctx, sb, "in/stdin.bin", bytes.NewReader(data), transfer.Options{})
	if err != nil || n != int64(len(data)) || dst != "/home/user/in/stdin.bin" {
		t.Fatalf("%s %d %v", dst, n, err)
	}
	got, _ := os.ReadFile(b.host(dst))
	if !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	if !strings.Contains(strings.Join(b.opsSeen(), " "), "exec") {
		t.Fatal("not joined in the sandbox")
	}
}

// A split write over an existing file keeps its mode, as one writeFile
// does: 0600 stays 0600 (and an executable source still sets its bits).
func TestSplitWriteKeepsTheTargetsMode(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(smallLimits)
	ctx := testCtx(t)
	os.MkdirAll(b.host("/home/user"), 0o755)
	os.WriteFile(b.host("/home/user/secret.bin"), []byte("old"), 0o600)
	os.Chmod(b.host("/home/user/secret.bin"), 0o600)
	local, data := randomFile(t, t.TempDir(), "big.bin", 3*(64<<10)+7, 0o644)
	if _, err := transfer.Upload(ctx, sb, local, "/home/user/secret.bin", transfer.Options{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(b.host("/home/user/secret.bin"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v, want 0600", fi.Mode(), err)
	}
	if got, _ := os.ReadFile(b.host("/home/user/secret.bin")); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	// A new file gets writeFile's default; an executable one its bits.
	if _, err := transfer.Upload(ctx, sb, local, "/home/user/new.bin", transfer.Options{}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(b.host("/home/user/new.bin")); fi.Mode().Perm() != 0o644 {
		t.Fatalf("new file mode %v", fi.Mode())
	}
	exe, _ := randomFile(t, t.TempDir(), "tool", 3*(64<<10)+7, 0o750)
	if _, err := transfer.Upload(ctx, sb, exe, "/home/user/secret.bin", transfer.Options{}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(b.host("/home/user/secret.bin")); fi.Mode().Perm() != 0o750 {
		t.Fatalf("executable mode %v", fi.Mode())
	}
}

// When the sandbox's exec stalls, the rm of a failed split write gives up
// after its own short bound and deleteFile removes the parts; when that
// fails too, the error names the files left behind.
func TestSplitWriteCleanupWhenExecStalls(t *testing.T) {
	transfer.SetCleanupExecTimeout(t, time.Second)
	for _, deleteFails := range []bool{false, true} {
		b := newBackend(t, backendOpts{})
		release := make(chan struct{})
		t.Cleanup(func() { close(release) }) // before the server closes
		var writes atomic.Int32
		b.setFault(func(w http.ResponseWriter, op string, args []json.RawMessage) bool {
			switch {
			case op == "writeFile" && writes.Add(1) == 3:
				rpcError(w, "ENOSPC: no space left on device, write '"+argString(args, 0)+"'")
				return true
			case op == "exec" && strings.Contains(string(args[0]), "rm -f"):
				<-release // a sandbox whose exec never answers
				return true
			case op == "deleteFile" && deleteFails && exists(b.host(argString(args, 0))):
				rpcError(w, "EBUSY: resource busy or locked, unlink '"+argString(args, 0)+"'")
				return true
			}
			return false
		})
		sb := b.sandbox(smallLimits)
		local, _ := randomFile(t, t.TempDir(), "big.bin", 6*(64<<10), 0o644)
		start := time.Now()
		_, err := transfer.Upload(testCtx(t), sb, local, "/home/user/target", transfer.Options{PartParallel: 1})
		var re *sc.RemoteError
		if !errors.As(err, &re) || re.Errno() != "ENOSPC" {
			t.Fatalf("err = %v", err)
		}
		if took := time.Since(start); took > 20*time.Second {
			t.Fatalf("the cleanup took %s", took)
		}
		l := leftovers(t, b.host("/home/user"))
		if !deleteFails {
			if len(l) != 0 {
				t.Fatalf("parts left behind: %v", l)
			}
			var le *transfer.LeftoverError
			if errors.As(err, &le) {
				t.Fatalf("reported leftovers: %v", err)
			}
			continue
		}
		var le *transfer.LeftoverError
		if len(l) != 2 || !errors.As(err, &le) || len(le.Paths) != 2 {
			t.Fatalf("left %v, err %v", l, err)
		}
		for _, p := range l {
			if !strings.Contains(err.Error(), "/home/user/"+filepath.Base(p)) {
				t.Fatalf("error does not name %s: %v", filepath.Base(p), err)
			}
		}
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// A stat whose size is near the int64 limit (a hostile or broken server)
// does not overflow the count of chunks into none: that downloaded an
// empty file and reported it copied. The first chunk shows the file is
// not that size.
func TestDownloadOfAnAbsurdSizeIsNotAnEmptySuccess(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(nil)
	ctx := testCtx(t)
	if err := sb.Mkdir(ctx, "/home/user"); err != nil {
		t.Fatal(err)
	}
	if err := sb.WriteFile(ctx, "/home/user/f.bin", []byte("ten bytes!")); err != nil {
		t.Fatal(err)
	}
	b.setFault(func(w http.ResponseWriter, op string, _ []json.RawMessage) bool {
		if op != "stat" {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true,"result":{"type":"file","size":9223372036854775807,"mode":33188,"mtime":1}}`)
		return true
	})
	dst := filepath.Join(t.TempDir(), "f.bin")
	sum, err := transfer.Download(ctx, sb, "/home/user/f.bin", dst, transfer.Options{})
	if err == nil {
		t.Fatalf("success: %+v", sum)
	}
	var te *transfer.Error
	if !errors.As(err, &te) || te.Code != transfer.CodeChanged {
		t.Fatalf("err = %v", err)
	}
	if _, serr := os.Stat(dst); !os.IsNotExist(serr) {
		t.Fatalf("%s left behind: %v", dst, serr)
	}
}
