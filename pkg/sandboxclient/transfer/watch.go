package transfer

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// DefaultSettle is how long Watch waits for changes to stop before a
// round, so an editor's save or a build's burst of writes is one round.
const DefaultSettle = 300 * time.Millisecond

// maxSettle bounds the wait when changes never stop (a log written
// continuously): a round runs at least this often.
const maxSettle = 5 * time.Second

// WatchOptions control Watch.
type WatchOptions struct {
	SyncOptions
	// Settle is the quiet period before a round; 0 means DefaultSettle.
	Settle time.Duration
	// Round receives each round's result (the first one included). A
	// failed round does not stop the watch.
	Round func(*SyncSummary, error)
}

// Watch syncs the local directory local to the sandbox directory remote
// (SyncUp), then again each time something under local changes, until ctx
// ends; it then returns nil. Changes to paths the ignore rules leave out
// do not start a round. It fails only when the filesystem cannot be
// watched.
func Watch(ctx context.Context, sb *sc.Sandbox, local, remote string, o WatchOptions) error {
	return watch(ctx, local, o, func(ctx context.Context) (*SyncSummary, error) {
		return SyncUp(ctx, sb, local, remote, o.SyncOptions)
	})
}

func watch(ctx context.Context, local string, o WatchOptions, sync func(context.Context) (*SyncSummary, error)) error {
	if err := mustBeDir(local); err != nil {
		return err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return &Error{Code: CodeLocalIO, Message: "cannot watch " + local + ": " + err.Error(), Err: err}
	}
	defer w.Close()
	settle := o.Settle
	if settle <= 0 {
		settle = DefaultSettle
	}
	report := o.Round
	if report == nil {
		report = func(*SyncSummary, error) {}
	}

	// watchTree watches every directory the rules keep; watching one
	// already watched is a no-op, and removed ones drop out by themselves.
	var rules *tree
	watchTree := func() error {
		t, err := walkLocal(local, o.Ignore, func(Failure) {})
		if err != nil {
			return err
		}
		rules = t
		if err := w.Add(local); err != nil {
			return &Error{Code: CodeLocalIO, Message: "cannot watch " + local + ": " + err.Error(), Err: err}
		}
		for _, e := range t.entries {
			if e.Type == TypeDir {
				_ = w.Add(filepath.Join(local, filepath.FromSlash(e.Rel)))
			}
		}
		return nil
	}
	if err := watchTree(); err != nil {
		return err
	}
	relevant := func(name string) bool {
		rel, err := filepath.Rel(local, name)
		if err != nil || rel == "." {
			return true
		}
		fi, err := os.Lstat(name)
		return !rules.rules.Match(filepath.ToSlash(rel), err == nil && fi.IsDir())
	}

	report(sync(ctx))
	for {
		// Wait for a relevant change.
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if !relevant(ev.Name) {
				continue
			}
		case _, ok := <-w.Errors:
			if !ok {
				return nil
			}
			// An overflow lost events: a round finds what changed.
		}
		// Then for quiet.
		quiet := time.NewTimer(settle)
		deadline := time.NewTimer(maxSettle)
	settling:
		for {
			select {
			case <-ctx.Done():
				quiet.Stop()
				deadline.Stop()
				return nil
			case ev, ok := <-w.Events:
				if !ok {
					return nil
				}
				if relevant(ev.Name) {
					quiet.Reset(settle)
				}
			case <-w.Errors:
			case <-quiet.C:
				break settling
			case <-deadline.C:
				break settling
			}
		}
		quiet.Stop()
		deadline.Stop()
		if err := watchTree(); err != nil {
			report(nil, err)
			continue
		}
		report(sync(ctx))
	}
}
