package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/ignore"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// Download copies remote (a file, or a directory with Recursive) from sb to
// local. Like cp, an existing local directory receives the source inside
// it, and so does a local path ending in a separator; the destination's
// directory must exist (CodeNoParent) unless o.MkPath, which creates it.
// A sandbox directory
// named as "DIR/." (or "."), or "DIR/.." (ContentsOf), is its contents,
// as GNU cp reads it: they go into local itself. Files are written to a temporary name and
// renamed into place, so a
// failed copy never leaves a partial file; modes keep their executable
// bits and respect the umask. A tree copy goes on past failures and
// returns a *PartialError listing them once everything else has arrived.
func Download(ctx context.Context, sb *sc.Sandbox, remote, local string, o Options) (*Summary, error) {
	contents := ContentsOf(remote, false)
	remote = sc.ResolvePath(sb.Root(), remote)
	st, err := sb.Stat(ctx, remote)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, &Error{Code: CodeNotFound, Message: remote + ": no such file or directory in the sandbox", Dir: path.Dir(remote), Remote: true}
	}
	if st.Type == "directory" && !o.Recursive {
		return nil, &Error{Code: CodeIsDirectory, Message: remote + " is a directory (use -r to copy it)"}
	}
	if contents {
		if st.Type != "directory" {
			return nil, &Error{Code: CodeNotFound, Message: remote + "/.: not a directory in the sandbox"}
		}
		// The contents go into local itself, which is created: only its
		// parent must exist, with or without a trailing separator
		// ("./site/" as "./site", as an upload reads "ID:site/").
		if err := localParent(filepath.Clean(local), o); err != nil {
			return nil, err
		}
		return DownloadTree(ctx, sb, remote, local, o)
	}
	intoDir := strings.HasSuffix(local, "/") || strings.HasSuffix(local, string(filepath.Separator))
	li, lerr := os.Stat(local)
	if lerr == nil && li.IsDir() || intoDir && st.Type != "directory" {
		// The local name is the sandbox's: checked as a tree's names are.
		if problem := localNameProblem(localOS, path.Base(remote)); problem != "" {
			return nil, &Error{Code: CodeUnsafePath, Message: fmt.Sprintf("%s: not copied: %s", remote, problem)}
		}
		dst := filepath.Join(local, path.Base(remote))
		if lerr != nil && !o.MkPath && errors.Is(lerr, fs.ErrNotExist) {
			// "DIR/" names a directory to copy into: it must exist.
			return nil, noLocalParent(filepath.Clean(local), dst)
		}
		local = dst
	} else if lerr != nil {
		if err := localParent(local, o); err != nil {
			return nil, err
		}
	}
	if st.Type == "directory" {
		return DownloadTree(ctx, sb, remote, local, o)
	}
	return downloadOne(ctx, sb, remote, st, local, o)
}

// localParent checks, unless o.MkPath, that the directory the local path
// local goes in exists.
func localParent(local string, o Options) error {
	if o.MkPath {
		return nil
	}
	dir := filepath.Dir(local)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return noLocalParent(dir, local)
	case err != nil:
		return localErr(err)
	case !fi.IsDir():
		return &Error{Code: CodeConflict, Message: fmt.Sprintf("%s: cannot copy there: %s is not a directory", local, dir)}
	}
	return nil
}

// noLocalParent refuses to copy to the local path dst, whose directory
// dir does not exist.
func noLocalParent(dir, dst string) *Error {
	return &Error{Code: CodeNoParent, Dir: dir, Message: fmt.Sprintf("%s: cannot copy there: no such directory: %s", dst, dir)}
}

func downloadOne(ctx context.Context, sb *sc.Sandbox, remote string, st *sc.Stat, local string, o Options) (*Summary, error) {
	e := newEngine(sb, o)
	sum := &Summary{}
	e.obs.Plan(1, st.Size)
	if o.DryRun {
		sum.DryRun, sum.Files, sum.Bytes = true, 1, st.Size
		sum.Entries = []Entry{{Rel: filepath.Base(local), Type: TypeFile, Size: st.Size, Mode: fs.FileMode(st.Mode & 0o777), MtimeMs: st.Mtime}}
		e.obs.Event(Event{Kind: Planned, Local: local, Remote: remote, Type: TypeFile, Bytes: st.Size})
		return sum, nil
	}
	dir := filepath.Dir(local)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, mkdirErr(dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, localErr(err)
	}
	defer root.Close()
	n, err := e.getFile(ctx, remote, st.Size, fs.FileMode(st.Mode&0o777), root, filepath.Base(local), time.Time{})
	if err != nil {
		return nil, err
	}
	sum.Files, sum.Bytes = 1, n
	e.obs.Event(Event{Kind: Copied, Local: local, Remote: remote, Type: TypeFile, Bytes: n})
	return sum, nil
}

