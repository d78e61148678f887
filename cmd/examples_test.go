package cmd_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
)

// TestEveryCommandHasExamples walks the whole command tree, so a command
// added later is held to it too: every command that runs something (a
// leaf; cobra's own help and completion aside) and every group of
// commands (the root included: its help is where people start, and gh
// shows examples for its groups too) has an Example, each example line
// runs the command's own path (a group's: one of its commands), and has
// Short help.
func TestEveryCommandHasExamples(t *testing.T) {
	root := cmd.NewRootCmd(cmdutil.New())
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var walk func(c *cobra.Command)
	leaves, groups := 0, 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.Runnable() || c.Hidden || cobraOwn(c) {
			return
		}
		if c.HasSubCommands() {
			groups++
		} else {
			leaves++
		}
		path := c.CommandPath()
		if c.Short == "" {
			t.Errorf("%s has no Short help", path)
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no Example", path)
			return
		}
		runs := false
		for _, line := range strings.Split(c.Example, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			switch {
			case strings.Contains(line, path):
				runs = true
			case c.HasSubCommands() && strings.Contains(line, "nimbus "):
				// A group's walk-through may set the scene with
				// another command (start a server, then expose it).
			default:
				t.Errorf("%s: example %q does not run %s", path, line, path)
			}
		}
		if !runs {
			t.Errorf("%s: no example runs %s", path, path)
		}
	}
	walk(root)
	if leaves < 30 {
		t.Errorf("found only %d runnable commands; is the walk broken?", leaves)
	}
	if groups < 10 {
		t.Errorf("found only %d command groups; is the walk broken?", groups)
	}
}

// cobraOwn reports cobra's generated help and completion commands.
func cobraOwn(c *cobra.Command) bool {
	for p := c; p != nil; p = p.Parent() {
		if p.Name() == "completion" || p.Name() == "help" || p.Name() == cobra.ShellCompRequestCmd || p.Name() == cobra.ShellCompNoDescRequestCmd {
			return p.Parent() != nil && p.Parent().Parent() == nil
		}
	}
	return false
}

// TestHelpFitsEightyColumns holds every command's long help (cobra's own
// commands aside) to lines of at most 80 columns: a longer line wraps in
// the middle of a word on an 80-column terminal, and the help is read
// there first.
func TestHelpFitsEightyColumns(t *testing.T) {
	root := cmd.NewRootCmd(cmdutil.New())
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if cobraOwn(c) {
			return
		}
		for _, line := range strings.Split(c.Long, "\n") {
			if n := utf8.RuneCountInString(line); n > 80 {
				t.Errorf("%s: long help line of %d columns: %q", c.CommandPath(), n, line)
			}
		}
	}
	walk(root)
}
