// Package transfer copies files and directory trees between the local
// filesystem and a remote sandbox (the logic behind `nimbus sandbox cp`):
// trees are walked, parents created, files moved with bounded parallelism,
// and permission bits kept (downloads apply the local umask, as cp does).
package transfer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// DefaultParallel is the number of files in flight at once.
const DefaultParallel = 4

// Error codes of this package.
const (
	// CodeIsDirectory: a directory was given without recursion.
	CodeIsDirectory = "E_IS_DIRECTORY"
	// CodeNotFound: the source does not exist.
	CodeNotFound = "E_NOT_FOUND"
	// CodeBadTarget: the cp arguments do not name exactly one remote side.
	CodeBadTarget = "E_CP_TARGET"
	// CodeLocalIO: the local filesystem failed.
	CodeLocalIO = "E_LOCAL_IO"
)

// Error is a transfer failure detected locally.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Event reports one finished file.
type Event struct {
	// Upload is true for local → sandbox.
	Upload bool
	// Local and Remote are the two paths.
	Local, Remote string
	// Bytes is the file size.
	Bytes int64
}

// Options control a copy.
type Options struct {
	// Recursive allows directories (cp -r).
	Recursive bool
	// Parallel bounds files in flight; 0 means DefaultParallel.
	Parallel int
	// Progress, when set, is called after each file (from several
	// goroutines, one call at a time).
	Progress func(Event)
}

// Summary counts what was copied.
type Summary struct {
	Files   int   `json:"files"`
	Dirs    int   `json:"dirs"`
	Bytes   int64 `json:"bytes"`
	Skipped int   `json:"skipped"`
}

// Target is one side of a cp: a local path, or a sandbox id and path.
type Target struct {
	SandboxID string
	Path      string
}

// Remote reports whether the target is in a sandbox.
func (t Target) Remote() bool { return t.SandboxID != "" }

// ParseTarget reads "ID:PATH" as remote and anything else as local. Prefix a
// local path containing ':' with "./" to keep it local.
func ParseTarget(s string) Target {
	if id, p, ok := strings.Cut(s, ":"); ok && sc.ValidID(id) {
		return Target{SandboxID: id, Path: p}
	}
	return Target{Path: s}
}

// ParsePair checks that exactly one of src and dst is remote.
func ParsePair(src, dst string) (Target, Target, error) {
	s, d := ParseTarget(src), ParseTarget(dst)
	if s.Remote() == d.Remote() {
		return s, d, &Error{Code: CodeBadTarget, Message: "exactly one of SRC and DST must be ID:PATH (a sandbox path)"}
	}
	if (!s.Remote() && s.Path == "") || (!d.Remote() && d.Path == "") {
		return s, d, &Error{Code: CodeBadTarget, Message: "the local path must not be empty"}
	}
	return s, d, nil
}

