package interactive

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// The oracle: a shell's own parser (sh -n parses without running) says
// whether a text is unfinished, so the scanner is checked against the
// grammar it imitates instead of against what its author believed.

// verdict is what the shells say of a text.
type verdict int

const (
	complete   verdict = iota
	unfinished         // sh would read the next line into it
	erroneous          // a syntax error other than the end: sh -s stops there, so joining the next line or not changes nothing
	ambiguous          // the shells disagree: either answer is one a real sh gives
)

// eofError matches the syntax errors a shell gives when the input ends
// inside a command, in dash's words and in bash's. Every other error means
// the command ended and is wrong, which the remote shell will say.
var eofError = regexp.MustCompile(`end of file unexpected|unexpected end of file|unexpected EOF|Unterminated quoted string|EOF in backquote substitution|Missing '\}'|Missing '\)\)'|delimited by end-of-file`)

type oracle struct{ shells []string }

// newOracle finds the shells to ask: /bin/sh (dash on Debian) and bash
// when there is one. On Linux and the BSDs /bin/sh always exists, so its
// absence is a broken test machine, not a reason to skip.
func newOracle(tb testing.TB) *oracle {
	tb.Helper()
	if runtime.GOOS == "windows" {
		tb.Skip("no POSIX sh on Windows to check the scanner against")
	}
	if _, err := os.Stat("/bin/sh"); err != nil {
		tb.Fatalf("the oracle needs /bin/sh (sh -n parses a text without running it): %v", err)
	}
	o := &oracle{shells: []string{"/bin/sh"}}
	if bash, err := exec.LookPath("bash"); err == nil {
		o.shells = append(o.shells, bash)
	}
	return o
}

// parse runs sh -n on text and reports whether it parsed and whether its
// error was the input ending.
func parse(tb testing.TB, shell, text string) (ok, eof bool) {
	cmd := exec.Command(shell, "-n")
	cmd.Stdin = strings.NewReader(text)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		tb.Fatalf("%s -n: %v", shell, err)
	}
	return err == nil && !eofError.Match(stderr.Bytes()), eofError.Match(stderr.Bytes())
}

// ask says whether shell, reading src and the newline that ends its last
// line, would read on. sh -n catches an open quote, block or trailing
// operator as an end-of-file error. Two kinds of unfinished input parse
// cleanly (dash says nothing of a here-document cut short, and a trailing
// backslash swallows the newline): both swallow the line after them, so a
// probe line "fi", an error wherever a command may start, parses when it is
// taken into the text before it. A trailing backslash after ; or &, taken
// into a command position, reads as finished: tellAll says so.
func (o *oracle) ask(tb testing.TB, shell, src string) (v verdict) {
	ok, eof := parse(tb, shell, src+"\n")
	switch {
	case eof:
		return unfinished
	case !ok:
		return erroneous
	}
	if ok, _ := parse(tb, shell, src+"\nfi\n"); ok {
		return unfinished
	}
	return complete
}

