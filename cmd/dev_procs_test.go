//go:build linux

package cmd_test

import (
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/cmd/internal/localdev"
)

// TestDevRunsOnOneProcessorWhenQuiet: `nimbus dev` runs on one processor
// while one client drives it, on the runtime's default as soon as two do,
// and leaves GOMAXPROCS alone when the variable is set.
func TestDevRunsOnOneProcessorWhenQuiet(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Fatalf("this test needs 2 CPUs to see the server widen, the machine has %d", runtime.NumCPU())
	}
	// run drives the server as one client, then two taking turns, then
	// one again after a quiet spell, and returns the GOMAXPROCS values the
	// hook saw, once it has seen want of them (or after 3 s: the hook
	// looks every millisecond, so the wait is for it, not the server).
	run := func(t *testing.T, want int, env ...string) []string {
		log := filepath.Join(t.TempDir(), "procs")
		d := startDevServer(t, devOptions{Env: append([]string{"NIMBUS_TEST_PROCS=" + log}, env...)})
		tok := d.token(t)
		a := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
		b := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
		for range 5 {
			d.writeVia(t, a, tok)
		}
		for range 5 { // two clients taking turns
			d.writeVia(t, a, tok)
			d.writeVia(t, b, tok)
		}
		time.Sleep(localdev.ProcsQuiet + 100*time.Millisecond)
		d.writeVia(t, a, tok) // narrows as it ends
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if data, _ := os.ReadFile(log); len(strings.Fields(string(data))) >= want {
				break
			}
		}
		if err := d.Stop(); err != nil {
			t.Fatalf("nimbus dev: %v\n%s", err, d.Stderr.String())
		}
		data, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Fields(string(data))
	}
	t.Run("default", func(t *testing.T) {
		got := run(t, 4)
		// The first value is the runtime's default, before the server
		// starts; the change back at the stop may come after the last look.
		def := got[0]
		if want := []string{def, "1", def, "1"}; def == "1" || len(got) < 4 || !slices.Equal(got[:4], want) {
			t.Errorf("GOMAXPROCS went %q, want %q: the default, 1 while serving one client, the default for two, 1 for one again", got, want)
		}
	})
	t.Run("GOMAXPROCS set", func(t *testing.T) {
		if got := strings.Join(run(t, 1, "GOMAXPROCS=2"), " "); got != "2" {
			t.Errorf("GOMAXPROCS went %q with GOMAXPROCS=2 set, want it left at 2", got)
		}
	})
}
