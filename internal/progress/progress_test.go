package progress

import (
	"bytes"
	"io"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ansi matches the escape sequences the line is drawn and erased with.
var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// plain is the output without escape sequences.
func plain(buf *bytes.Buffer) string { return ansi.ReplaceAllString(buf.String(), "") }

// drawn pokes the bar until its line matches re (draws are throttled to
// one per 100ms) and returns when the poke that drew it started.
func drawn(t *testing.T, b *Bar, re string) time.Time {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for {
		poke := time.Now()
		b.Add(0)
		if rx.MatchString(b.Line()) {
			return poke
		}
		if poke.After(deadline) {
			t.Fatalf("line %q does not match %s", b.Line(), re)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBarDrawsBytesRateAndTimeLeft(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "Uploading", Options{Width: 10})
	if buf.Len() != 0 {
		t.Fatalf("drew before there was a total: %q", buf.String())
	}
	b.AddTotal(10 << 20)
	if !strings.HasPrefix(plain(&buf), "\rUploading    0% ░░░░░░░░░░ ( 0 B/10 MiB)") {
		t.Fatalf("no empty bar once the total is known: %q", buf.String())
	}
	b.SetNote("1/4 files")
	b.Add(4 << 20)
	at := drawn(t, b, `^Uploading 1/4 files +40% ████░░░░░░ \(4\.0/10 MiB, [0-9.]+ [KMGT]?i?B/s\) \[[0-9hms]+:[0-9hms]+\]`)
	if strings.Contains(buf.String(), "\x1b[3") {
		t.Fatalf("output %q (no colour asked for)", buf.String())
	}
	before := buf.Len()
	b.Add(1)
	if time.Since(at) < redrawEvery && buf.Len() != before {
		t.Fatalf("redrawn within the throttle period: %q", buf.String()[before:])
	}
	b.Add(6<<20 - 1)
	b.Finish()
	out := plain(&buf)
	if !strings.HasSuffix(out, "\n") || !strings.Contains(out, "Uploading 1/4 files  100% ██████████ (10/10 MiB") {
		t.Fatalf("final output %q", out)
	}
	n := buf.Len()
	b.Add(5) // after Finish: nothing more is drawn
	b.AddTotal(5)
	b.Finish()
	if buf.Len() != n {
		t.Fatalf("drew after Finish: %q", buf.String()[n:])
	}
}

func TestBarClearAndFinishAfterAClear(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "Downloading", Options{})
	b.Clear() // nothing drawn yet: nothing to erase
	if buf.Len() != 0 {
		t.Fatalf("cleared an empty line: %q", buf.String())
	}
	b.AddTotal(100)
	b.Add(100)
	b.Clear()
	if !strings.HasSuffix(buf.String(), "\x1b[2K\r") {
		t.Fatalf("not erased: %q", buf.String())
	}
	buf.WriteString("a line above the bar\n")
	b.Finish()
	// The final state is drawn again under the line printed.
	out := plain(&buf)
	if !regexp.MustCompile(`a line above the bar\n\rDownloading  100% █+ \(100/100 B.*\n$`).MatchString(out) {
		t.Fatalf("after a clear: %q", out)
	}
}

func TestBarTotalAddedAfterCompletionStartsANewSegment(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "Downloading", Options{})
	b.AddTotal(1 << 20)
	b.AddTotal(1 << 20) // a second download starts before the first ends
	b.Add(2 << 20)
	if !strings.Contains(b.Line(), "100% ") || !strings.Contains(b.Line(), "(2.0/2.0 MiB") {
		t.Fatalf("line %q", b.Line())
	}
	b.AddTotal(4 << 20) // one more after everything was done
	if l := b.Line(); !strings.Contains(l, "   0% ") || !strings.Contains(l, "/4.0 MiB") {
		t.Fatalf("new segment: %q", l)
	}
}

func TestBarPartialFinishKeepsWhereItGot(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "Uploading", Options{})
	b.AddTotal(100)
	b.Add(30)
	b.Finish()
	out := plain(&buf)
	if strings.Contains(out, "100%") || !strings.Contains(out, " 30% ") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("a failed transfer's bar: %q", out)
	}
}

func TestBarColour(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "Uploading", Options{Color: true, Width: 4})
	b.AddTotal(4)
	b.Add(2)
	drawn(t, b, ` 50% `)
	if !strings.Contains(buf.String(), "\x1b[35m█") || !strings.Contains(buf.String(), "░░") {
		t.Fatalf("coloured bar %q", buf.String())
	}
	if strings.Contains(buf.String(), "[magenta]") {
		t.Fatalf("colour code left in the output: %q", buf.String())
	}
}

func TestBytesAndDuration(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 60002486: "57.2 MiB", 5 << 30: "5.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{3 * time.Second: "3s", 185 * time.Second: "3m05s", 3720 * time.Second: "1h02m"} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

// Before the first byte there is no rate: the line shows none and "?" for
// the time left, not an estimate made from a zero rate.
func TestBarWithoutARateShowsNoEstimate(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "Uploading", Options{Width: 4})
	b.AddTotal(100)
	if got, want := ansi.ReplaceAllString(b.Line(), ""), "Uploading    0% ░░░░ ( 0/100 B) [0s:?]"; got != want {
		t.Fatalf("line %q, want %q", got, want)
	}
}

