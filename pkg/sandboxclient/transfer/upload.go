package transfer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/nimbus-sh/nimbus/internal/shellquote"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// Upload copies local (a file, or a directory with Recursive) to remote in
// sb (relative paths resolve against the sandbox root). Like cp, an
// existing remote directory receives the source inside it, and so does a
// remote path ending in "/"; the destination's directory must exist
// (CodeNoParent) unless o.MkPath, which creates it. A local
// directory named as "DIR/." (or ".") is its contents, as GNU cp and
// docker cp read it: they go into remote itself; so is one named "DIR/.."
// (or ".."), as GNU cp reads it (ContentsOf). A tree copy goes on past
// failures and returns a *PartialError listing them once everything else
// has arrived.
func Upload(ctx context.Context, sb *sc.Sandbox, local, remote string, o Options) (*Summary, error) {
	fi, err := os.Stat(local)
	if err != nil {
		return nil, localErr(err)
	}
	if fi.IsDir() && !o.Recursive {
		return nil, &Error{Code: CodeIsDirectory, Message: local + " is a directory (use -r to copy it)"}
	}
	if ContentsOf(local, true) {
		if !fi.IsDir() {
			return nil, &Error{Code: CodeNotFound, Message: local + ": not a directory"}
		}
		remote = sc.ResolvePath(sb.Root(), remote)
		if err := remoteParent(ctx, sb, remote, o); err != nil {
			return nil, err
		}
		return UploadTree(ctx, sb, local, remote, o)
	}
	intoDir := strings.HasSuffix(remote, "/") // "DIR/": inside (a directory that exists, or o.MkPath)
	remote = sc.ResolvePath(sb.Root(), remote)
	dst, err := sb.Stat(ctx, remote)
	if err != nil {
		return nil, err
	}
	if dst != nil && dst.Type == "directory" || intoDir && !fi.IsDir() {
		name := hostBase(localOS, local)
		if name == "" {
			return nil, noNameError(local, remote)
		}
		if dst == nil && !o.MkPath {
			// "DIR/" names a directory to copy into: it must exist.
			return nil, noRemoteParent(remote, path.Join(remote, name))
		}
		remote = path.Join(remote, name)
	} else if dst == nil {
		if err := remoteParent(ctx, sb, remote, o); err != nil {
			return nil, err
		}
	}
	if fi.IsDir() {
		return UploadTree(ctx, sb, local, remote, o)
	}
	return uploadOne(ctx, sb, local, remote, o)
}

// remoteParent checks, unless o.MkPath, that the directory the sandbox
// path remote goes in exists: one stat, never a walk up the path.
func remoteParent(ctx context.Context, sb *sc.Sandbox, remote string, o Options) error {
	dir := path.Dir(remote)
	if o.MkPath || dir == remote {
		return nil
	}
	st, err := sb.Stat(ctx, dir)
	if err != nil {
		return err
	}
	if st == nil {
		return noRemoteParent(dir, remote)
	}
	if st.Type != "directory" {
		return &Error{Code: CodeConflict, Message: fmt.Sprintf("%s: cannot copy there: %s is not a directory in the sandbox", remote, dir)}
	}
	return nil
}

// noRemoteParent refuses to copy to the sandbox path dst, whose directory
// dir does not exist.
func noRemoteParent(dir, dst string) *Error {
	return &Error{Code: CodeNoParent, Dir: dir, Remote: true, Message: fmt.Sprintf("%s: cannot copy there: no such directory in the sandbox: %s", dst, dir)}
}

// noNameError refuses to copy local, a root with no name of its own,
// into the sandbox directory remote.
func noNameError(local, remote string) *Error {
	return &Error{Code: CodeNoName, Message: fmt.Sprintf("%s has no name to give its copy inside %s (it is a root)", local, remote)}
}

