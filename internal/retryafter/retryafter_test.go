package retryafter

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		// delay-seconds
		{"0", 0, true},
		{"5", 5 * time.Second, true},
		{"120", 2 * time.Minute, true},
		{"007", 7 * time.Second, true},
		{" 5", 5 * time.Second, true},
		{"5 ", 5 * time.Second, true},
		{"\t 5 \t", 5 * time.Second, true},
		{"2147483647", 2147483647 * time.Second, true},
		{"2147483648", MaxDelay, true},
		{"2147483649", MaxDelay, true},
		{"1000000000000", MaxDelay, true},
		{"99999999999999999999", MaxDelay, true},
		{"9223372036854775808", MaxDelay, true},
		{strings.Repeat("9", 400), MaxDelay, true},
		{"00000000000000000000000000005", 5 * time.Second, true},

		// HTTP-date, in its three forms
		{"Fri, 04 Dec 2026 18:00:30 GMT", 30 * time.Second, true},
		{"Friday, 04-Dec-26 18:01:00 GMT", time.Minute, true},
		{"Fri Dec  4 18:00:05 2026", 5 * time.Second, true},
		{" Fri, 04 Dec 2026 18:00:30 GMT\t", 30 * time.Second, true},
		{"Fri, 04 Dec 2026 18:00:00 GMT", 0, true},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0, true},        // passed: no wait
		{"Fri, 31 Dec 9999 23:59:59 GMT", MaxDelay, true}, // clamped, not wrapped

		// invalid
		{"", 0, false},
		{" ", 0, false},
		{"\t", 0, false},
		{"5abc", 0, false},
		{"5 6", 0, false},
		{"-1", 0, false},
		{"-0", 0, false},
		{"+5", 0, false},
		{"1.5", 0, false},
		{".5", 0, false},
		{"5.", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{"Inf", 0, false},
		{"+Inf", 0, false},
		{"NaN", 0, false},
		{"5s", 0, false},
		{"1_000", 0, false},
		{"٥", 0, false},       // Arabic-Indic five: a digit, not a DIGIT
		{"\u00a05", 0, false}, // NBSP is not OWS
		{"5\r\n", 0, false},   // nor is a line break
		{"\v5", 0, false},     // nor a vertical tab
		{"Fri, 04 Dec 2026 18:00:30 PST", 0, false},
		{"Friday, 04-Dec-26 18:01:00 PST", 0, false},
		{"Friday, 04-Dec-26 18:01:00 UTC", 0, false},
		{"Fri, 04 Dec 2026 18:00:30 +0000", 0, false},
		{"2026-12-04T18:00:30Z", 0, false},
		{"Fri, 4 Dec 2026 18:00:30 GMT", 0, false},
		{"Fri, 04 Dec 2026 18:00:30", 0, false},
		{"Fri, 04 Dec 2026 18:00:30 GMT junk", 0, false},
		{"tomorrow", 0, false},
	} {
		got, ok := Parse(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// The date forms do not depend on the machine's time zone: a zone that
// defines the abbreviation PST (or GMT itself) must not shift or admit
// anything.
func TestParseIgnoresTheLocalZone(t *testing.T) {
	saved := time.Local
	t.Cleanup(func() { time.Local = saved })
	for _, loc := range []*time.Location{time.FixedZone("PST", -8*3600), time.FixedZone("GMT", 3600), time.UTC} {
		time.Local = loc
		if d, ok := Parse("Friday, 04-Dec-26 18:01:00 GMT", now); !ok || d != time.Minute {
			t.Errorf("%s: RFC 850 date = %v, %v; want 1m0s, true", loc, d, ok)
		}
		if d, ok := Parse("Friday, 04-Dec-26 18:01:00 PST", now); ok {
			t.Errorf("%s: a PST date was accepted as %v", loc, d)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"5", " 5 ", "0", "2147483648", "99999999999999999999", "5abc", "-1", "+5", "1.5", "Inf", "",
		"Fri, 04 Dec 2026 18:00:30 GMT", "Friday, 04-Dec-26 18:01:00 GMT", "Fri Dec  4 18:00:05 2026", "Fri, 31 Dec 9999 23:59:59 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := Parse(s, now)
		if !ok {
			if d != 0 {
				t.Fatalf("Parse(%q) = %v, false; an invalid value must be no wait", s, d)
			}
		} else if d < 0 || d > MaxDelay {
			t.Fatalf("Parse(%q) = %v, outside [0, MaxDelay]", s, d)
		}
		v := strings.Trim(s, " \t")
		if d2, ok2 := Parse(" \t"+v+"\t ", now); d2 != d || ok2 != ok {
			t.Fatalf("Parse(%q) = %v, %v but with whitespace around it %v, %v", s, d, ok, d2, ok2)
		}
		if v != "" && strings.Trim(v, "0123456789") == "" {
			// A run of digits is always valid, and it is its number of
			// seconds unless that is beyond the clamp.
			want := MaxDelay
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n < maxSeconds {
				want = time.Duration(n) * time.Second
			}
			if !ok || d != want {
				t.Fatalf("Parse(%q) = %v, %v; want %v, true", s, d, ok, want)
			}
			return
		}
		if ok {
			// Not digits, so a date: http.ParseTime (the standard
			// library's reading of the same three forms) must agree.
			tm, err := http.ParseTime(v)
			if err != nil {
				t.Fatalf("Parse(%q) = %v, true; http.ParseTime refuses it: %v", s, d, err)
			}
			if want := min(max(tm.Sub(now), 0), MaxDelay); d != want {
				t.Fatalf("Parse(%q) = %v; the date %v is %v from now", s, d, tm, want)
			}
		}
	})
}
