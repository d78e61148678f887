package sandboxclient

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Frame kinds of the exec stream.
const (
	// FrameStdout carries raw standard output bytes, not necessarily
	// UTF-8.
	FrameStdout byte = 1
	// FrameStderr carries raw standard error bytes.
	FrameStderr byte = 2
	// FrameExit carries the exit JSON (see ExitInfo); it is always the
	// last frame.
	FrameExit byte = 3
	// FrameError carries a JSON {message}: the command failed or was
	// cancelled. It is always the last frame.
	FrameError byte = 4
)

// frameHeaderLen is one kind byte plus a big-endian uint32 payload length.
const frameHeaderLen = 5

// MaxControlFrame bounds the JSON payload of exit and error frames; output
// frames are never buffered whole, so they have no limit.
const MaxControlFrame = 1 << 20

// streamBufSize is the decoder's read buffer; output is handed out in slices
// of at most this size, which bounds the decoder's memory.
const streamBufSize = 64 << 10

// StreamDecoder reads the exec stream framing incrementally: frames may be
// split or joined at any byte across reads. Memory is bounded by one read
// buffer plus MaxControlFrame, whatever the frame lengths.
type StreamDecoder struct {
	r    io.Reader
	buf  []byte
	off  int // start of unread data in buf
	end  int // end of unread data in buf
	kind byte
	left uint32 // payload bytes left in the current output frame
	in   bool   // inside an output frame
	done bool
	err  error
	p    pacer // d.r, when it bounds the rest of a started frame
}

// NewStreamDecoder returns a decoder reading frames from r.
func NewStreamDecoder(r io.Reader) *StreamDecoder {
	p, _ := r.(pacer)
	return &StreamDecoder{r: r, buf: make([]byte, streamBufSize), p: p}
}

// Chunk is one piece of decoded stream. For output kinds Data is a whole
// frame payload, or a piece of one when the frame is bigger than the 64 KiB
// buffer (it then arrives as several chunks of the same kind); it is only
// valid until the next call to Next. For FrameExit and
// FrameError, Data is the whole JSON payload.
type Chunk struct {
	// Kind is one of FrameStdout, FrameStderr, FrameExit and FrameError.
	Kind byte
	// Data is the payload as described on Chunk; callers that keep it
	// past the next Next must copy it.
	Data []byte
}

// Next returns the next chunk. After an exit or error frame it returns
// io.EOF. A stream that ends before an exit or error frame gives an *Error
// with CodeStreamTruncated; an unknown kind, an oversized control frame or
// bytes read along with the exit or error frame (which is always the last)
// give CodeStreamProtocol.
func (d *StreamDecoder) Next() (Chunk, error) {
	if d.err != nil {
		return Chunk{}, d.err
	}
	if d.done {
		return Chunk{}, io.EOF
	}
	c, err := d.next()
	if err != nil {
		d.err = err
	}
	return c, err
}

func (d *StreamDecoder) next() (Chunk, error) {
	for {
		if d.in {
			if d.left == 0 {
				d.in = false
				continue
			}
			if d.end == d.off {
				if err := d.fill(1, true); err != nil {
					return Chunk{}, err
				}
			}
			n := d.end - d.off
			if uint32(n) > d.left {
				n = int(d.left)
			}
			data := d.buf[d.off : d.off+n]
			d.off += n
			d.left -= uint32(n)
			if d.left == 0 {
				d.in = false
			}
			return Chunk{Kind: d.kind, Data: data}, nil
		}
		if err := d.fill(frameHeaderLen, false); err != nil {
			return Chunk{}, err
		}
		kind := d.buf[d.off]
		length := binary.BigEndian.Uint32(d.buf[d.off+1 : d.off+frameHeaderLen])
		d.off += frameHeaderLen
		switch kind {
		case FrameStdout, FrameStderr:
			if length == 0 {
				continue
			}
			if int(length) <= len(d.buf) {
				// Frames that fit the buffer are handed out whole: the
				// server writes them whole, and a split would only be a
				// transport artefact (and could cut a UTF-8 sequence).
				if err := d.fill(int(length), true); err != nil {
					return Chunk{}, err
				}
				data := d.buf[d.off : d.off+int(length)]
				d.off += int(length)
				return Chunk{Kind: kind, Data: data}, nil
			}
			d.kind, d.left, d.in = kind, length, true
		case FrameExit, FrameError:
			if length > MaxControlFrame {
				return Chunk{}, &Error{Code: CodeStreamProtocol, Message: fmt.Sprintf("exec stream control frame of %d bytes exceeds %d", length, MaxControlFrame)}
			}
			payload, err := d.readN(int(length))
			if err != nil {
				return Chunk{}, err
			}
			if d.end > d.off {
				// Already read with it (nothing more is waited for): an
				// exit frame followed by another, or by output, leaves
				// the command's status in doubt.
				return Chunk{}, &Error{Code: CodeStreamProtocol, Message: fmt.Sprintf("exec stream carries %d more byte(s) after its last frame (kind %d)", d.end-d.off, kind)}
			}
			d.done = true
			return Chunk{Kind: kind, Data: payload}, nil
		default:
			return Chunk{}, &Error{Code: CodeStreamProtocol, Message: fmt.Sprintf("exec stream has an unknown frame kind %d", kind)}
		}
	}
}

