package cmd_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
)

// TestExamplesParse runs every example line of every command's help
// through the command's own parser: the words after the command path must
// be flags the command has, with values where they take one, and the
// arguments must satisfy its argument rules and flag groups. A renamed or
// removed flag, or arguments in the wrong order, leave an example that
// fails when pasted; TestEveryCommandHasExamples only checks that an
// example names its command. The command lines of the long help are held
// to the same, and the commands its prose quotes to naming commands and
// flags that exist.
func TestExamplesParse(t *testing.T) {
	root := cmd.NewRootCmd(cmdutil.New())
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if cobraOwn(c) {
			return
		}
		for _, line := range strings.Split(c.Example, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			for _, problem := range append(checkCommandLine(line), elisions(line)...) {
				t.Errorf("%s: example %q: %s", c.CommandPath(), line, problem)
			}
		}
		lines, quoted := longCommandLines(c.Long)
		for _, line := range lines {
			for _, problem := range append(checkCommandLine(line), elisions(line)...) {
				t.Errorf("%s: long help, command line %q: %s", c.CommandPath(), line, problem)
			}
		}
		for _, ref := range quoted {
			if p := flagProblem(strings.Fields(ref)[1:]); p != "" {
				t.Errorf("%s: long help quotes %q: %s", c.CommandPath(), ref, p)
			}
		}
	}
	walk(root)
}

// elisions says which words of the nimbus commands in a shell line are
// elided values ("--pin 3f1c…", "CLOUDFLARE_API_TOKEN=..."): they parse,
// but pasted they are sent as they are, and the command fails (a
// malformed digest, a token that is three dots). An example shows a real
// value, or one the shell fills in ("$TOKEN", "$(cat FILE)"), or says in
// a comment what to export first.
func elisions(line string) []string {
	var problems []string
	for _, words := range shellCommands(line) {
		if nimbusArgs(words) == nil {
			continue
		}
		for _, w := range words {
			if strings.Contains(w, "…") || strings.Contains(w, "...") {
				problems = append(problems, strconv.Quote(w)+" is elided: pasted, it is sent as it is; write a real value or $VAR")
			}
		}
	}
	return problems
}

// quotedCommand matches a command the prose of a help quotes, such as
// 'nimbus sandbox runtimes install job-123 python@3.12'.
var quotedCommand = regexp.MustCompile(`'(nimbus [^']*)'`)

// longCommandLines returns the command lines a long help shows (indented
// lines that run nimbus, continuation lines, a trailing backslash,
// joined) and the commands its prose quotes. A quoted command points at
// a command rather than showing a whole line ('nimbus sandbox exec',
// 'nimbus session attach ID'): TestExamplesParse holds it only to naming
// commands and flags that exist.
func longCommandLines(long string) (lines, quoted []string) {
	for _, m := range quotedCommand.FindAllStringSubmatch(strings.Join(strings.Fields(long), " "), -1) {
		quoted = append(quoted, m[1])
	}
	var out []string
	pending := ""
	for _, l := range strings.Split(long, "\n") {
		indented := strings.HasPrefix(l, "  ") || strings.HasPrefix(l, "\t")
		trimmed := strings.TrimSpace(l)
		if pending == "" && (!indented || !runsNimbus.MatchString(trimmed)) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			pending += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		out = append(out, strings.TrimSpace(pending+trimmed))
		pending = ""
	}
	return out, quoted
}

// runsNimbus matches a shell line that runs nimbus: as its command, after
// variable assignments, or in a $(…) substitution.
var runsNimbus = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*=\S*\s+)*nimbus\s|\$\(nimbus\s`)

// TestDocCommandLinesParse holds the shell blocks of the README and the
// guides to the same check: every nimbus command line in a ```sh block
// must parse as the command tree says. The command reference is left
// out: it is generated from the help, which TestExamplesParse checks.
func TestDocCommandLinesParse(t *testing.T) {
	files, _ := filepath.Glob("../docs/*.md")
	files = append(files, "../README.md", "../CONTRIBUTING.md")
	checked := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range shellBlockLines(string(data)) {
			if strings.HasPrefix(l.text, "#") {
				continue
			}
			problems := checkCommandLine(l.text)
			if strings.Contains(l.text, "nimbus ") {
				checked++
			}
			for _, problem := range problems {
				t.Errorf("%s:%d: %q: %s", file, l.line, l.text, problem)
			}
		}
	}
	t.Logf("%d command lines checked", checked)
	if checked < 50 {
		t.Errorf("checked only %d command lines in the docs; is the block scan broken?", checked)
	}
}

type docLine struct {
	line int
	text string
}

// yamlRun matches a workflow step's one-line `run:` command.
var yamlRun = regexp.MustCompile(`^-?\s*run:\s*(\S.*)$`)

