package runtimesync

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestReplaceRetriesARenameRefusedByAnOpenFile drives replacer with a
// scripted rename, on any GOOS: on Windows a rename over a cached tarball
// that another sync has open fails with a sharing violation; the sync used
// to fail at once ("runtime cache: store ...") though the reader closes
// the file within moments or has put the same verified bytes there.
func TestReplaceRetriesARenameRefusedByAnOpenFile(t *testing.T) {
	errBusy := errors.New("sharing violation")
	errOther := errors.New("disk full")
	tests := []struct {
		name string
		// renames are the results of the successive renames (nil:
		// success); settledAfter is the number of renames after which
		// the target holds a verified copy (0: never).
		renames      []error
		settledAfter int
		wantErr      error
		wantRenames  int
		wantSleeps   []time.Duration
	}{
		{name: "first rename succeeds", renames: []error{nil}, wantRenames: 1},
		{name: "busy then free", renames: []error{errBusy, errBusy, nil}, wantRenames: 3,
			wantSleeps: []time.Duration{replaceBackoff, 2 * replaceBackoff}},
		{name: "other error is not retried", renames: []error{errOther}, wantErr: errOther, wantRenames: 1},
		{name: "busy, then another error", renames: []error{errBusy, errOther}, wantErr: errOther, wantRenames: 2,
			wantSleeps: []time.Duration{replaceBackoff}},
		{name: "busy, but a verified copy is there", renames: []error{errBusy}, settledAfter: 1, wantRenames: 1},
		{name: "busy, a verified copy appears meanwhile", renames: []error{errBusy, errBusy}, settledAfter: 2, wantRenames: 2,
			wantSleeps: []time.Duration{replaceBackoff}},
		{name: "busy for good: bounded", renames: slices.Repeat([]error{errBusy}, replaceAttempts+5), wantErr: errBusy,
			wantRenames: replaceAttempts,
			wantSleeps:  []time.Duration{replaceBackoff, 2 * replaceBackoff, 4 * replaceBackoff, 8 * replaceBackoff, 16 * replaceBackoff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			renames := 0
			var sleeps []time.Duration
			r := replacer{
				rename: func(oldpath, newpath string) error {
					if oldpath != "tmp" || newpath != "dst" {
						t.Fatalf("rename(%q, %q)", oldpath, newpath)
					}
					renames++
					return tt.renames[renames-1]
				},
				busy:    func(err error) bool { return err == errBusy },
				settled: func() bool { return tt.settledAfter > 0 && renames >= tt.settledAfter },
				sleep: func(_ context.Context, d time.Duration) error {
					sleeps = append(sleeps, d)
					return nil
				},
			}
			err := r.replace(context.Background(), "tmp", "dst")
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if renames != tt.wantRenames || !slices.Equal(sleeps, tt.wantSleeps) {
				t.Errorf("%d renames, sleeps %v; want %d, %v", renames, sleeps, tt.wantRenames, tt.wantSleeps)
			}
		})
	}
	// The waits stay short: a sync gives up within a couple of seconds.
	var total time.Duration
	for d, i := replaceBackoff, 1; i < replaceAttempts; i, d = i+1, d*2 {
		total += d
	}
	if total > 2*time.Second {
		t.Errorf("a busy rename waits %v in all", total)
	}
}

// TestReplaceStopsWaitingWhenInterrupted: Ctrl-C during the backoff ends
// the sync as interrupted, not after the remaining waits.
func TestReplaceStopsWaitingWhenInterrupted(t *testing.T) {
	errBusy := errors.New("sharing violation")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	renames := 0
	r := replacer{
		rename:  func(string, string) error { renames++; return errBusy },
		busy:    func(err error) bool { return err == errBusy },
		settled: func() bool { return false },
		sleep:   sleepCtx,
	}
	err := r.replace(ctx, "tmp", "dst")
	if e, ok := AsError(err); !ok || e.Kind != KindInterrupted || renames != 1 {
		t.Fatalf("err = %v after %d renames, want interrupted after 1", err, renames)
	}
}
