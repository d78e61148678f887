package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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

	"github.com/nimbus-sh/nimbus/internal/shellquote"
	"github.com/nimbus-sh/nimbus/pkg/ignore"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// SyncOptions control a sync: the copy options plus deletion.
type SyncOptions struct {
	Options
	// Delete removes destination entries that the source no longer has
	// (never those the ignore rules leave out).
	Delete bool
}

// SyncSummary is what a sync did (or, for a dry run, would do).
type SyncSummary struct {
	// Copied counts files and symlinks written.
	Copied int `json:"copied"`
	// Skipped counts files and symlinks found unchanged.
	Skipped int `json:"skipped"`
	// Deleted counts destination entries removed.
	Deleted int `json:"deleted"`
	// Bytes is the size of the files written.
	Bytes int64 `json:"bytes"`
	// Failures lists the paths that failed.
	Failures []Failure `json:"failures,omitempty"`
	// DryRun is set when nothing was written.
	DryRun bool `json:"dryRun,omitempty"`
	// DeletionsSkipped is set when Delete was asked for but a path of the
	// source or the destination could not be listed: like rsync's "IO
	// error: skipping deletion", nothing is deleted then, since a path
	// missing from a partial source listing is not a path the source lacks.
	DeletionsSkipped bool `json:"deletionsSkipped,omitempty"`
}

// DeletionsSkippedMessage explains SyncSummary.DeletionsSkipped.
const DeletionsSkippedMessage = "IO error: skipping deletion (some paths could not be listed; fix them and sync again to delete)"

// plan compares the trees and announces the result. Deletions are planned
// only when every path of both sides could be listed: a path that failed
// to list would otherwise look deleted (rsync's "IO error encountered --
// skipping file deletion"). A dry run's summary carries the failures.
func (e *engine) plan(ctx context.Context, src, dst []Entry, sides syncSides, o SyncOptions, fails *failures) (*syncPlan, *SyncSummary, error) {
	listed := len(fails.get()) == 0
	p, err := e.compare(ctx, src, dst, o.Delete && listed, sides, fails)
	if err != nil {
		return nil, nil, err
	}
	sum := e.announce(p, sides, o.DryRun)
	sum.DeletionsSkipped = o.Delete && !listed
	if o.DryRun {
		sum.Failures = fails.get()
	}
	return p, sum, nil
}

// syncPlan is the comparison of a source and a destination tree.
type syncPlan struct {
	copy    []Entry  // directories to create, files and symlinks to write
	remove  []string // destination paths to delete first (top-most only)
	removed int      // destination entries deleted because the source lacks them
	skipped []Entry  // unchanged files and symlinks
	// special lists the source's sockets, fifos and devices: left out,
	// and reported as cp reports them, not silently.
	special []Entry
	retime  []Entry // unchanged files whose destination mtime is to be fixed
	// chmod lists files whose executable bits differ; modeOnly counts
	// those of them whose content is unchanged (a change all the same).
	chmod    []Entry
	modeOnly int
	conflict []Failure
	dstMode  map[string]fs.FileMode
	// deletes is, for each path of remove that is a deletion (not a
	// replacement), how many entries removing it deletes: the summary
	// counts them once the removal succeeded.
	deletes map[string]int
}

// unchanged files a content check found equal: skipped, or counted as a
// change of mode.
func (p *syncPlan) unchanged(s Entry) {
	if m, ok := p.dstMode[s.Rel]; ok && executable(m) != executable(s.Mode) {
		p.chmod = append(p.chmod, s)
		p.modeOnly++
		return
	}
	p.skipped = append(p.skipped, s)
}

