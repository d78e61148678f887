package token_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/jsjson"
	"github.com/nimbus-sh/nimbus/internal/jsjson/jsnumref"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

const testSecret = "nimbus-test-secret"

var vectorClock = func() time.Time { return time.UnixMilli(1750000000123) }

// nodeTTL is one line of the Node.js recording shared with internal/jsjson:
// what upstream's `token mint --ttl in` computes (ttlMs = Number(in) * 1000)
// and the seconds it adds to iat, or E_TOKEN_TTL_TOO_LARGE.
type nodeTTL struct {
	In       string `json:"in"`
	Number   string `json:"number"`
	TTLMs    string `json:"ttlMs"`
	ExpDelta any    `json:"expDelta"`
}

// mintTTL mints for tenant acme at the vectors' clock with ttlMs and
// returns exp - iat, or the error.
func mintTTL(t *testing.T, tenant string, ms float64) (int64, error) {
	t.Helper()
	issued, err := token.Issuer{Secret: testSecret, Now: vectorClock}.Issue(token.Input{Tenant: &tenant, TTLMillis: &ms})
	if err != nil {
		return 0, err
	}
	return issued.ExpiresAt.Unix() - issued.IssuedAt.Unix(), nil
}

// TestTTLMatchesUpstream replays every input recorded from Node through
// ParseTTL and Mint: where upstream mints, nimbus mints the same exp; where
// upstream refuses with E_TOKEN_TTL_TOO_LARGE, nimbus refuses with the same
// message; the only inputs nimbus refuses itself are those listed in
// docs/compat.md (non-decimal numbers) and NaN.
func TestTTLMatchesUpstream(t *testing.T) {
	data, err := os.ReadFile("../../internal/jsjson/testdata/number-node.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []nodeTTL
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	minted, refused, ttlErrors := 0, 0, 0
	for _, c := range cases {
		ms, err := token.ParseTTL(c.In)
		if err != nil {
			if !errors.Is(err, token.ErrInvalidTTL) {
				t.Errorf("ParseTTL(%q) = %v, want ErrInvalidTTL", c.In, err)
			}
			if c.Number != "NaN" && !jsnumref.NonDecimal(c.In) {
				t.Errorf("ParseTTL(%q) refused what upstream reads as %s", c.In, c.Number)
			}
			refused++
			continue
		}
		if c.Number == "NaN" {
			// A nimbus extension: a Go duration or days.
			if !strings.ContainsAny(c.In, "smhd") {
				t.Errorf("ParseTTL(%q) = %v, upstream reads NaN", c.In, ms)
			}
			continue
		}
		jsMs := c.TTLMs
		if jsMs == "-0" {
			jsMs = "0" // the recording marks -0; String(-0) is "0"
		}
		if got := jsjson.FormatNumber(ms); got != jsMs || math.Signbit(ms) != (c.TTLMs[0] == '-') {
			t.Errorf("ParseTTL(%q) = %s ms, upstream %s", c.In, got, c.TTLMs)
		}
		delta, err := mintTTL(t, "acme", ms)
		if c.ExpDelta == "E_TOKEN_TTL_TOO_LARGE" {
			want := "Token TTL " + jsMs + "ms exceeds maximum 2592000000ms"
			if !errors.Is(err, token.ErrTokenTTL) || err.Error() != want {
				t.Errorf("--ttl %q: %v, upstream %q", c.In, err, want)
			}
			ttlErrors++
			continue
		}
		want, ok := c.ExpDelta.(float64)
		if err != nil || !ok || delta != int64(want) {
			t.Errorf("--ttl %q: exp-iat = %d, %v; upstream %v", c.In, delta, err, c.ExpDelta)
		}
		minted++
	}
	t.Logf("%d inputs: %d minted as upstream, %d refused with upstream's TTL error, %d refused by nimbus", len(cases), minted, ttlErrors, refused)
	if minted < 100 || ttlErrors < 20 {
		t.Errorf("too few cases exercised: %d minted, %d TTL errors", minted, ttlErrors)
	}
}

// TestTTLIssueExamples are the cases issue 11 names.
func TestTTLIssueExamples(t *testing.T) {
	for _, c := range []struct {
		ttl   string
		delta int64
		err   string
	}{
		{"59.9999999999999", 59, ""},
		{"1e-10", 0, ""},
		{".5", 0, ""},
		{"5.", 5, ""},
		{"\ufeff60\u2028", 60, ""},
		{"2592000", 2592000, ""},
		{"15m", 900, ""},
		{"1d", 86400, ""},
		{"1e400", 0, "Token TTL Infinityms exceeds maximum 2592000000ms"},
		{"Infinity", 0, "Token TTL Infinityms exceeds maximum 2592000000ms"},
		{"-Infinity", 0, "Token TTL -Infinityms exceeds maximum 2592000000ms"},
		{"1e20", 0, "Token TTL 1e+23ms exceeds maximum 2592000000ms"},
		{"2592000.001", 0, "Token TTL 2592000001ms exceeds maximum 2592000000ms"},
		{"-0", 0, "Token TTL 0ms exceeds maximum 2592000000ms"},
		{" ", 0, "Token TTL 0ms exceeds maximum 2592000000ms"},
		{"1e-400", 0, "Token TTL 0ms exceeds maximum 2592000000ms"},
		{"31d", 0, "Token TTL 2678400000ms exceeds maximum 2592000000ms"},
	} {
		ms, err := token.ParseTTL(c.ttl)
		if err != nil {
			t.Errorf("ParseTTL(%q): %v", c.ttl, err)
			continue
		}
		delta, err := mintTTL(t, "acme", ms)
		if c.err != "" {
			var te *token.Error
			if !errors.As(err, &te) || te.Code != token.CodeTokenTTLTooLarge || te.HTTPStatus != 400 || te.Message != c.err {
				t.Errorf("--ttl %q: %v, want %q", c.ttl, err, c.err)
			}
			continue
		}
		if err != nil || delta != c.delta {
			t.Errorf("--ttl %q: exp-iat = %d, %v; want %d", c.ttl, delta, err, c.delta)
		}
	}
}

// TestTTLRefusals are the inputs upstream accepts and nimbus refuses as a
// usage error, each listed in docs/compat.md.
func TestTTLRefusals(t *testing.T) {
	compat, err := os.ReadFile("../../docs/compat.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"0x10", "0X1f", "0b11", "0B11", "0o7", "0O17", "abc", "1_000", "NaN", "\u008560", "15 m", "1e", "-0x10"} {
		if _, err := token.ParseTTL(in); !errors.Is(err, token.ErrInvalidTTL) {
			t.Errorf("ParseTTL(%q) = %v, want ErrInvalidTTL", in, err)
		}
	}
	for _, listed := range []string{"`0x10`", "`0b11`", "`0o7`", "`1_000`", "`abc`"} {
		if !strings.Contains(string(compat), listed) {
			t.Errorf("docs/compat.md does not list the --ttl refusal %s", listed)
		}
	}
}

// TestTTLCheckedAfterIDs: upstream checks the id claims, then the TTL, so
// a bad tenant with a huge TTL is a claims error.
func TestTTLCheckedAfterIDs(t *testing.T) {
	if _, err := mintTTL(t, "bad tn", math.Inf(1)); !errors.Is(err, token.ErrTokenClaims) {
		t.Errorf("bad tenant, infinite ttl: %v, want E_TOKEN_CLAIMS", err)
	}
	if _, err := mintTTL(t, "acme", math.Inf(1)); !errors.Is(err, token.ErrTokenTTL) {
		t.Errorf("infinite ttl: %v, want E_TOKEN_TTL_TOO_LARGE", err)
	}
	_, err := mintTTL(t, "acme", math.NaN())
	if !errors.Is(err, token.ErrTokenTTL) || err.Error() != "Token TTL NaNms exceeds maximum 2592000000ms" {
		t.Errorf("NaN ttl: %v, want a TTL error (upstream mints exp:null)", err)
	}
}

// TestTTLDurationAndMillisAgree: Input.TTL and Input.TTLMillis give the
// same token for lifetimes both can express.
func TestTTLDurationAndMillisAgree(t *testing.T) {
	for _, d := range []time.Duration{time.Millisecond, 1999 * time.Millisecond, time.Hour, token.MaxTTL} {
		tn := "acme"
		is := token.Issuer{Secret: testSecret, Now: vectorClock}
		a, errA := is.Mint(token.Input{Tenant: &tn, TTL: &d})
		b, errB := is.Mint(token.Input{Tenant: &tn, TTLMillis: new(float64(d) / float64(time.Millisecond))})
		if errA != nil || errB != nil || a != b {
			t.Errorf("%v: %s %v / %s %v", d, a, errA, b, errB)
		}
	}
}

// FuzzParseTTL is differential against jsnumref, a model of Number()
// written from the ECMAScript grammar: whenever upstream would read a
// decimal number, ParseTTL returns exactly Number(s) * 1000 and Mint's
// answer (exp - iat, or the TTL error) is upstream's formula applied to
// the model's value; non-decimal numbers are refused; anything else is a
// Go duration or refused.
func FuzzParseTTL(f *testing.F) {
	for _, s := range []string{"3600", "59.9999999999999", "1e-10", " 60 ", "0x10", "Infinity", "-5", "15m", "1d", "abc", "1e400", ".5", "5."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := token.ParseTTL(s)
		ref := jsnumref.Number(s)
		switch {
		case jsnumref.NonDecimal(s):
			if !errors.Is(err, token.ErrInvalidTTL) {
				t.Fatalf("ParseTTL(%q) = %v, %v; want the non-decimal refusal", s, ms, err)
			}
			return
		case math.IsNaN(ref):
			if err != nil && !errors.Is(err, token.ErrInvalidTTL) {
				t.Fatalf("ParseTTL(%q): untyped error %v", s, err)
			}
			return
		}
		want := ref * 1000
		if err != nil || math.Float64bits(ms) != math.Float64bits(want) {
			t.Fatalf("ParseTTL(%q) = %v, %v; Number() * 1000 = %v", s, ms, err, want)
		}
		delta, err := mintTTL(t, "acme", ms)
		if !(want > 0) || want > 2592000000 {
			if err == nil || err.Error() != "Token TTL "+jsjson.FormatNumber(want)+"ms exceeds maximum 2592000000ms" {
				t.Fatalf("--ttl %q: %v, want upstream's TTL error", s, err)
			}
			return
		}
		if err != nil || delta != int64(math.Floor(want/1000)) {
			t.Fatalf("--ttl %q: exp-iat %d, %v; want %v", s, delta, err, math.Floor(want/1000))
		}
	})
}
