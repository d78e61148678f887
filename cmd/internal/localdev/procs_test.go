package localdev_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
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

// newClient is a client of its own, with a transport of its own whose
// connections tell get when they are closed.
func newClient() *http.Client {
	tr := &http.Transport{}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &closeSignal{Conn: c, closed: make(chan struct{})}, nil
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: tr}
}

// closeSignal is a connection that tells when it has been closed.
type closeSignal struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *closeSignal) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { close(c.closed) })
	return err
}

// get fetches url with c and reads the answer to its end. When c's
// transport does not keep the connection for the next request, get returns
// once the connection is closed, as a client process's connection is when
// the process exits: net/http closes it from the goroutine that read the
// answer, which may run after the caller's next request has been sent (it
// keeps a connection only if its own request-writing goroutine has
// reported within 50 ms of the answer, which a loaded machine misses), and
// the server rightly sees a request from a second open connection as a
// second client ("one command after another: Procs calls [1 0], want [1]").
func get(t *testing.T, c *http.Client, url string) {
	t.Helper()
	var conn net.Conn
	kept := false
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn:     func(i httptrace.GotConnInfo) { conn = i.Conn },
		PutIdleConn: func(err error) { kept = err == nil },
	})
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Error(err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET %s: %s", url, resp.Status)
	}
	// The transport decides whether to keep the connection before it
	// reports the end of the body, so kept is final here.
	if cs, ok := conn.(*closeSignal); ok && !kept {
		select {
		case <-cs.closed:
		case <-time.After(10 * time.Second):
			t.Errorf("GET %s: the transport neither kept nor closed the connection", url)
		}
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
	c := newClient()
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
		c := newClient()
		get(t, c, base+"/")
		c.CloseIdleConnections()
	}
	log.want(t, "one command after another", 1)

	// Two clients taking turns, each keeping its connection.
	a, b := newClient(), newClient()
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