// plan compares src and dst (both filtered; dst by the source's rules).
// Files of equal size whose mtimes differ are returned in check for the
// digest phase. An entry of another type in the way is removed first
// (counted as a replacement, not a deletion), except a directory in the
// place of a file, which only --delete may remove.
func plan(src, dst []Entry, del bool, dstName func(string) string) (p *syncPlan, check []Entry) {
	p = &syncPlan{dstMode: map[string]fs.FileMode{}, deletes: map[string]int{}}
	have := make(map[string]Entry, len(dst))
	for _, e := range dst {
		have[e.Rel] = e
		if e.Type == TypeFile {
			p.dstMode[e.Rel] = e.Mode
		}
	}
	want := make(map[string]bool, len(src))
	for _, e := range src {
		want[e.Rel] = true
	}
	gone := map[string]bool{} // destination paths removed, with descendants
	remove := func(d Entry, deletion bool) {
		p.remove = append(p.remove, d.Rel)
		gone[d.Rel] = true
		n := 1
		if d.Type == TypeDir {
			for _, x := range dst {
				if strings.HasPrefix(x.Rel, d.Rel+"/") && !gone[x.Rel] {
					gone[x.Rel] = true
					n++
				}
			}
		}
		if deletion {
			p.removed += n
			p.deletes[d.Rel] = n
		}
	}
	for _, s := range src {
		d, exists := have[s.Rel]
		if gone[s.Rel] {
			exists = false
		}
		switch {
		case s.Type == TypeOther:
			p.special = append(p.special, s)
			continue
		case !exists:
			p.copy = append(p.copy, s)
		case s.Type == TypeDir && d.Type == TypeDir:
			// nothing to do
		case d.Type == TypeDir:
			if !del {
				p.conflict = append(p.conflict, Failure{Path: dstName(s.Rel), Code: CodeConflict,
					Message: dstName(s.Rel) + ": is a directory in the destination but not in the source (use --delete to replace it)"})
				continue
			}
			remove(d, false)
			p.copy = append(p.copy, s)
		case s.Type == TypeDir, d.Type == TypeOther:
			remove(d, false)
			p.copy = append(p.copy, s)
		case s.Type == TypeSymlink:
			if d.Type == TypeSymlink && d.Link == s.Link {
				p.skipped = append(p.skipped, s)
				continue
			}
			p.copy = append(p.copy, s) // ln -sfn replaces a file or symlink
		case d.Type == TypeSymlink:
			remove(d, false) // a write would go through the symlink
			p.copy = append(p.copy, s)
		case d.Size != s.Size:
			p.copy = append(p.copy, s)
			if executable(d.Mode) != executable(s.Mode) {
				// A write keeps an existing file's mode.
				p.chmod = append(p.chmod, s)
			}
		case s.MtimeMs != 0 && d.MtimeMs == s.MtimeMs:
			p.unchanged(s)
		default:
			check = append(check, s)
		}
	}
	if del {
		for _, d := range dst {
			if !want[d.Rel] && !gone[d.Rel] {
				remove(d, true)
			}
		}
	}
	return p, check
}

// SyncUp makes the sandbox directory remote mirror the contents of the
// local directory local: only files whose size or content differ are
// written (size and mtime first, then a sha256 computed in the sandbox for
// files of equal size whose mtimes differ), written files get the local
// mtime, and with Delete the entries the source no longer has are removed.
func SyncUp(ctx context.Context, sb *sc.Sandbox, local, remote string, o SyncOptions) (*SyncSummary, error) {
	remote = sc.ResolvePath(sb.Root(), remote)
	if err := mustBeDir(local); err != nil {
		return nil, err
	}
	e := newEngine(sb, o.Options)
	fails := &failures{obs: e.obs}
	src, err := walkLocal(local, o.Ignore, fails.add)
	if err != nil {
		return nil, err
	}
	st, err := sb.Stat(ctx, remote)
	if err != nil {
		return nil, err
	}
	var dst []Entry
	switch {
	case st == nil:
	case st.Type != "directory":
		return nil, &Error{Code: CodeConflict, Message: remote + ": exists in the sandbox and is not a directory"}
	default:
		all, err := listRemote(ctx, sb, remote, o.parallel(), fails.add)
		if err != nil {
			return nil, err
		}
		dst = protect(all, src.rules)
	}
	sides := syncSides{upload: true, local: local, remote: remote}
	p, sum, err := e.plan(ctx, src.entries, dst, sides, o, fails)
	if err != nil || o.DryRun {
		return sum, err
	}
	// Removals first: they clear the way for entries of another type.
	for _, r := range p.remove {
		if err := sb.DeleteFile(ctx, path.Join(remote, r), true); err != nil {
			fails.add(failure(path.Join(remote, r), err))
			continue
		}
		sum.Deleted += p.deletes[r]
		e.obs.Event(Event{Kind: Deleted, Upload: true, Remote: path.Join(remote, r)})
	}
	cs := &Summary{}
	e.uploadEntries(ctx, local, remote, p.copy, cs, fails, st != nil)
	sum.Copied, sum.Bytes = cs.Files+cs.Symlinks, cs.Bytes
	if ctx.Err() == nil {
		sum.Copied += e.applyModes(p, sides, fails, func(x Entry) error {
			perm := defaultRemoteMode
			if executable(x.Mode) {
				perm = x.Mode.Perm()
			}
			return sb.Chmod(ctx, path.Join(remote, x.Rel), uint32(perm))
		})
		e.setRemoteTimes(ctx, remote, append(copiedFiles(p.copy, fails, sides.localPath), p.retime...))
	}
	return syncResult(ctx, sum, p, fails)
}

