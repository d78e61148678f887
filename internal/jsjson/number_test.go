package jsjson

import (
	"encoding/json"
	"math"
	"os"
	"strconv"
	"testing"

	"github.com/nimbus-sh/nimbus/internal/jsjson/jsnumref"
)

// nodeNumber is one line of testdata/number-node.json: what Node's
// Number() returned for an input (see testdata/gen/number-node.js).
type nodeNumber struct {
	In     string `json:"in"`
	Number string `json:"number"`
}

func loadNodeNumbers(t testing.TB) []nodeNumber {
	data, err := os.ReadFile("testdata/number-node.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []nodeNumber
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

// jsValue reads a number as String(v) wrote it.
func jsValue(t testing.TB, s string) float64 {
	switch s {
	case "NaN":
		return math.NaN()
	case "Infinity":
		return math.Inf(1)
	case "-Infinity":
		return math.Inf(-1)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("bad number %q in testdata: %v", s, err)
	}
	return v
}

func sameNumber(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b && math.Signbit(a) == math.Signbit(b)
}

// TestStringToNumberMatchesNode compares every input recorded from Node
// (whitespace of every kind, all literal forms, rounding edges, huge and
// tiny values, near misses) with StringToNumber and the reference model.
func TestStringToNumberMatchesNode(t *testing.T) {
	cases := loadNodeNumbers(t)
	if len(cases) < 400 {
		t.Fatalf("only %d cases in testdata/number-node.json", len(cases))
	}
	for _, c := range cases {
		want := jsValue(t, c.Number)
		if got := StringToNumber(c.In); !sameNumber(got, want) {
			t.Errorf("StringToNumber(%q) = %v, Node says %s", c.In, got, c.Number)
		}
		if got := jsnumref.Number(c.In); !sameNumber(got, want) {
			t.Errorf("reference model(%q) = %v, Node says %s (the model is wrong)", c.In, got, c.Number)
		}
	}
}

func TestParseNumberForms(t *testing.T) {
	for _, c := range []struct {
		in   string
		form NumberForm
	}{
		{"", Blank}, {" \t\ufeff", Blank},
		{"1", Decimal}, {"-.5e3", Decimal}, {"5.", Decimal}, {"-Infinity", Decimal}, {"1e400", Decimal},
		{"0x10", NonDecimal}, {"0B11", NonDecimal}, {"0o7", NonDecimal},
		{"0x", NotANumber}, {"-0x10", NotANumber}, {"1_000", NotANumber}, {"inf", NotANumber}, {"\u008560", NotANumber}, {"15m", NotANumber},
	} {
		if _, form := ParseNumber(c.in); form != c.form {
			t.Errorf("ParseNumber(%q) form = %d, want %d", c.in, form, c.form)
		}
	}
}

// FuzzStringToNumber is differential: StringToNumber must agree with
// jsnumref, a model written straight from the ECMAScript grammar (a
// regular expression of StringNumericLiteral) and exact rational
// arithmetic. The seeds are every input of testdata/number-node.json.
func FuzzStringToNumber(f *testing.F) {
	for _, c := range loadNodeNumbers(f) {
		f.Add(c.In)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, want := StringToNumber(s), jsnumref.Number(s)
		if !sameNumber(got, want) {
			t.Fatalf("StringToNumber(%q) = %v, reference model %v", s, got, want)
		}
	})
}
