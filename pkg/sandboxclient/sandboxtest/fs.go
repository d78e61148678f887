package sandboxtest

import (
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// node is a file or directory of the in-memory filesystem.
type node struct {
	dir   bool
	data  []byte
	mode  uint32
	mtime time.Time
}

// memfs is one sandbox's filesystem, keyed by clean absolute path.
type memfs struct {
	nodes map[string]*node
}

func newFS(now time.Time, root string) *memfs {
	fs := &memfs{nodes: map[string]*node{"/": {dir: true, mode: 0o755, mtime: now}}}
	fs.mkdirAll(root, now)
	return fs
}

// cleanPath normalises extra slashes and dot segments, as the server does.
func cleanPath(p string) string {
	return path.Clean("/" + strings.TrimLeft(p, "/"))
}

func parentOf(p string) string { return path.Dir(p) }

func (f *memfs) get(p string) *node { return f.nodes[p] }

func (f *memfs) mkdirAll(p string, now time.Time) *fsError {
	p = cleanPath(p)
	if n := f.nodes[p]; n != nil {
		if !n.dir {
			return errEEXIST("mkdir", p)
		}
		return nil
	}
	if p != "/" {
		if err := f.mkdirAll(parentOf(p), now); err != nil {
			return err
		}
	}
	f.nodes[p] = &node{dir: true, mode: 0o755, mtime: now}
	return nil
}

func (f *memfs) children(p string) []string {
	prefix := p + "/"
	if p == "/" {
		prefix = "/"
	}
	var out []string
	for k := range f.nodes {
		if k != "/" && strings.HasPrefix(k, prefix) && !strings.Contains(k[len(prefix):], "/") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func (f *memfs) removeTree(p string) {
	prefix := p + "/"
	for k := range f.nodes {
		if k == p || strings.HasPrefix(k, prefix) {
			delete(f.nodes, k)
		}
	}
}

// fsError is a filesystem failure surfaced as 500 E_NIMBUS_REMOTE_RPC with
// the errno name first, as the session reports it.
type fsError struct{ msg string }

func errENOENT(op, p string) *fsError {
	return &fsError{"ENOENT: no such file or directory, " + op + " '" + p + "'"}
}
func errEISDIR(op, p string) *fsError {
	return &fsError{"EISDIR: illegal operation on a directory, " + op + " '" + p + "'"}
}
func errENOTDIR(op, p string) *fsError {
	return &fsError{"ENOTDIR: not a directory, " + op + " '" + p + "'"}
}
func errEEXIST(op, p string) *fsError {
	return &fsError{"EEXIST: file already exists, " + op + " '" + p + "'"}
}
func errENOTEMPTY(op, p string) *fsError {
	return &fsError{"ENOTEMPTY: directory not empty, " + op + " '" + p + "'"}
}

func itoa(n int) string { return strconv.Itoa(n) }
