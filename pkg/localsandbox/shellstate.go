package localsandbox

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
)

// A named shell keeps its cwd and environment between calls: the wrapper
// script reports them from its EXIT trap on fd 3. The command runs in the
// same shell and its children inherit fd 3, so anything may be written
// there before (or, from an escaped background process, after) the
// report. The report is therefore framed by markers holding a random
// nonce of the call, and only a report that ends the stream counts:
// bytes written before it are ignored, bytes after it void it (the shell
// keeps its previous state). The stream is drained to its end, so a
// command that floods fd 3 is never blocked on it.

// maxShellState is how much of the end of the fd 3 stream is kept.
const maxShellState = 1 << 20

func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func stateMarkers(nonce string) (start, end string) {
	return "\nNIMBUS-STATE-" + nonce + "\n", "\nNIMBUS-END-" + nonce + "\n"
}

// shellWrapper is the script of a named shell's call; the command is $1.
// eval keeps a syntax error in the command from skipping the trap. The
// markers (hex and newlines) are written by printf "%s", which interprets
// nothing in them.
func shellWrapper(nonce string) string {
	start, end := stateMarkers(nonce)
	return `trap '__nimbus_rc=$?; { printf "%s" "` + start + `"; pwd; env -0; printf "%s" "` + end + `"; } >&3 2>/dev/null; exit $__nimbus_rc' EXIT
eval "$1"`
}

// readTail reads r to its end (or its first error, such as a deadline)
// and returns the last maxShellState bytes.
func readTail(r io.Reader) []byte {
	var buf []byte
	chunk := make([]byte, 64<<10)
	for {
		n, err := r.Read(chunk)
		buf = appendTail(buf, chunk[:n])
		if err != nil {
			return endTail(buf)
		}
	}
}

// appendTail appends p to a stream's tail, dropping what is older than
// the last maxShellState bytes now and then (endTail trims exactly).
func appendTail(buf, p []byte) []byte {
	buf = append(buf, p...)
	if len(buf) > 2*maxShellState {
		buf = append(buf[:0], buf[len(buf)-maxShellState:]...)
	}
	return buf
}

// endTail returns the last maxShellState bytes of a tail.
func endTail(buf []byte) []byte {
	if len(buf) > maxShellState {
		buf = buf[len(buf)-maxShellState:]
	}
	return buf
}

// parseState returns the report ("pwd\n" then env -0 output) when the
// stream ends with a complete one of this call.
func parseState(stream []byte, nonce string) ([]byte, bool) {
	start, end := stateMarkers(nonce)
	if !bytes.HasSuffix(stream, []byte(end)) {
		return nil, false
	}
	body := stream[:len(stream)-len(end)]
	i := bytes.LastIndex(body, []byte(start))
	if i < 0 {
		return nil, false
	}
	return body[i+len(start):], true
}
