package jsjson

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// quoteVector is one entry of testdata/quote-node.json: Quoted is what
// JSON.stringify writes for the string TextDecoder reads from Hex.
type quoteVector struct {
	Name   string `json:"name"`
	Hex    string `json:"hex"`
	Quoted string `json:"quoted"`
}

func readQuoteVectors(t testing.TB) []quoteVector {
	t.Helper()
	raw, err := os.ReadFile("testdata/quote-node.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []quoteVector
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) < 50 {
		t.Fatalf("only %d vectors", len(vs))
	}
	return vs
}

// TestQuoteMatchesNode pins AppendQuote and AppendQuoteBytes to the bytes
// Node writes: every control character, quote, backslash, U+2028/2029 and
// each kind of invalid UTF-8 (one U+FFFD per maximal subpart).
func TestQuoteMatchesNode(t *testing.T) {
	for _, v := range readQuoteVectors(t) {
		in, err := hex.DecodeString(v.Hex)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendQuoteBytes(nil, in); string(got) != v.Quoted {
			t.Errorf("%s: AppendQuoteBytes(%q) = %q, want %q", v.Name, in, got, v.Quoted)
		}
		if got := Quote(string(in)); got != v.Quoted {
			t.Errorf("%s: Quote(%q) = %q, want %q", v.Name, in, got, v.Quoted)
		}
		if got := AppendQuote([]byte("prefix"), string(in)); string(got) != "prefix"+v.Quoted {
			t.Errorf("%s: AppendQuote does not append: %q", v.Name, got)
		}
	}
}

// TestDecodeUTF8MatchesNode checks DecodeUTF8 against the same vectors:
// the quoted text, unquoted, is what TextDecoder read.
func TestDecodeUTF8MatchesNode(t *testing.T) {
	for _, v := range readQuoteVectors(t) {
		in, _ := hex.DecodeString(v.Hex)
		var want string
		if err := json.Unmarshal([]byte(v.Quoted), &want); err != nil {
			t.Fatal(err)
		}
		// A leading BOM is the only difference: the vectors keep it,
		// DecodeUTF8 drops it like a default TextDecoder.
		if got := DecodeUTF8(append([]byte("x"), in...))[1:]; got != want {
			t.Errorf("%s: DecodeUTF8(%q) = %q, want %q", v.Name, in, got, want)
		}
	}
}

func TestQuoteAllocations(t *testing.T) {
	in := []byte("\x1b[1;32muser@host\x1b[0m:~$ ls\r\ndéc.\t\xff\u2028\"\\")
	dst := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { dst = AppendQuoteBytes(dst[:0], in) }); n != 0 {
		t.Fatalf("AppendQuoteBytes allocates %v times into a large enough buffer", n)
	}
}

// FuzzQuote checks, for any bytes, that the quoted text is valid JSON that
// reads back as TextDecoder's decoding, and that both entry points agree.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c\x00\x1f\x7f", "\xe2\x82A", "\xed\xa0\x80", "\ufeff\u2028\u2029", "\xf0\x9f\x98", "😀\xc0\xaf"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		q := AppendQuoteBytes(nil, in)
		if !bytes.Equal(q, []byte(Quote(string(in)))) {
			t.Fatalf("AppendQuoteBytes %q, Quote %q", q, Quote(string(in)))
		}
		var back string
		if err := json.Unmarshal(q, &back); err != nil {
			t.Fatalf("Quote(%q) = %q is not JSON: %v", in, q, err)
		}
		if want := DecodeUTF8(append([]byte("x"), in...))[1:]; back != want {
			t.Fatalf("Quote(%q) = %q reads back as %q, want %q", in, q, back, want)
		}
		v, err := Parse(q)
		if err != nil || v.Kind != String || v.Str != back {
			t.Fatalf("Parse(%q) = %+v, %v", q, v, err)
		}
	})
}
