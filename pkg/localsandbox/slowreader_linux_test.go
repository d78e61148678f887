package localsandbox_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/proctest"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// TestEndedInTimeIsNotTimedOut: a command that ends within its timeout is
// not reported as timed out (exit 124) when its client is slow to read
// the output: the request's goroutine, blocked writing a frame to that
// client, notices the end only once the write returns, but the command
// ended in time all the same.
func TestEndedInTimeIsNotTimedOut(t *testing.T) {
	for _, m := range execModes {
		t.Run(m.name, func(t *testing.T) {
			_, sb := modeBox(t, m.iso)
			mk := proctest.Marker()
			// More output than the transport buffers: the server blocks
			// writing it until the client reads; the pipe holds it all, so
			// the command ends at once.
			st, err := sb.ExecStream(ctx(t), "sh -c 'head -c 300000 /dev/zero' "+mk, sc.ExecOptions{Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			proctest.WaitGone(t, mk)
			// A command with the same timeout started after it has timed
			// out: so has this one's timer.
			r, err := sb.Exec(ctx(t), "sleep 30", sc.ExecOptions{Timeout: time.Second})
			if err != nil || r.ExitCode != 124 {
				t.Fatalf("%+v %v", r, err)
			}
			n, _, _, e, err := drain(t, st)
			if err != nil || n != 300000 || strings.Contains(e, "timed out") || st.Exit() == nil || st.Exit().ExitCode != 0 {
				t.Fatalf("%d bytes, stderr %q, exit %+v, %v; want the 300000 bytes and exit 0", n, e, st.Exit(), err)
			}
		})
	}
}

// TestSlowClientGetsAllOutput: output the command wrote before its end is
// read for 2 s after it, for a process that escaped and holds the pipes
// open. Those 2 s counted the time the server was blocked writing to a
// client that reads slowly, so a client that took longer than that to
// read the rest lost it, with exit 0 and no word of it (review6 measured
// 593,920 of 900,000 bytes at 400 ms per frame). Only the time spent
// waiting for the pipes counts now.
func TestSlowClientGetsAllOutput(t *testing.T) {
	for _, m := range execModes {
		t.Run(m.name, func(t *testing.T) {
			_, sb := modeBox(t, m.iso)
			st, err := sb.ExecStream(ctx(t), "head -c 900000 /dev/zero", sc.ExecOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			// The client that reads slowly: 600 ms per frame for the
			// first eight, well past the 2 s grace period after the end.
			got := 0
			for range 8 {
				c, err := st.Next()
				if err != nil {
					t.Fatalf("after %d bytes: %v", got, err)
				}
				got += len(c.Data)
				time.Sleep(600 * time.Millisecond)
			}
			n, _, _, e, err := drain(t, st)
			if err != nil || got+n != 900000 || st.Exit() == nil || st.Exit().ExitCode != 0 {
				t.Fatalf("%d bytes, stderr %q, exit %+v, %v; want the 900000 bytes and exit 0", got+n, e, st.Exit(), err)
			}
		})
	}
}
