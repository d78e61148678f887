package sandboxserver_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// oversized returns a payload one byte longer than a frame can carry. The
// 4 GiB are never touched, so they cost address space, not memory.
func oversized(t *testing.T) []byte {
	n := uint64(sandboxserver.MaxFramePayload) + 1
	if n > math.MaxInt {
		t.Skip("a slice cannot exceed a frame's length on a 32-bit platform")
	}
	return make([]byte, int(n))
}

func TestFramesRefusePayloadsBeyondUint32(t *testing.T) {
	huge := oversized(t)

	dst := []byte("kept")
	got, err := sandboxserver.AppendFrame(dst, sandboxserver.FrameStdout, huge)
	if !errors.Is(err, sandboxserver.ErrFrameTooLarge) || string(got) != "kept" {
		t.Fatalf("AppendFrame of %d bytes: %q… %v", len(huge), got[:min(len(got), 8)], err)
	}
	got, err = sandboxserver.AppendFrame(dst, sandboxserver.FrameStderr, []byte("ok"))
	if err != nil || !bytes.Equal(got, []byte("kept\x02\x00\x00\x00\x02ok")) {
		t.Fatalf("AppendFrame: %q %v", got, err)
	}

	var out bytes.Buffer
	fw := sandboxserver.NewFrameWriter(&out, nil)
	if err := fw.Frame(sandboxserver.FrameStdout, huge); !errors.Is(err, sandboxserver.ErrFrameTooLarge) || out.Len() != 0 {
		t.Fatalf("Frame of %d bytes: wrote %d bytes, %v", len(huge), out.Len(), err)
	}
	// Nothing was written, so the stream is still in step: the error
	// frame that reports the failure goes out whole.
	if err := fw.Frame(sandboxserver.FrameError, []byte(`{}`)); err != nil || out.String() != "\x04\x00\x00\x00\x02{}" {
		t.Fatalf("Frame after the refusal: %q %v", out.String(), err)
	}
}
