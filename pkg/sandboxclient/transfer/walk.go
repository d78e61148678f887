package transfer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/nimbus-sh/nimbus/pkg/ignore"
)

// EntryType is the kind of a tree entry.
type EntryType string

// Entry types.
const (
	// TypeFile is a regular file, copied by content.
	TypeFile EntryType = "file"
	// TypeDir is a directory, created on the other side.
	TypeDir EntryType = "directory"
	// TypeSymlink is a symbolic link, copied as a link (its target is not
	// followed).
	TypeSymlink EntryType = "symlink"
	// TypeOther is a socket, device or fifo: never copied.
	TypeOther EntryType = "other"
)

// Entry is one path of a tree.
type Entry struct {
	// Rel is the slash-separated path relative to the tree root.
	Rel string `json:"path"`
	// Type is the kind of entry.
	Type EntryType `json:"type"`
	// Size is the file size in bytes.
	Size int64 `json:"size"`
	// Mode holds the permission bits.
	Mode fs.FileMode `json:"mode"`
	// MtimeMs is the modification time in Unix milliseconds; 0 when
	// unknown.
	MtimeMs int64 `json:"mtime,omitempty"`
	// Link is a symlink's target, verbatim.
	Link string `json:"link,omitempty"`
}

// tree is the result of a walk.
type tree struct {
	entries  []Entry // parents before children
	excluded int
	// rules is the matcher with every ignore file of the tree loaded; it
	// protects the same paths in a sync's destination.
	rules *ignore.Matcher
}

func (t *tree) totals() (files int, bytes int64) {
	for _, e := range t.entries {
		if e.Type == TypeFile {
			files++
			bytes += e.Size
		}
	}
	return files, bytes
}

// entryOf converts local file info.
func entryOf(rel string, fi fs.FileInfo) Entry {
	e := Entry{Rel: rel, Mode: fi.Mode().Perm(), MtimeMs: fi.ModTime().UnixMilli()}
	switch t := fi.Mode().Type(); {
	case t == 0:
		e.Type, e.Size = TypeFile, fi.Size()
	case t&fs.ModeDir != 0:
		e.Type = TypeDir
	case t&fs.ModeSymlink != 0:
		e.Type = TypeSymlink
	default:
		e.Type = TypeOther
	}
	return e
}

// localReader reads ignore files of a local tree; anything but a regular
// file counts as absent.
func localReader(root string) ignore.ReadFunc {
	return func(rel string) ([]byte, bool, error) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		if !fi.Mode().IsRegular() {
			return nil, false, nil
		}
		if fi.Size() > ignore.MaxFileSize {
			return make([]byte, ignore.MaxFileSize+1), true, nil
		}
		b, err := os.ReadFile(p)
		return b, err == nil, err
	}
}

// testHookWalk, set by tests only, fails the walk at a path as a read
// error there would: a test running as root cannot make a path unreadable
// with chmod.
var testHookWalk func(path string) error

