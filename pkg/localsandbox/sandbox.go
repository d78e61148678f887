package localsandbox

import (
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

// sandbox is one live sandbox: its directory, opened as an os.Root, and the
// processes, named shells and ports of this server instance.
type sandbox struct {
	s    *Server
	do   string
	id   string
	dir  string
	root *os.Root

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

func openSandbox(s *Server, do, id string) (*sandbox, error) {
	// The directory name is the whole DO name: it always contains ':', so
	// it can never be "." or ".." whatever the id.
	dir := s.SandboxDir(do)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"home/user", "tmp"} {
		if err := root.MkdirAll(d, 0o755); err != nil {
			_ = root.Close()
			return nil, err
		}
	}
	return &sandbox{
		s: s, do: do, id: id, dir: dir, root: root,
		shells:  map[string]*shell{},
		procs:   map[int64]*proc{},
		running: map[*sandboxinit.Cmd]struct{}{},
		nextPID: 1000001,
	}, nil
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
	_ = sb.root.Close()
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

// start starts a command and registers it so destroy can kill it; it
// fails once the sandbox is being destroyed. Starting under the lock
// orders it with shutdown, which kills what is registered.
func (sb *sandbox) start(c *sandboxinit.Cmd) error {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.closed {
		return errBackendClosed
	}
	if err := c.Start(); err != nil {
		return err
	}
	sb.running[c] = struct{}{}
	return nil
}

func (sb *sandbox) untrack(c *sandboxinit.Cmd) {
	sb.mu.Lock()
	delete(sb.running, c)
	sb.mu.Unlock()
}

// cleanPath normalises a sandbox path: extra slashes and dot segments go,
// ".." stops at "/".
func cleanPath(p string) string { return path.Clean("/" + p) }

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
	fi, err := sb.root.Stat(rel(p))
	if err != nil {
		return "", fsErr("chdir", p, err)
	}
	if !fi.IsDir() {
		return "", fsErr("chdir", p, syscall.ENOTDIR)
	}
	return filepath.Join(sb.dir, filepath.FromSlash(rel(p))), nil
}

// ensureDir creates a sandbox directory (the root) if needed.
func (sb *sandbox) ensureDir(p string) *sandboxserver.Error {
	if err := sb.root.MkdirAll(rel(p), 0o755); err != nil {
		return fsErr("mkdir", p, err)
	}
	return nil
}
