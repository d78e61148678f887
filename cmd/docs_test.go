package cmd_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra/doc"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
)

var update = flag.Bool("update", false, "rewrite golden files (docs/reference)")

// TestCommandReference fails when docs/reference no longer matches the
// command tree. Regenerate with: go generate ./cmd
func TestCommandReference(t *testing.T) {
	root := cmd.NewRootCmd(cmdutil.New())
	root.DisableAutoGenTag = true
	tmp := t.TempDir()
	if err := doc.GenMarkdownTree(root, tmp); err != nil {
		t.Fatal(err)
	}
	const dir = "../docs/reference"
	generated, _ := filepath.Glob(filepath.Join(tmp, "*.md"))
	if *update {
		old, _ := filepath.Glob(filepath.Join(dir, "*.md"))
		for _, f := range old {
			os.Remove(f)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range generated {
		want, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.Base(g))
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s is stale or missing; run: go generate ./cmd", path)
		}
	}
	checked, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	if len(checked) != len(generated) {
		t.Errorf("docs/reference has %d pages, the command tree %d; run: go generate ./cmd", len(checked), len(generated))
	}
}
