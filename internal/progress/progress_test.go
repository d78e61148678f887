package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestBarLine(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	var buf bytes.Buffer
	b := New(&buf, "Uploading", Options{Now: c.now, Width: 10})
	b.AddTotal(10 << 20)
	c.t = c.t.Add(2 * time.Second)
	b.Add(4 << 20)
	line := b.Line()
	for _, want := range []string{"Uploading ", " 40% 4.0 MiB / 10.0 MiB", "2.0 MiB/s", "ETA 3s"} {
		if !strings.Contains(line, want) {
			t.Fatalf("line %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "\x1b[") {
		t.Fatalf("colourless bar has escape sequences: %q", line)
	}
	// Updates within 100ms are not redrawn; the final one is.
	n := strings.Count(buf.String(), "\r")
	b.Add(1)
	if strings.Count(buf.String(), "\r") != n {
		t.Fatal("redrawn within the throttle period")
	}
	c.t = c.t.Add(time.Second)
	b.Add(6<<20 - 1)
	b.Finish()
	if !strings.HasSuffix(buf.String(), "\n") || !strings.Contains(buf.String(), "100% 10.0 MiB / 10.0 MiB") {
		t.Fatalf("final output %q", buf.String())
	}
	b.Add(5) // after Finish: nothing more is drawn
	if strings.Count(buf.String(), "\r") != n+2 {
		t.Fatalf("drew after Finish: %q", buf.String())
	}
}

func TestBarCells(t *testing.T) {
	for _, c := range []struct {
		frac  float64
		width int
		want  string
	}{
		{0, 4, "░░░░"}, {0.5, 4, "██░░"}, {1, 4, "████"}, {0.124, 4, "░░░░"}, {0.125, 4, "█░░░"},
	} {
		if got := bar(c.frac, c.width, false); got != c.want {
			t.Errorf("bar(%v, %d) = %q, want %q", c.frac, c.width, got, c.want)
		}
	}
	coloured := bar(1, 3, true)
	if strings.Count(coloured, "█") != 3 || !strings.HasPrefix(coloured, "\x1b[38;5;") || !strings.HasSuffix(coloured, "\x1b[0m") {
		t.Errorf("coloured bar %q", coloured)
	}
	// The ends of the gradient: xterm 104 (violet) to 213 (pink).
	if from, to := xterm256(gradientFrom, gradientTo, 0), xterm256(gradientFrom, gradientTo, 1); from != 104 || to != 213 {
		t.Errorf("gradient ends %d..%d, want 104..213", from, to)
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
