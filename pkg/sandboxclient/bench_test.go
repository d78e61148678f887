package sandboxclient_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// plainReader and plainWriter hide ReaderFrom/WriterTo so io.Copy does a
// real buffered copy: the floor the decoder is compared with.
type plainReader struct{ r io.Reader }

func (p plainReader) Read(b []byte) (int, error) { return p.r.Read(b) }

type plainWriter struct{ n int64 }

func (p *plainWriter) Write(b []byte) (int, error) { p.n += int64(len(b)); return len(b), nil }

// benchStream is 16 MiB of output in 16 KiB frames (the server's coalescing
// size), alternating stdout and stderr, then an exit frame.
func benchStream() []byte {
	payload := bytes.Repeat([]byte("x"), 16<<10)
	var buf bytes.Buffer
	for i := 0; i < 1024; i++ {
		buf.Write(frame(byte(1+i%2), payload))
	}
	buf.Write(frame(sc.FrameExit, []byte(`{"command":"x","exitCode":0,"success":true,"duration":1,"timestamp":1}`)))
	return buf.Bytes()
}

func BenchmarkStreamDecode(b *testing.B) {
	data := benchStream()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		w := &plainWriter{}
		dec := sc.NewStreamDecoder(plainReader{bytes.NewReader(data)})
		for {
			c, err := dec.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if c.Kind <= sc.FrameStderr {
				_, _ = w.Write(c.Data)
			}
		}
	}
}

func BenchmarkStreamIOCopyFloor(b *testing.B) {
	data := benchStream()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		w := &plainWriter{}
		if _, err := io.Copy(w, plainReader{bytes.NewReader(data)}); err != nil {
			b.Fatal(err)
		}
	}
}

// The per-call pair: one op through the client vs the same POST by hand,
// against the same backend.
func benchFake(b *testing.B) *sandboxtest.Server {
	return newFake(b, sandboxtest.Options{NoRecord: true})
}

func BenchmarkClientCall(b *testing.B) {
	srv := benchFake(b)
	sb := box(b, newClient(b, srv.URL, "use"), "job-1")
	c := context.Background()
	if _, err := sb.Ready(c); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ok, err := sb.Exists(c, "/home/user")
		if err != nil || !ok {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawHTTPPost(b *testing.B) {
	srv := benchFake(b)
	body := []byte(`{"profile":"default","root":"/home/user","op":"exists","args":["/home/user"]}`)
	url := srv.URL + "/api/nimbus/v1/sandboxes/job-1/rpc"
	hc := &http.Client{}
	tok := mintID(sandboxtest.DefaultSecret, testIDs["use"])
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(out, []byte(`"result":true`)) {
			b.Fatalf("%d %s", resp.StatusCode, out)
		}
	}
}

// BenchmarkWriteFile20MiB measures the bytes allocated (client and a sink
// server that discards the body) while one 20 MiB file is written.
func BenchmarkWriteFile20MiB(b *testing.B) {
	const size = 20 << 20
	var got int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if n < 4096 {
			_, _ = io.WriteString(w, `{"ok":true,"result":{"ok":true,"preinstalled":[]}}`)
			return
		}
		got = n
		_, _ = io.WriteString(w, `{"ok":true,"result":`+strconv.FormatInt(n, 10)+`}`)
	}))
	defer sink.Close()
	sb := box(b, newClient(b, sink.URL, "use"), "job-1")
	data := make([]byte, size)
	c := context.Background()
	if _, err := sb.Ready(c); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if err := sb.WriteFile(c, "/home/user/big.bin", data); err != nil {
			b.Fatal(err)
		}
	}
	if got < size*4/3 {
		b.Fatalf("sink received %d bytes", got)
	}
}

// BenchmarkReadFile20MiB measures the bytes allocated (client and a server
// writing a prepared answer) while one 20 MiB file is read to a writer: the
// answer is decoded as it streams in, the first holdLimit (1 MiB) held
// until the answer's opening is known good.
func BenchmarkReadFile20MiB(b *testing.B) {
	const size = 20 << 20
	raw := make([]byte, size)
	for i := range raw {
		raw[i] = byte(i)
	}
	answer := []byte(`{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"` + base64.StdEncoding.EncodeToString(raw) + `"}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Op string `json:"op"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		w.Header().Set("Content-Type", "application/json")
		switch req.Op {
		case "ready":
			_, _ = io.WriteString(w, `{"ok":true,"result":{"ok":true,"preinstalled":[]}}`)
		case "stat":
			_, _ = io.WriteString(w, `{"ok":true,"result":{"type":"file","size":`+strconv.Itoa(size)+`,"mtime":1,"mode":33188}}`)
		default:
			_, _ = w.Write(answer)
		}
	}))
	defer srv.Close()
	sb := box(b, newClient(b, srv.URL, ""), "job-1")
	c := context.Background()
	if _, err := sb.Ready(c); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		w := &plainWriter{}
		n, err := sb.ReadFileTo(c, "/f", w)
		if err != nil || n != size || w.n != size {
			b.Fatal(n, err)
		}
	}
}
