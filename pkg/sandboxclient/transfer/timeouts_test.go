//go:build unix

package transfer_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

// shortHTTPTimeout gives the client an HTTP timeout far below what the
// tests' slow sandbox takes, with the small limits of split files.
func shortHTTPTimeout(o *sc.Options) {
	smallLimits(o)
	o.HTTPTimeout = 300 * time.Millisecond
}

func httpTimeout(t *testing.T, err error) {
	t.Helper()
	var ce *sc.Error
	if !errors.As(err, &ce) || ce.Code != sc.CodeHTTPTimeout {
		t.Fatalf("err = %v, want %s", err, sc.CodeHTTPTimeout)
	}
}

// Joining and hashing a big file in the sandbox may take longer than the
// HTTP timeout: those scripts carry a timeout of their own, scaled to the
// bytes they work on, and the client waits for them that long (plus the
// HTTP timeout) instead of giving up after the HTTP timeout.
func TestSandboxScriptsOutlastTheHTTPTimeout(t *testing.T) {
	b := newBackend(t, backendOpts{})
	b.delay["exec"] = time.Second // each script answers after 3 HTTP timeouts
	var mu sync.Mutex
	var timeouts []int64
	b.setFault(func(w http.ResponseWriter, op string, args []json.RawMessage) bool {
		if op == "exec" && len(args) > 1 {
			var o struct {
				TimeoutMs int64 `json:"timeoutMs"`
			}
			_ = json.Unmarshal(args[1], &o)
			mu.Lock()
			timeouts = append(timeouts, o.TimeoutMs)
			mu.Unlock()
		}
		return false
	})
	sb := b.sandbox(shortHTTPTimeout)
	ctx := testCtx(t)
	local, data := randomFile(t, t.TempDir(), "big.bin", 3*(64<<10)+5, 0o644)
	if _, err := transfer.Upload(ctx, sb, local, "/home/user/big.bin", transfer.Options{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(b.host("/home/user/big.bin")); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(timeouts) < 2 {
		t.Fatalf("%d scripts, want the join and the digests", len(timeouts))
	}
	for _, ms := range timeouts {
		if ms < (2 * time.Minute).Milliseconds() {
			t.Fatalf("a script was sent with timeoutMs %d, want at least 2 minutes: %v", ms, timeouts)
		}
	}
}

// A part whose answer never comes fails the file with the HTTP timeout
// (not a hang): the target stays untouched and the parts are removed.
func TestStalledPartFailsWithHTTPTimeout(t *testing.T) {
	b := newBackend(t, backendOpts{})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the server closes
	var once sync.Once
	b.setFault(func(w http.ResponseWriter, op string, args []json.RawMessage) bool {
		stall := false
		if op == "writeFile" {
			once.Do(func() { stall = true })
		}
		if stall {
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
			return true
		}
		return false
	})
	sb := b.sandbox(shortHTTPTimeout)
	os.MkdirAll(b.host("/home/user"), 0o755)
	os.WriteFile(b.host("/home/user/target"), []byte("old content"), 0o644)
	local, _ := randomFile(t, t.TempDir(), "big.bin", 4*(64<<10), 0o644)
	start := time.Now()
	_, err := transfer.Upload(testCtx(t), sb, local, "/home/user/target", transfer.Options{})
	httpTimeout(t, err)
	if took := time.Since(start); took > 8*time.Second {
		t.Fatalf("the stalled part took %s to fail", took)
	}
	if got, _ := os.ReadFile(b.host("/home/user/target")); string(got) != "old content" {
		t.Fatal("target changed")
	}
	if l := leftovers(t, b.host("/home/user")); len(l) != 0 {
		t.Fatalf("parts left behind: %v", l)
	}
}

// In a tree, a file whose answer stalls mid-body is one failure naming it
// (the HTTP timeout); every other file arrives.
func TestStalledReadIsOneFailureOfTheTree(t *testing.T) {
	b := newBackend(t, backendOpts{})
	sb := b.sandbox(shortHTTPTimeout)
	ctx := testCtx(t)
	for _, name := range []string{"a.txt", "b.txt", "slow.txt"} {
		if err := sb.Mkdir(ctx, "/home/user/tree"); err != nil {
			t.Fatal(err)
		}
		if err := sb.WriteFile(ctx, "/home/user/tree/"+name, []byte("content of "+name)); err != nil {
			t.Fatal(err)
		}
	}
	b.setFault(func(w http.ResponseWriter, op string, args []json.RawMessage) bool {
		if op != "readFileBytes" || !strings.HasSuffix(argString(args, 0), "/slow.txt") {
			return false
		}
		// The opening of a good answer, then nothing.
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true,"result":{"__nimbusWireType":"bytes","base64":"Y29u`))
		w.(http.Flusher).Flush()
		time.Sleep(2 * time.Second)
		return true
	})
	out := filepath.Join(t.TempDir(), "out")
	_, err := transfer.Download(ctx, sb, "tree", out, transfer.Options{Recursive: true})
	var pe *transfer.PartialError
	if !errors.As(err, &pe) || len(pe.Failures) != 1 || !strings.HasSuffix(pe.Failures[0].Path, "/slow.txt") || pe.Failures[0].Code != sc.CodeHTTPTimeout {
		t.Fatalf("err = %v (%+v)", err, pe)
	}
	for _, name := range []string{"a.txt", "b.txt"} {
		if got, _ := os.ReadFile(filepath.Join(out, name)); string(got) != "content of "+name {
			t.Fatalf("%s: %q", name, got)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "slow.txt")); !os.IsNotExist(err) {
		t.Fatalf("the stalled file was left in place: %v", err)
	}
}
