//go:build !unix

package sandbox

// notifyResize has no resize signal to watch on this platform: the size
// is sent once at the start.
func notifyResize() (<-chan struct{}, func()) { return nil, func() {} }
