package table_test

import (
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/internal/style"
	"github.com/nimbus-sh/nimbus/internal/table"
)

// TestColourTakesNoRoom: a coloured cell lines up with plain ones. apps
// measured cells in bytes, so a cell with a colour (or any character
// beyond ASCII) pushed the rest of its row out of line.
func TestColourTakesNoRoom(t *testing.T) {
	st := style.New(true)
	var tb table.Table
	tb.Row(st.Bold, "NAME", "STATE", "URL")
	tb.Row(nil, "web", st.Success("running"), "https://a")
	tb.Row(st.Error, "api", "failed", "")
	tb.Line("  " + st.Muted("a note"))
	tb.Row(nil, "café→", st.Warning("✓"), "x")
	var b strings.Builder
	if _, err := tb.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	want := st.Bold("NAME   STATE    URL") + "\n" +
		"web    " + st.Success("running") + "  https://a\n" +
		st.Error("api    failed") + "\n" +
		"  " + st.Muted("a note") + "\n" +
		"café→  " + st.Warning("✓") + "        x\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

// TestWideAndCombiningLineUp: a name in CJK (two columns a character)
// or with a combining accent lines up with ASCII ones; counted as one
// column a character, the first pushed its row right and the second left.
func TestWideAndCombiningLineUp(t *testing.T) {
	var tb table.Table
	tb.Row(nil, "NAME", "PORT")
	tb.Row(nil, "ウェブ", "3000")
	tb.Row(nil, "cafe\u0301", "8080")
	tb.Row(nil, "api", "9000")
	var b strings.Builder
	if _, err := tb.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	want := "NAME    PORT\n" +
		"ウェブ  3000\n" +
		"cafe\u0301    8080\n" +
		"api     9000\n"
	if got := b.String(); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func TestWidth(t *testing.T) {
	for s, want := range map[string]int{
		"":                                     0,
		"abc":                                  3,
		"\x1b[1mabc\x1b[0m":                    3,
		"\x1b[38;5;196mé\x1b[m":                1,
		"\x1b]8;;https://x\x1b\\l\x1b]8;;\x07": 1,
		"✓ ok":                                 4,
		"cafe\u0301":                           4, // a combining accent takes no column
		"日本":                                   4, // wide characters take two
		"한국어":                                  6,
		"ｆｕｌｌ":                                 8,
		"a\u200db":                             2, // a zero-width joiner
	} {
		if got := table.Width(s); got != want {
			t.Errorf("Width(%q) = %d, want %d", s, got, want)
		}
	}
}
