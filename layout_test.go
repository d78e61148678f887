package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestInternalImportsNoPkg holds the layout rule of CONTRIBUTING.md:
// internal/ is the ground floor and imports neither pkg/ nor cmd/; a
// helper that needs pkg/ lives with the commands, in cmd/internal/. And
// pkg/ never imports cmd/.
func TestInternalImportsNoPkg(t *testing.T) {
	const module = "github.com/nimbus-sh/nimbus/"
	rules := map[string][]string{
		"internal": {module + "pkg/", module + "cmd/"},
		"pkg":      {module + "cmd/"},
	}
	checked := 0
	for dir, banned := range rules {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			checked++
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				for _, b := range banned {
					if strings.HasPrefix(p, b) {
						t.Errorf("%s imports %s: %s/ must not import %s", path, p, dir, strings.TrimPrefix(b, module))
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 50 {
		t.Fatalf("only %d files checked: wrong directory?", checked)
	}
}
