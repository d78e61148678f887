//go:build unix

package localsandbox_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// hashWriter is a ResponseWriter that keeps only a hash of the answer,
// so that what a read allocates is the server's alone.
type hashWriter struct {
	h      hash.Hash
	header http.Header
	status int
	n      int
}

func (w *hashWriter) Header() http.Header { return w.header }
func (w *hashWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *hashWriter) Write(p []byte) (int, error) {
	w.WriteHeader(200)
	w.n += len(p)
	return w.h.Write(p)
}

// TestBigReadsStreamFromTheFile: reading a file of 8 MiB as text, as
// bytes or as one range allocates a small fraction of it on the server
// (the answer is read from the file as it is written), and the answer is
// the file.
func TestBigReadsStreamFromTheFile(t *testing.T) {
	s, hs := newServer(t)
	tok := mint(t, "big", token.ScopeSandboxUse)
	line := "0123456789abcdef€\u2028\"\\\n"
	text := strings.Repeat(line, (8<<20)/len(line))
	if e := call(t, hs.URL, tok, "big", "writeFile", "/home/user/big.txt", text); !e.OK {
		t.Fatal(e.Error)
	}
	// What the answers must be: the text as encoding/json writes it, and
	// the bytes in base64.
	quoted := func(s string) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSuffix(b.String(), "\n")
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(text))
	for _, tc := range []struct {
		op   string
		args []any
		want string
	}{
		{"readFile", []any{"/home/user/big.txt"}, `{"ok":true,"result":` + quoted(text) + `}`},
		{"readFileBytes", []any{"/home/user/big.txt"}, `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"` + b64 + `"}}`},
		{"readRange", []any{"/home/user/big.txt", 0, 16 << 20}, `{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"` + b64 + `"}}`},
	} {
		body, err := json.Marshal(map[string]any{"op": tc.op, "args": tc.args})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("POST", "http://127.0.0.1/api/nimbus/v1/sandboxes/big/rpc", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		w := &hashWriter{h: sha256.New(), header: http.Header{}}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s.ServeHTTP(w, req)
		runtime.ReadMemStats(&after)
		if w.status != 200 {
			t.Fatalf("%s: status %d", tc.op, w.status)
		}
		if got, want := w.h.Sum(nil), sha256.Sum256([]byte(tc.want)); !bytes.Equal(got, want[:]) {
			t.Fatalf("%s: the answer (%d bytes) is not the file's (%d bytes)", tc.op, w.n, len(tc.want))
		}
		// In memory, the answer would cost the file three times over; the
		// race detector's pools drop buffers, hence a quarter, not less.
		if d := after.TotalAlloc - before.TotalAlloc; d > uint64(len(text))/4 {
			t.Errorf("%s of %d MiB allocated %d KiB on the server", tc.op, len(text)>>20, d>>10)
		}
	}
}
