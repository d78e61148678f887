//go:build windows

package localterm

import (
	"context"
	"os"
	"time"

	"golang.org/x/sys/windows"
)

// pollEvery is how often the window size is polled: Windows has no
// SIGWINCH.
const pollEvery = 500 * time.Millisecond

// WatchSize signals on the returned channel when the window size changed,
// polling it, until ctx ends.
func (t *Terminal) WatchSize(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	go func() {
		tick := time.NewTicker(pollEvery)
		defer tick.Stop()
		c0, r0, _ := t.Size()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if c, r, ok := t.Size(); ok && (c != c0 || r != r0) {
					c0, r0 = c, r
					select {
					case ch <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	return ch
}

// HangupSignals is empty: Windows has no SIGHUP.
func HangupSignals() []os.Signal { return nil }

// enableVT makes the console interpret the escape sequences the remote
// terminal sends (and send them for keys), as every Unix terminal does.
func enableVT(in, out *os.File) func() {
	var undo []func()
	set := func(f *os.File, flag uint32) {
		if f == nil {
			return
		}
		h := windows.Handle(f.Fd())
		var mode uint32
		if windows.GetConsoleMode(h, &mode) != nil {
			return
		}
		if windows.SetConsoleMode(h, mode|flag) == nil {
			undo = append(undo, func() { _ = windows.SetConsoleMode(h, mode) })
		}
	}
	set(out, windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING|windows.DISABLE_NEWLINE_AUTO_RETURN)
	set(in, windows.ENABLE_VIRTUAL_TERMINAL_INPUT)
	return func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
}
