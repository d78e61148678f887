package gitignore_test

import (
	"strings"
	"testing"

	upstream "github.com/go-git/go-git/v5/plumbing/format/gitignore"

	"github.com/nimbus-sh/nimbus/internal/gitignore"
)

// agree checks that this copy and go-git decide alike for every pattern
// line of patterns and every path, as files and as directories.
func agree(t *testing.T, patterns string, domain []string, paths ...string) {
	t.Helper()
	var ours []gitignore.Pattern
	var theirs []upstream.Pattern
	for _, l := range strings.Split(patterns, "\n") {
		ours = append(ours, gitignore.ParsePattern(l, domain))
		theirs = append(theirs, upstream.ParsePattern(l, domain))
	}
	m, um := gitignore.NewMatcher(ours), upstream.NewMatcher(theirs)
	for _, p := range paths {
		parts := strings.Split(p, "/")
		for _, dir := range []bool{false, true} {
			if got, want := m.Match(parts, dir), um.Match(parts, dir); got != want {
				t.Fatalf("patterns %q, path %q (dir %v): copy says %v, go-git %v", patterns, p, dir, got, want)
			}
			for i := range ours {
				if got, want := int(ours[i].Match(parts, dir)), int(theirs[i].Match(parts, dir)); got != want {
					t.Fatalf("pattern %q, path %q (dir %v): copy says %d, go-git %d", strings.Split(patterns, "\n")[i], p, dir, got, want)
				}
			}
		}
	}
}

func TestSameAsGoGit(t *testing.T) {
	patterns := "*.log\n!keep.log\nbuild/\n/root-only.txt\ndocs/*.md\n**/deep/x\na/**/b\n\\#hash\nnode_modules\n*.tmp   \n[a-c]?.txt\nfoo/**\n**\n!**/\n"
	paths := []string{"app.log", "keep.log", "sub/app.log", "build", "build/x.o", "src/build/y", "root-only.txt", "x/root-only.txt",
		"docs/a.md", "docs/sub/b.md", "q/deep/x", "a/b", "a/x/y/b", "#hash", "node_modules/p", "a.tmp", "b1.txt", "d1.txt", "foo/bar/baz", "x"}
	agree(t, patterns, nil, paths...)
	agree(t, patterns, []string{"sub"}, append(paths, "sub/app.log", "sub/build/x")...)
}

func FuzzSameAsGoGit(f *testing.F) {
	f.Add("*.log\n!keep.log\nbuild/", "build/keep.log", "sub")
	f.Add("a/**/b\n/x\n[!a]*", "a/q/b", "")
	f.Add("**/\\!x\n\\ \n?", "!x", "d/e")
	f.Fuzz(func(t *testing.T, patterns, path, domain string) {
		var dom []string
		if domain != "" {
			dom = strings.Split(domain, "/")
		}
		agree(t, patterns, dom, path)
	})
}
