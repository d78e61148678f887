//go:build linux && amd64

package main

import (
	"flag"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkStartup measures a CI call's whole cost, which is nimbus's
// start-up: the wall time of `nimbus token mint` and `nimbus version`
// process runs against a hello-world Go binary built the same way (static,
// -trimpath -s -w), run interleaved so load on the machine hits them alike.
// It reports the median of each and their ratios (issue 15's goal: mint at
// most 2.0x hello), and the binary size. (linux/amd64, as the budgets in
// startup_test.go.)
//
//	go test -run '^$' -bench Startup -benchtime 30x .
//
// Ratios from two runs do not compare: the machine's load moves hello's
// time and the ratio with it (issue 16's SDK looked like +1 ms from run to
// run, and costs 0.4 ms side by side). To measure a change, give the
// release binary of the other side with -startup.baseline; it runs
// interleaved with the others and its `token mint` is reported as
// base-mint/hello and mint/base-mint:
//
//	go test -run '^$' -bench Startup -benchtime 100x . -args -startup.baseline=/tmp/nimbus-main
func BenchmarkStartup(b *testing.B) {
	dir := b.TempDir()
	build := func(name, pkgDir string) string {
		out := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
		cmd.Dir = pkgDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build %s: %v\n%s", name, err, msg)
		}
		return out
	}
	helloDir := filepath.Join(dir, "hello-src")
	os.MkdirAll(helloDir, 0o755)
	os.WriteFile(filepath.Join(helloDir, "go.mod"), []byte("module hello\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(helloDir, "main.go"), []byte("package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"hello\\n\") }\n"), 0o644)
	hello := build("hello", helloDir)
	nimbus := buildRelease(b, dir)

	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "JWT_SECRET=0123456789abcdef0123456789abcdef"}
	runs := []struct {
		name string
		args []string
	}{
		{"hello", []string{hello}},
		{"mint", []string{nimbus, "token", "mint", "--tenant", "acme"}},
		{"version", []string{nimbus, "version"}},
	}
	if *startupBaseline != "" {
		runs = append(runs, struct {
			name string
			args []string
		}{"base-mint", []string{*startupBaseline, "token", "mint", "--tenant", "acme"}})
	}
	times := make([][]time.Duration, len(runs))
	run := func(i int) time.Duration {
		c := exec.Command(runs[i].args[0], runs[i].args[1:]...)
		c.Env = env
		start := time.Now()
		if out, err := c.CombinedOutput(); err != nil || strings.Contains(string(out), "warning") {
			b.Fatalf("%s: %v %s", runs[i].name, err, out)
		}
		return time.Since(start)
	}
	for i := range runs { // warm the page cache
		run(i)
	}
	// Each round runs the three in a new random order, so no binary
	// always follows another (caches, CPU frequency).
	rng := rand.New(rand.NewPCG(1, 2))
	order := make([]int, len(runs))
	for i := range order {
		order[i] = i
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			times[i] = append(times[i], run(i))
		}
	}
	b.StopTimer()
	median := func(ds []time.Duration) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		return float64(s[len(s)/2].Microseconds()) / 1000
	}
	h := median(times[0])
	b.ReportMetric(h, "hello-ms")
	b.ReportMetric(median(times[1]), "mint-ms")
	b.ReportMetric(median(times[1])/h, "mint/hello")
	b.ReportMetric(median(times[2])/h, "version/hello")
	if len(runs) > 3 {
		b.ReportMetric(median(times[3])/h, "base-mint/hello")
		b.ReportMetric(median(times[1])/median(times[3]), "mint/base-mint")
	}
	if fi, err := os.Stat(nimbus); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "binary-MiB")
	}
}

// startupBaseline is a nimbus release binary BenchmarkStartup runs beside
// the one it builds, so that a change is measured against its base in one
// run.
var startupBaseline = flag.String("startup.baseline", "", "a nimbus `binary` whose token mint BenchmarkStartup times beside the one it builds")
