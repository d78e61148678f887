//go:build unix

package localterm

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// WatchSize signals on the returned channel whenever the window may have
// changed size, until ctx ends.
func (t *Terminal) WatchSize(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGWINCH)
	go func() {
		defer signal.Stop(sig)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
	}()
	return ch
}

// HangupSignals are the signals, besides the interrupt and SIGTERM the
// root command handles, that end a full-screen command cleanly: the
// terminal closing.
func HangupSignals() []os.Signal { return []os.Signal{syscall.SIGHUP} }

func enableVT(*os.File, *os.File) func() { return nil }
