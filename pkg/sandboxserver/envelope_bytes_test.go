package sandboxserver

import (
	"bytes"
	"net/http/httptest"
	"strconv"
	"testing"
)

// The streamed bytes answer is byte-identical to the generic envelope.
func TestWriteBytesOKMatchesGenericEnvelope(t *testing.T) {
	ms := int64(7)
	for _, data := range [][]byte{{}, []byte("a"), []byte("ab"), []byte("abc"), bytes.Repeat([]byte{0xff, 0, '"', '\\', '<'}, 50000)} {
		for _, rpc := range []*int64{nil, &ms} {
			fast := httptest.NewRecorder()
			WriteOK(fast, Bytes(data), true, rpc)
			slow := httptest.NewRecorder()
			WriteJSON(slow, 200, success{has: true, result: EncodeWire(Bytes(data)), rpcMs: rpc})
			if !bytes.Equal(fast.Body.Bytes(), slow.Body.Bytes()) {
				t.Fatalf("%d bytes, rpcMs %v: fast %.80q… differs from %.80q…", len(data), rpc, fast.Body.String(), slow.Body.String())
			}
			if fast.Code != 200 || fast.Header().Get("Content-Type") != "application/json" || fast.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("status %d headers %v", fast.Code, fast.Header())
			}
			if got, want := fast.Header().Get("Content-Length"), len(slow.Body.Bytes()); got != itoa(want) {
				t.Fatalf("Content-Length %s, body %d", got, want)
			}
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
