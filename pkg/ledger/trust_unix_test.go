//go:build unix

package ledger_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/ledger"
)

// A ledger others could write is refused: its entries would direct this
// user's credentials to endpoints of their choosing.
func TestUntrustedFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	planted := filepath.Join(dir, "planted.jsonl")
	line := `{"op":"add","id":"x","endpoint":"https://evil.example","created":"2026-12-01T00:00:00Z"}` + "\n"
	if err := os.WriteFile(planted, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(planted, 0o666); err != nil {
		t.Fatal(err)
	}
	l := ledger.New(planted)
	if _, err := l.Pending(); !errors.Is(err, ledger.ErrUntrusted) || !strings.Contains(err.Error(), "others can write it (mode 0666)") {
		t.Fatalf("world-writable ledger read: %v", err)
	}
	if err := l.Record(ledger.Entry{ID: "y", Endpoint: "https://w.example"}); !errors.Is(err, ledger.ErrUntrusted) {
		t.Fatalf("world-writable ledger written: %v", err)
	}
	drained := false
	if _, _, err := l.Drain(context.Background(), "", func(context.Context, ledger.Entry) error { drained = true; return nil }); err == nil || drained {
		t.Fatalf("drained an untrusted ledger: %v", err)
	}
	// A symlink is refused too (it could point anywhere).
	link := filepath.Join(dir, "link.jsonl")
	if err := os.Symlink(filepath.Join(dir, "target"), link); err != nil {
		t.Fatal(err)
	}
	if err := ledger.New(link).Record(ledger.Entry{ID: "y", Endpoint: "https://w.example"}); !errors.Is(err, ledger.ErrUntrusted) {
		t.Fatalf("symlinked ledger written: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "target")); err == nil {
		t.Fatal("the write followed the symlink")
	}
	// Made private again, it is read.
	if err := os.Chmod(planted, 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err := l.Pending(); err != nil || len(p) != 1 {
		t.Fatalf("private ledger: %v %v", p, err)
	}
}

// TestDrainErrorOfAnUntrustedLedger: a ledger not trusted from the start
// is a DrainError of Kind DrainNotRead (nothing destroyed); one replaced
// by a file others can write while the drain runs is DrainUntrusted, the
// failure to forget what was destroyed held in Unwritten.
func TestDrainErrorOfAnUntrustedLedger(t *testing.T) {
	p := filepath.Join(t.TempDir(), "l")
	l := ledger.New(p)
	l.Record(ledger.Entry{ID: "a", Endpoint: "e"})
	os.Chmod(p, 0o666)
	out, _, err := l.Drain(context.Background(), "", func(context.Context, ledger.Entry) error { t.Fatal("destroyed"); return nil })
	var de *ledger.DrainError
	if !errors.As(err, &de) || de.Kind() != ledger.DrainNotRead || de.Read == nil || !errors.Is(de.Read, ledger.ErrUntrusted) ||
		de.Unwritten != nil || len(out) != 0 || err.Error() != de.Read.Error() {
		t.Fatalf("untrusted: %v %+v", err, de)
	}

	os.Chmod(p, 0o600)
	out, _, err = l.Drain(context.Background(), "", func(context.Context, ledger.Entry) error { return os.Chmod(p, 0o666) })
	if !errors.As(err, &de) || de.Kind() != ledger.DrainUntrusted || de.Unwritten == nil || !errors.Is(de.Unwritten, ledger.ErrUntrusted) ||
		de.Read != nil || len(out) != 1 || out[0].Err != nil {
		t.Fatalf("replaced while draining: %v %+v", err, de)
	}
}
