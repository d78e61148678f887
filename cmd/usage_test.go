package cmd_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
)

// useWord is one word of a Use line with where it stands: inside how many
// brackets (optional parts), and in which top-level (a | b) group of
// alternatives, 0 for none.
type useWord struct {
	text     string
	brackets int
	group    int
}

// parseUse splits a Use line after the command's name into words, with
// their brackets and groups. "--ledger[=FILE]" is the word "--ledger"
// followed by an optional "=FILE".
func parseUse(use string) []useWord {
	_, rest, _ := strings.Cut(use, " ")
	var words []useWord
	var cur strings.Builder
	brackets, parens, group, groups := 0, 0, 0, 0
	flush := func() {
		if cur.Len() > 0 {
			g := 0
			if parens > 0 {
				g = group
			}
			words = append(words, useWord{cur.String(), brackets, g})
			cur.Reset()
		}
	}
	for _, r := range rest {
		switch r {
		case ' ', '\t':
			flush()
		case '[':
			flush()
			brackets++
		case ']':
			flush()
			brackets--
		case '(':
			flush()
			parens++
			if parens == 1 && brackets == 0 {
				groups++
				group = groups
			}
		case ')':
			flush()
			parens--
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return words
}

// useFlag returns the flag a Use word names ("--name", "-r"), or nil.
func useFlag(c *cobra.Command, word string) *pflag.Flag {
	if word == "-" || word == "--" || !strings.HasPrefix(word, "-") {
		return nil
	}
	name, _, _ := strings.Cut(word, "=")
	if strings.HasPrefix(name, "--") {
		return c.Flags().Lookup(name[2:])
	}
	if len(name) == 2 {
		return c.Flags().ShorthandLookup(name[1:])
	}
	return nil
}

// isFlagWord says whether a Use word is written as a flag: "-" (stdin)
// and "--" (the end of the flags) are not.
func isFlagWord(word string) bool {
	return strings.HasPrefix(word, "-") && word != "-" && word != "--"
}

// inheritedFlag returns the flag a Use word names among those the command
// inherits from its parents (--json), or nil.
func inheritedFlag(c *cobra.Command, word string) *pflag.Flag {
	name, _, _ := strings.Cut(word, "=")
	if strings.HasPrefix(name, "--") {
		return c.InheritedFlags().Lookup(name[2:])
	}
	if len(name) == 2 {
		return c.InheritedFlags().ShorthandLookup(name[1:])
	}
	return nil
}

// envName matches an environment variable named in a flag's help, the way
// help names a fallback: "Worker URL (NIMBUS_ENDPOINT)".
var envName = regexp.MustCompile(`\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b`)

// fallback says what a flag's help offers in its place when it is left out
// (a default, an environment variable), or "".
func fallback(fl *pflag.Flag) string {
	switch fl.DefValue {
	case "", "0", "false", "[]", "0s":
	default:
		return "default " + fl.DefValue
	}
	if strings.Contains(fl.Usage, "default") {
		return "help says: " + fl.Usage
	}
	if env := envName.FindString(fl.Usage); env != "" {
		return "falls back to " + env
	}
	return ""
}

// placeholder is a value for an argument placeholder of a Use line that
// gets past the argument checks, so what is refused is the missing flag.
func placeholder(word string) string {
	switch strings.TrimSuffix(word, "...") {
	case "ID":
		return "demo"
	case "PID":
		return "1"
	case "PORT":
		return "8080"
	case "COMMAND":
		return "true"
	}
	return "x"
}

// TestUsageLinesMarkRequiredFlags holds every command's Use line to what
// its flags do: a flag shown outside brackets must be required, so it
// offers no default or environment fallback in its help, and the command
// run without it (everything else the Use line requires given, in an empty
// directory and environment) is refused as a usage error naming it; a
// top-level (a | b) group of alternatives with a flag in it is refused the
// same way when none is given. The other way round, a flag whose help
// says it is required, or that cobra holds required, is not in brackets.
// Every flag the line shows, in brackets and alternatives too, must be one
// the command has: a renamed flag left in "[--reason TEXT]" went unseen.
// `setup cloudflare --name WORKER` and `session url --endpoint URL` read
// as required while both fell back to wrangler.jsonc and NIMBUS_ENDPOINT.
func TestUsageLinesMarkRequiredFlags(t *testing.T) {
	root := cmd.NewRootCmd(cmdutil.New())
	dir := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CONFIG_HOME=" + filepath.Join(dir, ".config")}
	checked := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.Runnable() || c.Hidden || cobraOwn(c) || c == root {
			return
		}
		words := parseUse(c.Use)
		// What the Use line requires besides the flag under test:
		// argument placeholders and the values of required flags.
		var base []string
		required := map[string]*pflag.Flag{}
		groups := map[int][]string{}
		shown := map[string]int{}
		for i := 0; i < len(words); i++ {
			w := words[i]
			fl := useFlag(c, w.text)
			if fl != nil {
				if b, ok := shown[fl.Name]; !ok || w.brackets < b {
					shown[fl.Name] = w.brackets
				}
			} else if isFlagWord(w.text) && inheritedFlag(c, w.text) == nil {
				// Optional parts and alternatives too: a renamed flag
				// left in "[--reason TEXT]" is as wrong as a required one.
				t.Errorf("%s: Use %q shows %s, which is no flag of the command", c.CommandPath(), c.Use, w.text)
			}
			if w.brackets > 0 {
				continue
			}
			if w.group > 0 {
				groups[w.group] = append(groups[w.group], w.text)
				continue
			}
			switch {
			case w.text == "|", w.text == "...": // "[--scopes a,b]..." repeats the optional part
			case w.text == "--":
				base = append(base, "--")
			case isFlagWord(w.text) && fl == nil:
				// Said above when it is no flag at all; an inherited
				// flag is not the command's to require.
			case fl != nil:
				required[w.text] = fl
				if fl.Value.Type() != "bool" && i+1 < len(words) && words[i+1].brackets == 0 && words[i+1].group == 0 &&
					!strings.HasPrefix(words[i+1].text, "-") {
					i++ // its value placeholder
				}
			default:
				base = append(base, placeholder(w.text))
			}
		}
		path := strings.Fields(c.CommandPath())[1:]
		run := func(leaveOut string) (int, string) {
			args := append([]string{}, path...)
			var flags []string
			for word, fl := range required {
				if word == leaveOut {
					continue
				}
				flags = append(flags, word)
				if fl.Value.Type() != "bool" {
					flags = append(flags, "x")
				}
			}
			// Flags before the arguments: after "--" they would be
			// the command's words.
			args = append(append(args, flags...), base...)
			return runNimbus(t, dir, env, args...)
		}
		for word, fl := range required {
			checked++
			if fb := fallback(fl); fb != "" {
				t.Errorf("%s: Use %q shows %s as required, but it has a fallback (%s): put it in brackets", c.CommandPath(), c.Use, word, fb)
			}
			code, stderr := run(word)
			if (code != 64 && code != 125) || !strings.Contains(stderr, "--"+fl.Name) {
				t.Errorf("%s: Use %q shows %s as required, but without it the command exits %d with %q, not a usage error naming it", c.CommandPath(), c.Use, word, code, stderr)
			}
		}
		for _, alts := range groups {
			hasFlag := false
			for _, a := range alts {
				hasFlag = hasFlag || useFlag(c, a) != nil
			}
			if !hasFlag {
				continue
			}
			checked++
			code, stderr := run("")
			named := false
			for _, a := range alts {
				name, _, _ := strings.Cut(strings.TrimSuffix(a, "..."), "=")
				named = named || (a != "|" && a != "-" && strings.Contains(stderr, name))
			}
			if (code != 64 && code != 125) || !named {
				t.Errorf("%s: Use %q shows (%s) as required, but without any of them the command exits %d with %q, not a usage error naming one", c.CommandPath(), c.Use, strings.Join(alts, " "), code, stderr)
			}
		}
		c.LocalFlags().VisitAll(func(fl *pflag.Flag) {
			_, cobraRequired := fl.Annotations[cobra.BashCompOneRequiredFlag]
			if !cobraRequired && !strings.Contains(fl.Usage, ", required)") {
				return
			}
			if b, ok := shown[fl.Name]; !ok || b > 0 {
				t.Errorf("%s: --%s is required, but Use %q does not show it outside brackets", c.CommandPath(), fl.Name, c.Use)
			}
		})
	}
	walk(root)
	// token mint --tenant, sandbox destroy (ID | --ledger), sandbox
	// run-code (CODE | --file F | -) at least.
	if checked < 3 {
		t.Errorf("checked only %d required flags and groups; is the Use parse broken?", checked)
	}
}
