package interactive

import (
	"strings"
	"testing"
)

// TestIncompleteDeep: a megabyte of openers nests a million deep; the
// scanner keeps its nesting in a slice and reads each byte once, so it
// answers (a recursive or rescanning one would blow the stack or take
// hours, and the test would fail by its timeout).
func TestIncompleteDeep(t *testing.T) {
	for _, open := range []string{"(", "$(", "${", "\"$(", "$((", "{ ", "if :; then ", "case x in x) ", "while :; do ", "cat <<a ", "x |\n"} {
		src := strings.Repeat(open, 1<<20/len(open))
		if !incomplete(src) {
			t.Errorf("a megabyte of %q: complete, want unfinished", open)
		}
	}
	for _, quote := range []string{"'", "`", "\"", "${"} {
		src := quote + strings.Repeat("( $( \\\n", 1<<20/8)
		if !incomplete(src) {
			t.Errorf("%q and a megabyte more: complete, want unfinished", quote)
		}
	}
	for _, closed := range []string{"()", "(:)", "$()", "${x}", "\"$(:)\"", "$((1))", "{ :; }", "'x'", "`:`", "# (\n", "\\(", "echo if\n"} {
		src := strings.Repeat(closed, 1<<20/len(closed))
		if incomplete(src) {
			t.Errorf("a megabyte of %q: unfinished, want complete", closed)
		}
	}
}

// TestLineJoinerLongHeredoc: RunScript feeds a here-document of 200,000
// lines one line at a time; the joiner carries its scanner from line to
// line, where reading the whole command again at each line took hours.
func TestLineJoinerLongHeredoc(t *testing.T) {
	var j lineJoiner
	if !j.opens("cat <<EOF | wc -l") {
		t.Fatal("cat <<EOF: complete, want unfinished")
	}
	line := strings.Repeat("x", 40) + " $(( ' \" `"
	for i := 0; i < 200000; i++ {
		if !j.opens(line) {
			t.Fatalf("line %d of the here-document: complete, want unfinished", i+2)
		}
	}
	if j.opens("EOF") {
		t.Fatal("EOF: unfinished, want complete")
	}
}

// benchScript is a realistic 200-line script: a setup script's usual mix
// of functions, conditionals, loops, case, here-documents, pipelines and
// expansions.
var benchScript = func() string {
	block := `#!/bin/sh
set -eu
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
PREFIX=${PREFIX:-/usr/local}
VERSION="$(cat VERSION 2>/dev/null || echo 0.0.0)"
if [ -z "${HOME:-}" ]; then
  die "HOME is not set"
elif [ ! -d "$HOME/.cache" ]; then
  mkdir -p "$HOME/.cache"
else
  log "cache at $HOME/.cache"
fi
for f in src/*.c include/*.h; do
  case "$f" in
    *.c) log "compile $f"; cc -c "$f" -o "${f%.c}.o" ;;
    *.h|*.hpp) : ;;
    *) log "skip '$f'" ;;
  esac
done
n=0
while [ "$n" -lt 3 ]; do
  n=$((n + 1))
done
cat > config.h <<EOF
#define VERSION "$VERSION"
#define PREFIX "$PREFIX"
EOF
cat <<-'END' | sed 's/^/  /'
	usage: install [--prefix DIR]
	END
grep -v '^#' list.txt | sort -u | while read -r pkg; do
  apt-get install -y "$pkg" &&
    log "installed $pkg" ||
    log "failed: $pkg"
done
( cd build && make -j"$(nproc)" ) | tee build.log
find . -name '*.o' -exec rm {} \;
test -f out || { log "no output"; exit 2; }
echo "done: $(ls | wc -l) files, ` + "`echo $n`" + ` rounds"
`
	s := strings.Repeat(block, 5)
	return s[:len(s)-1]
}()

// BenchmarkIncomplete: incomplete on a 200-line script, as one text.
func BenchmarkIncomplete(b *testing.B) {
	if n := strings.Count(benchScript, "\n") + 1; n != 200 {
		b.Fatalf("the script has %d lines, want 200", n)
	}
	b.SetBytes(int64(len(benchScript)))
	for b.Loop() {
		if incomplete(benchScript) {
			b.Fatal("the script reads as unfinished")
		}
	}
}

// BenchmarkLineJoiner: the same script fed line by line, as RunScript
// reads it.
func BenchmarkLineJoiner(b *testing.B) {
	lines := strings.Split(benchScript, "\n")
	b.SetBytes(int64(len(benchScript)))
	for b.Loop() {
		var j lineJoiner
		for _, l := range lines {
			if !j.opens(l) {
				j.end()
			}
		}
	}
}
