package localsandbox

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"testing"
	"time"
)

// pumper is what the tests drive of either pump.
type pumper interface {
	cutOff(t time.Time)
	run(out func(kind byte, b []byte) error, fail func()) bool
	close()
}

// pumpKinds are the two pumps, each with the pipes it is given in exec:
// the platform's (epoll on Linux) and the goroutine pump the other
// systems use, which the tests on Linux drive too.
var pumpKinds = []struct {
	name string
	pipe func() (r, w *os.File, err error)
	new  func(outR, errR *os.File, maxDrain time.Duration) (pumper, error)
}{
	{"platform", outputPipe, func(outR, errR *os.File, maxDrain time.Duration) (pumper, error) {
		p, err := newPump(outR, errR)
		if err != nil {
			return nil, err
		}
		p.maxDrain = maxDrain
		return p, nil
	}},
	{"goroutines", os.Pipe, func(outR, errR *os.File, maxDrain time.Duration) (pumper, error) {
		p, err := newGoroutinePump(outR, errR)
		if err != nil {
			return nil, err
		}
		p.maxDrain = maxDrain
		return p, nil
	}},
}

// pumpRig is a command's two pipes and the pump reading them.
type pumpRig struct {
	p                      pumper
	outR, errR, outW, errW *os.File
}

func newPumpRig(t *testing.T, kind int, maxDrain time.Duration) *pumpRig {
	t.Helper()
	k := pumpKinds[kind]
	var files []*os.File
	t.Cleanup(func() {
		for _, f := range files {
			f.Close()
		}
	})
	pipe := func() (r, w *os.File) {
		r, w, err := k.pipe()
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, r, w)
		return r, w
	}
	outR, outW := pipe()
	errR, errW := pipe()
	p, err := k.new(outR, errR, maxDrain)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	return &pumpRig{p, outR, errR, outW, errW}
}

// collector is a client: it keeps what it is sent, per stream.
type collector struct {
	mu     sync.Mutex
	stream [3]bytes.Buffer
}

func (c *collector) out(kind byte, b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stream[kind].Write(b)
	return nil
}

func (c *collector) bytes(kind byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stream[kind].Bytes()
}

// pattern is n bytes that tell where a piece went missing.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i/7) + seed
	}
	return b
}

func forEachPump(t *testing.T, f func(t *testing.T, kind int)) {
	for i, k := range pumpKinds {
		t.Run(k.name, func(t *testing.T) { f(t, i) })
	}
}

// TestPumpSlowClientGetsAllOutput: the grace period after the command's
// end counts only time spent waiting for the pipes, not time the pump is
// blocked handing output to a slow client, with both pumps. The
// goroutine pump (macOS and the other systems) cut the output off at the
// plain deadline: a client slower than the grace lost the rest, with
// exit 0 and no word of it. The client here is slow on its first frame,
// of either stream: the other stream's output is kept too.
func TestPumpSlowClientGetsAllOutput(t *testing.T) {
	forEachPump(t, func(t *testing.T, kind int) {
		r := newPumpRig(t, kind, maxDrainAfterEnd)
		// Less than a pipe holds: the command writes it all and ends.
		wantOut, wantErr := pattern(60000, 0), pattern(50000, 3)
		if _, err := r.outW.Write(wantOut); err != nil {
			t.Fatal(err)
		}
		if _, err := r.errW.Write(wantErr); err != nil {
			t.Fatal(err)
		}
		r.outW.Close()
		r.errW.Close()
		cut := time.Now().Add(300 * time.Millisecond)
		r.p.cutOff(cut)
		var c collector
		var slow sync.Once
		r.p.run(func(kind byte, b []byte) error {
			// A client that takes longer than the grace period over
			// its first frame.
			slow.Do(func() { time.Sleep(time.Until(cut) + 200*time.Millisecond) })
			return c.out(kind, b)
		}, func() { t.Error("fail called") })
		if got := c.bytes(1); !bytes.Equal(got, wantOut) {
			t.Errorf("stdout: %d bytes, want the %d written before the end", len(got), len(wantOut))
		}
		if got := c.bytes(2); !bytes.Equal(got, wantErr) {
			t.Errorf("stderr: %d bytes, want the %d written before the end", len(got), len(wantErr))
		}
	})
}

// TestPumpLargeOutput: output far larger than the pipes hold, on both
// streams at once, arrives whole and in order per stream.
func TestPumpLargeOutput(t *testing.T) {
	forEachPump(t, func(t *testing.T, kind int) {
		r := newPumpRig(t, kind, maxDrainAfterEnd)
		wantOut, wantErr := pattern(4<<20, 0), pattern(512<<10, 5)
		var wg sync.WaitGroup
		for _, w := range []struct {
			f *os.File
			b []byte
		}{{r.outW, wantOut}, {r.errW, wantErr}} {
			wg.Go(func() {
				if _, err := w.f.Write(w.b); err != nil {
					t.Error(err)
				}
				w.f.Close()
			})
		}
		var c collector
		r.p.run(c.out, func() { t.Error("fail called") })
		wg.Wait()
		if got := c.bytes(1); !bytes.Equal(got, wantOut) {
			t.Errorf("stdout: %d bytes, want %d whole", len(got), len(wantOut))
		}
		if got := c.bytes(2); !bytes.Equal(got, wantErr) {
			t.Errorf("stderr: %d bytes, want %d whole", len(got), len(wantErr))
		}
	})
}

