//go:build unix

package sandbox

import (
	"os"
	"os/signal"
	"syscall"
)

// notifyResize turns SIGWINCH (the terminal was resized) into values.
func notifyResize() (<-chan struct{}, func()) {
	sigs := make(chan os.Signal, 1)
	out := make(chan struct{}, 1)
	done := make(chan struct{})
	signal.Notify(sigs, syscall.SIGWINCH)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-sigs:
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out, func() {
		signal.Stop(sigs)
		close(done)
	}
}