// tell asks every shell; where they disagree the verdict is ambiguous. A
// trailing backslash the probe does not see taken in (after ; or & it
// joins the next line at a command's start, where that line parses the
// same either way) is ambiguous too.
func (o *oracle) tell(tb testing.TB, src string) verdict {
	tb.Helper()
	var v verdict
	for i, sh := range o.shells {
		w := o.ask(tb, sh, src)
		if i > 0 && w != v {
			return ambiguous
		}
		v = w
	}
	if v == complete && strings.HasSuffix(src, `\`) {
		return ambiguous
	}
	return v
}

// oracleCases are texts where a hand-written scanner is easy to get wrong.
// want is what sh says (TestIncompleteOracle checks that too).
var oracleCases = []struct {
	src  string
	want bool
}{
	// double quotes inside $( ) inside double quotes
	{`echo "$(echo ")")"`, false},
	{`echo "$(echo ")"`, true},
	{`echo "$(echo "a b")`, true},
	{`echo "$(echo "a b")"`, false},
	{`x="$(printf '%s' "$(date)")"`, false},
	{`x="$(printf '%s' "$(date)`, true},
	{`echo "$(case x in x) echo ok;; esac)"`, false},
	{`echo $(echo ')')`, false},
	{`echo $(echo \))`, false},
	{`echo $(echo "(")`, false},
	{`echo $(echo # )` + "\n)", false},
	{`echo $(echo # )`, true},
	{`$(#)`, true},
	{"$(#)\n)", false},
	// backticks
	{"echo `echo a`", false},
	{"echo `echo \\`a`", false},
	{"echo \"`echo \"a\"`\"", false},
	{"echo `if true; then", true},
	{"echo `echo '`'", true},
	// arithmetic
	{`echo $((1 + 2))`, false},
	{`echo $(( (1 + 2) * 3 ))`, false},
	{`echo $(( (1 + 2)`, true},
	{`echo $((`, true},
	{`echo $((1)) $(echo)`, false},
	// ${ } with braces and quotes inside
	{`echo ${x#\}}`, false},
	{`echo ${x#'}'}`, false},
	{`echo ${x:-"}"}`, false},
	{`echo "${x:-"}"}"`, false},
	{`echo ${x:-$(echo })}`, false},
	{`echo ${x`, true},
	{`echo ${x:-'`, true},
	{`echo ${x:-"a b"`, true},
	{`echo "${x:-a"`, true},
	{`echo ${#x} ${x%%.*}`, false},
	{`echo ${x:-{}`, false},
	// comments
	{`echo a # it's "fine`, false},
	{`echo a # if then case`, false},
	{`# if`, false},
	{`echo a#b'`, true},
	{"echo a # (\n", false},
	{"if true; then # fi\necho", true},
	// keywords as arguments and words
	{`echo if then fi`, false},
	{`echo case for while do`, false},
	{`echo { ( done`, false},
	{`echo {`, false},
	{`echo }`, false},
	{`x=if`, false},
	{`x=if; if true; then`, true},
	{`iffy`, false},
	{`echo fi; if true; then echo; fi`, false},
	{`echo done; for i in a b; do`, true},
	{`if true; then echo if; fi`, false},
	{`for i in do done; do echo; done`, false},
	{`for i in if; do`, true},
	{`for i; do echo; done`, false},
	{"for i\ndo echo; done", false},
	// case
	{`case x in esac`, false},
	{`case in in in) echo;; esac`, false},
	{`case x in x) echo;;`, true},
	{`case x in (x) echo;; esac`, false},
	{`case x in (x) echo;;`, true},
	{`case x in esac) echo;; esac`, false},
	{`case x in if) echo;; esac`, false},
	{`case x in fi) echo;; esac`, false},
	{`case x in done|fi) echo;; esac`, false},
	{`case x in x) if true; then echo; fi;; esac`, false},
	{`case x in x) if true; then echo; fi;;`, true},
	{`case x in x) echo esac;;`, true},
	{`case x in x) echo;; y) echo;; esac`, false},
	{"case x in\nx)\necho\n;;\nesac", false},
	{`case x in x) echo ;& y) echo;; esac`, false},
	{`case $(echo x) in x) (echo) ;; esac`, false},
	{`case "x" in "x") echo ")" ;; esac`, false},
	{`case x in x) case y in y) echo;; esac;; esac`, false},
	{`case x in x) case y in y) echo;; esac;;`, true},
	{`case x in x) echo;; esac; case`, false},
	{`case x`, true},
	{"case x\nin x) echo;; esac", false},
	// here-documents
	{"cat <<EOF", true},
	{"cat <<'EOF'\n$(\nEOF", false},
	{"cat <<\"EOF\"\n'\nEOF", false},
	{"cat <<E\\OF\nx\nEOF", false},
	{"cat <<'E O'\nx\nE O", false},
	{"cat <<EOF\nEOF ", true},
	{"cat <<EOF\n EOF", true},
	{"cat <<-EOF\n\t\tbody\n\tEOF", false},
	{"cat <<-EOF\n\t\tbody\n EOF", true},
	{"cat <<EOF\n\tEOF", true},
	{"cat <<A <<B\na\nA\nb", true},
	{"cat <<A <<B\na\nA\nb\nB", false},
	{"cat <<A; cat <<B\na\nA\nb\nB", false},
	{"cat <<A; cat <<B\na\nA", true},
	{"cat <<A | if true; then\na\nA\ncat; fi", false},
	{"cat <<A | if true; then\na\nA", true},
	{"cat <<EOF\n$(\nEOF", false},
	{"cat <<EOF\n`\nEOF", false},
	{"cat <<EOF\n'\"\nEOF", false},
	{"cat <<EOF\nx\\\nEOF", true},
	{"cat <<EOF\nx\\\nEOF\nEOF", false},
	{"cat <<EOF # '\nx\nEOF", false},
	{"cat <<EOF; echo '\nx\nEOF", true},
	{"echo $(cat <<EOF\nx\nEOF\n)", false},
	{"echo $(cat <<EOF\nx\nEOF", true},
	{"cat << EOF\nx\nEOF", false},
	{"cat <<EOF\nx\nEOF\nif true; then", true},
	// continuation lines
	{"echo 'a\\\nb'", false},
	{"echo \"a\\\nb\"", false},
	{"echo \"a\\", true},
	{"echo a\\\nb", false},
	{"echo a\\\\", false},
	{"echo \\\\\\", true},
	{"echo a \\", true},
	{"i\\\nf true; then", true},
	{"# C:\\", false},
	{"echo a # C:\\", false},
	{"echo 'a\\'", false},
	{`echo \"`, false},
	{`echo \'`, false},
	{`echo \$(`, false},
	{"echo \\`", false},
	// ;; and ;&, operators
	{`true &&`, true},
	{"true &&\n\n", true},
	{"true &&\n\n# c\n", true},
	{"true &&\n\necho", false},
	{`true ||`, true},
	{`echo a | # comment`, true},
	{"echo a | # comment\n", true},
	{"echo a |\n\ncat", false},
	{`echo a |& cat`, false},
	{`echo a &`, false},
	{`echo a &&&`, false},
	{`! true`, false},
	{`! if true; then`, true},
	{`echo a;`, false},
	{`echo a;;`, false},
	{`;`, false},
	{`echo >&2`, false},
	{`>while while`, false},
	{`>f if true; then`, false},
	{`2>/dev/null { echo`, false},
	{`echo a >`, false},
	{`echo a > |`, false},
	// functions, groups, subshells
	{`f() { echo; }`, false},
	{`f() { echo; `, true},
	{`f()`, true},
	{"f()\n{ echo; }", false},
	{`f() ( echo )`, false},
	{`f() (`, true},
	{`f() if true; then echo; fi`, false},
	{`{ echo; } && { echo; }`, false},
	{`{ echo }`, true},
	{`{ echo; }}`, true},
	{`(echo; (echo)`, true},
	{`( (echo) )`, false},
	{`case $() in while)(*)esac`, false},
	{`case x in x) (:)esac`, false},
	{`if :; then (:)fi`, false},
	{`if :; then if :; then :; fi fi`, false},
	{`{ { :; } }`, false},
	{`while :; do case x in x) esac done`, false},
	{`((echo))`, false},
	{`echo ()`, true},
	{`(`, true},
	{`)`, false},
	{`echo a)`, false},
	{`}`, false},
	{`fi`, false},
	{`if true; then echo; fi fi`, false},
	{`if true; then fi`, false},
	{`while false; do :; done`, false},
	{`until true; do :; done`, false},
	{`while`, true},
	{`if true; then :; elif true; then :; else :; fi`, false},
	{`if true; then :; elif true; then :; else`, true},
	{"if true\nthen\n:\nfi", false},
	{`[ "$x" = "if" ]`, false},
	{`echo $x$(echo)${y}`, false},
	{`a=$(`, true},
	{`a=(`, false},
}

// TestIncompleteOracle: the table above is what sh says, and what the
// scanner says.
func TestIncompleteOracle(t *testing.T) {
	o := newOracle(t)
	for _, c := range oracleCases {
		switch v := o.tell(t, c.src); v {
		case ambiguous:
			t.Logf("the shells disagree on %q; the table keeps %v", c.src, c.want)
		case erroneous:
		default:
			if got := v == unfinished; got != c.want {
				t.Errorf("sh -n says unfinished = %v for %q, the table %v", got, c.src, c.want)
			}
		}
	}
}

// TestIncompleteTricky: the scanner on the table, which needs no shell.
func TestIncompleteTricky(t *testing.T) {
	for _, c := range oracleCases {
		if got := incomplete(c.src); got != c.want {
			t.Errorf("incomplete(%q) = %v, want %v", c.src, got, c.want)
		}
	}
}
