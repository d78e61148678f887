// Package observe is the one shape of the progress observers that nimbus's
// libraries (pkg/provision, pkg/runtimesync) accept: the library reports
// events and never prints, the command draws them. Each library declares
// its own Event type and aliases these types to it, so the adapter and the
// no-op default are written once and cannot drift apart.
package observe

// Observer receives the events of type E that a library reports. The
// library that aliases it says on which goroutines Observe is called.
type Observer[E any] interface {
	// Observe receives one event; it must return quickly and not block,
	// since the library's work waits for it.
	Observe(E)
}

// Func adapts a function to Observer.
type Func[E any] func(E)

// Observe calls f.
func (f Func[E]) Observe(e E) { f(e) }

// Nop is the Observer a library uses when its caller gave none.
type Nop[E any] struct{}

// Observe discards the event.
func (Nop[E]) Observe(E) {}

// OrNop returns o, or Nop when o is nil, so a library can report events
// without checking for a missing observer at every call.
func OrNop[E any](o Observer[E]) Observer[E] {
	if o == nil {
		return Nop[E]{}
	}
	return o
}
