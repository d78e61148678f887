//go:build linux

package cmd_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/cmd/internal/localdev"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// These benchmarks run the real `nimbus dev` (this test binary acting as
// nimbus, see TestMain) in its own process and report its peak resident
// memory above its idle size while hostile or large requests arrive, and
// how long it keeps a slowloris connection. Run them one at a time:
//
//	go test ./cmd -run '^$' -bench DevServer -benchtime 1x

// kib reads a field of /proc/<pid>/status in KiB.
func (d *devServer) kib(b testing.TB, field string) float64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(d.cmd.Process.Pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatalf("no %s", field)
	return 0
}

// inits returns how many child processes the server has (its sandbox
// inits), their anonymous resident memory in all, in KiB, and their
// threads in all: memory and threads the server's own figures leave out,
// one process per sandbox in use (threads count against a container's
// pids limit).
func (d *devServer) inits(b testing.TB) (n int, anonKiB, threads float64) {
	pid := strconv.Itoa(d.cmd.Process.Pid)
	tasks, err := os.ReadDir("/proc/" + pid + "/task")
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range tasks {
		raw, err := os.ReadFile("/proc/" + pid + "/task/" + t.Name() + "/children")
		if err != nil {
			continue // a thread that ended meanwhile
		}
		for _, c := range strings.Fields(string(raw)) {
			st, err := os.ReadFile("/proc/" + c + "/status")
			if err != nil {
				continue // an init that ended meanwhile
			}
			var anon, thr float64
			found := 0
			for _, line := range strings.Split(string(st), "\n") {
				for _, f := range []struct {
					name string
					to   *float64
				}{{"RssAnon:", &anon}, {"Threads:", &thr}} {
					if v, ok := strings.CutPrefix(line, f.name); ok {
						x, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
						if err != nil {
							b.Fatal(err)
						}
						*f.to = x
						found++
					}
				}
			}
			if found == 2 {
				n++
				anonKiB += anon
				threads += thr
			}
		}
	}
	return n, anonKiB, threads
}

// resetPeak resets the server's peak resident size (VmHWM) to its
// current size, so that the next reading is the peak of what follows.
func (d *devServer) resetPeak(b testing.TB) {
	if err := os.WriteFile("/proc/"+strconv.Itoa(d.cmd.Process.Pid)+"/clear_refs", []byte("5"), 0); err != nil {
		b.Fatal(err)
	}
}

