package sandboxclient_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// chunkReader returns at most n bytes per Read, so frames split anywhere.
type chunkReader struct {
	data []byte
	n    int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	k := min(r.n, len(p), len(r.data))
	copy(p, r.data[:k])
	r.data = r.data[k:]
	return k, nil
}

// splitReader returns the data in exactly two reads, cut at pos.
type splitReader struct {
	parts [][]byte
}

func (r *splitReader) Read(p []byte) (int, error) {
	for len(r.parts) > 0 && len(r.parts[0]) == 0 {
		r.parts = r.parts[1:]
	}
	if len(r.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.parts[0])
	r.parts[0] = r.parts[0][n:]
	return n, nil
}

type decoded struct {
	stdout, stderr []byte
	final          byte
	payload        []byte
	err            error
}

func decodeAll(r io.Reader) decoded {
	var d decoded
	dec := sc.NewStreamDecoder(r)
	for {
		c, err := dec.Next()
		if err == io.EOF {
			return d
		}
		if err != nil {
			d.err = err
			return d
		}
		switch c.Kind {
		case sc.FrameStdout:
			d.stdout = append(d.stdout, c.Data...)
		case sc.FrameStderr:
			d.stderr = append(d.stderr, c.Data...)
		default:
			d.final, d.payload = c.Kind, append([]byte(nil), c.Data...)
		}
	}
}

func frame(kind byte, payload []byte) []byte {
	out := make([]byte, 5, 5+len(payload))
	out[0] = kind
	binary.BigEndian.PutUint32(out[1:], uint32(len(payload)))
	return append(out, payload...)
}

func exampleStream(t testing.TB) []byte {
	ex := loadExamples(t)["execStream"]
	b, err := hex.DecodeString(ex.Response.BodyHex)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecoderExampleSplitAtEveryByte(t *testing.T) {
	body := exampleStream(t)
	check := func(d decoded, how string) {
		t.Helper()
		if d.err != nil || string(d.stdout) != "hi\n" || string(d.stderr) != "oops\n" || d.final != sc.FrameExit || len(d.payload) != 113 {
			t.Fatalf("%s: %+v", how, d)
		}
	}
	for n := 1; n <= len(body); n++ {
		check(decodeAll(&chunkReader{data: body, n: n}), "chunks")
	}
	for i := 0; i <= len(body); i++ {
		check(decodeAll(&splitReader{parts: [][]byte{append([]byte(nil), body[:i]...), append([]byte(nil), body[i:]...)}}), "split")
	}
}

func TestDecoderDeliversWholeFrames(t *testing.T) {
	payload := []byte("héllo wörld, a frame that must not be cut\n")
	body := append(frame(sc.FrameStdout, payload), frame(sc.FrameStderr, payload)...)
	body = append(body, frame(sc.FrameExit, []byte(`{"exitCode":0}`))...)
	dec := sc.NewStreamDecoder(&chunkReader{data: body, n: 1})
	for _, kind := range []byte{sc.FrameStdout, sc.FrameStderr} {
		c, err := dec.Next()
		if err != nil || c.Kind != kind || !bytes.Equal(c.Data, payload) {
			t.Fatalf("got %d %q %v", c.Kind, c.Data, err)
		}
	}
}

func TestDecoderTruncatedAtEveryByte(t *testing.T) {
	body := exampleStream(t)
	for i := 0; i < len(body); i++ {
		d := decodeAll(bytes.NewReader(body[:i]))
		var ce *sc.Error
		if !errors.As(d.err, &ce) || ce.Code != sc.CodeStreamTruncated {
			t.Fatalf("cut at %d: err = %v", i, d.err)
		}
	}
}

func TestDecoderLargeFramesAreStreamedInPieces(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 40000) // 640 KB, bigger than the buffer
	body := append(frame(sc.FrameStdout, big), frame(sc.FrameStdout, nil)...)
	body = append(body, frame(sc.FrameStderr, []byte("e"))...)
	body = append(body, frame(sc.FrameError, []byte(`{"message":"boom"}`))...)
	dec := sc.NewStreamDecoder(bytes.NewReader(body))
	var got []byte
	maxChunk := 0
	for {
		c, err := dec.Next()
		if err != nil {
			t.Fatal(err)
		}
		if c.Kind == sc.FrameError {
			break
		}
		if c.Kind == sc.FrameStdout {
			got = append(got, c.Data...)
			maxChunk = max(maxChunk, len(c.Data))
		}
	}
	if !bytes.Equal(got, big) || maxChunk > 64<<10 {
		t.Fatalf("equal=%v maxChunk=%d", bytes.Equal(got, big), maxChunk)
	}
	if _, err := dec.Next(); err != io.EOF {
		t.Fatalf("after the final frame: %v", err)
	}
}