// applyModes gives the files of p.chmod their executable bits with set
// and returns how many of them only changed mode.
func (e *engine) applyModes(p *syncPlan, sides syncSides, fails *failures, set func(Entry) error) int {
	copied := map[string]bool{}
	for _, c := range p.copy {
		copied[c.Rel] = true
	}
	n := 0
	for _, x := range p.chmod {
		if err := set(x); err != nil {
			fails.add(failure(sides.dst(x.Rel), err))
			continue
		}
		if !copied[x.Rel] {
			n++
			e.obs.Event(sides.event(Copied, Entry{Rel: x.Rel, Type: TypeFile}))
		}
	}
	return n
}

// SyncDown makes the local directory local mirror the contents of the
// sandbox directory remote, as SyncUp does the other way; files written
// get the sandbox's mtime, so the next sync skips them by size and mtime.
func SyncDown(ctx context.Context, sb *sc.Sandbox, remote, local string, o SyncOptions) (*SyncSummary, error) {
	remote = sc.ResolvePath(sb.Root(), remote)
	st, err := sb.Stat(ctx, remote)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, &Error{Code: CodeNotFound, Message: remote + ": no such directory in the sandbox", Dir: path.Dir(remote), Remote: true}
	}
	if st.Type != "directory" {
		return nil, &Error{Code: CodeIsDirectory, Message: remote + ": not a directory (sync copies directories; use cp for one file)"}
	}
	e := newEngine(sb, o.Options)
	fails := &failures{obs: e.obs}
	src, err := e.remoteTree(ctx, remote, fails)
	if err != nil {
		return nil, err
	}
	var dst []Entry
	// Stat, not Lstat: a symlink to a directory is that directory, as
	// for cp -r and rsync (the walk and the writes below follow it).
	if fi, err := os.Stat(local); err == nil {
		if !fi.IsDir() {
			return nil, &Error{Code: CodeConflict, Message: local + ": exists and is not a directory"}
		}
		all, err := walkLocal(local, ignore.Options{NoGitIgnore: true, NoIgnoreFile: true, IncludeVCS: true}, fails.add)
		if err != nil {
			return nil, err
		}
		dst = protect(all.entries, src.rules)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, localErr(err)
	}
	sides := syncSides{local: local, remote: remote}
	p, sum, err := e.plan(ctx, src.entries, dst, sides, o, fails)
	if err != nil || o.DryRun {
		return sum, err
	}
	if err := os.MkdirAll(local, 0o777); err != nil {
		return nil, mkdirErr(local, err)
	}
	root, err := os.OpenRoot(local)
	if err != nil {
		return nil, localErr(err)
	}
	defer root.Close()
	for _, r := range p.remove {
		lp := filepath.Join(local, filepath.FromSlash(r))
		if err := root.RemoveAll(filepath.FromSlash(r)); err != nil {
			fails.add(failure(lp, localErr(err)))
			continue
		}
		sum.Deleted += p.deletes[r]
		e.obs.Event(Event{Kind: Deleted, Local: lp})
	}
	cs := &Summary{}
	e.downloadEntries(ctx, root, remote, local, p.copy, cs, fails, true)
	sum.Copied, sum.Bytes = cs.Files+cs.Symlinks, cs.Bytes
	if ctx.Err() == nil {
		// Local permission bits come from the umask: add or remove the
		// execute bits where the read bits are.
		sum.Copied += e.applyModes(p, sides, fails, func(x Entry) error {
			name := filepath.FromSlash(x.Rel)
			fi, err := root.Lstat(name)
			if err != nil {
				return localErr(err)
			}
			cur := fi.Mode().Perm()
			next := cur &^ 0o111
			if executable(x.Mode) {
				next = cur | (cur&0o444)>>2
			}
			if next == cur {
				return nil
			}
			if err := root.Chmod(name, next); err != nil {
				return localErr(err)
			}
			return nil
		})
	}
	for _, r := range p.retime {
		if r.MtimeMs != 0 {
			_ = root.Chtimes(filepath.FromSlash(r.Rel), time.Time{}, time.UnixMilli(r.MtimeMs))
		}
	}
	return syncResult(ctx, sum, p, fails)
}

