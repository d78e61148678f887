//go:build linux

package cmd_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/creack/pty"

	"github.com/nimbus-sh/nimbus/pkg/terminal/frame"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// BenchmarkAttachKeystrokeEcho measures what a user feels typing into
// `nimbus session attach` against `nimbus dev`: from a key written to the
// terminal nimbus runs on until its echo comes back on that terminal. The
// path is nimbus's terminal → input frame → WebSocket → nimbus dev → PTY →
// the remote shell's echo → PTY → output frame → WebSocket → nimbus's
// terminal, across three processes. Keys alternate between "x" and
// Backspace so the line never grows. The floor, measured in the same run,
// is a bare "ping"/"pong" round trip on a terminal socket of the same
// server: the WebSocket and loopback part alone. Run with
//
//	go test ./cmd -run '^$' -bench AttachKeystrokeEcho -benchtime 2000x
func BenchmarkAttachKeystrokeEcho(b *testing.B) {
	shells := []string{"/bin/sh"}
	if _, err := os.Stat("/bin/bash"); err == nil {
		shells = append(shells, "/bin/bash")
	}
	for _, sh := range shells {
		b.Run(strings.TrimPrefix(sh, "/bin/"), func(b *testing.B) {
			d := startDevServer(b, devOptions{Env: []string{"SHELL=" + sh}})
			floor := pingFloor(b, d)

			ptmx, tty, err := pty.Open()
			if err != nil {
				b.Fatal(err)
			}
			defer ptmx.Close()
			defer tty.Close()
			_ = pty.Setsize(ptmx, &pty.Winsize{Cols: 100, Rows: 30})
			c := &exec.Cmd{Path: os.Args[0], Args: []string{"nimbus", "session", "attach", "bench"},
				Env:   []string{"PATH=" + os.Getenv("PATH"), "HOME=" + b.TempDir(), "NIMBUS_ENDPOINT=http://" + d.Addr, "NIMBUS_TOKEN=" + attachToken(b, "bench", token.ScopeSessionAttach), "NO_COLOR=1", "TERM=xterm"},
				Stdin: tty, Stdout: tty, Stderr: tty, SysProcAttr: &syscall.SysProcAttr{Setsid: true, Setctty: true}}
			if err := c.Start(); err != nil {
				b.Fatal(err)
			}
			defer func() { _ = c.Process.Kill(); _ = c.Wait() }()
			buf := make([]byte, 64<<10)
			var seen []byte
			readUntil := func(want []byte) {
				for !bytes.Contains(seen, want) {
					_ = ptmx.SetReadDeadline(time.Now().Add(20 * time.Second))
					n, err := ptmx.Read(buf)
					if err != nil {
						b.Fatalf("waiting for %q: %v; saw %q", want, err, seen)
					}
					seen = append(seen, buf[:n]...)
				}
				seen = seen[:0]
			}
			// A known state: no prompt to wait for, the shell ready.
			_, _ = ptmx.Write([]byte("PS1=''; echo ready-$((2*21))\r"))
			readUntil([]byte("ready-42\r\n"))
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				key, echo := []byte("x"), []byte("x")
				if i%2 == 1 {
					key, echo = []byte{0x7f}, []byte("\b \b")
				}
				start := time.Now()
				_, _ = ptmx.Write(key)
				readUntil(echo)
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			p50, p90, p99 := percentiles(lat)
			b.ReportMetric(ms(p50), "p50-ms")
			b.ReportMetric(ms(p90), "p90-ms")
			b.ReportMetric(ms(p99), "p99-ms")
			b.ReportMetric(ms(floor), "floor-p50-ms")
			b.ReportMetric(float64(p50)/float64(floor), "p50/floor")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func percentiles(d []time.Duration) (p50, p90, p99 time.Duration) {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.5), at(0.9), at(0.99)
}

// pingFloor is the median ping→pong round trip on a terminal socket of d.
func pingFloor(b *testing.B, d *devServer) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+d.Addr+"/s/floor/ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + attachToken(b, "floor", token.ScopeSessionAttach)}}})
	if err != nil {
		b.Fatal(err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(64 << 20)
	var rtt []time.Duration
	for range 500 {
		start := time.Now()
		if err := ws.Write(ctx, websocket.MessageText, []byte(frame.Ping)); err != nil {
			b.Fatal(err)
		}
		for {
			_, msg, err := ws.Read(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if frame.IsPong(msg) {
				break
			}
		}
		rtt = append(rtt, time.Since(start))
	}
	p50, _, _ := percentiles(rtt)
	return p50
}
