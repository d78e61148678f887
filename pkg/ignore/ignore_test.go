package ignore_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/ignore"
)

// files is an in-memory tree of ignore files for a ReadFunc.
type files map[string]string

func (f files) read(rel string) ([]byte, bool, error) {
	s, ok := f[rel]
	if strings.HasPrefix(s, "ERR:") {
		return nil, false, errors.New(s[4:])
	}
	return []byte(s), ok, nil
}

// rootGitignore and subGitignore were checked against `git check-ignore
// --no-index` (git 2.39): the expectations below are git's answers.
const rootGitignore = `# comment
*.log
!keep.log
build/
/root-only.txt
docs/*.md
**/deep/x
a/**/b
\#hash
node_modules
*.tmp   
`

const subGitignore = "*.txt\r\n!important.txt\r\n/anchored\r\n"

func TestMatchAgreesWithGit(t *testing.T) {
	fs := files{".gitignore": rootGitignore, "sub/.gitignore": subGitignore}
	m, err := ignore.New(ignore.Options{}, fs.read)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Enter("sub"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path  string
		isDir bool
		want  bool
	}{
		{"app.log", false, true},
		{"keep.log", false, false},
		{"sub/app.log", false, true},
		{"build", true, true},
		{"build", false, false}, // "build/" matches directories only
		{"build/x.o", false, true},
		{"src/build", true, true},
		{"root-only.txt", false, true},
		{"other/root-only.txt", false, false},
		{"docs/a.md", false, true},
		{"docs/sub/b.md", false, false},
		{"q/deep/x", false, true},
		{"deep/x", false, true},
		{"a/b", false, true},
		{"a/x/y/b", false, true},
		{"#hash", false, true},
		{"node_modules", true, true},
		{"x/node_modules", true, true},
		{"a.tmp", false, true}, // trailing spaces are not part of the pattern
		{"sub/a.txt", false, true},
		{"sub/important.txt", false, false},
		{"sub/x/c.txt", false, true},
		{"sub/anchored", false, true},
		{"sub/y/anchored", false, false},
		{"other/a.txt", false, false}, // sub/.gitignore does not reach other/
		{"README.md", false, false},
	}
	for _, c := range cases {
		if got := m.Match(c.path, c.isDir); got != c.want {
			t.Errorf("Match(%q, dir=%v) = %v, want %v", c.path, c.isDir, got, c.want)
		}
	}
	if got := fmt.Sprint(m.Files()); got != "[.gitignore sub/.gitignore]" {
		t.Errorf("Files() = %s", got)
	}
}

func TestPrecedence(t *testing.T) {
	fs := files{
		".gitignore":    "*.log\ndist/\n",
		".nimbusignore": "!dist/\nsecret.env\n",
	}
	m, err := ignore.New(ignore.Options{Excludes: []string{"*.bak", "!debug.log", "sub/cache/"}}, fs.read)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{
		"a.log":         true,  // .gitignore
		"debug.log":     false, // --exclude re-includes over .gitignore
		"dist":          false, // .nimbusignore re-includes over .gitignore
		"secret.env":    true,  // .nimbusignore
		"x/y.bak":       true,  // --exclude
		"sub/cache":     true,  // --exclude anchored by its slash
		"other/cache":   false, //
		"main.go":       false,
		".gitignore":    false, // ignore files themselves are copied
		".nimbusignore": false,
	} {
		if got := m.Match(path, path == "dist" || strings.HasSuffix(path, "cache")); got != want {
			t.Errorf("Match(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestVCSAndSwitches(t *testing.T) {
	fs := files{".gitignore": "*.log\n", ".nimbusignore": "*.env\n"}
	m, err := ignore.New(ignore.Options{}, fs.read)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".git", "sub/.git", ".git/config"} {
		if !m.Match(p, p != ".git/config") {
			t.Errorf("%s not excluded", p)
		}
	}
	if m.Match(".github", true) || m.Match(".gitmodules", false) {
		t.Error(".github or .gitmodules excluded")
	}

	m, err = ignore.New(ignore.Options{IncludeVCS: true, NoGitIgnore: true, NoIgnoreFile: true}, fs.read)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".git", "a.log", "a.env"} {
		if m.Match(p, false) {
			t.Errorf("%s excluded with everything turned off", p)
		}
	}
	if len(m.Files()) != 0 {
		t.Errorf("files read: %v", m.Files())
	}

	// A nil ReadFunc means no files, only --exclude.
	m, err = ignore.New(ignore.Options{Excludes: []string{"*.o"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Match("x.o", false) || m.Match("x.c", false) {
		t.Error("--exclude without files")
	}
}

func TestReadErrors(t *testing.T) {
	_, err := ignore.New(ignore.Options{}, files{".nimbusignore": "ERR:permission denied"}.read)
	var ie *ignore.Error
	if !errors.As(err, &ie) || ie.Path != ".nimbusignore" || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("err = %v", err)
	}
	m, err := ignore.New(ignore.Options{}, files{"a/.gitignore": strings.Repeat("x", ignore.MaxFileSize+1)}.read)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Enter("a"); err == nil || !strings.Contains(err.Error(), "a/.gitignore") {
		t.Fatalf("oversized file: %v", err)
	}
}

func FuzzParseLines(f *testing.F) {
	f.Add([]byte(rootGitignore), "a/b/c")
	f.Add([]byte(subGitignore), "sub/x.txt")
	f.Add([]byte("**\n!**/\n[\n\\\n/\n//\n"), "x")
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		ps := ignore.ParseLines(data, []string{"d"})
		for _, p := range ps {
			p.Match(strings.Split("d/"+path, "/"), false)
			p.Match(strings.Split("d/"+path, "/"), true)
		}
	})
}
