package stall

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestWatchdogFiresWithoutProgress(t *testing.T) {
	ctx, w := NewRate(context.Background(), 20*time.Millisecond, 1)
	defer w.Stop()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("watchdog never fired")
	}
	if !w.Fired() {
		t.Fatal("Fired() is false after the context was cancelled by the watchdog")
	}
	err := w.Err(ctx.Err())
	if !errors.Is(err, ErrStalled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrStalled wrapping context.Canceled", err)
	}
}

func TestWatchdogProgressKeepsItAlive(t *testing.T) {
	ctx, w := NewRate(context.Background(), time.Hour, 1)
	r := w.Reader(strings.NewReader("hello"))
	if _, err := io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
	w.Stop()
	if w.Fired() {
		t.Fatal("fired although Stop came first")
	}
	if ctx.Err() == nil {
		t.Fatal("Stop must release the context")
	}
	if err := w.Err(context.Canceled); errors.Is(err, ErrStalled) {
		t.Fatalf("a cancellation that was not a stall reported as one: %v", err)
	}
}

// TestRateWatchdogFiresOnADrip: bytes that keep coming, too few in a
// period, do not keep a NewRate watchdog from firing; the error says so.
func TestRateWatchdogFiresOnADrip(t *testing.T) {
	ctx, w := NewRate(context.Background(), 20*time.Millisecond, 1<<30)
	defer w.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	hang := time.After(10 * time.Second) // catches a hang only
	for ctx.Err() == nil {
		select {
		case <-tick.C:
			w.Progress(1 << 10)
		case <-ctx.Done():
		case <-hang:
			t.Fatal("a drip kept the watchdog from firing")
		}
	}
	err := w.Err(ctx.Err())
	if !errors.Is(err, ErrStalled) || !strings.Contains(err.Error(), "less than 1073741824 bytes moved in 20ms") {
		t.Fatalf("err = %v, want ErrStalled naming the pace", err)
	}
}
