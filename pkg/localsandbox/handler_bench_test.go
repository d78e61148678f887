//go:build unix

package localsandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// The handler benchmarks serve prepared requests straight to the server's
// http.Handler with a writer that keeps nothing, so that time and
// allocations per op (-benchmem) are the server's own: no client, no
// connection. BenchmarkDevLoad (cmd) measures the whole path under load.
//
//	go test ./pkg/localsandbox -run '^$' -bench Handler -benchmem

// nullWriter is a ResponseWriter (and Flusher) that counts what it is
// given.
type nullWriter struct {
	h    http.Header
	code int
	body bytes.Buffer
}

func (w *nullWriter) Header() http.Header { return w.h }
func (w *nullWriter) WriteHeader(c int)   { w.code = c }
func (w *nullWriter) Flush()              {}
func (w *nullWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = 200
	}
	if w.body.Len() < 4096 {
		w.body.Write(p[:min(len(p), 4096)])
	}
	return len(p), nil
}

// rpcCaller sends one prepared rpc request to a handler and checks that it
// answered 200.
type rpcCaller struct {
	h    http.Handler
	req  *http.Request
	body *bytes.Reader
	raw  []byte
	w    nullWriter
}

func newCaller(b *testing.B, h http.Handler, id, op string, args ...any) *rpcCaller {
	raw, err := json.Marshal(map[string]any{"profile": "default", "root": "/home/user", "op": op, "args": args})
	if err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse("http://local/api/nimbus/v1/sandboxes/" + id + "/rpc")
	c := &rpcCaller{h: h, raw: raw, body: bytes.NewReader(raw), w: nullWriter{h: http.Header{}}}
	c.req = &http.Request{Method: http.MethodPost, URL: u, Host: "local", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Authorization": {"Bearer " + mint(b, "", token.ScopeSandboxUse)}, "Content-Type": {"application/json"}},
		Body:   io.NopCloser(c.body), ContentLength: int64(len(raw))}
	if op == "execStream" {
		c.req.Header.Set("Accept", "application/vnd.nimbus.exec-stream")
	}
	return c
}

func (c *rpcCaller) call(b *testing.B) []byte {
	c.body.Reset(c.raw)
	clear(c.w.h)
	c.w.code = 0
	c.w.body.Reset()
	c.h.ServeHTTP(&c.w, c.req)
	if c.w.code != 200 {
		b.Fatalf("%d %s", c.w.code, c.w.body.String())
	}
	return c.w.body.Bytes()
}

func benchServer(b *testing.B) *localsandbox.Server {
	s, err := localsandbox.New(localsandbox.Options{DataDir: b.TempDir(), Secret: secret, HostEnv: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkHandler measures one op at a time on one sandbox.
func BenchmarkHandler(b *testing.B) {
	data := strings.Repeat("0123456789abcdef", 256)
	cases := []struct {
		name string
		ops  [][]any // op and args, run in turn: one benchmark op
	}{
		{"ready", [][]any{{"ready", map[string]any{"preinstall": []string{}}}}},
		{"exec", [][]any{{"exec", "true"}}},
		{"execStream", [][]any{{"execStream", "true"}}},
		{"write+read", [][]any{{"writeFile", "/home/user/f.txt", data}, {"readFile", "/home/user/f.txt"}}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			s := benchServer(b)
			var calls []*rpcCaller
			for _, op := range tc.ops {
				calls = append(calls, newCaller(b, s, "bench", op[0].(string), op[1:]...))
			}
			for _, c := range calls {
				c.call(b) // the sandbox exists, an init is up
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				for _, c := range calls {
					c.call(b)
				}
			}
		})
	}
}

// BenchmarkHandlerParallel runs `exec true` from 16 goroutines per
// processor, each on its own sandbox (many) or all on one (one).
func BenchmarkHandlerParallel(b *testing.B) {
	for _, many := range []bool{true, false} {
		name := "exec/one-sandbox"
		if many {
			name = "exec/many-sandboxes"
		}
		b.Run(name, func(b *testing.B) {
			s := benchServer(b)
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				id := "bench"
				if many {
					id += "-" + strconv.FormatInt(n.Add(1), 10)
				}
				c := newCaller(b, s, id, "exec", "true")
				for pb.Next() {
					c.call(b)
				}
			})
		})
	}
}