// shellBlockLines returns the lines of the ```sh and ```bash blocks of a
// Markdown document, continuation lines (a trailing backslash) joined,
// each with the number of its first line, and the one-line `run:`
// commands of its ```yaml blocks (workflow steps).
func shellBlockLines(doc string) []docLine {
	var out []docLine
	in, yaml := false, false
	pending, start := "", 0
	for i, l := range strings.Split(doc, "\n") {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "```") {
			in = trimmed == "```sh" || trimmed == "```bash" || trimmed == "```shell"
			yaml = trimmed == "```yaml"
			pending = ""
			continue
		}
		if yaml {
			if m := yamlRun.FindStringSubmatch(trimmed); m != nil && !strings.HasPrefix(m[1], "|") {
				out = append(out, docLine{i + 1, m[1]})
			}
			continue
		}
		if !in {
			continue
		}
		if pending == "" {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, "\\") {
			pending += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		out = append(out, docLine{start, strings.TrimSpace(pending + trimmed)})
		pending = ""
	}
	return out
}

// synopsis matches a usage synopsis rather than a command line: optional
// parts in brackets, alternatives, or upper-case placeholders as the
// only arguments (`nimbus token verify [TOKEN|-]`).
var synopsis = regexp.MustCompile(`\[-|\[[A-Z]+[|\]]|\]\.\.\.`)

// checkCommandLine parses every nimbus command in a shell line (pipes,
// lists, $(…) substitutions and trap strings included) with a fresh
// command tree, and returns what is wrong with each.
func checkCommandLine(line string) []string {
	if synopsis.MatchString(line) {
		return nil
	}
	var problems []string
	for _, words := range shellCommands(line) {
		args := nimbusArgs(words)
		if args == nil {
			continue
		}
		if p := parseProblem(args); p != "" {
			problems = append(problems, "nimbus "+strings.Join(args, " ")+": "+p)
		}
	}
	return problems
}

