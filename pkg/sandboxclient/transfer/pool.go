package transfer

import (
	"context"
	"sync"
)

// each runs fn for every item with at most n at once and waits for all.
// Failures do not stop the others (fn reports them itself); cancellation
// of ctx stops handing out items, and the items never started are
// returned so the caller can report them.
func each[T any](ctx context.Context, n int, items []T, fn func(context.Context, T)) (notStarted []T) {
	var wg sync.WaitGroup
	next := make(chan T)
	for range min(n, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range next {
				fn(ctx, it)
			}
		}()
	}
	for i, it := range items {
		select {
		case next <- it:
		case <-ctx.Done():
			notStarted = items[i:]
		}
		if notStarted != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	return notStarted
}

// failures collects the failures of a copy and forwards each to the
// observer as it is found.
type failures struct {
	mu   sync.Mutex
	list []Failure
	obs  Observer
}

func (f *failures) add(x Failure) {
	f.mu.Lock()
	f.list = append(f.list, x)
	f.mu.Unlock()
	f.obs.Failed(x)
}

func (f *failures) get() []Failure {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Failure(nil), f.list...)
}