// syncSides names the two trees of a sync.
type syncSides struct {
	upload        bool // local → sandbox
	local, remote string
}

func (s syncSides) localPath(rel string) string {
	return filepath.Join(s.local, filepath.FromSlash(rel))
}
func (s syncSides) remotePath(rel string) string { return path.Join(s.remote, rel) }

// dst names a path of the destination.
func (s syncSides) dst(rel string) string {
	if s.upload {
		return s.remotePath(rel)
	}
	return s.localPath(rel)
}

func (s syncSides) event(kind EventKind, e Entry) Event {
	return Event{Kind: kind, Upload: s.upload, Local: s.localPath(e.Rel), Remote: s.remotePath(e.Rel), Type: e.Type, Bytes: e.Size}
}

// compare plans a sync: size and mtime first, then digests (in the sandbox
// and locally) for files of equal size whose mtimes differ. Conflicts are
// reported as failures.
func (e *engine) compare(ctx context.Context, src, dst []Entry, del bool, sides syncSides, fails *failures) (*syncPlan, error) {
	p, check := plan(src, dst, del, sides.dst)
	for _, c := range p.conflict {
		fails.add(c)
	}
	if len(check) == 0 {
		return p, nil
	}
	rels := make([]string, len(check))
	sizes := make([]int64, len(check))
	for i, c := range check {
		rels[i], sizes[i] = c.Rel, c.Size
	}
	remoteSums, err := remoteDigests(ctx, e.sb, sides.remote, rels, sizes)
	if err != nil {
		return nil, err
	}
	localSums := localDigests(ctx, sides.local, rels, e.opts.parallel())
	for i, c := range check {
		switch {
		case remoteSums[i] != "" && remoteSums[i] == localSums[i]:
			p.unchanged(c)
			p.retime = append(p.retime, c)
		default:
			p.copy = append(p.copy, c)
			if m := p.dstMode[c.Rel]; executable(m) != executable(c.Mode) {
				p.chmod = append(p.chmod, c)
			}
		}
	}
	sortTree(p.copy)
	return p, nil
}

// announce reports the plan to the observer (with the planned copies and
// deletions for a dry run) and starts the summary.
func (e *engine) announce(p *syncPlan, sides syncSides, dryRun bool) *SyncSummary {
	// A real sync counts its deletions as they succeed (SyncUp,
	// SyncDown): one that fails is listed, not counted.
	sum := &SyncSummary{Skipped: len(p.skipped), DryRun: dryRun}
	if dryRun {
		sum.Deleted = p.removed
	}
	files, bytes := copyTotals(p.copy)
	e.obs.Plan(files, bytes)
	for _, s := range p.skipped {
		ev := sides.event(Skipped, s)
		ev.Reason = "unchanged"
		e.obs.Event(ev)
	}
	for _, s := range p.special {
		ev := sides.event(Skipped, s)
		ev.Reason = "not a regular file, directory or symlink"
		e.obs.Event(ev)
	}
	if !dryRun {
		return sum
	}
	for _, r := range p.remove {
		ev := sides.event(Deleted, Entry{Rel: r})
		if sides.upload {
			ev.Local = ""
		} else {
			ev.Remote = ""
		}
		e.obs.Event(ev)
	}
	for _, c := range p.copy {
		if c.Type != TypeDir {
			sum.Copied++
			sum.Bytes += c.Size
		}
		e.obs.Event(sides.event(Planned, c))
	}
	sum.Copied += p.modeOnly
	return sum
}

