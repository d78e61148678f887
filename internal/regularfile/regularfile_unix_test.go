//go:build unix

package regularfile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestNamedPipeDoesNotBlock: a named pipe with no writer is refused at
// once by every entry point, whether the Stat sees it or only the check
// after the (non-blocking) open does, as when it replaces a regular file
// between the two.
func TestNamedPipeDoesNotBlock(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "p")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(fifo, 10); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadFile: %v", err)
	}
	if _, err := ReadFS(DirFS(dir), "p", 10); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadFS: %v", err)
	}
	// The open itself, as after a Stat that saw a regular file.
	f, err := DirFS(dir).Open("p")
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	f.Close()
	if err := check("open", "p", fi, 10); !errors.Is(err, ErrNotRegular) || err.Error() != "open p: a named pipe (FIFO), not a regular file" {
		t.Errorf("check: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "r"), []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(filepath.Join(dir, "r"), 5); err != nil || string(b) != "12345" {
		t.Errorf("regular file: %q %v", b, err)
	}
	if _, err := ReadFS(DirFS(dir), "r", 4); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	if _, err := ReadFile("/dev/zero", 4); !errors.Is(err, ErrNotRegular) {
		t.Errorf("/dev/zero: %v", err)
	}
	if b, err := ReadStream("/dev/zero", 4); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadStream /dev/zero: %d bytes, %v", len(b), err)
	}
}
