// Package ignore decides which paths of a directory tree a transfer leaves
// out: patterns given by the user (--exclude), a .nimbusignore file at the
// root of the tree, .gitignore files anywhere in it, and the version-control
// directory .git. Patterns use gitignore syntax; matching is done by go-git's
// gitignore matcher (carried in internal/gitignore), which scopes the
// patterns of a nested .gitignore to its directory as git does.
//
// The tree can be local or remote: ignore files are read through a
// ReadFunc, so the same rules apply whichever side is the source.
package ignore

import (
	"bytes"
	"errors"
	"path"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/gitignore"
)

// Names of the ignore files and of the directory excluded by default.
const (
	// NimbusIgnore is read at the root of the tree only.
	NimbusIgnore = ".nimbusignore"
	// GitIgnore is read in every directory of the tree.
	GitIgnore = ".gitignore"
	// VCSDir is always excluded unless Options.IncludeVCS is set.
	VCSDir = ".git"
)

// MaxFileSize bounds an ignore file; bigger ones are an error, since a
// multi-megabyte .gitignore is a mistake (or not an ignore file at all).
const MaxFileSize = 1 << 20

// Options select the sources of rules.
type Options struct {
	// Excludes are extra patterns in gitignore syntax, relative to the
	// root; they take precedence over every file ("!" re-includes).
	Excludes []string
	// NoGitIgnore turns off .gitignore files.
	NoGitIgnore bool
	// NoIgnoreFile turns off the root .nimbusignore.
	NoIgnoreFile bool
	// IncludeVCS keeps .git directories (and files) in the tree.
	IncludeVCS bool
}

// ReadFunc returns the content of the file at rel (slash-separated,
// relative to the tree root); ok is false when there is no such file.
type ReadFunc func(rel string) (data []byte, ok bool, err error)

// Matcher answers whether a path is left out. Load rules with New and
// Enter; Match is then safe for concurrent use as long as no Enter runs at
// the same time.
type Matcher struct {
	opts  Options
	read  ReadFunc
	git   []gitignore.Pattern // .gitignore patterns, lowest priority first
	user  []gitignore.Pattern // .nimbusignore then --exclude, lowest first
	files []string            // ignore files read, for reports
}

// New reads the root's ignore files through read (which may be nil when
// both file sources are turned off) and returns the matcher.
func New(opts Options, read ReadFunc) (*Matcher, error) {
	m := &Matcher{opts: opts, read: read}
	if read == nil {
		m.opts.NoGitIgnore, m.opts.NoIgnoreFile = true, true
	}
	if !m.opts.NoIgnoreFile {
		ps, err := m.load(NimbusIgnore, nil)
		if err != nil {
			return nil, err
		}
		m.user = append(m.user, ps...)
	}
	for _, p := range opts.Excludes {
		m.user = append(m.user, ParseLines([]byte(p), nil)...)
	}
	if err := m.Enter(""); err != nil {
		return nil, err
	}
	return m, nil
}

// Enter loads the .gitignore of directory dir (relative, slash-separated;
// "" is the root). Call it for each directory before matching its
// entries; the walk must not descend into directories that Match
// excludes, as git does not.
func (m *Matcher) Enter(dir string) error {
	if m.opts.NoGitIgnore {
		return nil
	}
	domain := split(dir)
	ps, err := m.load(path.Join(dir, GitIgnore), domain)
	if err != nil {
		return err
	}
	m.git = append(m.git, ps...)
	return nil
}

func (m *Matcher) load(rel string, domain []string) ([]gitignore.Pattern, error) {
	data, ok, err := m.read(rel)
	if err != nil {
		return nil, &Error{Path: rel, Err: err}
	}
	if !ok {
		return nil, nil
	}
	if len(data) > MaxFileSize {
		return nil, &Error{Path: rel, Err: errTooBig}
	}
	m.files = append(m.files, rel)
	return ParseLines(data, domain), nil
}

// Files lists the ignore files that were read, in order.
func (m *Matcher) Files() []string { return append([]string(nil), m.files...) }

// Match reports whether rel (slash-separated, relative to the root) is
// left out. isDir tells whether it is a directory, for patterns ending in
// "/".
func (m *Matcher) Match(rel string, isDir bool) bool {
	parts := split(rel)
	if len(parts) == 0 {
		return false
	}
	if !m.opts.IncludeVCS {
		for _, p := range parts {
			if p == VCSDir {
				return true
			}
		}
	}
	for _, set := range [][]gitignore.Pattern{m.user, m.git} {
		for i := len(set) - 1; i >= 0; i-- {
			switch set[i].Match(parts, isDir) {
			case gitignore.Exclude:
				return true
			case gitignore.Include:
				return false
			}
		}
	}
	return false
}

// ParseLines parses the lines of an ignore file (or one --exclude value)
// into patterns scoped to domain (the directory holding the file, as path
// components). Blank lines and comments are skipped; a trailing "\r" is
// dropped, so files written on Windows work.
func ParseLines(data []byte, domain []string) []gitignore.Pattern {
	var out []gitignore.Pattern
	for _, line := range bytes.Split(data, []byte{'\n'}) {
		s := strings.TrimSuffix(string(line), "\r")
		if t := strings.TrimRight(s, " "); t == "" || strings.HasPrefix(s, "#") {
			continue
		}
		out = append(out, gitignore.ParsePattern(s, domain))
	}
	return out
}

// Error is an ignore file that could not be read.
type Error struct {
	// Path is the file, relative to the tree root.
	Path string
	// Err is the cause: an I/O error, or a file larger than 1 MiB.
	Err error
}

// Error names the file and the cause.
func (e *Error) Error() string { return "cannot read " + e.Path + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

var errTooBig = errors.New("larger than 1 MiB, which no ignore file should be")

func split(rel string) []string {
	rel = strings.Trim(rel, "/")
	if rel == "" || rel == "." {
		return nil
	}
	return strings.Split(rel, "/")
}
