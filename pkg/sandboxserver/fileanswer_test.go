package sandboxserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// readCloser counts Close calls.
type readCloser struct {
	io.Reader
	closed int
}

func (r *readCloser) Close() error { r.closed++; return nil }

// answer runs WriteOK on result and returns the recorded answer.
func answer(t *testing.T, result any, rpcMs *int64) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	WriteOK(rec, result, true, rpcMs)
	return rec
}

// tricky is text whose pieces land on every side of a chunk edge: cut
// characters, invalid runs, U+2028, escapes.
func tricky() []string {
	return []string{
		"€", "\xe2\x82", "\xff\xfe", "\xed\xa0\x80", "\u2028", "\u2029", "\"\\", "\x00\x1f\b\f\n\r\t",
		"𝄞", "\xf0\x9d\x84", "\xc3", "\uFFFD", "\x7f<>&", "\xe2\x80", "\xe2\x80\xa8\xe2",
	}
}

// TestFileTextIsTheStringAnswer: a text answer streamed from a file is
// byte for byte the answer of the same text in memory, wherever a chunk
// edge falls.
func TestFileTextIsTheStringAnswer(t *testing.T) {
	ms := int64(7)
	for _, piece := range tricky() {
		for _, size := range []int{fileChunk - 3, fileChunk - 2, fileChunk - 1, fileChunk, 2*fileChunk - 1, 3*fileChunk + 5} {
			for _, tail := range []string{"", "x", "\xe2", piece} {
				data := []byte(strings.Repeat("a", size-len(piece)) + piece + tail + strings.Repeat(piece, 3))
				rc := &readCloser{Reader: bytes.NewReader(data)}
				got := answer(t, FileText{R: rc, Limit: 1 << 30}, &ms)
				want := answer(t, strings.ToValidUTF8(string(data), "\uFFFD"), &ms)
				if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
					t.Fatalf("piece %q size %d tail %q: streamed answer differs\n got %q\nwant %q", piece, size, tail, tailOf(got.Body.Bytes()), tailOf(want.Body.Bytes()))
				}
				if got.Code != 200 || got.Header().Get("Content-Type") != "application/json" || got.Header().Get("Cache-Control") != "no-store" {
					t.Fatalf("status %d headers %v", got.Code, got.Header())
				}
				if rc.closed != 1 {
					t.Fatalf("closed %d times", rc.closed)
				}
			}
		}
	}
}

func tailOf(b []byte) []byte {
	if len(b) > 200 {
		return b[len(b)-200:]
	}
	return b
}

// FuzzUTF8Fixer: fixing text in pieces, cut anywhere, is fixing it whole.
func FuzzUTF8Fixer(f *testing.F) {
	for _, p := range tricky() {
		f.Add([]byte("ab"+p+p+"cd"), uint8(3), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, a, b uint8) {
		cuts := []int{int(a) % (len(data) + 1), int(b) % (len(data) + 1)}
		if cuts[0] > cuts[1] {
			cuts[0], cuts[1] = cuts[1], cuts[0]
		}
		var fx utf8Fixer
		var got []byte
		got = fx.append(got, data[:cuts[0]], false)
		got = fx.append(got, data[cuts[0]:cuts[1]], false)
		got = fx.append(got, data[cuts[1]:], true)
		if want := strings.ToValidUTF8(string(data), "\uFFFD"); string(got) != want {
			t.Fatalf("%q cut at %v: %q, want %q", data, cuts, got, want)
		}
	})
}

// FuzzJSONStringBody: the escaping of a streamed text is encoding/json's.
func FuzzJSONStringBody(f *testing.F) {
	for _, p := range tricky() {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		w := want.Bytes()
		if got := appendJSONStringBody([]byte("x"), []byte(s)); string(got) != "x"+string(w[1:len(w)-2]) {
			t.Fatalf("%q: %q, want %q", s, got, w)
		}
	})
}

// FuzzTextAnswer: a text result held as bytes answers byte for byte as
// the string strings.ToValidUTF8 makes of them, headers included.
func FuzzTextAnswer(f *testing.F) {
	for _, p := range tricky() {
		f.Add([]byte("ab" + p + "cd" + strings.Repeat(p, 700)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ms := int64(len(data) % 5)
		got := answer(t, Text(data), &ms)
		want := answer(t, strings.ToValidUTF8(string(data), "\uFFFD"), &ms)
		if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
			t.Fatalf("%q: %q, want %q", data, tailOf(got.Body.Bytes()), tailOf(want.Body.Bytes()))
		}
		if g, w := got.Header(), want.Header(); g.Get("Content-Length") != w.Get("Content-Length") || len(g) != len(w) {
			t.Fatalf("headers %v, want %v", g, w)
		}
	})
}

