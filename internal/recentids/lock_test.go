package recentids

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentRememberLosesNone: commands ending at once each record
// their sandbox; none of the records is lost to another's write.
func TestConcurrentRememberLosesNone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nimbus", "recent")
	now := time.Unix(1_800_000_000, 0)
	site := Site{Endpoint: "http://w", Owner: "acme:_"}
	const n = 40
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = Remember(path, site, []string{"job-" + strconv.Itoa(i)}, now)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("job-%d: %v", i, err)
		}
	}
	for i := range n {
		if !Has(path, site, "job-"+strconv.Itoa(i), now) {
			t.Errorf("job-%d lost", i)
		}
	}
	// And as many forgetting at once: none stays.
	start = make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = Forget(path, site, []string{"job-" + strconv.Itoa(i)})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("forget job-%d: %v", i, err)
		}
	}
	if got := List(path, site, now); len(got) != 0 {
		t.Errorf("left after forgetting all: %+v", got)
	}
}

// TestRememberGivesUpOnAHeldLock: while another process holds the lock,
// Remember waits at most lockWait, then records nothing (ErrBusy) rather
// than hang; Forget too.
func TestRememberGivesUpOnAHeldLock(t *testing.T) {
	defer func(w time.Duration) { lockWait = w }(lockWait)
	lockWait = 100 * time.Millisecond
	path := filepath.Join(t.TempDir(), "recent")
	now := time.Unix(1_800_000_000, 0)
	site := Site{Endpoint: "http://w", Owner: "acme:_"}
	if err := Remember(path, site, []string{"a"}, now); err != nil {
		t.Fatal(err)
	}
	held, err := os.OpenFile(path+".lock", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := tryLock(held); !ok || err != nil {
		t.Fatalf("tryLock = %v, %v", ok, err)
	}
	began := time.Now()
	if err := Remember(path, site, []string{"b"}, now); !errors.Is(err, ErrBusy) {
		t.Fatalf("Remember under a held lock = %v, want ErrBusy", err)
	}
	if err := Forget(path, site, []string{"a"}); !errors.Is(err, ErrBusy) {
		t.Fatalf("Forget under a held lock = %v, want ErrBusy", err)
	}
	if d := time.Since(began); d > 10*lockWait {
		t.Fatalf("gave up after %v, bound %v", d, lockWait)
	}
	if Has(path, site, "b", now) || !Has(path, site, "a", now) {
		t.Fatal("the file changed under another's lock")
	}
	held.Close()
	if err := Remember(path, site, []string{"b"}, now); err != nil || !Has(path, site, "b", now) {
		t.Fatalf("Remember once the lock is free = %v", err)
	}
}

// TestGivingUpLeavesNoGoroutine: a Remember that gives up on a held lock
// leaves no goroutine behind, waiting for the lock (and holding the file)
// until the other process lets go.
func TestGivingUpLeavesNoGoroutine(t *testing.T) {
	defer func(w time.Duration) { lockWait = w }(lockWait)
	lockWait = 50 * time.Millisecond
	path := filepath.Join(t.TempDir(), "recent")
	site := Site{Endpoint: "http://w", Owner: "acme:_"}
	held, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if ok, err := tryLock(held); !ok || err != nil {
		t.Fatalf("tryLock = %v, %v", ok, err)
	}
	for range 3 {
		if err := Remember(path, site, []string{"a"}, time.Unix(1_800_000_000, 0)); !errors.Is(err, ErrBusy) {
			t.Fatalf("Remember under a held lock = %v, want ErrBusy", err)
		}
	}
	// Every goroutine of the process, as it is now that Remember returned.
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	if strings.Contains(stacks, "recentids.lockFile") {
		t.Fatalf("a goroutine outlived the call:\n%s", stacks)
	}
}
