package localsandbox

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSpareCloseRacesWrites: writes that use the directory of kept files
// while the server closes it either finish before the directory goes or
// leave it alone. Its descriptor number is free once it is closed, and the
// next file the process opens may take it: directories opened right after
// the close (canaries) must stay empty, and every target must hold its old
// content or one of its writer's, whole.
func TestSpareCloseRacesWrites(t *testing.T) {
	const writers, writes = 8, 40
	payload := func(w, n int) []byte {
		return fmt.Appendf(nil, "w%d:%s:end", w, bytes.Repeat([]byte("x"), (n*53)%2000))
	}
	valid := func(w int, got []byte) bool {
		if string(got) == "old" {
			return true
		}
		prefix := fmt.Sprintf("w%d:", w)
		body, ok := bytes.CutPrefix(got, []byte(prefix))
		body, ok2 := bytes.CutSuffix(body, []byte(":end"))
		return ok && ok2 && len(bytes.Trim(body, "x")) == 0
	}
	// Across the rounds, writes must have gone through the directory and
	// others have found it closed, or the race was not run.
	var through, refused atomic.Int64
	for round := range 40 {
		sp := newSpareFiles(t.TempDir())
		if sp == nil {
			t.Fatal("no directory of kept files")
		}
		target := t.TempDir()
		for w := range writers {
			if err := os.WriteFile(filepath.Join(target, fmt.Sprint("f", w)), []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		dfd, err := unix.Open(target, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				<-start
				for n := range writes {
					done, op, err := sp.replace("box", dfd, fmt.Sprint("f", w), payload(w, n), 0o644)
					if err != nil {
						t.Errorf("round %d: write %d of writer %d: %s: %v", round, n, w, op, err)
						return
					}
					if done {
						through.Add(1)
					} else {
						refused.Add(1)
					}
				}
			})
		}
		close(start)
		time.Sleep(time.Duration(round%8) * 50 * time.Microsecond)
		sp.close()
		canaryRoot := t.TempDir()
		var canaries []int
		for i := range 16 {
			p := filepath.Join(canaryRoot, fmt.Sprint(i))
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
			fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			canaries = append(canaries, fd)
		}
		wg.Wait()
		for i, fd := range canaries {
			unix.Close(fd)
			ents, err := os.ReadDir(filepath.Join(canaryRoot, fmt.Sprint(i)))
			if err != nil || len(ents) > 0 {
				t.Fatalf("round %d: a directory opened after the close holds %d entries (%v): a write used the closed directory's descriptor", round, len(ents), err)
			}
		}
		unix.Close(dfd)
		for w := range writers {
			got, err := os.ReadFile(filepath.Join(target, fmt.Sprint("f", w)))
			if err != nil || !valid(w, got) {
				t.Fatalf("round %d: f%d: %v %.40q", round, w, err, got)
			}
		}
	}
	t.Logf("through %d refused %d", through.Load(), refused.Load())
	if through.Load() == 0 || refused.Load() == 0 {
		t.Fatalf("%d writes went through the directory and %d found it closed: the close did not meet the writes", through.Load(), refused.Load())
	}
}