// walkLocal lists the directory root, leaving out what the rules exclude.
// Paths that cannot be read are reported to fail and left out; only a
// failure on the root itself (or its .nimbusignore) is returned.
func walkLocal(root string, rules ignore.Options, fail func(Failure)) (*tree, error) {
	m, err := ignore.New(rules, localReader(root))
	if err != nil {
		return nil, &Error{Code: CodeIgnoreFile, Message: err.Error(), Err: err}
	}
	t := &tree{rules: m}
	// A root named through a symlink is the directory it points at (its
	// stat says so, and the callers took it for one), but WalkDir lstats
	// its root and would report the link and stop: an empty tree, which
	// cp -r copied as an empty directory and sync --delete took for a
	// source whose every file was gone. With a trailing separator the
	// root's lstat follows the link (POSIX path resolution; Go's Lstat
	// does the same on Windows); the paths of its entries are unchanged.
	walkRoot := root
	if fi, err := os.Lstat(root); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		walkRoot = root + string(filepath.Separator)
	}
	err = filepath.WalkDir(walkRoot, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if err == nil && testHookWalk != nil {
			err = testHookWalk(p)
		}
		if err != nil {
			if rel == "." {
				return localErr(err)
			}
			fail(failure(p, localErr(err)))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if rel == "." {
			return m.Enter("")
		}
		isDir := d.IsDir()
		if m.Match(rel, isDir) {
			t.excluded++
			if isDir {
				return fs.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			fail(failure(p, localErr(err)))
			return nil
		}
		e := entryOf(rel, fi)
		if e.Type == TypeSymlink {
			if e.Link, err = os.Readlink(p); err != nil {
				fail(failure(p, localErr(err)))
				return nil
			}
			e.Link = sandboxLinkText(localOS, e.Link)
		}
		if isDir {
			if err := m.Enter(rel); err != nil {
				fail(failure(p, &Error{Code: CodeIgnoreFile, Message: err.Error(), Err: err}))
				return fs.SkipDir
			}
		}
		t.entries = append(t.entries, e)
		return nil
	})
	if err != nil {
		var ie *ignore.Error
		if errors.As(err, &ie) {
			return nil, &Error{Code: CodeIgnoreFile, Message: err.Error(), Err: err}
		}
		return nil, err
	}
	return t, nil
}

// localOS is the system downloads write to: runtime.GOOS, set otherwise
// only by tests (SetLocalOS) to check the Windows rules on any system.
var localOS = runtime.GOOS

// localNameProblem says why the name of a downloaded entry cannot be given
// to a file on goos, or returns "" when it can; rel is a safeRel path.
// Only Windows has such names, and there they do not fail, they do
// something else: a reserved device name (CON, PRN, AUX, NUL, COM1-9,
// LPT1-9, CONIN$, CONOUT$, with any extension, "nul.txt" included) opens
// the device, a ':' names an NTFS alternate data stream of another file, a
// trailing dot or space is dropped (so "a." overwrites "a"), and '\' is a
// separator (a name "..\x" would leave the tree). The other characters
// Windows forbids in names (< > " | ? * and controls) are refused with
// them, before the write fails. The names are the sandbox's, so nimbus
// checks them before it creates anything.
func localNameProblem(goos, rel string) string {
	_, problem := localNameAt(goos, rel)
	return problem
}

// LocalNameProblem says why name, one path component that comes from the
// sandbox, cannot name a file on goos (runtime.GOOS) without becoming
// something else, or returns "" when it can: on Windows a device name, a
// ':', a trailing dot or space, or a character Windows forbids. Downloads
// apply it to every name they take from the sandbox; it is for callers
// that derive a local name from a sandbox path themselves.
func LocalNameProblem(goos, name string) string { return localNameProblem(goos, name) }

// localNameAt is localNameProblem with the path of the first component
// that has the problem ("" when none has), where it is best reported: the
// entries under it go with it.
func localNameAt(goos, rel string) (at, problem string) {
	if goos != "windows" {
		return "", ""
	}
	names := strings.Split(rel, "/")
	for n, name := range names {
		if problem = windowsNameProblem(name); problem != "" {
			return strings.Join(names[:n+1], "/"), problem
		}
	}
	return "", ""
}

// linkTargetProblem says why the target of a downloaded symlink cannot be
// given to a link on goos, or returns "" when it can. On Windows each of
// its names is checked as an entry's are: opening the link would otherwise
// reach what Windows takes the name for (a device, another file's data
// stream, a name without its trailing dot), and a '\' would turn the
// sandbox's one name into a path of Windows' own ("..\..\x", or
// "\\host\share", which sends the user's credentials to host). "." and
// ".." are a target's own, and an absolute target stays one, as cp keeps
// it.
func linkTargetProblem(goos, target string) string {
	if goos != "windows" {
		return ""
	}
	for _, name := range strings.Split(target, "/") {
		if name == "" || name == "." || name == ".." {
			continue
		}
		if problem := windowsNameProblem(name); problem != "" {
			return fmt.Sprintf("its target %q: %s", target, problem)
		}
	}
	return ""
}

