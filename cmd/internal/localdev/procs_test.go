package localdev_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/cmd/internal/localdev"
)

// procsLog records what Serve asks of ServeOptions.Procs.
type procsLog struct {
	mu    sync.Mutex
	calls []int
}

func (l *procsLog) set(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, n)
}

func (l *procsLog) get() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// want fails the test at step unless the calls so far are calls.
func (l *procsLog) want(t *testing.T, step string, calls ...int) {
	t.Helper()
	if got := l.get(); !slices.Equal(got, calls) {
		t.Fatalf("%s: Procs calls %v, want %v", step, got, calls)
	}
}

// quiet is the ProcsQuiet of the tests that check what a server does
// within it: the 250 ms of ProcsQuiet were passed, on a loaded machine
// under -race, by the few requests a step sends, and the server narrowed
// before the step looked ("quiet for less than ProcsQuiet: Procs calls
// [1 0 1], want [1 0]").
const quiet = 2 * time.Second

// gatedServer serves, behind o, a handler that holds each request until
// the test lets it go, and reports each request as it arrives.
func gatedServer(t *testing.T, o localdev.ServeOptions) (addr string, arrived <-chan struct{}, release chan<- struct{}, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan struct{}, 16)
	out := make(chan struct{}, 16)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			in <- struct{}{}
			<-out
		}
		io.WriteString(w, "ok")
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Serve(ctx, ln, h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), in, out, stop
}

func get(t *testing.T, c *http.Client, url string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Error(err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET %s: %s", url, resp.Status)
	}
}

// TestProcsFollowRequestsInFlight: one request at a time runs on one
// processor; two at once widen at once; the server narrows again only
// after ProcsQuiet with at most one in flight, and gives the default back
// when it stops.
func TestProcsFollowRequestsInFlight(t *testing.T) {
	localdev.SetProcsQuiet(t, quiet)
	var log procsLog
	addr, arrived, release, stop := gatedServer(t, localdev.ServeOptions{Procs: log.set})
	c := &http.Client{Timeout: 10 * time.Second}
	base := "http://" + addr
	get(t, c, base+"/") // Serve has started
	log.want(t, "start", 1)
	for range 5 {
		get(t, c, base+"/")
	}
	log.want(t, "one request at a time", 1)

	// A request held in the handler and a second one beside it.
	var wg sync.WaitGroup
	wg.Go(func() { get(t, c, base+"/hold") })
	<-arrived
	log.want(t, "one request held", 1)
	get(t, c, base+"/")
	log.want(t, "a second request in flight", 1, 0)
	release <- struct{}{}
	wg.Wait()
	get(t, c, base+"/")
	log.want(t, "quiet for less than ProcsQuiet", 1, 0)

	time.Sleep(quiet + 50*time.Millisecond)
	get(t, c, base+"/")
	log.want(t, "quiet for ProcsQuiet", 1, 0, 1)
	get(t, c, base+"/")
	log.want(t, "still quiet", 1, 0, 1)

	// Load that keeps two in flight keeps the server wide.
	wg.Go(func() { get(t, c, base+"/hold") })
	<-arrived
	for range 3 {
		get(t, c, base+"/")
	}
	log.want(t, "two in flight again", 1, 0, 1, 0)
	release <- struct{}{}
	wg.Wait()

	stop()
	log.want(t, "stopped", 1, 0, 1, 0, 0)
}

// TestProcsOffByDefault: without Procs, Serve leaves GOMAXPROCS alone.
func TestProcsOffByDefault(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	addr, _, _, stop := gatedServer(t, localdev.ServeOptions{})
	get(t, &http.Client{Timeout: 10 * time.Second}, "http://"+addr+"/")
	if n := runtime.GOMAXPROCS(0); n != before {
		t.Errorf("GOMAXPROCS %d while serving, was %d", n, before)
	}
	stop()
}

// TestRuntimeProcs sets this process's GOMAXPROCS: 1, then the runtime's
// default again.
func TestRuntimeProcs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(before) })
	runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)
	localdev.RuntimeProcs(1)
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Errorf("RuntimeProcs(1): GOMAXPROCS %d", n)
	}
	localdev.RuntimeProcs(0)
	if n := runtime.GOMAXPROCS(0); n != def {
		t.Errorf("RuntimeProcs(0): GOMAXPROCS %d, want the default %d", n, def)
	}
}

// TestProcsSeeClientsTakingTurns: on one processor handlers run one after
// the other, so clients that take turns are seen by their connections: a
// request following one from another open connection widens, and a new
// connection after the last one closed (a CLI run per command) does not.
func TestProcsSeeClientsTakingTurns(t *testing.T) {
	localdev.SetProcsQuiet(t, quiet)
	var log procsLog
	addr, _, _, stop := gatedServer(t, localdev.ServeOptions{Procs: log.set})
	base := "http://" + addr
	// One command after another, each on a connection of its own that
	// is closed when it is done. The next one comes at once: whether the
	// server has read to the end of the last connection yet or not, that
	// client is gone.
	for range 50 {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
		get(t, c, base+"/")
		c.CloseIdleConnections()
	}
	log.want(t, "one command after another", 1)

	// Two clients taking turns, each keeping its connection.
	a := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	b := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	get(t, a, base+"/")
	log.want(t, "first of two clients", 1)
	get(t, b, base+"/")
	log.want(t, "second client", 1, 0)
	for range 3 {
		get(t, a, base+"/")
		get(t, b, base+"/")
	}
	time.Sleep(quiet + 50*time.Millisecond)
	get(t, a, base+"/")
	log.want(t, "one client after a quiet spell", 1, 0, 1)
	get(t, a, base+"/")
	log.want(t, "the same client again", 1, 0, 1)
	stop()
}
