//go:build linux && !race

package cmd_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

func init() { platformCmds["nimbus-rusage"] = rusageMain }

// rusageMain runs its arguments as a command and writes the command's
// peak RSS in bytes to the file $NIMBUS_RUSAGE_OUT, then exits as the
// command did. It exists because Linux charges a child the peak RSS of
// the memory it was forked from (the rusage of a process execed from a
// vfork of a big test process says that process's size): started from
// this small process, the command's figure is its own (plus at most this
// process's few MiB).
func rusageMain() {
	c := exec.Command(os.Args[1], os.Args[2:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := c.Run()
	if c.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "nimbus-rusage:", err)
		os.Exit(1)
	}
	ru, _ := c.ProcessState.SysUsage().(*syscall.Rusage)
	if ru == nil || os.WriteFile(os.Getenv("NIMBUS_RUSAGE_OUT"), []byte(strconv.FormatInt(ru.Maxrss<<10, 10)), 0o644) != nil { // KiB on Linux
		fmt.Fprintln(os.Stderr, "nimbus-rusage: cannot report the rusage")
		os.Exit(1)
	}
	os.Exit(c.ProcessState.ExitCode())
}

// rssLimit is issue 13's requirement: the nimbus process stays under
// 64 MiB of peak resident memory for a file of any size against a server
// backend.
const rssLimit = 64 << 20

// TestTransferClientRSSStaysUnder64MiB uploads and downloads a file many
// parts long through the real binary (this test binary acting as nimbus,
// which links more than nimbus does, so the figure is an upper bound)
// against the real `nimbus dev` in another process, and measures the peak
// RSS of the client process alone (its rusage, through nimbus-rusage). The parts are lowered to
// 4 MiB so the test stays quick: memory is bounded by the parts in flight,
// which are streamed, whatever the file's size. (The file is not built with
// -race: the race detector's shadow memory multiplies the figure; the plain
// test run measures it.)
func TestTransferClientRSSStaysUnder64MiB(t *testing.T) {
	dev := startDevServer(t, devOptions{})
	endpoint, nimbus, data := dev.URL, dev.Nimbus, dev.Data
	tok, err := token.Issuer{Secret: devSecret}.Mint(token.Input{Tenant: ptr("acme"), Scopes: []string{token.ScopeSandboxUse}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bin")
	want := writeRandom(t, big, 64<<20)
	wrap, err := exec.LookPath("nimbus-rusage")
	if err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "rusage")
	run := func(args ...string) int64 {
		t.Helper()
		cmd := exec.Command(wrap, append([]string{nimbus}, args...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "NIMBUS_ENDPOINT=" + endpoint, "NIMBUS_TOKEN=" + tok, "NO_COLOR=1", "NIMBUS_RUSAGE_OUT=" + report}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("nimbus %v: %v\n%s", args, err, out.String())
		}
		b, err := os.ReadFile(report)
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil || n <= 0 {
			t.Fatalf("rusage %q", b)
		}
		return n
	}
	up := run("sandbox", "cp", "--write-limit", "4MiB", big, "rss:big.bin")
	if got := fileSum(t, filepath.Join(data, "sandboxes", "acme:_:rss", "home", "user", "big.bin")); got != want {
		t.Fatal("the upload differs")
	}
	back := filepath.Join(dir, "back.bin")
	down := run("sandbox", "cp", "rss:big.bin", back)
	if fileSum(t, back) != want {
		t.Fatal("the download differs")
	}
	// The default limits too: 20 MiB parts, 28 MiB single reads.
	upDefault := run("sandbox", "cp", big, "rss:big2.bin")
	t.Logf("peak RSS of the nimbus client: upload %.1f MiB, download %.1f MiB (64 MiB file, 4 MiB parts); upload %.1f MiB with 20 MiB parts",
		float64(up)/(1<<20), float64(down)/(1<<20), float64(upDefault)/(1<<20))
	if up >= rssLimit || down >= rssLimit || upDefault >= rssLimit {
		t.Fatalf("peak RSS upload %d, download %d, upload with default parts %d bytes: want under %d", up, down, upDefault, rssLimit)
	}
}

// writeRandom writes size random bytes to p, a MiB at a time, and returns
// their sha256.
func writeRandom(t *testing.T, p string, size int) [32]byte {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	r := rand.New(rand.NewPCG(uint64(size), 64))
	buf := make([]byte, 1<<20)
	for done := 0; done < size; done += len(buf) {
		for i := 0; i+8 <= len(buf); i += 8 {
			v := r.Uint64()
			for j := range 8 {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		h.Write(buf)
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}
