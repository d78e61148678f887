package jsjson

import (
	"strconv"
	"strings"
	"testing"
)

// TestNumberOf checks the integer fast path against strconv.
func TestNumberOf(t *testing.T) {
	for _, raw := range []string{"0", "7", "1750000000", "999999999999999", "9999999999999999", "12345678901234567890", "-5", "1.5", "1e3", "0.1", "-0", "1E+2"} {
		got, ok := NumberOf(raw)
		want, _ := strconv.ParseFloat(raw, 64)
		if !ok || got != want {
			t.Errorf("NumberOf(%q) = %v, %v; want %v", raw, got, ok, want)
		}
	}
	for _, raw := range []string{"", `"1"`, "true", "null", "[1]"} {
		if _, ok := NumberOf(raw); ok {
			t.Errorf("NumberOf(%q) accepted a non-number", raw)
		}
	}
}

func TestSetFollowsJavaScriptOrder(t *testing.T) {
	v, err := Parse([]byte(`{"b":1,"a":2}`))
	if err != nil {
		t.Fatal(err)
	}
	v.Set("a", NumberValue(3))
	v.Set("10", StringValue("x"))
	v.Set("c", Value{Kind: Null})
	v.Set("2", StringValue("y"))
	// Object.assign({b:1,a:2},{a:3}); o[10]="x"; o.c=null; o[2]="y"; JSON.stringify(o)
	if got, want := string(Marshal(v)), `{"2":"y","10":"x","b":1,"a":3,"c":null}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if p := v.Ptr("a"); p == nil || p.Num != 3 {
		t.Fatalf("Ptr(a) = %v", p)
	}
	if v.Ptr("zz") != nil {
		t.Fatal("Ptr of a missing key")
	}
}

// TestDuplicateKeysInLargeObjects: past linearScanMax members the
// duplicate rule (first position, last value) is kept by the map that
// replaces the scan, in ParseTopString and in Parse, for a key repeated
// before, at and after the switch, and in nested objects.
func TestDuplicateKeysInLargeObjects(t *testing.T) {
	for _, n := range []int{linearScanMax - 1, linearScanMax, linearScanMax + 1, 3 * linearScanMax} {
		src := "{"
		var order []string
		last := map[string]string{}
		add := func(k, v string) {
			if len(order) > 0 || src != "{" {
				src += ","
			}
			src += strconv.Quote(k) + ":" + v
			if _, ok := last[k]; !ok {
				order = append(order, k)
			}
			last[k] = v
		}
		for i := range n {
			add("k"+strconv.Itoa(i), strconv.Itoa(i))
			if i%5 == 4 {
				add("k0", `"again`+strconv.Itoa(i)+`"`)
				add("k"+strconv.Itoa(i-1), `{"x":1,"x":2}`)
			}
		}
		add("k"+strconv.Itoa(n-1), "true")
		src += "}"

		top, err := ParseTopString(src)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if len(top.Members) != len(order) {
			t.Fatalf("n=%d: %d members, want %d", n, len(top.Members), len(order))
		}
		v, err := Parse([]byte(src))
		if err != nil || len(v.Items) != len(order) {
			t.Fatalf("n=%d: Parse: %d items, %v", n, len(v.Items), err)
		}
		for i, k := range order {
			if m := top.Members[i]; m.Key != k || m.Raw != last[k] {
				t.Errorf("n=%d: ParseTopString member %d = %s:%s, want %s:%s", n, i, m.Key, m.Raw, k, last[k])
			}
			if it := v.Items[i]; it.Key != k || string(Marshal(it.Value)) != string(Marshal(mustParse(t, last[k]))) {
				t.Errorf("n=%d: Parse member %d = %s:%s, want %s:%s", n, i, it.Key, Marshal(it.Value), k, last[k])
			}
		}
	}
}

func mustParse(t *testing.T, s string) Value {
	t.Helper()
	v, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// BenchmarkParseTopManyKeys measures the linear duplicate check: 70000
// distinct keys (a 1 MiB token's worth) took 28 s when every key was
// compared with every earlier one. TestDuplicateCheckIsLinear guards it by
// counting, not timing.
func BenchmarkParseTopManyKeys(b *testing.B) {
	src := []byte("{")
	for i := range 70000 {
		if i > 0 {
			src = append(src, ',')
		}
		src = append(src, `"k`+strconv.Itoa(i)+`":0`...)
	}
	src = append(src, '}')
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := ParseTopString(string(src)); err != nil {
			b.Fatal(err)
		}
		if _, err := Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDuplicateCheckIsLinear guards the linear duplicate check without a
// clock: both parsers must consult keyIndex once per member, and the keys
// it reads for an object of 4n members must be about four times those for
// n members. With every key compared with every earlier one (the 28 s
// token), the reads grow sixteenfold.
func TestDuplicateCheckIsLinear(t *testing.T) {
	object := func(n int) (src string, members int) {
		var b strings.Builder
		b.WriteByte('{')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"k` + strconv.Itoa(i) + `":0`)
			members++
			if i%100 == 99 {
				// A duplicate now and then, so finding one is counted too.
				b.WriteString(`,"k` + strconv.Itoa(i/2) + `":1`)
				members++
			}
		}
		b.WriteByte('}')
		return b.String(), members
	}
	var finds, reads int
	keyIndexDone = func(x *keyIndex) { finds += x.finds; reads += x.reads }
	t.Cleanup(func() { keyIndexDone = nil })
	count := func(parse func(string) error, src string) (int, int) {
		finds, reads = 0, 0
		if err := parse(src); err != nil {
			t.Fatal(err)
		}
		return finds, reads
	}
	parsers := map[string]func(string) error{
		"Parse":          func(s string) error { _, err := Parse([]byte(s)); return err },
		"ParseTopString": func(s string) error { _, err := ParseTopString(s); return err },
	}
	const n = 2000
	small, smallMembers := object(n)
	large, largeMembers := object(4 * n)
	for name, parse := range parsers {
		f1, r1 := count(parse, small)
		f4, r4 := count(parse, large)
		if f1 != smallMembers || f4 != largeMembers {
			t.Errorf("%s: keyIndex consulted %d and %d times for %d and %d members: the duplicate check bypasses it", name, f1, f4, smallMembers, largeMembers)
		}
		if r1 > 3*smallMembers || r4 > 3*largeMembers {
			t.Errorf("%s: %d keys read for %d members, %d for %d: not linear", name, r1, smallMembers, r4, largeMembers)
		}
		if r4 > 4*r1+64 {
			t.Errorf("%s: 4x the members read %.1fx the keys (%d, %d)", name, float64(r4)/float64(r1), r1, r4)
		}
	}
}
