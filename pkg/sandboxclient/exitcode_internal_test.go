package sandboxclient

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
)

// decodeExitCode agrees with exact rational arithmetic on every JSON
// number: an integer within 32 bits is that integer, anything else -1,
// and only an exact zero is 0.
func FuzzExitCode(f *testing.F) {
	for _, s := range []string{"0", "-0", "0.0", "0e5", "1e-400", "-1e-400", "2.0000000000000001", "3e0", "1E1", "1.2e1", "25e-1", "2147483647", "-2147483648", "2147483648", "1e10", "007", "0.1e1", "100e-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// A member's raw value never has white space around it that
		// JSON does not allow; the decoder trims any.
		s = strings.TrimSpace(s)
		code, num, ok := decodeExitCode(json.RawMessage(s))
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		_, isNumber := v.(json.Number)
		if json.Valid([]byte(s)) && d.Decode(&v) == nil {
			_, isNumber = v.(json.Number)
		}
		if ok != isNumber {
			t.Fatalf("%q: ok %v, a JSON number: %v", s, ok, isNumber)
		}
		if !ok {
			return
		}
		if string(num) != s {
			t.Fatalf("%q: num %q", s, num)
		}
		// big.Rat would build 10^exponent: keep the exponents small.
		if i := strings.IndexAny(s, "eE"); i >= 0 {
			if e, err := strconv.Atoi(s[i+1:]); err != nil || e > 400 || e < -400 {
				return
			}
		}
		r, good := new(big.Rat).SetString(s)
		if !good {
			t.Fatalf("%q: big.Rat refuses it", s)
		}
		want := -1
		if r.IsInt() && r.Num().IsInt64() && r.Num().Int64() >= math.MinInt32 && r.Num().Int64() <= math.MaxInt32 {
			want = int(r.Num().Int64())
		}
		if code != want {
			t.Fatalf("%q: code %d, want %d", s, code, want)
		}
	})
}
