package localsandbox

import (
	"container/list"
	"errors"
	"io/fs"
	"os"
	"sync"
	"time"
)

// Sandboxes hold no descriptor while nobody uses them. An operation (and a
// background process while it restarts) holds its sandbox's directory
// handle, opened on first use; when the last one lets go, the handle waits
// in a small cache of recently used ones, and the least recently used is
// closed when the cache is full or after rootIdleTimeout. So open
// descriptors are bounded by what runs, plus the cache, whatever the
// number of sandboxes, and go back to the idle count when all is quiet.

// maxIdleRoots bounds the directory handles kept open for sandboxes that
// nobody uses at the moment (rootFDs descriptors each: at most 128 on
// Linux, where Go raises the soft descriptor limit to the hard one), and
// rootIdleTimeout how long one is kept.
const (
	maxIdleRoots    = 64
	rootIdleTimeout = 15 * time.Second
)

// rootCache is the server's cache of idle directory handles.
type rootCache struct {
	mu    sync.Mutex
	idle  list.List // of *sandbox, most recently released first
	timer *time.Timer
	// timeout replaces rootIdleTimeout when set (tests).
	timeout time.Duration
}

func (c *rootCache) idleTimeout() time.Duration {
	if c.timeout > 0 {
		return c.timeout
	}
	return rootIdleTimeout
}

// acquireRoot makes sb.root usable until the matching releaseRoot,
// opening it (and, if it was removed behind the server's back, creating
// the sandbox's directory again) when it is not open.
func (sb *sandbox) acquireRoot() error {
	sb.rootMu.Lock()
	defer sb.rootMu.Unlock()
	if sb.rootClosed {
		return errBackendClosed
	}
	if sb.root == nil {
		r, err := openRoot(sb.dir)
		if err != nil {
			return err
		}
		if !sb.prepared {
			for _, d := range []string{"home/user", "tmp"} {
				if err := r.MkdirAll(d, 0o755); err != nil {
					_ = r.Close()
					return err
				}
			}
			sb.prepared = true
		}
		sb.root = r
		sb.rootDir = openRootDir(r)
		sb.rootDirFD = fileFD(sb.rootDir)
	}
	sb.rootRefs++
	if sb.rootRefs == 1 && sb.rootElem != nil {
		c := &sb.s.roots
		c.mu.Lock()
		c.idle.Remove(sb.rootElem)
		c.mu.Unlock()
		sb.rootElem = nil
	}
	return nil
}

// releaseRoot ends a use of sb.root.
func (sb *sandbox) releaseRoot() {
	sb.rootMu.Lock()
	sb.rootRefs--
	if sb.rootRefs > 0 || sb.root == nil {
		sb.rootMu.Unlock()
		return
	}
	c := &sb.s.roots
	var evict []*sandbox
	c.mu.Lock()
	sb.rootElem = c.idle.PushFront(sb)
	sb.rootIdleSince = time.Now()
	for c.idle.Len() > maxIdleRoots {
		evict = append(evict, c.removeOldestLocked())
	}
	if c.timer == nil {
		c.timer = time.AfterFunc(c.idleTimeout(), c.sweep)
	}
	c.mu.Unlock()
	sb.rootMu.Unlock()
	for _, o := range evict {
		o.closeIdleRoot()
	}
}

// removeOldestLocked takes the least recently released sandbox out of the
// cache; c.mu is held. Its element keeps a nil Value: evicted.
func (c *rootCache) removeOldestLocked() *sandbox {
	e := c.idle.Back()
	sb := c.idle.Remove(e).(*sandbox)
	e.Value = nil
	return sb
}

// sweep closes the handles idle for longer than rootIdleTimeout.
func (c *rootCache) sweep() {
	cutoff := time.Now().Add(-c.idleTimeout())
	var evict []*sandbox
	c.mu.Lock()
	for c.idle.Len() > 0 && !c.idle.Back().Value.(*sandbox).rootIdleSince.After(cutoff) {
		evict = append(evict, c.removeOldestLocked())
	}
	c.timer = nil
	if c.idle.Len() > 0 {
		next := time.Until(c.idle.Back().Value.(*sandbox).rootIdleSince.Add(c.idleTimeout()))
		c.timer = time.AfterFunc(max(next, 10*time.Millisecond), c.sweep)
	}
	c.mu.Unlock()
	for _, sb := range evict {
		sb.closeIdleRoot()
	}
}

// stop ends the sweeping (Close).
func (c *rootCache) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// closeIdleRoot closes the handle of a sandbox evicted from the cache,
// unless it was taken again meanwhile.
func (sb *sandbox) closeIdleRoot() {
	sb.rootMu.Lock()
	defer sb.rootMu.Unlock()
	if sb.rootRefs > 0 || sb.root == nil {
		return
	}
	if sb.rootElem != nil && sb.rootElem.Value != nil {
		// Released again since: it is in the cache, newest.
		return
	}
	sb.rootElem = nil
	sb.forgetRootLocked()
	_ = sb.root.Close()
	sb.root = nil
	if sb.rootDir != nil {
		_ = sb.rootDir.Close()
		sb.rootDir = nil
	}
	sb.rootDirFD = -1
}

// closeRoot closes the handle for good (destroy, Close): operations still
// running fail on it.
func (sb *sandbox) closeRoot() {
	sb.rootMu.Lock()
	defer sb.rootMu.Unlock()
	sb.rootClosed = true
	if sb.rootElem != nil && sb.rootElem.Value != nil {
		c := &sb.s.roots
		c.mu.Lock()
		c.idle.Remove(sb.rootElem)
		c.mu.Unlock()
	}
	sb.rootElem = nil
	sb.forgetRootLocked()
	sb.rootDirFD = -1
	if sb.rootDir != nil {
		// Stays set too: the fast paths fail on it and go the general way.
		_ = sb.rootDir.Close()
	}
	if sb.root != nil {
		_ = sb.root.Close()
		// sb.root stays set: operations that hold it fail with "file
		// already closed" instead of a nil dereference.
	}
}

// openRoot opens a sandbox's directory, creating it (mode 0700) when it
// does not exist.
func openRoot(dir string) (*os.Root, error) {
	r, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(dir, 0o700); err == nil {
			r, err = os.OpenRoot(dir)
		}
	}
	return r, err
}