// DownloadTree copies the contents of the sandbox directory remote into
// the local directory local (created), applying the ignore rules: the
// sandbox tree's .nimbusignore and .gitignore files are read from the
// sandbox.
func DownloadTree(ctx context.Context, sb *sc.Sandbox, remote, local string, o Options) (*Summary, error) {
	remote = sc.ResolvePath(sb.Root(), remote)
	e := newEngine(sb, o)
	fails := &failures{obs: e.obs}
	t, err := e.remoteTree(ctx, remote, fails)
	if err != nil {
		return nil, err
	}
	sum, dry := e.planTree(t, local, remote, false, fails)
	if dry {
		return sum, nil
	}
	if err := os.MkdirAll(local, 0o777); err != nil {
		return nil, mkdirErr(local, err)
	}
	root, err := os.OpenRoot(local)
	if err != nil {
		return nil, localErr(err)
	}
	defer root.Close()
	e.downloadEntries(ctx, root, remote, local, t.entries, sum, fails, false)
	return finish(ctx, sum, fails)
}

// remoteTree lists and filters the sandbox tree under remote.
func (e *engine) remoteTree(ctx context.Context, remote string, fails *failures) (*tree, error) {
	es, err := listRemote(ctx, e.sb, remote, e.opts.parallel(), fails.add)
	if err != nil {
		return nil, err
	}
	var clean []Entry
	have := map[string]int64{} // regular files and their sizes
	reported := map[string]bool{}
	for _, ent := range es {
		if !safeRel(ent.Rel) {
			fails.add(failure(path.Join(remote, ent.Rel), &Error{Code: CodeUnsafePath, Message: fmt.Sprintf("%s: the sandbox listed an unsafe path %q", remote, ent.Rel)}))
			continue
		}
		// A name this system would take for something else (a device, a
		// stream of another file): the entry and everything under it
		// stay in the sandbox, reported once.
		if at, problem := localNameAt(localOS, ent.Rel); problem != "" {
			if !reported[at] {
				reported[at] = true
				fails.add(failure(path.Join(remote, at), &Error{Code: CodeUnsafePath, Message: fmt.Sprintf("%s: not copied: %s", path.Join(remote, at), problem)}))
			}
			continue
		}
		// So would a link's target, which the link hands to whatever
		// opens it.
		if ent.Type == TypeSymlink {
			if problem := linkTargetProblem(localOS, ent.Link); problem != "" {
				fails.add(failure(path.Join(remote, ent.Rel), &Error{Code: CodeUnsafePath, Message: fmt.Sprintf("%s: not copied: %s", path.Join(remote, ent.Rel), problem)}))
				continue
			}
		}
		if ent.Type == TypeFile {
			have[ent.Rel] = ent.Size
		}
		clean = append(clean, ent)
	}
	read := func(rel string) ([]byte, bool, error) {
		size, ok := have[rel]
		if !ok {
			return nil, false, nil
		}
		if size > ignore.MaxFileSize {
			return make([]byte, ignore.MaxFileSize+1), true, nil
		}
		var buf limitedBuffer
		buf.max = ignore.MaxFileSize
		if _, err := e.sb.ReadStatTo(ctx, path.Join(remote, rel), &sc.Stat{Type: "file", Size: size}, &buf); err != nil {
			if sc.IsNotFound(err) {
				return nil, false, nil
			}
			return nil, false, err
		}
		return buf.b, true, nil
	}
	return filterTree(clean, e.opts.Ignore, read, fails.add, remote)
}

