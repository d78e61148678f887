package jsjson

import (
	"strconv"
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
