package shellquote

import (
	"os/exec"
	"strings"
	"testing"
)

func TestJoin(t *testing.T) {
	cases := []struct {
		in   []string
		want string
	}{
		{[]string{"make test && ls"}, "make test && ls"},
		{[]string{"echo", "hi"}, "echo hi"},
		{[]string{"echo", "a b", ""}, "echo 'a b' ''"},
		{[]string{"printf", "%s\n", "it's"}, `printf '%s` + "\n" + `' 'it'\''s'`},
		{[]string{"ls", "$HOME", "*.go", "a;b"}, `ls '$HOME' '*.go' 'a;b'`},
		{[]string{"env", "A=1", "--flag=x", "/p/q.txt"}, "env A=1 --flag=x /p/q.txt"},
	}
	for _, tc := range cases {
		if got := Join(tc.in); got != tc.want {
			t.Errorf("Join(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A real POSIX shell must split the joined line back into the same words.
func TestJoinRoundTripsThroughSh(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh on PATH: %v", err)
	}
	words := []string{"printf", `[%s]\n`, "plain", "two words", "it's", `back\slash`, "$HOME", "`id`", "", "new\nline", "*", "~"}
	out, err := exec.Command(sh, "-c", Join(words)).Output()
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, w := range words[2:] {
		want.WriteString("[" + w + "]\n")
	}
	if string(out) != want.String() {
		t.Fatalf("got %q want %q", out, want.String())
	}
}

func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "a b", "it's", "$(x)", "\x00", "'''"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := Quote(s)
		if strings.ContainsRune(s, 0) {
			return
		}
		// Unquoting per POSIX rules must give s back.
		if got := unquote(t, q); got != s {
			t.Fatalf("Quote(%q) = %q unquotes to %q", s, q, got)
		}
	})
}

// unquote reverses Quote's output: bare words and single-quoted runs with
// escaped quotes between them.
func unquote(t *testing.T, q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case '\'':
			j := strings.IndexByte(q[i+1:], '\'')
			if j < 0 {
				t.Fatalf("unterminated quote in %q", q)
			}
			b.WriteString(q[i+1 : i+1+j])
			i += j + 1
		case '\\':
			i++
			b.WriteByte(q[i])
		default:
			b.WriteByte(q[i])
		}
	}
	return b.String()
}
