package cmd_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// notifyWriter calls fn once, on the first write.
type notifyWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	once sync.Once
	fn   func()
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	n, err := w.buf.Write(p)
	w.mu.Unlock()
	w.once.Do(w.fn)
	return n, err
}

// Ctrl-C during exec (the root context is cancelled by SIGINT in Main):
// the stream is closed and nimbus exits 130 promptly.
func TestExecInterruptedExits130(t *testing.T) {
	srv := sandboxtest.New(sandboxtest.Options{})
	defer srv.Close()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("NIMBUS_ENDPOINT", srv.URL)
	t.Setenv("NIMBUS_TOKEN", srv.Token(scriptIDs["use"]))
	t.Chdir(t.TempDir())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ios, _, _, errOut := iostreams.Test()
	out := &notifyWriter{fn: cancel}
	ios.Out = out
	f := cmdutil.New()
	f.IOStreams = ios
	f.Getenv = os.Getenv // the t.Setenv above; config reads through Getenv

	start := time.Now()
	code := cmd.Run(ctx, f, []string{"sandbox", "exec", "job-1", "--", "echo started; sleep 30; echo never"})
	if code != 130 {
		t.Fatalf("exit %d, want 130; stderr %q", code, errOut.String())
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("interrupt did not stop the wait")
	}
	out.mu.Lock()
	got := out.buf.String()
	out.mu.Unlock()
	if got != "started\n" {
		t.Fatalf("stdout %q", got)
	}
	if !strings.Contains(errOut.String(), "E_INTERRUPTED") {
		t.Fatalf("stderr %q", errOut.String())
	}
}
