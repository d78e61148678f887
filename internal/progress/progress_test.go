package progress

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
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
