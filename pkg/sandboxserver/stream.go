package sandboxserver

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"sync"
	"time"
)

// Exec stream frame kinds.
const (
	// FrameStdout carries raw stdout bytes, not necessarily UTF-8.
	FrameStdout byte = 1
	// FrameStderr carries raw stderr bytes.
	FrameStderr byte = 2
	// FrameExit carries ExitPayload's JSON and is always the last frame
	// of a command that ran to its end.
	FrameExit byte = 3
	// FrameError carries ErrorPayload's JSON and is always the last frame
	// of a command that failed to run or was cancelled; a stream ending
	// without a FrameExit or FrameError frame is a failure.
	FrameError byte = 4
)

// StreamContentType is the media type of the exec stream.
const StreamContentType = "application/vnd.nimbus.exec-stream"

// StartStream writes the 200 header of an exec stream. Failures found
// before it are answered with WriteFail instead.
func StartStream(w http.ResponseWriter) {
	APIHeaders(w.Header())
	w.Header().Set("Content-Type", StreamContentType)
	w.WriteHeader(http.StatusOK)
}

// MaxFramePayload is the largest payload one frame carries: its length is
// a uint32 on the wire.
const MaxFramePayload = math.MaxUint32

// ErrFrameTooLarge is returned for a payload of more than MaxFramePayload
// bytes, whose length the frame header cannot hold (it would wrap and
// desynchronise the stream).
var ErrFrameTooLarge = errors.New("sandboxserver: exec stream frame payload larger than 4 GiB - 1 bytes")

// AppendFrame appends one frame to dst: the kind byte, the payload length
// as a big-endian uint32, the payload. A payload of more than
// MaxFramePayload bytes returns dst unchanged and ErrFrameTooLarge.
func AppendFrame(dst []byte, kind byte, payload []byte) ([]byte, error) {
	if uint64(len(payload)) > MaxFramePayload {
		return dst, ErrFrameTooLarge
	}
	dst = append(dst, kind)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...), nil
}

// ExitPayload is the JSON payload of the exit frame.
func ExitPayload(command string, exitCode int, start, end time.Time) []byte {
	p, _ := json.Marshal(map[string]any{"command": command, "exitCode": exitCode, "success": exitCode == 0, "duration": end.Sub(start).Milliseconds(), "timestamp": end.UnixMilli()})
	return p
}

// ErrorPayload is the JSON payload of the error frame.
func ErrorPayload(message string) []byte {
	p, _ := json.Marshal(map[string]string{"message": message})
	return p
}

// FrameWriter writes whole frames, safe for concurrent use by the stdout
// and stderr readers, flushing after each so output arrives live. The
// first write error sticks: the client is gone.
type FrameWriter struct {
	mu    sync.Mutex
	w     io.Writer
	flush func() error
	hdr   [5]byte
	err   error
}

// NewFrameWriter writes to w and calls flush (nil: none) after each frame.
func NewFrameWriter(w io.Writer, flush func() error) *FrameWriter {
	return &FrameWriter{w: w, flush: flush}
}

// Frame writes one frame. A payload of more than MaxFramePayload bytes
// writes nothing and returns ErrFrameTooLarge; the stream stays usable.
func (f *FrameWriter) Frame(kind byte, p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if uint64(len(p)) > MaxFramePayload {
		return ErrFrameTooLarge
	}
	f.hdr[0] = kind
	binary.BigEndian.PutUint32(f.hdr[1:], uint32(len(p)))
	if _, err := f.w.Write(f.hdr[:]); err != nil {
		f.err = err
		return err
	}
	if _, err := f.w.Write(p); err != nil {
		f.err = err
		return err
	}
	if f.flush != nil {
		f.err = f.flush()
	}
	return f.err
}
