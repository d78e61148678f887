package localsandbox

import (
	"container/list"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox/internal/sandboxinit"
	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// sandbox is one live sandbox: its directory, opened as an os.Root while
// it is used (see roots.go), and the processes, named shells and ports of
// this server instance.
type sandbox struct {
	s   *Server
	do  string
	id  string
	dir string

	// root is valid between acquireRoot and releaseRoot (every operation
	// holds it); rootMu guards it and the fields after it.
	root *os.Root
	// rootDir is the same directory as a file, for the fast paths of
	// fastfs_linux.go (nil when not opened); it lives as long as root.
	rootDir  *os.File
	rootMu   sync.Mutex
	rootRefs int
	rootElem *list.Element // in the server's cache of idle handles
	// rootIdleSince is when the handle went into the cache (guarded by
	// the cache's lock).
	rootIdleSince time.Time
	rootClosed    bool
	prepared      bool // home/user and tmp were made once
	// rootDirFD is rootDir's descriptor, -1 without one; known is the
	// root ready last found plain (knownroot_linux.go).
	rootDirFD int
	known     *knownRoot

	mu       sync.Mutex
	shells   map[string]*shell
	procs    map[int64]*proc
	running  map[*sandboxinit.Cmd]struct{}
	apps     appTable
	revision int64
	nextPID  int64
	closed   bool
	term     *terminal // the session terminal (terminal.go), nil when none runs

	termMu sync.Mutex // serialises starting the terminal
}

// openSandbox returns the sandbox of Durable Object name do; its
// directory is made (or opened) on first use.
func openSandbox(s *Server, do, id string) *sandbox {
	// The directory name is the whole DO name: it always contains ':', so
	// it can never be "." or ".." whatever the id.
	return &sandbox{
		s: s, do: do, id: id, dir: s.SandboxDir(do), rootDirFD: -1,
		shells:  map[string]*shell{},
		procs:   map[int64]*proc{},
		running: map[*sandboxinit.Cmd]struct{}{},
		nextPID: 1000001,
	}
}

// shutdown kills every running command and process, with everything they
// started, waits for them, and closes the root. It returns how many were
// running.
func (sb *sandbox) shutdown() int {
	sb.mu.Lock()
	sb.closed = true
	var cmds []*sandboxinit.Cmd
	for c := range sb.running {
		cmds = append(cmds, c)
	}
	var procs []*proc
	for _, p := range sb.procs {
		procs = append(procs, p)
	}
	sb.mu.Unlock()
	sb.mu.Lock()
	killed := sb.liveLocked()
	sb.mu.Unlock()
	for _, p := range procs {
		p.destroyed()
	}
	for _, c := range cmds {
		c.Kill()
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		sb.mu.Lock()
		n := len(sb.running)
		for _, p := range sb.procs {
			if !p.exited() {
				n++
			}
		}
		sb.mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	sb.closeRoot()
	return killed
}

// liveLocked counts what runs: the running commands (a background
// process's shell among them) and the background processes waiting to be
// started again; sb.mu is held.
func (sb *sandbox) liveLocked() int {
	n := len(sb.running)
	for _, p := range sb.procs {
		p.mu.Lock()
		if p.exitCode == nil && (p.cmd == nil || !sb.isRunningLocked(p.cmd)) {
			n++
		}
		p.mu.Unlock()
	}
	return n
}

func (sb *sandbox) isRunningLocked(c *sandboxinit.Cmd) bool {
	_, ok := sb.running[c]
	return ok
}

// start registers a command so destroy can kill it, then starts it; it
// fails once the sandbox is being destroyed. The lock is held only to
// register: shutdown kills what is registered, and a command killed
// before it starts never starts, so starts of one sandbox run in parallel.
func (sb *sandbox) start(c *sandboxinit.Cmd) error {
	sb.mu.Lock()
	if sb.closed {
		sb.mu.Unlock()
		return errBackendClosed
	}
	sb.running[c] = struct{}{}
	sb.mu.Unlock()
	err := c.Start()
	if sandboxinit.IsKilledBeforeStart(err) {
		err = errBackendClosed
	}
	if err != nil {
		sb.untrack(c)
	}
	return err
}

func (sb *sandbox) untrack(c *sandboxinit.Cmd) {
	sb.mu.Lock()
	delete(sb.running, c)
	sb.mu.Unlock()
}

// cleanPath normalises a sandbox path: extra slashes and dot segments go,
// ".." stops at "/".
func cleanPath(p string) string {
	if strings.HasPrefix(p, "/") {
		// Clean returns a clean path itself, without copying it.
		return path.Clean(p)
	}
	return path.Clean("/" + p)
}

// rel maps a sandbox path to a name inside the root.
func rel(p string) string {
	r := strings.TrimPrefix(cleanPath(p), "/")
	if r == "" {
		return "."
	}
	return r
}

// hostDir maps a sandbox directory to its host path after checking through
// the root that it is a directory inside the sandbox.
func (sb *sandbox) hostDir(p string) (string, *sandboxserver.Error) {
	if sb.plainDir(rel(p)) {
		return filepath.Join(sb.dir, filepath.FromSlash(rel(p))), nil
	}
	fi, err := sb.root.Stat(rel(p))
	if err != nil {
		return "", fsErr("chdir", p, err)
	}
	if !fi.IsDir() {
		return "", fsErr("chdir", p, syscall.ENOTDIR)
	}
	return filepath.Join(sb.dir, filepath.FromSlash(rel(p))), nil
}

// plainDir reports whether r (a name inside the root) is a directory
// reached through directories only, no symlink on the way: then its host
// path leads where the root would. It looks at each component with lstat,
// which is much cheaper than opening each, as the root does; a false
// answer only means "ask the root".
func (sb *sandbox) plainDir(r string) bool {
	if r == "." {
		return true
	}
	if plain, ok := sb.plainDirFast(r); ok {
		return plain
	}
	p := sb.dir
	for part := range strings.SplitSeq(r, "/") {
		p += "/" + part
		if fi, err := os.Lstat(p); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// ensureRoot is ensureDir for ready's root, which it remembers (see
// knownroot_linux.go): a client calls ready again and again.
func (sb *sandbox) ensureRoot(p string) *sandboxserver.Error {
	r := rel(p)
	if r == "." || sb.rootKnownPlain(r) || sb.checkRootPlain(r) {
		return nil
	}
	// Made durable as mkdir makes its directories (durable.go).
	return sb.mkdirAll(p, r)
}

// ensureDir creates a sandbox directory (the root) if needed.
func (sb *sandbox) ensureDir(p string) *sandboxserver.Error {
	if sb.plainDir(rel(p)) {
		// Usually it is there: a look instead of a mkdir per component.
		return nil
	}
	return sb.mkdirAll(p, rel(p))
}