// pacer is implemented by a stream body that bounds the wait for the rest
// of a frame once it has started (see streamBody).
type pacer interface{ midFrame(mid bool) }

// pace tells the reader whether the next read waits inside a frame.
func (d *StreamDecoder) pace(mid bool) {
	if d.p != nil {
		d.p.midFrame(mid)
	}
}

// readErr is the error of a failed read: the end of the body before the
// last frame is a truncated stream, and an HTTP timeout (a frame that
// stopped half-way) keeps its own code.
func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return truncated()
	}
	var ce *Error
	if errors.As(err, &ce) && ce.Code == CodeHTTPTimeout {
		return ce
	}
	return &Error{Code: CodeTransport, Message: "reading the exec stream failed", Err: err}
}

// fill ensures at least n unread bytes are buffered (n <= len(buf)). mid
// says a frame has started (its header is read, or n is for a header and
// bytes of it are buffered).
func (d *StreamDecoder) fill(n int, mid bool) error {
	if !mid {
		// A frame boundary: the next frame is paced on its own.
		d.pace(false)
	}
	if d.end-d.off >= n {
		return nil
	}
	if d.off > 0 {
		copy(d.buf, d.buf[d.off:d.end])
		d.end -= d.off
		d.off = 0
	}
	for d.end < n {
		d.pace(mid || d.end > 0)
		m, err := d.r.Read(d.buf[d.end:])
		d.end += m
		if d.end >= n {
			return nil
		}
		if err != nil {
			return readErr(err)
		}
	}
	return nil
}

// readN returns exactly n payload bytes in a fresh slice.
func (d *StreamDecoder) readN(n int) ([]byte, error) {
	out := make([]byte, n)
	got := copy(out, d.buf[d.off:d.end])
	d.off += got
	if got < n {
		d.pace(true)
		if _, err := io.ReadFull(d.r, out[got:]); err != nil {
			return nil, readErr(err)
		}
	}
	return out, nil
}

func truncated() *Error {
	return &Error{Code: CodeStreamTruncated, Message: "exec stream ended before the command exited"}
}

// ExitInfo is the payload of an exit frame.
type ExitInfo struct {
	// Command is the command line as the server ran it (wire "command").
	Command string `json:"command"`
	// ExitCode is the remote exit code when it is an integer within 32
	// bits, else -1; see ExecResult.
	ExitCode int `json:"exitCode"`
	// ExitCodeRaw is the exit code exactly as the server sent it.
	ExitCodeRaw json.Number `json:"-"`
	// Success is the server's "success": true exactly when the exit code
	// is 0.
	Success bool `json:"success"`
	// Duration is how long the command ran, in milliseconds (wire
	// "duration").
	Duration int64 `json:"duration"`
	// Timestamp is when the command ended, in milliseconds since the Unix
	// epoch (wire "timestamp").
	Timestamp int64 `json:"timestamp"`
}

// parseExit decodes an exit frame payload; exitCode is required and may be
// any JSON number.
func parseExit(data []byte) (*ExitInfo, error) {
	var raw struct {
		ExitInfo
		ExitCode json.RawMessage `json:"exitCode"`
		Success  *bool           `json:"success"`
	}
	err := json.Unmarshal(data, &raw)
	code, num, ok := decodeExitCode(raw.ExitCode)
	if err != nil || !ok {
		return nil, &Error{Code: CodeStreamProtocol, Message: "exec stream exit frame is not valid JSON with a numeric exitCode", Err: err}
	}
	if err := exactMembers(data, "exec stream exit frame"); err != nil {
		return nil, &Error{Code: CodeStreamProtocol, Message: err.(*Error).Message}
	}
	if deniesZero(code, raw.Success) {
		return nil, &Error{Code: CodeStreamProtocol, Message: "exec stream exit frame says exitCode " + string(num) + ` but "success":false: whether the command succeeded is in doubt`}
	}
	info := raw.ExitInfo
	info.ExitCode, info.ExitCodeRaw = code, num
	info.Success = raw.Success != nil && *raw.Success
	return &info, nil
}

// parseErrorFrame turns an error frame payload into an *Error.
// Its message never repeats the token of req, the stream's request.
func parseErrorFrame(data []byte, req *http.Request) error {
	var p struct {
		Message *string `json:"message"`
	}
	if err := json.Unmarshal(data, &p); err != nil || p.Message == nil {
		return &Error{Code: CodeStreamProtocol, Message: "exec stream error frame is not valid JSON with a message", Err: err}
	}
	return &Error{Code: CodeExecFailed, Message: serverText(*p.Message, req, MaxServerText)}
}