// windowsNameProblem checks one name against Windows' rules (see
// localNameProblem).
func windowsNameProblem(name string) string {
	if i := strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || strings.ContainsRune(`<>:"\|?*`, r) }); i >= 0 {
		if name[i] == ':' {
			return fmt.Sprintf("%q holds ':', which names an NTFS alternate data stream on Windows", name)
		}
		return fmt.Sprintf("%q holds %q, which Windows does not allow in a file name", name, name[i:i+1])
	}
	if strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") {
		return fmt.Sprintf("%q ends in a dot or a space, which Windows drops (it would be another file's name)", name)
	}
	stem, _, _ := strings.Cut(name, ".")
	if windowsDevice(strings.TrimRight(stem, " ")) {
		return fmt.Sprintf("%q is a reserved device name on Windows", name)
	}
	return ""
}

// windowsDevice reports whether stem (a name without its extension) is a
// Windows device name, whatever its case. COM and LPT take the digits 1-9
// and the superscripts ¹ ² ³, which Windows also reserves.
func windowsDevice(stem string) bool {
	switch strings.ToUpper(stem) {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(stem) < 4 {
		return false
	}
	switch strings.ToUpper(stem[:3]) {
	case "COM", "LPT":
		switch stem[3:] {
		case "1", "2", "3", "4", "5", "6", "7", "8", "9", "\u00b9", "\u00b2", "\u00b3":
			return true
		}
	}
	return false
}

// safeRel reports whether rel is a clean relative path that stays inside
// the tree: no empty, "." or ".." components, no backslashes, no NUL.
func safeRel(rel string) bool {
	if rel == "" || strings.HasPrefix(rel, "/") || strings.ContainsAny(rel, "\\\x00") {
		return false
	}
	for _, c := range strings.Split(rel, "/") {
		if c == "" || c == "." || c == ".." {
			return false
		}
	}
	return true
}

// sortTree orders entries so that every parent comes before its children
// (component-wise lexical order).
func sortTree(es []Entry) {
	sort.Slice(es, func(i, j int) bool { return lessPath(es[i].Rel, es[j].Rel) })
}

func lessPath(a, b string) bool {
	for {
		ai, bi := strings.IndexByte(a, '/'), strings.IndexByte(b, '/')
		ac, bc := a, b
		if ai >= 0 {
			ac = a[:ai]
		}
		if bi >= 0 {
			bc = b[:bi]
		}
		if ac != bc {
			return ac < bc
		}
		if ai < 0 || bi < 0 {
			return ai < 0 && bi >= 0
		}
		a, b = a[ai+1:], b[bi+1:]
	}
}

// filterTree applies the rules to a flat remote listing: entries under an
// excluded directory go with it, and each directory's .gitignore is loaded
// (through read) before its entries are matched.
func filterTree(es []Entry, rules ignore.Options, read ignore.ReadFunc, fail func(Failure), base string) (*tree, error) {
	sortTree(es)
	m, err := ignore.New(rules, read)
	if err != nil {
		return nil, &Error{Code: CodeIgnoreFile, Message: err.Error(), Err: err}
	}
	t := &tree{rules: m}
	// In this order a directory's descendants follow it contiguously, so
	// one prefix tells which entries go with a dropped directory.
	skip := ""
	for _, e := range es {
		if skip != "" && strings.HasPrefix(e.Rel, skip) {
			continue
		}
		skip = ""
		isDir := e.Type == TypeDir
		if m.Match(e.Rel, isDir) {
			t.excluded++
			if isDir {
				skip = e.Rel + "/"
			}
			continue
		}
		if isDir {
			if err := m.Enter(e.Rel); err != nil {
				fail(failure(path.Join(base, e.Rel), &Error{Code: CodeIgnoreFile, Message: err.Error(), Err: err}))
				skip = e.Rel + "/"
				continue
			}
		}
		t.entries = append(t.entries, e)
	}
	return t, nil
}