// TestPumpClientGoneMidWrite: once a write to the client fails, fail is
// called once and the rest is drained, so the command writing it is not
// blocked.
func TestPumpClientGoneMidWrite(t *testing.T) {
	forEachPump(t, func(t *testing.T, kind int) {
		r := newPumpRig(t, kind, maxDrainAfterEnd)
		var wg sync.WaitGroup
		for _, f := range []*os.File{r.outW, r.errW} {
			wg.Go(func() {
				// Several times what a pipe holds.
				if _, err := f.Write(pattern(4<<20, 1)); err != nil {
					t.Error(err)
				}
				f.Close()
			})
		}
		var mu sync.Mutex
		writes, fails := 0, 0
		r.p.run(func(byte, []byte) error {
			mu.Lock()
			defer mu.Unlock()
			writes++
			return errors.New("client gone")
		}, func() {
			mu.Lock()
			defer mu.Unlock()
			fails++
		})
		wg.Wait()
		if fails != 1 || writes < 1 || writes > 2 {
			t.Errorf("%d writes, fail called %d times; want one write per stream at most and one fail", writes, fails)
		}
	})
}

// TestPumpEscapedWriterIsCutOff: a process that escaped the command's
// group and holds the pipes open does not hold the pump past the grace
// period, when it writes nothing and when it writes without end to a
// slow client (then after maxDrain at most).
func TestPumpEscapedWriterIsCutOff(t *testing.T) {
	forEachPump(t, func(t *testing.T, kind int) {
		t.Run("quiet", func(t *testing.T) {
			r := newPumpRig(t, kind, maxDrainAfterEnd)
			if _, err := r.outW.Write([]byte("before the end\n")); err != nil {
				t.Fatal(err)
			}
			r.p.cutOff(time.Now().Add(50 * time.Millisecond))
			var c collector
			runWithin(t, func() { r.p.run(c.out, func() { t.Error("fail called") }) })
			if got := string(c.bytes(1)); got != "before the end\n" {
				t.Errorf("stdout %q", got)
			}
		})
		t.Run("writing to a slow client", func(t *testing.T) {
			r := newPumpRig(t, kind, 300*time.Millisecond)
			var wg sync.WaitGroup
			for _, f := range []*os.File{r.outW, r.errW} {
				wg.Go(func() {
					b := pattern(4096, 0)
					for {
						if _, err := f.Write(b); err != nil {
							// The read end is closed.
							return
						}
					}
				})
			}
			r.p.cutOff(time.Now().Add(50 * time.Millisecond))
			runWithin(t, func() {
				r.p.run(func(byte, []byte) error {
					// Slow enough that the pipes are never waited
					// for: without the bound it would never end.
					time.Sleep(20 * time.Millisecond)
					return nil
				}, func() { t.Error("fail called") })
			})
			// The writers are blocked on full pipes until these go.
			r.outR.Close()
			r.errR.Close()
			wg.Wait()
		})
	})
}

// runWithin runs f and fails the test if it has not returned within a
// bound far past any the pumps are given: a pump that never stops.
func runWithin(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the pump was not cut off")
	}
}

// TestPumpReadsWhatThePipesHoldAtTheCutOff: output the command wrote
// before its end is in the pipes when the grace period ends, and a pump
// that was not scheduled for the whole grace period (a loaded machine:
// 200 concurrent execs under the race detector) still reads it, with
// both pumps. Both returned at once on the passed deadline, and the
// command's output was lost with its exit code reported as usual. A
// process that escaped keeps the pipes open, and writes on in the second
// case: the pump still returns.
func TestPumpReadsWhatThePipesHoldAtTheCutOff(t *testing.T) {
	forEachPump(t, func(t *testing.T, kind int) {
		t.Run("held", func(t *testing.T) {
			r := newPumpRig(t, kind, maxDrainAfterEnd)
			big := pattern(48<<10, 3)
			if _, err := r.outW.Write(big); err != nil {
				t.Fatal(err)
			}
			if _, err := r.errW.Write([]byte("e12\n")); err != nil {
				t.Fatal(err)
			}
			r.p.cutOff(time.Now().Add(-time.Second))
			var c collector
			runWithin(t, func() { r.p.run(c.out, func() { t.Error("fail called") }) })
			if got := c.bytes(1); !bytes.Equal(got, big) {
				t.Errorf("stdout: %d bytes, want the %d written before the cut-off", len(got), len(big))
			}
			if got := string(c.bytes(2)); got != "e12\n" {
				t.Errorf("stderr %q, want %q", got, "e12\n")
			}
		})
		t.Run("an escaped writer writing on", func(t *testing.T) {
			r := newPumpRig(t, kind, maxDrainAfterEnd)
			var wg sync.WaitGroup
			wg.Go(func() {
				b := pattern(4096, 0)
				for {
					if _, err := r.outW.Write(b); err != nil {
						return // the read end is closed
					}
				}
			})
			r.p.cutOff(time.Now().Add(-time.Second))
			var c collector
			runWithin(t, func() { r.p.run(c.out, func() { t.Error("fail called") }) })
			// The bound (finalDrainMax) and a buffer or two.
			if n := len(c.bytes(1)); n > 6<<20 {
				t.Errorf("read %d bytes after the cut-off, more than the bound", n)
			}
			r.outR.Close()
			wg.Wait()
		})
	})
}
