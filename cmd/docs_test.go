package cmd_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/config"
	"github.com/nimbus-sh/nimbus/internal/docgen"
	"github.com/nimbus-sh/nimbus/pkg/scaffold"
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

// TestSetupStepsInDocs holds the README and the guides to the one source
// of the setup steps, scaffold.NextSteps (what init prints and the
// generated README shows): each shows them, in order, right after
// "nimbus init my-worker", and none shows a placeholder a shell would
// misread.
func TestSetupStepsInDocs(t *testing.T) {
	want := append([]string{"nimbus init my-worker"}, scaffold.NextSteps(scaffold.NextStepsOptions{
		Dir: "/w/my-worker", Cwd: "/w", WorkerName: "my-worker"})...)
	for _, file := range []string{"../README.md", "../docs/setup.md", "../docs/init.md"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		start := -1
		for i, l := range lines {
			if strings.TrimSpace(l) == want[0] {
				start = i
				break
			}
		}
		if start < 0 {
			t.Errorf("%s does not show %q", file, want[0])
			continue
		}
		for i, step := range want {
			got := ""
			if start+i < len(lines) {
				got, _, _ = strings.Cut(lines[start+i], " #") // a comment may follow
				got = strings.TrimSpace(got)
			}
			if got != step {
				t.Errorf("%s line %d: %q, the setup steps say %q", file, start+i+1, got, step)
			}
		}
	}
	for _, file := range []string{"../README.md", "../docs/setup.md", "../docs/init.md", "../docs/tokens.md", "../docs/sandbox.md", "../docs/files.md"} {
		data, _ := os.ReadFile(file)
		if strings.Contains(string(data), "<account-id>") {
			t.Errorf("%s shows <account-id>, which a shell reads as a redirect", file)
		}
	}
}

// TestConfigKeysDocumented: docs/files.md lists every config key with its
// environment variable.
func TestConfigKeysDocumented(t *testing.T) {
	data, err := os.ReadFile("../docs/files.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range config.Keys {
		if !strings.Contains(string(data), "| `"+k.Name+"` | `"+k.Env+"` |") {
			t.Errorf("docs/files.md does not list the key %s (%s)", k.Name, k.Env)
		}
	}
}

// TestTopLevelNames: the names Run uses to build only the named command's
// subtree are those commands' names, and the full tree has no other
// top-level command (cobra's help and completion aside).
func TestTopLevelNames(t *testing.T) {
	root := cmd.NewRootCmd(cmdutil.New())
	var names []string
	for _, c := range root.Commands() {
		if c.Name() != "help" && c.Name() != "completion" {
			names = append(names, c.Name())
		}
	}
	want := cmd.TopLevelNames()
	slices.Sort(names)
	slices.Sort(want)
	if got, want := strings.Join(names, " "), strings.Join(want, " "); got != want {
		t.Errorf("command tree %q, top-level table %q", got, want)
	}
}