// nimbusArgs returns the arguments of a nimbus invocation in a simple
// command: its first word after variable assignments, or the command
// after "--" of a wrapper (`claude mcp add nimbus -- nimbus mcp`).
func nimbusArgs(words []string) []string {
	for len(words) > 0 && regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`).MatchString(words[0]) {
		words = words[1:]
	}
	if len(words) > 0 && words[0] == "nimbus" {
		return append([]string{}, words[1:]...)
	}
	for i := 0; i+1 < len(words); i++ {
		if words[i] == "--" && words[i+1] == "nimbus" {
			return append([]string{}, words[i+2:]...)
		}
	}
	return nil
}

// flagProblem says what fails when args, a command named in prose, are
// looked up: a command or a flag that does not exist, or a flag without
// its value. Arguments are not checked: prose may leave them out; but a
// command group takes none, so a word after one is a command it lacks.
func flagProblem(args []string) string {
	root := cmd.NewRootCmd(cmdutil.New())
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	root.InitDefaultVersionFlag()
	c, rest, err := root.Find(args)
	if err != nil {
		return err.Error()
	}
	if err := c.ParseFlags(rest); err != nil {
		return err.Error()
	}
	if help, _ := c.Flags().GetBool("help"); !help {
		return unknownSubcommand(c)
	}
	return ""
}

// unknownSubcommand says that the words after a command group, parsed,
// name no command of it, or "". cobra's Find reports an unknown word only
// after the root: 'nimbus session atach ID' finds the session group with
// "atach" for an argument, which the group (cmdutil.MakeGroup) accepts
// and refuses only when run. A command with subcommands takes no
// arguments of its own.
func unknownSubcommand(c *cobra.Command) string {
	if !c.HasSubCommands() || c.Flags().NArg() == 0 {
		return ""
	}
	return "unknown command " + strconv.Quote(c.Flags().Arg(0)) + " for " + strconv.Quote(c.CommandPath())
}

// parseProblem parses args as the binary would (cobra's own flag and
// argument checks, without running the command) and says what fails.
func parseProblem(args []string) string {
	root := cmd.NewRootCmd(cmdutil.New())
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	c, rest, err := root.Find(args)
	if err != nil {
		return err.Error()
	}
	if c == root {
		return "names no command"
	}
	if err := c.ParseFlags(rest); err != nil {
		return err.Error()
	}
	if help, _ := c.Flags().GetBool("help"); help {
		return ""
	}
	if p := unknownSubcommand(c); p != "" {
		return p
	}
	if c.HasSubCommands() && !c.Runnable() {
		return "names a command group, not a command"
	}
	if err := c.ValidateArgs(c.Flags().Args()); err != nil {
		return err.Error()
	}
	if err := c.ValidateRequiredFlags(); err != nil {
		return err.Error()
	}
	if err := c.ValidateFlagGroups(); err != nil {
		return err.Error()
	}
	return ""
}

// shellCommands splits a shell line into its simple commands' words, as
// far as documentation needs: quotes, backslash escapes, comments,
// redirections, the operators | || && ; & and $(…) (whose commands are
// returned too, the substitution itself becoming one placeholder word),
// and trap's command string.
func shellCommands(line string) [][]string {
	var cmds [][]string
	var words []string
	var word strings.Builder
	inWord := false
	flushWord := func() {
		if inWord {
			words = append(words, word.String())
		}
		word.Reset()
		inWord = false
	}
	flushCmd := func() {
		flushWord()
		if len(words) > 0 {
			if words[0] == "trap" && len(words) > 1 {
				cmds = append(cmds, shellCommands(words[1])...)
			}
			cmds = append(cmds, words)
		}
		words = nil
	}
	// substitution returns the end of the $( … ) starting at i (the
	// index of '$'), counting nested parentheses outside quotes.
	substitution := func(i int) int {
		depth, quote := 0, byte(0)
		for j := i + 1; j < len(line); j++ {
			ch := line[j]
			switch {
			case quote != 0:
				if ch == quote {
					quote = 0
				}
			case ch == '\'' || ch == '"':
				quote = ch
			case ch == '(':
				depth++
			case ch == ')':
				depth--
				if depth == 0 {
					return j
				}
			}
		}
		return len(line) - 1
	}
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == '\\' && i+1 < len(line):
			i++
			word.WriteByte(line[i])
			inWord = true
		case ch == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				end = len(line) - i - 1
			}
			word.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case ch == '"':
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' && j+1 < len(line) {
					j++
					word.WriteByte(line[j])
					continue
				}
				if line[j] == '$' && j+1 < len(line) && line[j+1] == '(' {
					end := substitution(j)
					cmds = append(cmds, shellCommands(line[j+2:end])...)
					word.WriteString("SUBST")
					j = end
					continue
				}
				word.WriteByte(line[j])
			}
			i = j
			inWord = true
		case ch == '$' && i+1 < len(line) && line[i+1] == '(':
			end := substitution(i)
			cmds = append(cmds, shellCommands(line[i+2:end])...)
			word.WriteString("SUBST")
			i = end
			inWord = true
		case ch == '#' && !inWord:
			flushCmd()
			return cmds
		case ch == ' ' || ch == '\t':
			flushWord()
		case ch == '|' || ch == ';' || ch == '&':
			flushCmd()
			if i+1 < len(line) && (line[i+1] == ch) {
				i++
			}
		case ch == '>' || ch == '<':
			// A redirection: drop it and its target.
			flushWord()
			for i+1 < len(line) && (line[i+1] == '>' || line[i+1] == '&') {
				i++
			}
			for i+1 < len(line) && line[i+1] == ' ' {
				i++
			}
			for i+1 < len(line) && !strings.ContainsRune(" |;&", rune(line[i+1])) {
				i++
			}
		default:
			word.WriteByte(ch)
			inWord = true
		}
	}
	flushCmd()
	return cmds
}

// TestShellCommands pins the splitter the two checks above rely on.
func TestShellCommands(t *testing.T) {
	for line, want := range map[string]string{
		`nimbus a --x 'y z' | jq -r .a`:                         `[nimbus a --x y z] [jq -r .a]`,
		`export T=$(nimbus dev token --ttl 15m) X=1`:            `[nimbus dev token --ttl 15m] [export T=SUBST X=1]`,
		`trap 'nimbus sandbox destroy --ledger' EXIT; nimbus r`: `[nimbus sandbox destroy --ledger] [trap nimbus sandbox destroy --ledger EXIT] [nimbus r]`,
		`nimbus files read a b > lcov.info # a comment`:         `[nimbus files read a b]`,
		`nimbus x "job-$(nimbus y)" && echo "ok"`:               `[nimbus y] [nimbus x job-SUBST] [echo ok]`,
		`nimbus apps expose j owner:auto:/h:npm\ start`:         `[nimbus apps expose j owner:auto:/h:npm start]`,
	} {
		var got []string
		for _, c := range shellCommands(line) {
			got = append(got, "["+strings.Join(c, " ")+"]")
		}
		if g := strings.Join(got, " "); g != want {
			t.Errorf("shellCommands(%q) = %s, want %s", line, g, want)
		}
	}
}

// TestCommandLineCheckRefusesUnknownSubcommands: a misspelled command
// below the root, in an example or quoted in prose, is a problem. The
// groups accept any words (cmdutil.MakeGroup refuses them when run), so
// 'nimbus session atach ID' and 'nimbus sandbox atach job-123 1' passed.
func TestCommandLineCheckRefusesUnknownSubcommands(t *testing.T) {
	for _, line := range []string{"nimbus session atach ID", "nimbus sandbox atach job-123 1", "nimbus sandbox ports lst job-123"} {
		if len(checkCommandLine(line)) == 0 {
			t.Errorf("checkCommandLine(%q) found nothing wrong", line)
		}
		if flagProblem(strings.Fields(line)[1:]) == "" {
			t.Errorf("flagProblem(%q) found nothing wrong", line)
		}
	}
	for _, line := range []string{"nimbus session attach ID", "nimbus sandbox ports list job-123", "nimbus sandbox exec job-123 -- true"} {
		if p := checkCommandLine(line); len(p) != 0 {
			t.Errorf("checkCommandLine(%q): %v", line, p)
		}
		if p := flagProblem(strings.Fields(line)[1:]); p != "" {
			t.Errorf("flagProblem(%q): %s", line, p)
		}
	}
}