// syncResult finishes a sync's summary and error.
func syncResult(ctx context.Context, sum *SyncSummary, p *syncPlan, fails *failures) (*SyncSummary, error) {
	sum.Failures = fails.get()
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	if len(sum.Failures) > 0 {
		return sum, &PartialError{Failures: sum.Failures, Total: len(p.copy) + len(p.remove)}
	}
	return sum, nil
}

func mustBeDir(local string) error {
	fi, err := os.Stat(local)
	if err != nil {
		return localErr(err)
	}
	if !fi.IsDir() {
		return &Error{Code: CodeIsDirectory, Message: local + ": not a directory (sync copies directories; use cp for one file)"}
	}
	return nil
}

// protect drops destination entries that the source's rules leave out, so
// they are neither compared nor deleted (and their subtrees with them).
func protect(dst []Entry, rules *ignore.Matcher) []Entry {
	sortTree(dst)
	var out []Entry
	skip := ""
	for _, d := range dst {
		if skip != "" && strings.HasPrefix(d.Rel, skip) {
			continue
		}
		skip = ""
		if rules.Match(d.Rel, d.Type == TypeDir) {
			if d.Type == TypeDir {
				skip = d.Rel + "/"
			}
			continue
		}
		out = append(out, d)
	}
	return out
}

func copyTotals(es []Entry) (files int, bytes int64) {
	for _, e := range es {
		if e.Type == TypeFile {
			files++
			bytes += e.Size
		}
	}
	return files, bytes
}

// copiedFiles is the files of es that did not fail.
func copiedFiles(es []Entry, fails *failures, name func(string) string) []Entry {
	failed := map[string]bool{}
	for _, f := range fails.get() {
		failed[f.Path] = true
	}
	var out []Entry
	for _, e := range es {
		if e.Type == TypeFile && !failed[name(e.Rel)] {
			out = append(out, e)
		}
	}
	return out
}

// retimeMin is the size from which a copied file's mtime is set in the
// sandbox. Setting it costs a touch process; comparing digests next time
// costs reading the file, which is cheaper below about a MiB.
const retimeMin = 1 << 20

// setRemoteTimes gives sandbox files of at least retimeMin bytes the local
// mtimes with touch (one per distinct time), so the next sync finds them
// unchanged by size and mtime. Smaller files, and any file in a sandbox
// whose touch cannot take -d @EPOCH, are compared by digest next time, so
// failures here are not errors.
func (e *engine) setRemoteTimes(ctx context.Context, remote string, es []Entry) {
	byTime := map[int64][]string{}
	var times []int64
	for _, x := range es {
		if x.MtimeMs == 0 || x.Size < retimeMin {
			continue
		}
		if byTime[x.MtimeMs] == nil {
			times = append(times, x.MtimeMs)
		}
		byTime[x.MtimeMs] = append(byTime[x.MtimeMs], shellquote.Quote("./"+x.Rel))
	}
	var lines []string
	for _, t := range times {
		sec, ms := t/1000, t%1000
		if ms < 0 {
			sec, ms = sec-1, ms+1000
		}
		for _, b := range batches(byTime[t]) {
			lines = append(lines, fmt.Sprintf("touch -c -m -d @%d.%03d %s", sec, ms, strings.Join(b, " ")))
		}
	}
	if len(lines) > 0 {
		_, _ = runLines(ctx, e.sb, remote, lines)
	}
}

// localDigests returns the sha256 (hex) of each local file, "" when it
// cannot be read.
func localDigests(ctx context.Context, root string, rels []string, par int) []string {
	out := make([]string, len(rels))
	idx := make([]int, len(rels))
	for i := range idx {
		idx[i] = i
	}
	var mu sync.Mutex
	each(ctx, par, idx, func(ctx context.Context, i int) {
		f, err := os.Open(filepath.Join(root, filepath.FromSlash(rels[i])))
		if err != nil {
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, &ctxReader{ctx: ctx, r: f}); err != nil {
			return
		}
		mu.Lock()
		out[i] = hex.EncodeToString(h.Sum(nil))
		mu.Unlock()
	})
	return out
}
