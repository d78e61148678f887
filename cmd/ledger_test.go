package cmd_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLedgerMadeUntrustedDuringTheDrain: a ledger that others can write
// by the time the drain forgets what it destroyed is refused
// (E_LEDGER_UNTRUSTED, 77), but the sandboxes were destroyed, and the
// command says so: the JSON result lists them, and the message says they
// stay pending. It used to print no result and say "nothing was
// destroyed", the message of a ledger refused before the drain.
func TestLedgerMadeUntrustedDuringTheDrain(t *testing.T) {
	work := t.TempDir()
	led := filepath.Join(work, "ledger.jsonl")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/nimbus/v1/sandboxes/job-1/rpc" {
			http.NotFound(w, r)
			return
		}
		// The destroy arrives; meanwhile the ledger becomes writable by
		// others.
		if err := os.Chmod(led, 0o666); err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true,"result":{"ok":true,"killed":0,"destroyedAt":1793534400000,"reason":"done"}}`))
	}))
	defer srv.Close()
	if err := os.WriteFile(led, []byte("\n"+`{"op":"add","id":"job-1","endpoint":"`+srv.URL+`","created":"2026-12-01T00:00:00Z"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work, "XDG_CONFIG_HOME=" + filepath.Join(work, ".config"),
		"NIMBUS_ENDPOINT=" + srv.URL, "NIMBUS_TOKEN=tok-scripted"}
	bin, err := exec.LookPath("nimbus")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--json", "sandbox", "destroy", "--ledger="+led)
	cmd.Dir, cmd.Env = work, env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != 77 || !strings.Contains(stderr.String(), `"code":"E_LEDGER_UNTRUSTED"`) ||
		!strings.Contains(stdout.String(), `"destroyed":["job-1"]`) || strings.Contains(stderr.String(), "nothing was destroyed") ||
		!strings.Contains(stderr.String(), "the 1 sandboxes were destroyed, but stay pending") || !strings.Contains(stderr.String(), "chmod 600") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
}
