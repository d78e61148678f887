package sandboxinit

import (
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-sh/nimbus/internal/proctest"
)

// TestStartsBoundedNotSerialised: of many inits wanted at once, at most
// maxSpawning are being started at any moment and the others queue for
// it; the bound covers the start alone, so the commands, which here each
// wait until all of them are running, all run at once.
func TestStartsBoundedNotSerialised(t *testing.T) {
	var mu sync.Mutex
	inside, most := 0, 0
	gate := make(chan struct{})
	startCmd = func(c *exec.Cmd) error {
		mu.Lock()
		inside++
		most = max(most, inside)
		mu.Unlock()
		<-gate
		defer func() {
			mu.Lock()
			inside--
			mu.Unlock()
		}()
		return c.Start()
	}
	defer func() { startCmd = (*exec.Cmd).Start }()

	const n = 3 * maxSpawning
	p := newPool(t)
	dir, barrier := sandboxDir(t), t.TempDir()
	// Each command says it runs, then waits (for 30 s at most) until all
	// do.
	script := `touch "` + barrier + `/$$"; i=0
until [ "$(ls "` + barrier + `" | wc -l)" -ge ` + strconv.Itoa(n) + ` ]; do
	i=$((i+1)); [ $i -le 3000 ] || exit 1; sleep 0.01
done`
	exits := make(chan Exit, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			c := pooled(p, Reaper, dir, script)
			if err := c.Start(); err != nil {
				errs <- err
				return
			}
			ex, err := c.Wait()
			if err != nil {
				errs <- err
				return
			}
			exits <- ex
		}()
	}
	// All of them are starting: maxSpawning inside, the rest queued.
	proctest.WaitFor(t, "every start to be under way or queued", func() bool {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		mu.Lock()
		defer mu.Unlock()
		return strings.Count(string(buf), "sandboxinit.startProcess(") == n && inside == maxSpawning
	})
	close(gate)
	for range n {
		select {
		case ex := <-exits:
			if ex != (Exit{}) {
				t.Fatalf("a command did not see all %d running: %+v", n, ex)
			}
		case err := <-errs:
			t.Fatal(err)
		}
	}
	if most != maxSpawning {
		t.Fatalf("%d starts at once, want %d", most, maxSpawning)
	}
}