// TestFileBytesIsTheBytesAnswer: a bytes answer streamed from a file is
// the in-memory answer, with its exact Content-Length, for sizes around
// the chunk.
func TestFileBytesIsTheBytesAnswer(t *testing.T) {
	ms := int64(3)
	for _, size := range []int{0, 1, 2, fileChunk - 1, fileChunk, fileChunk + 1, 3*fileChunk + 2} {
		data := bytes.Repeat([]byte{0, 0xff, 'a', 0x80, '"'}, size/5+1)[:size]
		for _, rpc := range []*int64{nil, &ms} {
			rc := &readCloser{Reader: bytes.NewReader(data)}
			got := answer(t, FileBytes{R: rc, Size: int64(size)}, rpc)
			want := answer(t, Bytes(data), rpc)
			if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
				t.Fatalf("size %d: streamed answer differs", size)
			}
			if cl := got.Header().Get("Content-Length"); cl != want.Header().Get("Content-Length") || cl == "" {
				t.Fatalf("size %d: Content-Length %q, want %q", size, cl, want.Header().Get("Content-Length"))
			}
			if rc.closed != 1 {
				t.Fatalf("closed %d times", rc.closed)
			}
		}
	}
}

// TestFileAnswersFailBeforeTheyStart: a read error before the answer has
// started is the op's error answer; a file that ended early is answered
// with what it held.
func TestFileAnswersFailBeforeTheyStart(t *testing.T) {
	eio := errors.New("EIO: i/o error, read '/x'")
	fail := func(err error) *Error { return RPCError(err.Error()) }
	for _, result := range []any{
		FileBytes{R: &readCloser{Reader: io.MultiReader(strings.NewReader("ab"), errReader{eio})}, Size: 4 * fileChunk, Fail: fail},
		FileText{R: &readCloser{Reader: io.MultiReader(strings.NewReader("ab"), errReader{eio})}, Limit: 1 << 20, Fail: fail},
	} {
		rec := answer(t, result, nil)
		if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"error":"EIO: i/o error, read '/x'"`) {
			t.Fatalf("%T: %d %s", result, rec.Code, rec.Body)
		}
	}
	rec := answer(t, FileBytes{R: &readCloser{Reader: strings.NewReader("short")}, Size: 4 * fileChunk}, nil)
	if want := answer(t, Bytes("short"), nil); rec.Body.String() != want.Body.String() {
		t.Fatalf("shrunk file: %s", rec.Body)
	}
	rec = answer(t, FileText{R: &readCloser{Reader: strings.NewReader(strings.Repeat("a", 100))}, Limit: 10}, nil)
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "exceeds the 10-byte limit") {
		t.Fatalf("over the limit: %d %s", rec.Code, rec.Body)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestFileAnswersAreCutNotShortened: once an answer has started, a file
// that fails, ends early or grows past the limit cuts the connection: the
// client gets an error, never a well-formed short answer.
func TestFileAnswersAreCutNotShortened(t *testing.T) {
	eio := errors.New("EIO")
	big := strings.Repeat("a", 2*fileChunk)
	results := map[string]func() any{
		"bytes read error": func() any {
			return FileBytes{R: &readCloser{Reader: io.MultiReader(strings.NewReader(big), errReader{eio})}, Size: 4 * fileChunk}
		},
		"bytes shrunk": func() any { return FileBytes{R: &readCloser{Reader: strings.NewReader(big)}, Size: 4 * fileChunk} },
		"text read error": func() any {
			return FileText{R: &readCloser{Reader: io.MultiReader(strings.NewReader(big), errReader{eio})}, Limit: 1 << 20}
		},
		"text grew": func() any { return FileText{R: &readCloser{Reader: strings.NewReader(big)}, Limit: fileChunk + 10} },
	}
	for name, result := range results {
		t.Run(name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				WriteOK(w, result(), true, nil)
			}))
			hs.Config.ErrorLog = nil
			defer hs.Close()
			resp, err := http.Post(hs.URL, "application/json", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err == nil {
				t.Fatalf("status %d: read %d bytes without an error; a short answer looked whole", resp.StatusCode, len(body))
			}
			var v any
			if json.Unmarshal(body, &v) == nil {
				t.Fatal("the cut answer parses as JSON")
			}
		})
	}
}
