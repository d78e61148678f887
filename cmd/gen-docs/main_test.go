package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/docgen"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
)

// commands lists the man page names of the commands cobra documents:
// available ones (not hidden, deprecated or help), as "nimbus-a-b".
func commands(t *testing.T) []string {
	var names []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		names = append(names, strings.ReplaceAll(c.CommandPath(), " ", "-"))
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() && !sub.IsAdditionalHelpTopicCommand() {
				walk(sub)
			}
		}
	}
	root := cmd.NewRootCmd(cmdutil.New())
	walk(root)
	if len(names) < 10 {
		t.Fatalf("only %d commands: %v", len(names), names)
	}
	return names
}

func TestReleaseDocs(t *testing.T) {
	dir := t.TempDir()
	man, comp := filepath.Join(dir, "man"), filepath.Join(dir, "completions")
	args := []string{"-man", man, "-completions", comp, "-version", "0.1.0", "-date", "2026-11-29T12:00:00Z"}
	if err := run(args, io.Discard); err != nil {
		t.Fatal(err)
	}

	// One page per command, each with the release's version and month.
	pages, _ := filepath.Glob(filepath.Join(man, "*.1"))
	want := commands(t)
	if len(pages) != len(want) {
		t.Fatalf("%d man pages for %d commands: %v", len(pages), len(want), pages)
	}
	for _, name := range want {
		b, err := os.ReadFile(filepath.Join(man, name+".1"))
		if err != nil {
			t.Fatalf("no page for %s: %v", name, err)
		}
		if !bytes.Contains(b, []byte(`.TH "NIMBUS" "1" "Nov 2026" "nimbus 0.1.0" "Nimbus Manual"`)) {
			t.Fatalf("%s.1 header: %s", name, bytes.SplitN(b, []byte("\n.SH"), 2)[0])
		}
		if bytes.Contains(b, []byte("Auto generated")) {
			t.Fatalf("%s.1 carries cobra's generation stamp", name)
		}
	}

	// The completion scripts are those `nimbus completion SHELL` prints.
	for shell, file := range docgen.CompletionFiles {
		got, err := os.ReadFile(filepath.Join(comp, file))
		if err != nil {
			t.Fatal(err)
		}
		f := cmdutil.New()
		ios, _, out, errOut := iostreams.Test()
		f.IOStreams = ios
		if code := cmd.Run(context.Background(), f, []string{"completion", shell}); code != 0 {
			t.Fatalf("nimbus completion %s: exit %d: %s", shell, code, errOut)
		}
		if !bytes.Equal(got, out.Bytes()) {
			t.Errorf("%s differs from `nimbus completion %s`", file, shell)
		}
	}
	if bash, err := exec.LookPath("bash"); err == nil && runtime.GOOS != "windows" {
		if out, err := exec.Command(bash, "-n", filepath.Join(comp, "nimbus.bash")).CombinedOutput(); err != nil {
			t.Fatalf("bash -n nimbus.bash: %v\n%s", err, out)
		}
	}

	// Same inputs, same bytes: the archives are reproducible.
	again := filepath.Join(t.TempDir(), "man")
	if err := run([]string{"-man", again, "-version", "0.1.0", "-date", "2026-11-29T12:00:00Z"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(again, filepath.Base(p)))
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s differs between two runs", filepath.Base(p))
		}
	}
}

func TestArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "nothing to do"},
		{[]string{"-man", t.TempDir(), "extra"}, `unexpected argument "extra"`},
		{[]string{"-man", t.TempDir(), "-date", "29 Nov 2026"}, "-date: want RFC 3339"},
		{[]string{"-bogus"}, "flag provided but not defined: -bogus"},
	} {
		err := run(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestManDate(t *testing.T) {
	for _, tc := range []struct {
		flag, epoch string
		want        time.Time
		bad         bool
	}{
		{"2026-11-29T12:00:00Z", "1", time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), false},
		{"", "1764417600", time.Unix(1764417600, 0), false},
		{"0001-01-01T00:00:00Z", "1764417600", time.Unix(1764417600, 0), false},
		{"0001-01-01T00:00:00Z", "", time.Time{}, false},
		{"", "", time.Time{}, false},
		{"", "yesterday", time.Time{}, true},
		{"2026-11-29", "", time.Time{}, true},
	} {
		got, err := manDate(tc.flag, tc.epoch)
		if (err != nil) != tc.bad || !got.Equal(tc.want) {
			t.Errorf("manDate(%q, %q) = %v, %v", tc.flag, tc.epoch, got, err)
		}
	}
}
