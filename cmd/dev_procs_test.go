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
	run := func(t *testing.T, env ...string) []string {
		log := filepath.Join(t.TempDir(), "procs")
		d := startDevServer(t, devOptions{Env: append([]string{"NIMBUS_TEST_PROCS=" + log}, env...)})
		tok := d.token(t)
		a := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
		b := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
		for range 5 {
			d.writeVia(t, a, tok)
		}
		time.Sleep(20 * time.Millisecond)
		for range 5 { // two clients taking turns
			d.writeVia(t, a, tok)
			d.writeVia(t, b, tok)
		}
		time.Sleep(localdev.ProcsQuiet + 100*time.Millisecond)
		// One client again, until the server has narrowed (a request that
		// is still finishing after its answer counts as one in flight
		// for as long) or 3 s have passed.
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
			d.writeVia(t, a, tok)
			time.Sleep(20 * time.Millisecond)
			if data, _ := os.ReadFile(log); len(strings.Fields(string(data))) >= 4 {
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
		got := run(t)
		// The first value is the runtime's default, before the server
		// starts; the change back at the stop may come after the last look.
		def := got[0]
		if want := []string{def, "1", def, "1"}; def == "1" || len(got) < 4 || !slices.Equal(got[:4], want) {
			t.Errorf("GOMAXPROCS went %q, want %q: the default, 1 while serving one client, the default for two, 1 for one again", got, want)
		}
	})
	t.Run("GOMAXPROCS set", func(t *testing.T) {
		if got := strings.Join(run(t, "GOMAXPROCS=2"), " "); got != "2" {
			t.Errorf("GOMAXPROCS went %q with GOMAXPROCS=2 set, want it left at 2", got)
		}
	})
}
