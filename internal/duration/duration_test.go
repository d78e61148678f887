package duration

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"30", 30 * time.Second},
		{" 30 ", 30 * time.Second},
		{"\ufeff30\u3000", 30 * time.Second},
		{"1.5", 1500 * time.Millisecond},
		{".5", 500 * time.Millisecond},
		{"5.", 5 * time.Second},
		{"1e3", 1000 * time.Second},
		{"0", 0},
		{"-5", -5 * time.Second},
		{"0.0000000001", 0}, // a tenth of a nanosecond rounds to zero
		{"90s", 90 * time.Second},
		{"1h30m", 90 * time.Minute},
		{"500ms", 500 * time.Millisecond},
		{"1.5h", 90 * time.Minute},
		{"-5m", -5 * time.Minute},
		{"+5m", 5 * time.Minute},
		{"1d", Day},
		{"1d12h", 36 * time.Hour},
		{"1.5d", 36 * time.Hour},
		{"0.1d", 144 * time.Minute},
		{"30d", 30 * Day},
		{"2h1d", 26 * time.Hour},
		{"1µs", time.Microsecond},
	} {
		got, err := Parse(c.in)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		in   string
		kind error
	}{
		{"", ErrSyntax}, {"  ", ErrSyntax}, {"abc", ErrSyntax}, {"0x10", ErrSyntax}, {"0b11", ErrSyntax},
		{"0o7", ErrSyntax}, {"1_000", ErrSyntax}, {"NaN", ErrSyntax}, {"15", nil}, {"15 m", ErrSyntax},
		{"1H", ErrSyntax}, {"1x", ErrSyntax}, {"1.2.3s", ErrSyntax}, {".s", ErrSyntax}, {"m", ErrSyntax},
		{"-", ErrSyntax}, {"1d-2h", ErrSyntax}, {"\u008530", ErrSyntax},
		{"Infinity", ErrRange}, {"-Infinity", ErrRange}, {"1e300", ErrRange}, {"9223372037", ErrRange},
		{"106752d", ErrRange}, {"2562048h", ErrRange}, {"99999999999999999999s", ErrRange},
		{"200000d200000d", ErrRange}, {"1e-400", nil},
	} {
		_, err := Parse(c.in)
		if c.kind == nil {
			if err != nil {
				t.Errorf("Parse(%q) = %v, want success", c.in, err)
			}
			continue
		}
		var de *Error
		if !errors.Is(err, c.kind) || !errors.As(err, &de) || de.Input != c.in {
			t.Errorf("Parse(%q) error = %#v, want kind %v", c.in, err, c.kind)
		}
	}
}

func TestLimits(t *testing.T) {
	interval := Limits{Min: 25 * time.Millisecond, Max: 5 * time.Second}
	timeout := Limits{AllowZero: true}
	for _, c := range []struct {
		l      Limits
		in     string
		reason string
	}{
		{Limits{}, "0", "must be more than zero"},
		{Limits{}, "-1s", "must not be negative"},
		{timeout, "0", ""},
		{timeout, "-1", "must not be negative"},
		{interval, "10ms", "must be at least 25ms"},
		{interval, "6", "must be at most 5s"},
		{interval, "0.25", ""},
		{Limits{Max: 30 * Day}, "31d", "must be at most 30d"},
	} {
		_, err := c.l.Parse(c.in)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.reason {
			t.Errorf("%+v.Parse(%q) = %q, want %q", c.l, c.in, got, c.reason)
		}
	}
}

func TestFormat(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", 250 * time.Millisecond: "250ms", 30 * time.Second: "30s", 90 * time.Minute: "1h30m",
		24 * time.Hour: "1d", 36 * time.Hour: "36h", 15 * time.Minute: "15m", time.Hour + time.Second: "1h0m1s",
	} {
		if got := Format(d); got != want {
			t.Errorf("Format(%v) = %q, want %q", d, got, want)
		}
		if d != 0 {
			if back, err := Parse(Format(d)); err != nil || back != d {
				t.Errorf("Parse(Format(%v)) = %v, %v", d, back, err)
			}
		}
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 45 * time.Second: "45s", 15 * time.Minute: "15m", 90 * time.Second: "1m30s",
		time.Hour: "1h", 24 * time.Hour: "1d", 51 * time.Hour: "2d3h", 90*time.Minute + 29*time.Second: "1h30m",
		// Rounded to the last unit shown, not cut: a 24-hour token a
		// second after its minting still expires in 1d.
		24*time.Hour - time.Second: "1d", 90*time.Minute + 31*time.Second: "1h31m",
		2*Day + 2*time.Hour + 30*time.Minute: "2d3h", 2*Day - 20*time.Minute: "2d",
		time.Hour - 500*time.Millisecond: "1h", time.Hour - 1500*time.Millisecond: "59m59s",
		250 * time.Millisecond: "250ms", 1234 * time.Millisecond: "1.234s", -2 * time.Hour: "-2h",
		time.Hour + 400*time.Millisecond: "1h",
	} {
		if got := Human(d); got != want {
			t.Errorf("Human(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestFlag(t *testing.T) {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	var timeout time.Duration
	Var(fs, &timeout, "timeout", 0, Limits{AllowZero: true}, "kill after this long")
	var interval time.Duration
	Var(fs, &interval, "interval", 250*time.Millisecond, Limits{Min: 25 * time.Millisecond}, "poll interval")
	if interval != 250*time.Millisecond {
		t.Fatalf("default not applied: %v", interval)
	}
	usage := fs.FlagUsages()
	if !strings.Contains(usage, "--interval duration   poll interval (default 250ms)") || strings.Contains(usage, "(default 0") {
		t.Errorf("usage:\n%s", usage)
	}
	if err := fs.Parse([]string{"--timeout", "30", "--interval=1d"}); err != nil {
		t.Fatal(err)
	}
	if timeout != 30*time.Second || interval != Day {
		t.Errorf("timeout %v interval %v", timeout, interval)
	}
	err := fs.Parse([]string{"--timeout", "0x10"})
	if err == nil || err.Error() != `invalid argument "0x10" for "--timeout" flag: not a duration; `+Hint {
		t.Errorf("error = %v", err)
	}
}

// FuzzParse: any input gives a duration or a typed *Error, never a panic,
// and a duration that parses formats back to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"30", "1.5", "1h30m", "1d12h", "-5m", "0x10", "1e300", "Infinity", " 1d ", "9223372036.854775807", ".5d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			var de *Error
			if !errors.As(err, &de) || de.Kind == nil {
				t.Fatalf("Parse(%q) returned untyped error %v", s, err)
			}
			return
		}
		if d == math.MinInt64 {
			return // has no positive counterpart to format
		}
		if back, err := Parse(Format(d)); err != nil || back != d {
			t.Fatalf("Parse(%q) = %v; Format = %q parses to %v, %v", s, d, Format(d), back, err)
		}
	})
}
