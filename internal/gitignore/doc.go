// Package gitignore is go-git's gitignore matcher (the pattern and
// matcher files of github.com/go-git/go-git/v5/plumbing/format/gitignore,
// v5.19.3, unchanged), carried here because that package also reads git
// config files: importing it links go-git's config parser, whose
// encoding/gob dependency initialises 60 KB of type tables, in 0.3 to 0.8
// ms, at the start of every nimbus command (TestStartupBudget). The
// matching itself is go-git's, and a differential test holds this copy to
// the library (which stays a test-only dependency): updating go-git in
// go.mod re-runs the comparison against the new version.
package gitignore