func TestTimeLeft(t *testing.T) {
	for _, c := range []struct {
		remaining int64
		rate      float64
		want      string
	}{
		{0, 0, "0s"},
		{-5, 10, "0s"},
		{100, 10, "10s"},
		{100, 30, "3s"}, // whole seconds, rounded down
		{10 << 20, 1 << 20, "10s"},
		{7200, 1, "2h0m0s"},
		{100, 0, "?"},
		{100, -1, "?"},
		{100, math.NaN(), "?"},
		{100, math.Inf(1), "?"},
		{1 << 40, 1e-9, "?"}, // a stalled transfer
		{math.MaxInt64, math.SmallestNonzeroFloat64, "?"}, // no overflow
		{int64(maxLeft.Seconds()), 1, "?"},
		{int64(maxLeft.Seconds()) - 1, 1, (maxLeft - time.Second).String()},
	} {
		if got := timeLeft(c.remaining, c.rate); got != c.want {
			t.Errorf("timeLeft(%d, %g) = %q, want %q", c.remaining, c.rate, got, c.want)
		}
	}
}

// humanize writes sizes as progressbar's IEC units did, except that a
// value rounding to 1024 of a unit is written in the next one.
func TestHumanize(t *testing.T) {
	for _, c := range []struct {
		n    float64
		want string
	}{
		{0, " 0 B"}, {9, " 9 B"}, {10, "10 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"},
		{1536, "1.5 KiB"}, {10 << 10, "10 KiB"}, {4 << 20, "4.0 MiB"}, {10 << 20, "10 MiB"},
		{21.5 * 1024, "22 KiB"}, {1<<20 - 1, "1.0 MiB"}, {1 << 30, "1.0 GiB"},
		{math.MaxInt64, "8.0 EiB"}, {-1, " 0 B"}, {math.NaN(), " 0 B"},
	} {
		if n, unit := humanize(c.n); n+unit != c.want {
			t.Errorf("humanize(%g) = %q, want %q", c.n, n+unit, c.want)
		}
	}
}

// The percentage is exact: 29 of 100 is 29% (0.29*100 is 28.999… in
// floating point), and one byte short of a huge total is not 100%.
func TestBarPercentIsExact(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "Uploading", Options{Width: 10})
	b.AddTotal(100)
	b.Add(29)
	b.Clear() // the next update draws
	b.Add(0)
	if !strings.Contains(b.Line(), " 29% ██░░░░░░░░ ") {
		t.Fatalf("line %q", b.Line())
	}
	b = New(&buf, "Uploading", Options{Width: 10})
	b.AddTotal(1 << 62)
	b.Add(1<<62 - 1)
	b.Clear()
	b.Add(0)
	if !strings.Contains(b.Line(), " 99% █████████░ ") {
		t.Fatalf("line %q", b.Line())
	}
}

// A segment's 100% line is redrawn when the note changes (the last file
// is counted after its last bytes) and after a Clear at the next update,
// not only at Finish.
func TestBarCompleteLineFollowsNoteAndClear(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "↑", Options{Width: 4})
	b.AddTotal(10)
	b.SetNote("1/2 files")
	b.Add(10)
	if !strings.Contains(b.Line(), "↑ 1/2 files  100% ████ (10/10 B") {
		t.Fatalf("line %q", b.Line())
	}
	b.SetNote("2/2 files")
	if !strings.HasPrefix(b.Line(), "↑ 2/2 files  100% ████ (10/10 B") {
		t.Fatalf("note not drawn: %q", b.Line())
	}
	b.Clear()
	b.Add(0)
	if out := buf.String(); !strings.HasSuffix(out, clearLine+"\r"+b.Line()) || !strings.Contains(b.Line(), "2/2 files  100%") {
		t.Fatalf("not drawn again after a Clear: %q", out)
	}
}

// On a terminal narrower than the line the bar is narrowed so that the
// line does not wrap (a wrapped line is not erased by the next draw).
func TestBarFitsTheTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	go io.Copy(io.Discard, ptmx)
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: 50, Rows: 10}); err != nil {
		t.Fatal(err)
	}
	b := New(tty, "Uploading", Options{Color: true})
	b.AddTotal(10 << 20)
	// "Uploading    0% " and " ( 0 B/10 MiB) [0s:?]" leave 13 of 50 cells.
	line := ansi.ReplaceAllString(b.Line(), "")
	if want := "Uploading    0% " + strings.Repeat("░", 13) + " ( 0 B/10 MiB) [0s:?]"; line != want {
		t.Fatalf("on 50 columns: %q, want %q", line, want)
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: 200, Rows: 10}); err != nil {
		t.Fatal(err)
	}
	b.Clear()
	b.Add(0)
	if line := ansi.ReplaceAllString(b.Line(), ""); !strings.Contains(line, " 0% "+strings.Repeat("░", 24)+" (") {
		t.Fatalf("on 200 columns: %q", line)
	}
	b.Finish()
}