func (d *devServer) token(b testing.TB) string {
	tok, err := localdev.Mint(localdev.TokenOptions{Secret: devSecret, Scopes: []string{token.ScopeSandboxUse}, TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// warm makes one small authenticated request, so that the idle size
// includes a loaded sandbox.
func (d *devServer) warm(b testing.TB, tok string) { d.writeVia(b, http.DefaultClient, tok) }

// writeVia makes one small authenticated request (a writeFile) with
// client c, and fails the test unless it succeeds.
func (d *devServer) writeVia(tb testing.TB, c *http.Client, tok string) {
	tb.Helper()
	req, _ := http.NewRequest("POST", "http://"+d.Addr+"/api/nimbus/v1/sandboxes/box/rpc", strings.NewReader(`{"op":"writeFile","args":["/home/user/w","x"]}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatalf("writeFile: %v", err)
	}
	// Read to the end, so that c keeps the connection for its next
	// request (a body closed early closes it).
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		tb.Fatalf("writeFile: %s", resp.Status)
	}
}

// zeros is an endless body.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// BenchmarkDevServerUnauthenticated8x100MiB: 8 POSTs of 100 MiB without a
// valid token arrive at once (the goal: under 64 MiB above idle).
func BenchmarkDevServerUnauthenticated8x100MiB(b *testing.B) {
	for range b.N {
		d := startDevServer(b, devOptions{})
		d.warm(b, d.token(b))
		idle := d.kib(b, "VmRSS")
		var wg sync.WaitGroup
		statuses := make([]int, 8)
		sent := make([]int64, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.Dial("tcp", d.Addr)
				if err != nil {
					return
				}
				defer c.Close()
				fmt.Fprintf(c, "POST /api/nimbus/v1/sandboxes/box/rpc HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer forged.token.x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", d.Addr, 100<<20)
				go func() {
					n, _ := io.Copy(c, io.LimitReader(zeros{}, 100<<20))
					sent[i] = n
				}()
				_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
				if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
					statuses[i] = resp.StatusCode
				}
			}()
		}
		wg.Wait()
		peak := d.kib(b, "VmHWM")
		for _, s := range statuses {
			if s != 401 {
				b.Fatalf("statuses %v", statuses)
			}
		}
		b.ReportMetric((peak-idle)/1024, "MiB-peak-above-idle")
		b.ReportMetric(idle/1024, "MiB-idle")
	}
}

// BenchmarkDevServerWrites4x20MiB: 4 authenticated writes of 20 MiB (the
// client's chunk, sent as base64 bytes wire objects) arrive at once (the
// goal: under 4x the payload).
func BenchmarkDevServerWrites4x20MiB(b *testing.B) {
	const size = 20 << 20
	data := make([]byte, size)
	_, _ = rand.Read(data)
	for range b.N {
		d := startDevServer(b, devOptions{})
		tok := d.token(b)
		d.warm(b, tok)
		idle := d.kib(b, "VmRSS")
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				prefix := `{"op":"writeFile","args":["/home/user/f` + strconv.Itoa(i) + `",{"__nimbusWireType":"bytes","base64":"`
				suffix := `"}]}`
				pr, pw := io.Pipe()
				go func() {
					bw := bufio.NewWriterSize(pw, 64<<10)
					bw.WriteString(prefix)
					enc := base64.NewEncoder(base64.StdEncoding, bw)
					_, _ = io.Copy(enc, bytes.NewReader(data))
					enc.Close()
					bw.WriteString(suffix)
					pw.CloseWithError(bw.Flush())
				}()
				req, _ := http.NewRequest("POST", "http://"+d.Addr+"/api/nimbus/v1/sandboxes/box/rpc", pr)
				req.ContentLength = int64(len(prefix) + base64.StdEncoding.EncodedLen(size) + len(suffix))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("%d %s", resp.StatusCode, body)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		peak := d.kib(b, "VmHWM")
		b.ReportMetric((peak-idle)/1024, "MiB-peak-above-idle")
		b.ReportMetric((peak-idle)*1024/float64(4*size), "x-payload")
		b.ReportMetric(idle/1024, "MiB-idle")
	}
}

// BenchmarkDevServerSlowloris: a client sends its request head one byte
// per second; the figure is how long the server keeps the connection.
func BenchmarkDevServerSlowloris(b *testing.B) {
	for range b.N {
		d := startDevServer(b, devOptions{})
		c, err := net.Dial("tcp", d.Addr)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		head := "POST /api/nimbus/v1/sandboxes/box/rpc HTTP/1.1\r\nHost: " + d.Addr + "\r\nX-Slow: " + strings.Repeat("a", 200)
		go func() {
			for i := 0; i < len(head); i++ {
				if _, err := c.Write([]byte{head[i]}); err != nil {
					return
				}
				time.Sleep(time.Second)
			}
		}()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Minute))
		_, _ = io.Copy(io.Discard, c)
		held := time.Since(start)
		c.Close()
		if held >= 5*time.Minute {
			b.Fatal("the connection was never closed")
		}
		b.ReportMetric(held.Seconds(), "s-held")
	}
}

// BenchmarkDevServerReads4x20MiB: 4 readFileBytes of a 20 MiB file are
// answered at once.
func BenchmarkDevServerReads4x20MiB(b *testing.B) {
	const size = 20 << 20
	for range b.N {
		d := startDevServer(b, devOptions{})
		tok := d.token(b)
		post := func(body string) (*http.Response, error) {
			req, _ := http.NewRequest("POST", "http://"+d.Addr+"/api/nimbus/v1/sandboxes/box/rpc", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			return http.DefaultClient.Do(req)
		}
		resp, err := post(`{"op":"exec","args":["head -c ` + strconv.Itoa(size) + ` /dev/urandom > f"]}`)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("%v %v", resp, err)
		}
		resp.Body.Close()
		d.warm(b, tok)
		idle := d.kib(b, "VmRSS")
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := post(`{"op":"readFileBytes","args":["/home/user/f"]}`)
				if err != nil {
					errs <- err
					return
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || n < size*4/3 {
					errs <- fmt.Errorf("%d, %d bytes, %v", resp.StatusCode, n, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		peak := d.kib(b, "VmHWM")
		b.ReportMetric((peak-idle)/1024, "MiB-peak-above-idle")
		b.ReportMetric((peak-idle)*1024/float64(4*size), "x-payload")
	}
}
