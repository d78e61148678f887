package wranglerfile_test

import (
	"bytes"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/wranglerfile"
)

// TestByteOrderMarkIsKept: Windows editors (Notepad, some IDEs) save
// wrangler.jsonc with a UTF-8 byte order mark. It is read past, as RFC 8259
// allows, and kept in front of the edited file, whose other bytes (CRLF
// line ends, comments) are as before.
func TestByteOrderMarkIsKept(t *testing.T) {
	const bom = "\ufeff"
	in := bom + "// project\r\n{\r\n  \"name\": \"demo\", // the Worker\r\n  \"vars\": { \"A\": \"1\" }\r\n}\r\n"
	f, err := wranglerfile.Parse([]byte(in))
	if err != nil || f.Name != "demo" {
		t.Fatalf("Parse: %+v, %v", f, err)
	}
	out, changed, err := wranglerfile.SetAccountID([]byte(in), "0123456789abcdef0123456789abcdef")
	if err != nil || !changed {
		t.Fatalf("SetAccountID: %v (changed %v)", err, changed)
	}
	want := bom + "// project\r\n{\r\n  \"name\": \"demo\", // the Worker\r\n  \"account_id\": \"0123456789abcdef0123456789abcdef\",\r\n  \"vars\": { \"A\": \"1\" }\r\n}\r\n"
	if string(out) != want {
		t.Fatalf("SetAccountID:\n%q\nwant\n%q", out, want)
	}
	again, changed, err := wranglerfile.SetAccountID(out, "0123456789abcdef0123456789abcdef")
	if err != nil || changed || !bytes.Equal(again, out) {
		t.Fatalf("second SetAccountID changed the file: %v %v", changed, err)
	}
	pinned, changed, err := wranglerfile.SetVar(out, "PIN", "x")
	if err != nil || !changed || !bytes.HasPrefix(pinned, []byte(bom+"// project\r\n")) || bytes.Count(pinned, []byte(bom)) != 1 {
		t.Fatalf("SetVar: %q, %v", pinned, err)
	}
	if g, err := wranglerfile.Parse(pinned); err != nil || g.Vars["PIN"] != "x" || g.Vars["A"] != "1" {
		t.Fatalf("SetVar result: %+v, %v", g, err)
	}
}
