// Command gen-docs writes nimbus's Markdown reference, man pages and shell
// completions from the command tree (internal/docgen). It is a separate
// program so the nimbus binary carries no documentation generator.
//
//	go run ./cmd/gen-docs -markdown docs/reference
//	go run ./cmd/gen-docs -man build/man -completions build/completions -version 0.1.0 -date 2026-12-01T10:00:00Z
//
// The release's before-hook (.goreleaser.yaml) runs the second form with
// the tag's version and the commit's date, so the archives are
// reproducible.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/docgen"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gen-docs:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen-docs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	markdown := fs.String("markdown", "", "write the Markdown reference into `DIR`")
	man := fs.String("man", "", "write man pages into `DIR`")
	completions := fs.String("completions", "", "write bash, zsh, fish and PowerShell completions into `DIR`")
	version := fs.String("version", "", "version shown in the man pages")
	date := fs.String("date", "", "date shown in the man pages, RFC 3339 (default: $SOURCE_DATE_EPOCH, else now)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *markdown == "" && *man == "" && *completions == "" {
		return fmt.Errorf("nothing to do: give -markdown, -man or -completions")
	}
	when, err := manDate(*date, os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return err
	}
	// A fresh tree per generator: each sets flags on the commands it walks.
	root := func() *cobra.Command { return cmd.NewRootCmd(cmdutil.New()) }
	if *markdown != "" {
		if err := docgen.Markdown(root(), *markdown); err != nil {
			return fmt.Errorf("markdown: %w", err)
		}
	}
	if *man != "" {
		if err := docgen.Man(root(), *man, docgen.ManOptions{Version: *version, Date: when}); err != nil {
			return fmt.Errorf("man pages: %w", err)
		}
	}
	if *completions != "" {
		if err := docgen.Completions(root(), *completions); err != nil {
			return fmt.Errorf("completions: %w", err)
		}
	}
	return nil
}

// manDate reads -date (RFC 3339), else SOURCE_DATE_EPOCH (Unix seconds,
// the reproducible-builds convention); neither is the zero time, which
// docgen takes as now. A -date of year 1 counts as none: it is what
// GoReleaser's {{ .CommitDate }} is when it cannot read the commit.
func manDate(flagValue, epoch string) (time.Time, error) {
	if flagValue != "" {
		t, err := time.Parse(time.RFC3339, flagValue)
		if err != nil {
			return time.Time{}, fmt.Errorf("-date: want RFC 3339 (2026-12-01T10:00:00Z), got %q", flagValue)
		}
		if !t.IsZero() {
			return t, nil
		}
	}
	if epoch != "" {
		s, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH: want Unix seconds, got %q", epoch)
		}
		return time.Unix(s, 0), nil
	}
	return time.Time{}, nil
}