// uploadOne copies one local file (symlinks followed, as cp does for its
// arguments) to the sandbox path remote.
func uploadOne(ctx context.Context, sb *sc.Sandbox, local, remote string, o Options) (*Summary, error) {
	e := newEngine(sb, o)
	f, err := os.Open(local)
	if err != nil {
		return nil, localErr(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, localErr(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{Code: CodeLocalIO, Message: local + ": not a regular file"}
	}
	sum := &Summary{}
	e.obs.Plan(1, fi.Size())
	if o.DryRun {
		sum.DryRun = true
		ent := entryOf(path.Base(remote), fi)
		sum.Entries = []Entry{ent}
		sum.Files, sum.Bytes = 1, fi.Size()
		e.obs.Event(Event{Kind: Planned, Upload: true, Local: local, Remote: remote, Type: TypeFile, Bytes: fi.Size()})
		return sum, nil
	}
	if err := sb.Mkdir(ctx, path.Dir(remote)); err != nil {
		return nil, err
	}
	if err := e.putFile(ctx, &sizedFile{f: f, size: fi.Size(), name: local}, fi.Size(), remote, fi.Mode()); err != nil {
		return nil, err
	}
	sum.Files, sum.Bytes = 1, fi.Size()
	e.obs.Event(Event{Kind: Copied, Upload: true, Local: local, Remote: remote, Type: TypeFile, Bytes: fi.Size()})
	return sum, nil
}

// UploadTree copies the contents of the local directory local into the
// sandbox directory remote (created with its parents), as rsync does with
// a trailing slash on its source, applying the ignore rules.
func UploadTree(ctx context.Context, sb *sc.Sandbox, local, remote string, o Options) (*Summary, error) {
	remote = sc.ResolvePath(sb.Root(), remote)
	e := newEngine(sb, o)
	fails := &failures{obs: e.obs}
	t, err := walkLocal(local, o.Ignore, fails.add)
	if err != nil {
		return nil, err
	}
	sum, dry := e.planTree(t, local, remote, true, fails)
	if dry {
		return sum, nil
	}
	e.uploadEntries(ctx, local, remote, t.entries, sum, fails, false)
	return finish(ctx, sum, fails)
}

// planTree reports the plan of copying tree t and starts the copy's summary.
// In a dry run it also reports each entry as planned and completes the
// summary: dry is true and there is nothing to copy.
func (e *engine) planTree(t *tree, local, remote string, upload bool, fails *failures) (sum *Summary, dry bool) {
	sum = &Summary{Excluded: t.excluded}
	e.obs.Plan(t.totals())
	if !e.opts.DryRun {
		return sum, false
	}
	sum.DryRun = true
	sum.Entries = t.entries
	for _, ent := range t.entries {
		l, r := filepath.Join(local, filepath.FromSlash(ent.Rel)), path.Join(remote, ent.Rel)
		switch ent.Type {
		case TypeFile:
			sum.Files++
			sum.Bytes += ent.Size
		case TypeDir:
			sum.Dirs++
		case TypeSymlink:
			sum.Symlinks++
		case TypeOther:
			sum.Skipped++
			e.obs.Event(Event{Kind: Skipped, Upload: upload, Local: l, Remote: r, Type: ent.Type, Reason: "not a regular file, directory or symlink"})
			continue
		}
		e.obs.Event(Event{Kind: Planned, Upload: upload, Local: l, Remote: r, Type: ent.Type, Bytes: ent.Size})
	}
	sum.Failures = fails.get()
	return sum, true
}

// finish turns collected failures into the result.
func finish(ctx context.Context, sum *Summary, fails *failures) (*Summary, error) {
	sum.Failures = fails.get()
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	if len(sum.Failures) > 0 {
		return sum, &PartialError{Failures: sum.Failures, Total: sum.Files + sum.Symlinks + len(sum.Failures)}
	}
	return sum, nil
}

// uploadEntries creates the directories, then copies files and symlinks,
// under remote. Every failure is reported and the rest goes on.
func (e *engine) uploadEntries(ctx context.Context, local, remote string, entries []Entry, sum *Summary, fails *failures, rootExists bool) {
	var mu sync.Mutex
	var dirs, files, links []Entry
	for _, ent := range entries {
		switch ent.Type {
		case TypeDir:
			dirs = append(dirs, ent)
		case TypeFile:
			files = append(files, ent)
		case TypeSymlink:
			links = append(links, ent)
		case TypeOther:
			mu.Lock()
			sum.Skipped++
			mu.Unlock()
			e.obs.Event(Event{Kind: Skipped, Upload: true, Local: filepath.Join(local, filepath.FromSlash(ent.Rel)), Remote: path.Join(remote, ent.Rel), Type: ent.Type, Reason: "not a regular file, directory or symlink"})
		}
	}

	// mkdir is recursive, so only the leaves (and the root) need a call.
	failedDirs := map[string]bool{}
	leaves := leafDirs(remote, dirs)
	if rootExists && len(dirs) == 0 {
		leaves = nil
	}
	each(ctx, e.opts.parallel(), leaves, func(ctx context.Context, d string) {
		if err := e.sb.Mkdir(ctx, d); err != nil {
			mu.Lock()
			failedDirs[d] = true
			mu.Unlock()
			fails.add(failure(d, err))
		}
	})
	mu.Lock()
	sum.Dirs += len(dirs)
	mu.Unlock()
	dirFailed := func(rel string) bool {
		for d := path.Dir(path.Join(remote, rel)); ; d = path.Dir(d) {
			if failedDirs[d] {
				return true
			}
			if d == remote || d == "/" || !strings.HasPrefix(d, remote) {
				return false
			}
		}
	}

	left := each(ctx, e.opts.parallel(), files, func(ctx context.Context, ent Entry) {
		src := filepath.Join(local, filepath.FromSlash(ent.Rel))
		dst := path.Join(remote, ent.Rel)
		if dirFailed(ent.Rel) {
			fails.add(failure(src, &Error{Code: CodeNotFound, Message: src + ": not copied: its directory could not be created in the sandbox"}))
			return
		}
		n, err := e.uploadFile(ctx, src, dst)
		e.fileDone(ctx, &mu, sum, fails, src, n, err, Event{Kind: Copied, Upload: true, Local: src, Remote: dst, Type: TypeFile})
	})
	if len(left) > 0 || ctx.Err() != nil {
		return
	}
	e.uploadLinks(ctx, local, remote, links, sum, fails, dirFailed)
}

// fileDone records one file's outcome: a failure named by src, or the
// file counted in sum (under mu) and reported.
func (e *engine) fileDone(ctx context.Context, mu *sync.Mutex, sum *Summary, fails *failures, src string, n int64, err error, ev Event) {
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%s: interrupted: %w", src, errCanceled)
		}
		fails.add(failure(src, err))
		return
	}
	mu.Lock()
	sum.Files++
	sum.Bytes += n
	mu.Unlock()
	ev.Bytes = n
	e.obs.Event(ev)
}

