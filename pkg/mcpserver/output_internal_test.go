package mcpserver

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCaptureKeepsShortOutput(t *testing.T) {
	c := newCapture(10, "", 0)
	io.WriteString(c, "12345")
	io.WriteString(c, "67890")
	if c.truncated() || c.text() != "1234567890" || c.cut() != 0 || c.total != 10 {
		t.Fatalf("%q truncated=%v cut=%d", c.text(), c.truncated(), c.cut())
	}
}

func TestCaptureCutsTheMiddle(t *testing.T) {
	c := newCapture(10, "", 0)
	for _, s := range []string{"abc", "defgh", "ijklmnop", "qrstuvwxyz"} {
		io.WriteString(c, s)
	}
	if !c.truncated() || c.total != 26 || c.cut() != 16 {
		t.Fatalf("truncated=%v total=%d cut=%d", c.truncated(), c.total, c.cut())
	}
	if got := c.text(); got != "abcde\n[… 16 bytes cut …]\nvwxyz" {
		t.Fatalf("%q", got)
	}
}

func TestCaptureDoesNotSplitRunes(t *testing.T) {
	// "é" is two bytes: the head ends and the tail starts inside one.
	c := captureString("aé"+strings.Repeat("x", 20)+"éb", 6)
	got := c.text()
	if !utf8.ValidString(got) || strings.Contains(got, "\uFFFD") {
		t.Fatalf("%q", got)
	}
	if !strings.HasPrefix(got, "aé\n") || !strings.HasSuffix(got, "\néb") && !strings.HasSuffix(got, "\nb") {
		t.Fatalf("%q", got)
	}
	// Invalid bytes the command printed become U+FFFD, never invalid JSON.
	if got := captureString("a\xffb", 10).text(); got != "a\uFFFDb" {
		t.Fatalf("%q", got)
	}
}

func TestCaptureSpillsTheWholeStream(t *testing.T) {
	c := newCapture(8, t.TempDir(), 1<<20)
	defer c.close()
	var want bytes.Buffer
	for i := range 1000 {
		s := strings.Repeat(string(rune('a'+i%26)), i%7+1)
		want.WriteString(s)
		io.WriteString(c, s)
	}
	f, complete := c.spillFile()
	if f == nil || !complete {
		t.Fatalf("spill %v %v %v", f, complete, c.spillErr)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("spilled %d bytes, want %d: %v", len(got), want.Len(), err)
	}
	name := f.Name()
	c.close()
	if _, err := os.Stat(name); !os.IsNotExist(err) {
		t.Fatal("spill file left behind")
	}

	// Beyond its cap the copy is incomplete, and says so.
	c = newCapture(4, t.TempDir(), 10)
	defer c.close()
	io.WriteString(c, strings.Repeat("z", 100))
	if f, complete := c.spillFile(); f == nil || complete || c.spilled != 10 {
		t.Fatalf("capped spill: %v %v %d", f, complete, c.spilled)
	}
}

func TestTailText(t *testing.T) {
	if s, cut := tailText("short", 10); s != "short" || cut != 0 {
		t.Fatal(s, cut)
	}
	s, cut := tailText("0123456789é", 3)
	if s != "9é" || cut != 9 {
		t.Fatalf("%q %d", s, cut)
	}
}

func FuzzCapture(f *testing.F) {
	f.Add([]byte("hello"), 4, 3)
	f.Add([]byte("h\xc3\xa9llo w\xe2\x82\xacrld"), 5, 2)
	f.Add([]byte{0, 0xff, 0xfe, 'a'}, 2, 1)
	f.Fuzz(func(t *testing.T, data []byte, limit, chunk int) {
		if limit < 0 || limit > 1<<12 || chunk <= 0 || chunk > 64 {
			t.Skip()
		}
		c := newCapture(limit, "", 0)
		for i := 0; i < len(data); i += chunk {
			c.Write(data[i:min(i+chunk, len(data))])
		}
		got := c.text()
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8: %q", got)
		}
		if c.total != int64(len(data)) {
			t.Fatalf("total %d, want %d", c.total, len(data))
		}
		if !c.truncated() {
			if got != strings.ToValidUTF8(string(data), "\uFFFD") {
				t.Fatalf("untruncated text %q from %q", got, data)
			}
			return
		}
		if c.cut() <= 0 || int64(len(c.head))+int64(c.tailLen()) > int64(max(limit, 2)) {
			t.Fatalf("cut %d head %d tail %d limit %d", c.cut(), len(c.head), c.tailLen(), limit)
		}
	})
}

func TestCaptureTellsBinaryFromText(t *testing.T) {
	random := make([]byte, 3000)
	for i := range random {
		random[i] = byte(i*7919 + i/3)
	}
	for s, want := range map[string]bool{
		string(random): true,
		strings.ToValidUTF8(string(random), "\uFFFD"): true, // as a Worker sends it
		"a\x00b":                              true,
		strings.Repeat("x", 100) + "\x01\x02": false,
		strings.Repeat("caf\xe9 na\xefve r\xe9sum\xe9\n", 50): false,
		strings.Repeat("\x1b[31mERROR\x1b[0m\tx\r\n", 100):    false,
		strings.Repeat("日本語のテキスト\n", 100):                     false,
	} {
		if got := captureString(s, 1000).binary(); got != want {
			t.Errorf("%q…: binary %v", s[:min(len(s), 20)], got)
		}
	}
}
