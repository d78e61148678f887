//go:build unix

package sandboxclient_test

import (
	"context"
	"io"
	"testing"
	"time"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// A follow that sends the process nothing (logs -f) with an idle Pacer
// must not poll processLogs every interval for as long as a quiet process
// runs: it backs off as sandboxtest.CheckIdleBackoff says, the scenario
// an attach whose input ended runs too. The polling runs on a fake clock
// against the real local backend behind sandboxtest, whose requests are
// counted: no sleep decides anything.
func TestIdlePacedFollowPollsLessAndLess(t *testing.T) {
	const interval = 100 * time.Millisecond
	srv := newFake(t, sandboxtest.Options{})
	sb := box(t, newClient(t, srv.URL, "use"), "job-1")
	srv.CheckIdleBackoff(t, ctx(t), sb, interval, func(pid int64) sandboxtest.Follow {
		return func(ctx context.Context, after func(time.Duration) <-chan time.Time, stdout io.Writer) (*sc.LogExit, error) {
			// What logs -f does, on the fake clock.
			pace := sc.NewPacer(interval, true, after)
			return sb.FollowLogsPaced(ctx, pid, 0, pace.Wait, func(l *sc.Logs) error {
				for _, c := range l.Chunks {
					if c.Stream == "stdout" {
						_, _ = io.WriteString(stdout, c.Data)
					}
				}
				return nil
			})
		}
	}, nil)
}
