package interactive

import (
	"os"
	"strings"
	"testing"
)

// shellTokens is the alphabet FuzzIncomplete writes scripts in: the
// quotes, expansions, operators and reserved words the scanner follows,
// and a few plain words, so that most inputs are near-shell and sh -n has
// something to say about them.
var shellTokens = []string{
	" ", " ", "\n", "\t", "x", "echo", "a", "EOF", "'EOF'", "\"EOF\"", "\\EOF",
	"'", "\"", "`", "\\", "$", "$(", "$((", "${", "}", "{", "(", ")", "))",
	";", ";;", ";&", "&", "&&", "|", "||", "!", "#", "<<", "<<-", ">", "<",
	"if", "then", "else", "elif", "fi", "case", "in", "esac", "for", "do",
	"done", "while", "until", "f()", "#", ":-", "%", "=", "*",
}

// shellText maps fuzz bytes onto shellTokens.
func shellText(data []byte) string {
	var b strings.Builder
	for _, c := range data {
		b.WriteString(shellTokens[int(c)%len(shellTokens)])
	}
	return b.String()
}

// FuzzIncomplete: on any input the scanner returns (no panic, no hang);
// on the shell-like text the input maps to, it says what sh -n says.
// The seeds in testdata/fuzz/FuzzIncomplete include the inputs that showed
// each mismatch fixed so far; go test runs them as a unit test.
func FuzzIncomplete(f *testing.F) {
	for _, c := range oracleCases {
		f.Add(encodeShell(c.src))
	}
	var o *oracle
	if _, err := os.Stat("/bin/sh"); err == nil {
		o = newOracle(f)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameLineByLine(t, string(data))
		src := shellText(data)
		sameLineByLine(t, src)
		if o == nil || len(data) > 64 {
			return
		}
		got := incomplete(src)
		switch o.tell(t, src) {
		case unfinished:
			if !got {
				t.Errorf("incomplete(%q) = false, sh -n: unfinished (half a command would be sent)", src)
			}
		case complete:
			if got {
				t.Errorf("incomplete(%q) = true, sh -n: complete (the next line would be joined to it)", src)
			}
		}
	})
}

// encodeShell is shellText's inverse for seeds: src as the longest tokens
// of shellTokens, byte by byte; what no token spells is left out.
func encodeShell(src string) []byte {
	var out []byte
	for i := 0; i < len(src); {
		best, n := -1, 0
		for k, tok := range shellTokens {
			if len(tok) > n && strings.HasPrefix(src[i:], tok) {
				best, n = k, len(tok)
			}
		}
		if best < 0 {
			i++
			continue
		}
		out = append(out, byte(best))
		i += n
	}
	return out
}

// sameLineByLine: a lineJoiner fed the lines of src one by one says what
// incomplete says of each run of lines, as RunScript feeds them: the
// scanner carried from line to line is the one that reads the whole.
func sameLineByLine(t *testing.T, src string) {
	var j lineJoiner
	lines := strings.Split(src, "\n")
	from := 0
	for i, l := range lines {
		got := j.opens(l)
		want := incomplete(strings.Join(lines[from:i+1], "\n"))
		if from == i && skippable(l) {
			want = false
		}
		if got != want {
			t.Fatalf("line by line, %q after %q: %v; incomplete: %v", l, lines[from:i], got, want)
		}
		if !got {
			j.end()
			from = i + 1
		}
	}
}