func TestDecoderRejectsBadStreams(t *testing.T) {
	cases := map[string][]byte{
		"unknown kind":      frame(9, []byte("x")),
		"kind zero":         frame(0, nil),
		"huge control":      {3, 0xff, 0xff, 0xff, 0xff},
		"empty":             {},
		"output only":       frame(1, []byte("x")),
		"header cut":        {1, 0, 0},
		"payload cut":       {1, 0, 0, 0, 9, 'a'},
		"control frame cut": {3, 0, 0, 0, 9, '{'},
	}
	want := map[string]string{
		"unknown kind": sc.CodeStreamProtocol, "kind zero": sc.CodeStreamProtocol, "huge control": sc.CodeStreamProtocol,
	}
	for name, body := range cases {
		d := decodeAll(bytes.NewReader(body))
		code := want[name]
		if code == "" {
			code = sc.CodeStreamTruncated
		}
		var ce *sc.Error
		if !errors.As(d.err, &ce) || ce.Code != code {
			t.Fatalf("%s: err = %v", name, d.err)
		}
	}
}

// reference decodes a whole buffer the simple way, for the fuzz oracle.
func reference(b []byte) decoded {
	var d decoded
	for {
		if len(b) < 5 {
			d.err = errors.New("truncated")
			return d
		}
		kind, n := b[0], binary.BigEndian.Uint32(b[1:5])
		b = b[5:]
		if kind < 1 || kind > 4 {
			d.err = errors.New("kind")
			return d
		}
		if (kind == 3 || kind == 4) && n > sc.MaxControlFrame {
			d.err = errors.New("too big")
			return d
		}
		if uint64(len(b)) < uint64(n) {
			// Frames bigger than the decoder's buffer are streamed as
			// they arrive, so a cut one still delivers its available
			// bytes; smaller frames are delivered whole or not at all.
			if n > 64<<10 {
				if kind == 1 {
					d.stdout = append(d.stdout, b...)
				} else if kind == 2 {
					d.stderr = append(d.stderr, b...)
				}
			}
			d.err = errors.New("truncated")
			return d
		}
		switch kind {
		case 1:
			d.stdout = append(d.stdout, b[:n]...)
		case 2:
			d.stderr = append(d.stderr, b[:n]...)
		default:
			d.final, d.payload = kind, append([]byte(nil), b[:n]...)
			return d
		}
		b = b[n:]
	}
}

func FuzzStreamDecoder(f *testing.F) {
	f.Add(exampleStream(f), uint8(1))
	f.Add(exampleStream(f), uint8(7))
	f.Add(append(frame(1, []byte("a")), frame(4, []byte(`{"message":"x"}`))...), uint8(3))
	f.Add([]byte{1, 0, 0, 0, 5, 'a'}, uint8(2))
	f.Add([]byte{9, 0, 0, 0, 0}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		n := int(chunk%32) + 1
		got := decodeAll(&chunkReader{data: append([]byte(nil), data...), n: n})
		want := reference(data)
		if (got.err == nil) != (want.err == nil) {
			t.Fatalf("err mismatch: got %v want %v", got.err, want.err)
		}
		if got.err != nil {
			var ce *sc.Error
			if !errors.As(got.err, &ce) || (ce.Code != sc.CodeStreamTruncated && ce.Code != sc.CodeStreamProtocol) {
				t.Fatalf("untyped error %v", got.err)
			}
		}
		if !bytes.Equal(got.stdout, want.stdout) || !bytes.Equal(got.stderr, want.stderr) {
			t.Fatal("output mismatch")
		}
		if want.err == nil && (got.final != want.final || !bytes.Equal(got.payload, want.payload)) {
			t.Fatal("final frame mismatch")
		}
	})
}