// limitedBuffer keeps up to max+1 bytes, so an oversized ignore file is
// seen as such without being held whole.
type limitedBuffer struct {
	b   []byte
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max + 1 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// downloadEntries creates the directories, then fetches files and makes
// symlinks, under root. withTimes sets each file's mtime to the sandbox's
// (sync). Every failure is reported and the rest goes on.
func (e *engine) downloadEntries(ctx context.Context, root *os.Root, remote, local string, entries []Entry, sum *Summary, fails *failures, withTimes bool) {
	var mu sync.Mutex
	var files, links []Entry
	failedDirs := map[string]bool{}
	for _, ent := range entries {
		lp := filepath.Join(local, filepath.FromSlash(ent.Rel))
		switch ent.Type {
		case TypeDir:
			if failedDirs[path.Dir(ent.Rel)] {
				failedDirs[ent.Rel] = true
				continue
			}
			if err := mkdirReplacing(root, ent.Rel); err != nil {
				failedDirs[ent.Rel] = true
				fails.add(failure(path.Join(remote, ent.Rel), localErr(err)))
				continue
			}
			sum.Dirs++
		case TypeFile:
			files = append(files, ent)
		case TypeSymlink:
			links = append(links, ent)
		case TypeOther:
			sum.Skipped++
			e.obs.Event(Event{Kind: Skipped, Local: lp, Remote: path.Join(remote, ent.Rel), Type: ent.Type, Reason: "not a regular file, directory or symlink"})
		}
	}
	parentFailed := func(rel string) bool {
		for d := path.Dir(rel); d != "."; d = path.Dir(d) {
			if failedDirs[d] {
				return true
			}
		}
		return false
	}
	left := each(ctx, e.opts.parallel(), files, func(ctx context.Context, ent Entry) {
		src := path.Join(remote, ent.Rel)
		if parentFailed(ent.Rel) {
			fails.add(failure(src, &Error{Code: CodeLocalIO, Message: src + ": not copied: its local directory could not be created"}))
			return
		}
		var mtime time.Time
		if withTimes && ent.MtimeMs != 0 {
			mtime = time.UnixMilli(ent.MtimeMs)
		}
		n, err := e.getFile(ctx, src, ent.Size, ent.Mode, root, filepath.FromSlash(ent.Rel), mtime)
		e.fileDone(ctx, &mu, sum, fails, src, n, err, Event{Kind: Copied, Local: filepath.Join(local, filepath.FromSlash(ent.Rel)), Remote: src, Type: TypeFile})
	})
	if len(left) > 0 || ctx.Err() != nil {
		return
	}
	for _, l := range links {
		src := path.Join(remote, l.Rel)
		if parentFailed(l.Rel) {
			fails.add(failure(src, &Error{Code: CodeLocalIO, Message: src + ": not copied: its local directory could not be created"}))
			continue
		}
		if err := symlinkReplacing(root, l.Link, filepath.FromSlash(l.Rel)); err != nil {
			fails.add(failure(src, localErr(err)))
			continue
		}
		sum.Symlinks++
		e.obs.Event(Event{Kind: Copied, Local: filepath.Join(local, filepath.FromSlash(l.Rel)), Remote: src, Type: TypeSymlink})
	}
}

// mkdirReplacing creates directory rel under root. An existing symlink in
// its place is replaced (never followed); any other existing non-directory
// is an error.
func mkdirReplacing(root *os.Root, rel string) error {
	name := filepath.FromSlash(rel)
	fi, err := root.Lstat(name)
	if err == nil {
		if fi.IsDir() {
			return nil
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return &Error{Code: CodeConflict, Message: fmt.Sprintf("%s: exists and is not a directory", name)}
		}
		if err := root.Remove(name); err != nil {
			return err
		}
	}
	return root.MkdirAll(name, 0o777)
}

// symlinkReplacing makes name a symlink to target, replacing a file or
// symlink already there atomically (a directory in the way is an error).
func symlinkReplacing(root *os.Root, target, name string) error {
	tmp := tempName(name)
	if err := root.Symlink(target, tmp); err != nil {
		return err
	}
	if err := root.Rename(tmp, name); err != nil {
		_ = root.Remove(tmp)
		return err
	}
	return nil
}

// tempName is a hidden name next to name for a file being written; the
// original name is shortened so the result stays under NAME_MAX.
func tempName(name string) string {
	dir, base := filepath.Split(name)
	if len(base) > 180 {
		base = base[:180]
	}
	return filepath.Join(dir, "."+base+".nimbus-"+randomTag())
}

// mkdirErr reports a local destination directory that cannot be made.
// It is always E_LOCAL_IO: a missing parent there (ENOENT) is not the
// source missing, which localErr would make of it (E_NOT_FOUND, exit 65,
// "check the source path").
func mkdirErr(dir string, err error) error {
	cause := err
	var pe *fs.PathError
	if errors.As(err, &pe) {
		cause = pe.Err
	}
	return &Error{Code: CodeLocalIO, Message: fmt.Sprintf("%s: cannot create: %v", dir, cause), Err: err}
}

// createErr reports a failure to write the local file name under root
// (through its temporary name) as the file being created: the temporary
// name is nimbus's own, and a destination that cannot be created is a
// local I/O error even when the cause is ENOENT (the source is there).
func createErr(root *os.Root, name string, err error) error {
	cause := err
	var pe *fs.PathError
	if errors.As(err, &pe) {
		cause = pe.Err
	}
	return &Error{Code: CodeLocalIO, Message: fmt.Sprintf("%s: cannot create: %v", filepath.Join(root.Name(), name), cause), Err: err}
}

// getFile fetches the sandbox file src (size bytes, mode) to name under
// root through a temporary file, renamed into place once complete. Files
// above the single-read limit are fetched in readRange chunks, several at
// once, each written at its offset. A non-zero mtime is set on the file.
func (e *engine) getFile(ctx context.Context, src string, size int64, mode fs.FileMode, root *os.Root, name string, mtime time.Time) (n int64, err error) {
	perm := mode.Perm()
	if perm == 0 {
		perm = 0o666 // no permission bits reported: a new file's default
	}
	tmp := tempName(name)
	// Created with the sandbox's permission bits: the umask applies, as
	// it does for cp.
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return 0, createErr(root, name, err)
	}
	defer func() {
		if f != nil {
			_ = f.Close()
		}
		if err != nil {
			_ = root.Remove(tmp)
		}
	}()
	c := e.sb.Client()
	if size <= c.ReadChunkThreshold() {
		if err := e.acquire(ctx); err != nil {
			return 0, err
		}
		n, err = e.sb.ReadStatTo(ctx, src, &sc.Stat{Type: "file", Size: size}, countingWriter{f, e.obs})
		e.release()
		if err != nil {
			// A read that disagrees with the size listed is
			// E_FILE_CHANGED: never a file that looks complete and is
			// not the one listed.
			return n, err
		}
	} else {
		chunk := c.ReadChunkSize()
		// Not (size+chunk-1)/chunk: a size near the int64 limit (a
		// broken stat) overflows that into no chunks at all, an empty
		// file that passed for the copy.
		count := int(size / chunk)
		if size%chunk != 0 {
			count++
		}
		var total sync.Mutex
		err = e.parts(ctx, count, false, func(ctx context.Context, i int) error {
			off := int64(i) * chunk
			ln := min(chunk, size-off)
			if err := e.acquire(ctx); err != nil {
				return err
			}
			defer e.release()
			got, err := e.sb.ReadRangeTo(ctx, src, off, ln, countingWriter{io.NewOffsetWriter(f, off), e.obs})
			if err != nil {
				return err
			}
			if got != ln {
				return &Error{Code: CodeChanged, Message: fmt.Sprintf("%s: the file shrank while it was copied (%d bytes at offset %d, expected %d)", src, got, off, ln)}
			}
			total.Lock()
			n += got
			total.Unlock()
			return nil
		})
		if err != nil {
			return n, err
		}
		// Chunks of a file that grew meanwhile are of another version:
		// the single read sees that by its length, chunks by the byte
		// after the end.
		more, rerr := e.sb.ReadRangeTo(ctx, src, size, 1, io.Discard)
		if rerr != nil && !sc.IsNotFound(rerr) {
			return n, rerr
		}
		if more > 0 {
			return n, &Error{Code: CodeChanged, Message: fmt.Sprintf("%s: the file grew while it was copied (longer than the %d bytes listed)", src, size)}
		}
	}
	if err := f.Close(); err != nil {
		f = nil
		return n, createErr(root, name, err)
	}
	f = nil
	if !mtime.IsZero() {
		if err := root.Chtimes(tmp, time.Time{}, mtime); err != nil {
			return n, createErr(root, name, err)
		}
	}
	if err := root.Rename(tmp, name); err != nil {
		var le *os.LinkError
		if errors.As(err, &le) {
			return n, &Error{Code: CodeLocalIO, Message: fmt.Sprintf("%s: %v", name, le.Err), Err: err}
		}
		return n, localErr(err)
	}
	return n, nil
}
