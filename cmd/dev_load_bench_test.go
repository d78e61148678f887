//go:build linux

package cmd_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/loadtest"
)

// BenchmarkDevLoad loads the real `nimbus dev` (this test binary acting as
// nimbus, in its own process) with `ready`, `exec true`, `execStream true`
// and a 4 KiB write+read pair, from 1 to 256 concurrent clients each on
// its own sandbox (and `exec true` from all of them on one sandbox),
// beside the floors measured in the same rounds: a bare HTTP server in its
// own process (http-floor) and fork+exec of /bin/sh -c true, plain
// (spawn-floor) and in new user, mount and PID namespaces (spawn-ns-floor).
// Rounds are interleaved in a shuffled order and the table shows the
// median and range over rounds, with ratios taken within each round. Then
// 10,000 distinct sandboxes are written to, and the server's open fds and
// peak RSS are reported. It ignores b.N: run it once.
//
//	go test ./cmd -run '^$' -bench DevLoad -benchtime 1x
//
// NIMBUS_LOAD_DURATION (default 2s) is the length of each measurement,
// NIMBUS_LOAD_ROUNDS (default 3) the number of rounds, NIMBUS_LOAD_CONC
// (default 1,16,64,256) the concurrencies, NIMBUS_LOAD_OPS a comma-separated
// subset of the rows, NIMBUS_LOAD_IDS (default 10000)
// the number of sandboxes of the fd check (0 skips it, and its wait for
// the descriptors to settle, for short profiling runs) and NIMBUS_LOAD_ISOLATION the
// server's --isolation. NIMBUS_LOAD_BIN runs another nimbus binary as the
// server (a release build, or another commit's, to compare); by default
// this test binary is the server. NIMBUS_LOAD_SERVER_ENV adds variables
// (space-separated NAME=VALUE) to the server's environment, e.g. GOGC=100
// or GODEBUG=gctrace=1, and NIMBUS_LOAD_SERVER_STDERR=1 prints what the
// server wrote to stderr at the end.
// NIMBUS_LOAD_CPUPROFILE=FILE and NIMBUS_LOAD_MEMPROFILE=FILE write a CPU
// or allocation profile of the server (this test binary only) to FILE
// when it stops.
// See docs/benchmarks.md.
func BenchmarkDevLoad(b *testing.B) {
	dur := envDuration(b, "NIMBUS_LOAD_DURATION", 2*time.Second)
	rounds := envInt(b, "NIMBUS_LOAD_ROUNDS", 3)
	nids := envInt0(b, "NIMBUS_LOAD_IDS", 10000)
	concs := []int{1, 16, 64, 256}
	if s := os.Getenv("NIMBUS_LOAD_CONC"); s != "" {
		concs = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				b.Fatalf("NIMBUS_LOAD_CONC: %q", s)
			}
			concs = append(concs, n)
		}
	}
	maxC := 0
	for _, c := range concs {
		maxC = max(maxC, c)
	}
	bin := os.Getenv("NIMBUS_LOAD_BIN")
	var env []string
	if s := os.Getenv("NIMBUS_LOAD_SERVER_ENV"); s != "" {
		env = append(env, strings.Fields(s)...)
	}
	for _, kind := range []string{"CPU", "MEM"} {
		if p := os.Getenv("NIMBUS_LOAD_" + kind + "PROFILE"); p != "" {
			if bin != "" {
				b.Fatalf("NIMBUS_LOAD_%sPROFILE profiles this test binary as the server: it cannot be used with NIMBUS_LOAD_BIN", kind)
			}
			env = append(env, "NIMBUS_TEST_"+kind+"PROFILE="+p)
		}
	}
	d := startDevServer(b, devOptions{Bin: bin, Isolation: os.Getenv("NIMBUS_LOAD_ISOLATION"), Env: env})
	idleFds := d.fds(b) // before the first sandbox
	floorAddr, floorPid := startFloorProc(b)
	// One connection per worker, and no more than the server's 256: see
	// loadtest.NewClient.
	client := loadtest.NewClient(maxC)
	nimbus := &loadtest.Target{Endpoint: "http://" + d.Addr, Token: d.token(b), Client: client}
	floor := &loadtest.Target{Endpoint: "http://" + floorAddr, Client: client}
	ctx := context.Background()

	ids := loadtest.IDs("lt", maxC)
	one := []string{"lt-one"}
	ops := map[string]loadtest.Op{
		"http-floor":     floor.ReadyOp(ids),
		"spawn-floor":    loadtest.SpawnOp(),
		"spawn-ns-floor": loadtest.SpawnNSOp(),
		"ready":          nimbus.ReadyOp(ids),
		"exec":           nimbus.ExecOp(ids, "true"),
		"exec-1box":      nimbus.ExecOp(one, "true"),
		"execStream":     nimbus.ExecStreamOp(ids, "true"),
		"write+read":     nimbus.WriteReadOp(ids, 4096),
	}
	// The process whose CPU time a row measures: the spawn floors run in
	// this process, beside the load generator, so they have none.
	server := map[string]int{"http-floor": floorPid}
	for _, n := range []string{"ready", "exec", "exec-1box", "execStream", "write+read"} {
		server[n] = d.cmd.Process.Pid
	}
	names := []string{"http-floor", "spawn-floor", "spawn-ns-floor", "ready", "exec", "exec-1box", "execStream", "write+read"}
	if s := os.Getenv("NIMBUS_LOAD_OPS"); s != "" {
		names = strings.Split(s, ",")
		for _, n := range names {
			if ops[n] == nil {
				b.Fatalf("NIMBUS_LOAD_OPS: no op %q", n)
			}
		}
	}
	tab := loadtest.NewTable()
	tab.Rows(names...)
	tab.Compare("ready", "http-floor")
	tab.Compare("write+read", "http-floor")
	for _, op := range []string{"exec", "exec-1box", "execStream"} {
		tab.Compare(op, "spawn-floor", "spawn-ns-floor")
	}
	// Every sandbox exists before the first round.
	if r := loadtest.Run(ctx, min(maxC, 16), 0, maxC, nimbus.ExecOp(ids, "true")); r.Errors > 0 {
		b.Fatalf("warm-up: %v", r.FirstErr)
	}
	// The peak resident size of each cell (the highest over rounds): the
	// kernel's high-water mark is reset before each cell's warm-up. The
	// server's peak over the run is the highest of them.
	type cell struct {
		op   string
		conc int
	}
	cellPeak := map[cell]float64{}
	b.ResetTimer()
	for round := range rounds {
		for _, c := range concs {
			order := append([]string(nil), names...)
			rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for _, name := range order {
				op := ops[name]
				nimbusRow := server[name] == d.cmd.Process.Pid
				if nimbusRow {
					d.resetPeak(b)
				}
				loadtest.Run(ctx, c, dur/4, 0, op) // warm-up, not recorded
				cpu0 := procCPU(b, server[name])
				r := loadtest.Run(ctx, c, dur, 0, op)
				if pid := server[name]; pid != 0 {
					r.ServerCPU = procCPU(b, pid) - cpu0
				}
				if nimbusRow {
					k := cell{name, c}
					cellPeak[k] = max(cellPeak[k], d.kib(b, "VmHWM"))
				}
				if r.Errors > 0 {
					b.Errorf("round %d, %s at %d: %d errors, first: %v", round, name, c, r.Errors, r.FirstErr)
				}
				tab.Add(name, r)
			}
		}
	}
	b.StopTimer()
	peak := d.kib(b, "VmHWM")
	for _, kib := range cellPeak {
		peak = max(peak, kib)
	}
	anon, file, threads := d.kib(b, "RssAnon"), d.kib(b, "RssFile"), d.kib(b, "Threads")
	ninits, initsAnon, initsThreads := d.inits(b)
	loadFds := d.fds(b)

	// Many sandboxes: each is written to once.
	var many loadtest.Result
	afterFds, settled := -1, -1
	if nids > 0 {
		many = loadtest.Run(ctx, 16, 0, nids, nimbus.WriteOp(loadtest.IDs("many", nids)))
		// The load generator's own kept-alive connections are not the
		// server's to give back: fds are counted without them.
		client.CloseIdleConnections()
		afterFds = d.fds(b)
		settled = afterFds
		for deadline := time.Now().Add(60 * time.Second); settled > idleFds && time.Now().Before(deadline); {
			time.Sleep(250 * time.Millisecond)
			settled = d.fds(b)
		}
	}

	// The server's environment is its own (devServer), so its GOMAXPROCS
	// is what NIMBUS_LOAD_SERVER_ENV says, or nimbus dev's governor: this
	// process's GOMAXPROCS never reaches it.
	procs := "governed (1 when quiet, the default under load)"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GOMAXPROCS="); ok {
			procs = v
		}
	}
	fmt.Printf("\nnimbus dev under load: %d rounds of %v per cell, GOMAXPROCS of the server %s, load generator in this process\n\n", rounds, dur, procs)
	if err := tab.Write(os.Stdout); err != nil {
		b.Fatal(err)
	}
	fmt.Printf("\nserver peak RSS (VmHWM) %.1f MiB; after the rounds %.1f MiB anonymous, %.1f MiB of files (the binary), %.0f threads; open fds: %d idle, %d after the rounds\n",
		peak/1024, anon/1024, file/1024, threads, idleFds, loadFds)
	if ninits > 0 {
		fmt.Printf("sandbox inits after the rounds: %d processes, %.1f MiB anonymous in all (%.0f KiB each), %.0f threads in all (%.1f each)\n",
			ninits, initsAnon/1024, initsAnon/float64(ninits), initsThreads, initsThreads/float64(ninits))
	}
	fmt.Printf("peak RSS by cell (MiB, the highest over rounds):\n%-12s", "op")
	for _, c := range concs {
		fmt.Printf(" %8d", c)
	}
	fmt.Println()
	for _, name := range names {
		if server[name] != d.cmd.Process.Pid {
			continue
		}
		fmt.Printf("%-12s", name)
		for _, c := range concs {
			fmt.Printf(" %8.1f", cellPeak[cell{name, c}]/1024)
		}
		fmt.Println()
	}
	if nids > 0 {
		fmt.Printf("%d distinct sandboxes written to at concurrency 16: %d errors (%v), %.0f ops/s; open fds right after %d, %d after settling (idle %d)\n\n",
			nids, many.Errors, many.FirstErr, many.OpsPerSec(), afterFds, settled, idleFds)
	}

	report := func(op, floor string, c int, unit string) {
		if m, _, _, ok := tab.Ratio(op, floor, c); ok {
			b.ReportMetric(m, unit)
		}
	}
	report("exec", "spawn-floor", 16, "exec-c16-x-spawn")
	report("exec", "spawn-ns-floor", 16, "exec-c16-x-spawn-ns")
	report("ready", "http-floor", 16, "ready-c16-x-http")
	if m, _, _, ok := tab.P99Ratio("exec", "spawn-floor", 64); ok {
		b.ReportMetric(m, "exec-c64-p99-x-spawn")
	}
	if rs := tab.Results("write+read", 1); len(rs) > 0 {
		var us []float64
		for _, r := range rs {
			us = append(us, float64(r.Quantile(0.5))/1e3)
		}
		b.ReportMetric(median(us), "write+read-c1-p50-µs")
	}
	if os.Getenv("NIMBUS_LOAD_SERVER_STDERR") != "" {
		fmt.Printf("server stderr:\n%s\n", d.Stderr.String())
	}
	b.ReportMetric(peak/1024, "rss-peak-MiB")
	var peak256 float64
	for k, kib := range cellPeak {
		if k.conc == 256 {
			peak256 = max(peak256, kib)
		}
	}
	if peak256 > 0 {
		b.ReportMetric(peak256/1024, "rss-peak-c256-MiB")
	}
	if nids > 0 {
		b.ReportMetric(float64(settled-idleFds), "fds-above-idle-after-ids")
		b.ReportMetric(float64(many.Errors), "errors-many-ids")
	}
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func envDuration(b *testing.B, key string, def time.Duration) time.Duration {
	s := os.Getenv(key)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		b.Fatalf("%s: %q", key, s)
	}
	return d
}

func envInt(b *testing.B, key string, def int) int {
	n := envInt0(b, key, def)
	if n < 1 {
		b.Fatalf("%s: %q", key, os.Getenv(key))
	}
	return n
}

// envInt0 is envInt allowing 0.
func envInt0(b *testing.B, key string, def int) int {
	s := os.Getenv(key)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		b.Fatalf("%s: %q", key, s)
	}
	return n
}

// procCPU is the CPU time process pid has used (0 for pid 0).
func procCPU(b *testing.B, pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	d, err := loadtest.ProcCPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// fds counts the server's open file descriptors.
func (d *devServer) fds(b testing.TB) int {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(d.cmd.Process.Pid) + "/fd")
	if err != nil {
		b.Fatal(err)
	}
	return len(ents)
}

// startFloorProc runs the HTTP floor in its own process (this test binary
// as loadtest.FloorName) and returns its address and process id.
func startFloorProc(b *testing.B) (string, int) {
	b.Helper()
	cmd := &exec.Cmd{Path: os.Args[0], Args: []string{loadtest.FloorName}}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("the floor server did not start: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return strings.TrimSpace(line), cmd.Process.Pid
}