// pool runs jobs with bounded parallelism; the first error cancels the
// rest and is returned.
func pool(ctx context.Context, n int, jobs []func(context.Context) error) error {
	if n <= 0 {
		n = DefaultParallel
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	ch := make(chan func(context.Context) error)
	for range min(n, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range ch {
				if err := job(ctx); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		ch <- j
	}
	close(ch)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func localErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if errors.Is(err, fs.ErrNotExist) {
			return &Error{Code: CodeNotFound, Message: pe.Path + ": no such file or directory", Err: err}
		}
		return &Error{Code: CodeLocalIO, Message: pe.Path + ": " + pe.Err.Error(), Err: err}
	}
	return &Error{Code: CodeLocalIO, Message: err.Error(), Err: err}
}

// Upload copies local (a file, or a directory with Recursive) to remote in
// sb. Like cp, an existing remote directory receives the source inside it.
func Upload(ctx context.Context, sb *sc.Sandbox, local, remote string, o Options) (*Summary, error) {
	fi, err := os.Stat(local)
	if err != nil {
		return nil, localErr(err)
	}
	remote = sc.ResolvePath(sb.Root(), remote)
	dst, err := sb.Stat(ctx, remote)
	if err != nil {
		return nil, err
	}
	if dst != nil && dst.Type == "directory" {
		remote = path.Join(remote, filepath.Base(filepath.Clean(local)))
	}
	sum := &Summary{}
	var mu sync.Mutex
	put := func(ctx context.Context, src, dst string, mode fs.FileMode) error {
		f, err := os.Open(src)
		if err != nil {
			return localErr(err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return localErr(err)
		}
		if err := sb.WriteFileFrom(ctx, dst, f, st.Size()); err != nil {
			return err
		}
		if mode&0o111 != 0 {
			if err := sb.Chmod(ctx, dst, uint32(mode.Perm())); err != nil {
				return err
			}
		}
		mu.Lock()
		defer mu.Unlock()
		sum.Files++
		sum.Bytes += st.Size()
		if o.Progress != nil {
			o.Progress(Event{Upload: true, Local: src, Remote: dst, Bytes: st.Size()})
		}
		return nil
	}
	if !fi.IsDir() {
		if err := sb.Mkdir(ctx, path.Dir(remote)); err != nil {
			return nil, err
		}
		return sum, put(ctx, local, remote, fi.Mode())
	}
	if !o.Recursive {
		return nil, &Error{Code: CodeIsDirectory, Message: local + " is a directory (use -r to copy it)"}
	}
	var dirs []string
	var jobs []func(context.Context) error
	err = filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return localErr(err)
		}
		rel, _ := filepath.Rel(local, p)
		dst := path.Join(remote, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			dirs = append(dirs, dst)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return localErr(err)
			}
			jobs = append(jobs, func(ctx context.Context) error { return put(ctx, p, dst, info.Mode()) })
		default:
			sum.Skipped++ // symlinks, devices, sockets
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// mkdir is recursive, so only the leaves need a call.
	for _, d := range leaves(dirs) {
		if err := sb.Mkdir(ctx, d); err != nil {
			return nil, err
		}
	}
	sum.Dirs = len(dirs)
	if err := pool(ctx, o.Parallel, jobs); err != nil {
		return sum, err
	}
	return sum, nil
}

// leaves returns the directories that are not a parent of another one.
func leaves(dirs []string) []string {
	sorted := append([]string(nil), dirs...)
	sort.Strings(sorted)
	var out []string
	for i, d := range sorted {
		if i+1 < len(sorted) && strings.HasPrefix(sorted[i+1], d+"/") {
			continue
		}
		out = append(out, d)
	}
	return out
}

// Download copies remote (a file, or a directory with Recursive) from sb to
// local. Files are written to a temporary name and renamed into place, so a
// failed copy never leaves a partial file.
func Download(ctx context.Context, sb *sc.Sandbox, remote, local string, o Options) (*Summary, error) {
	remote = sc.ResolvePath(sb.Root(), remote)
	st, err := sb.Stat(ctx, remote)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, &Error{Code: CodeNotFound, Message: remote + ": no such file or directory in the sandbox"}
	}
	if li, err := os.Stat(local); err == nil && li.IsDir() {
		local = filepath.Join(local, path.Base(remote))
	}
	sum := &Summary{}
	var mu sync.Mutex
	get := func(ctx context.Context, src, dst string, st *sc.Stat) error {
		n, err := fetch(ctx, sb, src, dst, st)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		sum.Files++
		sum.Bytes += n
		if o.Progress != nil {
			o.Progress(Event{Local: dst, Remote: src, Bytes: n})
		}
		return nil
	}
	if st.Type != "directory" {
		if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
			return nil, localErr(err)
		}
		return sum, get(ctx, remote, local, st)
	}
	if !o.Recursive {
		return nil, &Error{Code: CodeIsDirectory, Message: remote + " is a directory (use -r to copy it)"}
	}
	var jobs []func(context.Context) error
	queue := []string{""}
	for len(queue) > 0 {
		rel := queue[0]
		queue = queue[1:]
		dir := path.Join(remote, rel)
		if err := os.MkdirAll(filepath.Join(local, filepath.FromSlash(rel)), 0o755); err != nil {
			return nil, localErr(err)
		}
		sum.Dirs++
		ents, err := sb.ReadDir(ctx, dir)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.Name == "" || e.Name == "." || e.Name == ".." || strings.ContainsAny(e.Name, "/\\") {
				sum.Skipped++ // never let a listing escape the target
				continue
			}
			childRel := path.Join(rel, e.Name)
			switch e.Type {
			case "directory":
				queue = append(queue, childRel)
			case "file":
				src := path.Join(remote, childRel)
				dst := filepath.Join(local, filepath.FromSlash(childRel))
				jobs = append(jobs, func(ctx context.Context) error {
					fst, err := sb.Stat(ctx, src)
					if err != nil {
						return err
					}
					if fst == nil {
						return &Error{Code: CodeNotFound, Message: src + ": vanished during the copy"}
					}
					return get(ctx, src, dst, fst)
				})
			default:
				sum.Skipped++
			}
		}
	}
	if err := pool(ctx, o.Parallel, jobs); err != nil {
		return sum, err
	}
	return sum, nil
}

// fetch writes one remote file to dst through a temporary file. The file
// gets the remote permission bits with the local umask applied, as cp(1)
// does: the temporary file is created with them, so the kernel applies
// the umask (a remote 0777 becomes 0755 under umask 022, never 0777).
func fetch(ctx context.Context, sb *sc.Sandbox, src, dst string, st *sc.Stat) (int64, error) {
	perm := fs.FileMode(st.Mode & 0o777)
	if perm == 0 {
		perm = 0o666 // no permission bits reported
	}
	tmp, err := createTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".nimbus-", perm)
	if err != nil {
		return 0, localErr(err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	n, err := sb.ReadStatTo(ctx, src, st, tmp)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = localErr(cerr)
	}
	if err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return 0, localErr(err)
	}
	return n, nil
}

// createTemp creates a new file named prefix plus a random suffix in dir
// with permissions perm less the umask (os.CreateTemp always uses 0600).
func createTemp(dir, prefix string, perm fs.FileMode) (*os.File, error) {
	for range 100 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		name := filepath.Join(dir, prefix+hex.EncodeToString(b[:]))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, &fs.PathError{Op: "createtemp", Path: filepath.Join(dir, prefix+"*"), Err: fs.ErrExist}
}

// String renders a summary for people.
func (s Summary) String() string {
	out := fmt.Sprintf("%d file(s), %d bytes", s.Files, s.Bytes)
	if s.Skipped > 0 {
		out += fmt.Sprintf(", %d skipped", s.Skipped)
	}
	return out
}
