package cmd_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/docgen"
)

// TestCommandReference fails when docs/reference no longer matches the
// command tree: it regenerates the pages with the generator that
// `go generate ./cmd` runs and compares them both ways.
func TestCommandReference(t *testing.T) {
	tmp := t.TempDir()
	if err := docgen.Markdown(cmd.NewRootCmd(cmdutil.New()), tmp); err != nil {
		t.Fatal(err)
	}
	const dir = "../docs/reference"
	generated, _ := filepath.Glob(filepath.Join(tmp, "*.md"))
	if len(generated) == 0 {
		t.Fatal("the generator wrote no pages")
	}
	for _, g := range generated {
		want, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.Base(g))
		got, err := os.ReadFile(path)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s is stale or missing; run: go generate ./cmd", path)
		}
	}
	checked, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	for _, c := range checked {
		if _, err := os.Stat(filepath.Join(tmp, filepath.Base(c))); err != nil {
			t.Errorf("%s documents no command; run: go generate ./cmd", c)
		}
	}
}