// uploadFile sends one local file; the size is read again at open time, so
// a file that changed since the walk is sent as it is now.
func (e *engine) uploadFile(ctx context.Context, src, dst string) (int64, error) {
	f, err := os.Open(src)
	if err != nil {
		return 0, localErr(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, localErr(err)
	}
	if !fi.Mode().IsRegular() {
		return 0, &Error{Code: CodeChanged, Message: src + ": no longer a regular file"}
	}
	if err := e.putFile(ctx, &sizedFile{f: f, size: fi.Size(), name: src}, fi.Size(), dst, fi.Mode()); err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// uploadLinks creates symlinks with their link text, never following them.
// The remote API has no symlink op, so they are made with ln -s, batched.
func (e *engine) uploadLinks(ctx context.Context, local, remote string, links []Entry, sum *Summary, fails *failures, dirFailed func(string) bool) {
	var todo []Entry
	var lines []string
	for _, l := range links {
		if dirFailed(l.Rel) {
			fails.add(failure(filepath.Join(local, filepath.FromSlash(l.Rel)), &Error{Code: CodeNotFound, Message: "not copied: its directory could not be created in the sandbox"}))
			continue
		}
		if problem := hostLinkProblem(localOS, l.Link); problem != "" {
			fails.add(failure(filepath.Join(local, filepath.FromSlash(l.Rel)), &Error{Code: CodeUnsafePath, Message: fmt.Sprintf("%s: not copied: %s", path.Join(remote, l.Rel), problem)}))
			continue
		}
		todo = append(todo, l)
		lines = append(lines, "ln -sfn -- "+shellquote.Quote(l.Link)+" "+shellquote.Quote("./"+l.Rel))
	}
	if len(todo) == 0 {
		return
	}
	failed, err := runLines(ctx, e.sb, remote, lines)
	for i, l := range todo {
		src := filepath.Join(local, filepath.FromSlash(l.Rel))
		var ferr error
		switch {
		case err != nil:
			ferr = err
		case hasKey(failed, i):
			ferr = &Error{Code: sc.CodeRemoteRPC, Message: fmt.Sprintf("%s: ln -s in the sandbox failed: %s", path.Join(remote, l.Rel), failed[i])}
		}
		if ferr != nil {
			fails.add(failure(src, ferr))
			continue
		}
		sum.Symlinks++
		e.obs.Event(Event{Kind: Copied, Upload: true, Local: src, Remote: path.Join(remote, l.Rel), Type: TypeSymlink})
	}
}

func hasKey(m map[int]string, k int) bool {
	_, ok := m[k]
	return ok
}

// leafDirs returns the absolute remote directories that are not a parent
// of another one, plus root itself when it has no subdirectories.
func leafDirs(root string, dirs []Entry) []string {
	all := []string{root}
	for _, d := range dirs {
		all = append(all, path.Join(root, d.Rel))
	}
	sort.Strings(all)
	var out []string
	for i, d := range all {
		if i+1 < len(all) && strings.HasPrefix(all[i+1], d+"/") {
			continue
		}
		out = append(out, d)
	}
	return out
}

// sizedFile is a local file read at offsets; a read past the size seen at
// open time means the file grew, and a short read that it shrank: both
// fail the copy rather than send a torn file.
type sizedFile struct {
	f    *os.File
	size int64
	name string
}

func (s *sizedFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := s.f.ReadAt(p, off)
	if errors.Is(err, os.ErrClosed) {
		return n, err
	}
	if err != nil && off+int64(n) < s.size {
		return n, &Error{Code: CodeChanged, Message: s.name + ": the file shrank while it was copied", Err: err}
	}
	return n, err
}
