package secretfile

import (
	"strings"
	"testing"
)

func TestTrim(t *testing.T) {
	for in, want := range map[string]string{
		"s3cret":        "s3cret",
		"s3cret\n":      "s3cret",
		"s3cret\r\n":    "s3cret",
		"s3cret\r":      "s3cret",
		"in ner":        "in ner",
		"tab\tinside\n": "tab\tinside",
	} {
		if got, err := Trim([]byte(in)); err != nil || got != want {
			t.Errorf("Trim(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, reason := range map[string]string{
		"":               "is empty",
		"\n":             "is empty",
		"\r\n":           "is empty",
		"s3cret\n\n":     "more than one line",
		"a\nb":           "more than one line",
		" s3cret\n":      "whitespace",
		"s3cret \n":      "whitespace",
		"s3cret\t":       "whitespace",
		"\u00a0s3cret":   "whitespace",
		"\ufeffs3cret\n": "byte order mark",
	} {
		_, err := Trim([]byte(in))
		if err == nil || !strings.Contains(err.Error(), reason) {
			t.Errorf("Trim(%q) err = %v, want %q", in, err, reason)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error %q repeats the content", err)
		}
	}
	if _, err := Read(strings.NewReader(strings.Repeat("x", MaxSize+1))); err == nil || !strings.Contains(err.Error(), "64 KiB") {
		t.Errorf("oversized: %v", err)
	}
}
