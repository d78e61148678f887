// Package docgen writes nimbus's documentation from its cobra command tree:
// the Markdown reference checked in under docs/reference, and the man
// pages and shell completions packed into release archives. It is the one
// generator behind `go generate ./cmd`, the test that keeps
// docs/reference current and the release's before-hook (cmd/gen-docs), so
// the three cannot drift apart. It lives outside the nimbus binary, which
// then pays neither size nor start-up time for it.
package docgen

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// Markdown writes one Markdown page per command into dir, which it creates,
// after removing the pages of commands that no longer exist (every
// "<root>*.md" there). Pages carry no generation date, so regenerating an
// unchanged tree changes nothing.
func Markdown(root *cobra.Command, dir string) error {
	root.DisableAutoGenTag = true
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, root.Name()+"*.md"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	return doc.GenMarkdownTree(root, dir)
}

// ManOptions are the header fields of the man pages.
type ManOptions struct {
	// Version is shown in the footer ("nimbus 0.1.0"); empty shows "nimbus".
	Version string
	// Date is shown as the month of the release. Reproducible builds pass
	// the commit's date; the zero time means now.
	Date time.Time
}

// Man writes one section-1 man page per command into dir, which it
// creates.
func Man(root *cobra.Command, dir string, o ManOptions) error {
	root.DisableAutoGenTag = true
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	date := o.Date
	if date.IsZero() {
		date = time.Now()
	}
	date = date.UTC()
	source := root.Name()
	if o.Version != "" {
		source += " " + o.Version
	}
	return doc.GenManTree(root, &doc.GenManHeader{
		Title:   "NIMBUS",
		Section: "1",
		Date:    &date,
		Source:  source,
		Manual:  "Nimbus Manual",
	}, dir)
}

// CompletionFiles maps each shell to the file Completions writes for it,
// named as the shells look for them (zsh autoloads _nimbus from $fpath).
var CompletionFiles = map[string]string{
	"bash":       "nimbus.bash",
	"zsh":        "_nimbus",
	"fish":       "nimbus.fish",
	"powershell": "nimbus.ps1",
}

// Completions writes the bash, zsh, fish and PowerShell completion scripts
// into dir, which it creates: the same scripts `nimbus completion SHELL`
// prints, with descriptions.
func Completions(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for shell, name := range CompletionFiles {
		var b bytes.Buffer
		var err error
		switch shell {
		case "bash":
			err = root.GenBashCompletionV2(&b, true)
		case "zsh":
			err = root.GenZshCompletion(&b)
		case "fish":
			err = root.GenFishCompletion(&b, true)
		case "powershell":
			err = root.GenPowerShellCompletionWithDesc(&b)
		default:
			err = fmt.Errorf("no completion generator for %s", shell)
		}
		if err != nil {
			return fmt.Errorf("%s completion: %w", shell, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
