//go:build unix

package pipehup

import (
	"os"
	"testing"
	"time"
)

// A pipe whose reader is open is not gone, also when it is full; once the
// read end is closed it is.
func TestReaderGone(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rc, err := w.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if ReaderGone(rc) {
		t.Fatal("gone while its reader is open")
	}
	// Fill it: the write stops at its deadline once nothing more fits.
	if err := w.SetWriteDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := w.Write(make([]byte, 64<<10)); err != nil {
			break
		}
	}
	if ReaderGone(rc) {
		t.Fatal("a full pipe reported gone")
	}
	r.Close()
	if !ReaderGone(rc) {
		t.Fatal("not gone after its reader closed")
	}
}
