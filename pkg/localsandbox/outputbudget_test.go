//go:build unix

package localsandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// answer is one rpc answer, read in full.
type answer struct {
	status int
	header http.Header
	body   string
	err    error
}

// postExec runs command with the buffered exec op in sandbox id, from any
// goroutine.
func postExec(base, id, command string) answer {
	b, _ := json.Marshal(map[string]any{"profile": "default", "root": "/home/user", "op": "exec", "args": []any{command, map[string]any{}}})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/nimbus/v1/sandboxes/"+id+"/rpc", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+mintFor(id))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(body), err: err}
}

var mintMu sync.Mutex

func mintFor(id string) string {
	mintMu.Lock()
	defer mintMu.Unlock()
	tn, sub := "acme", "alice"
	tok, _ := token.Issuer{Secret: secret}.Mint(token.Input{Tenant: &tn, Subject: &sub, SessionID: &id, Scopes: []string{token.ScopeSandboxUse}})
	return tok
}

// stdoutOf is the stdout of a successful exec answer.
func stdoutOf(t *testing.T, a answer) string {
	t.Helper()
	var env struct {
		OK     bool `json:"ok"`
		Result struct {
			Stdout   string `json:"stdout"`
			ExitCode int    `json:"exitCode"`
		} `json:"result"`
	}
	if a.err != nil || a.status != 200 || json.Unmarshal([]byte(a.body), &env) != nil || !env.OK {
		t.Fatalf("exec: %d %v %.300s", a.status, a.err, a.body)
	}
	return env.Result.Stdout
}

// budgetWatch follows the server's memory for buffered output.
type budgetWatch struct {
	mu      sync.Mutex
	left    int64
	waiting int
	changed chan struct{}
}

func watchBudget(t *testing.T, total int64) *budgetWatch {
	w := &budgetWatch{left: total, changed: make(chan struct{})}
	t.Cleanup(localsandbox.WatchOutputBudget(func(left int64, waiting int) {
		w.mu.Lock()
		w.left, w.waiting = left, waiting
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
	}))
	return w
}

// until waits for the budget to reach the state ok accepts.
func (w *budgetWatch) until(t *testing.T, what string, ok func(left int64, waiting int) bool) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		w.mu.Lock()
		left, waiting, ch := w.left, w.waiting, w.changed
		w.mu.Unlock()
		if ok(left, waiting) {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s: never (left %d, %d waiting)", what, left, waiting)
		}
	}
}

const budgetTotal = 1 << 20

// holdOutput starts a buffered exec in sandbox "holder" that writes n
// bytes of 'a' and then waits until openGate; it returns once that output
// is charged to the budget.
func holdOutput(t *testing.T, base string, w *budgetWatch, n int) (result <-chan answer, openGate func()) {
	t.Helper()
	if a := postExec(base, "holder", "mkfifo /home/user/gate"); a.status != 200 {
		t.Fatalf("mkfifo: %d %s", a.status, a.body)
	}
	ch := make(chan answer, 1)
	go func() {
		ch <- postExec(base, "holder", "head -c "+itoa(n)+" /dev/zero | tr '\\0' a; read _ < /home/user/gate")
	}()
	var once sync.Once
	openGate = func() {
		once.Do(func() {
			if a := postExec(base, "holder", "echo > /home/user/gate"); a.status != 200 {
				t.Errorf("opening the gate: %d %s", a.status, a.body)
			}
		})
	}
	// A test that failed leaves no call for the server's Close to wait on.
	t.Cleanup(openGate)
	w.until(t, "the holder's output charged", func(left int64, _ int) bool { return left <= budgetTotal-int64(n) })
	return ch, openGate
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestBufferedOutputBudgetWaits: a buffered exec whose output finds the
// server's memory for buffered output held by another call waits (its
// command paused) until that call answers, and then answers all of its
// output: N concurrent calls cannot hold N times the per-call cap.
func TestBufferedOutputBudgetWaits(t *testing.T) {
	w := watchBudget(t, budgetTotal)
	_, hs := newServer(t, func(o *localsandbox.Options) {
		o.MaxBufferedOutputTotal, o.BufferedOutputWait = budgetTotal, 10*time.Minute
	})
	const n = 900000
	held, open := holdOutput(t, hs.URL, w, n)
	second := make(chan answer, 1)
	go func() { second <- postExec(hs.URL, "second", "head -c "+itoa(n)+" /dev/zero | tr '\\0' b") }()
	w.until(t, "the second call waiting", func(_ int64, waiting int) bool { return waiting == 1 })
	open()
	if got := stdoutOf(t, <-held); got != strings.Repeat("a", n) {
		t.Fatalf("holder: %d bytes %.80q", len(got), got)
	}
	if got := stdoutOf(t, <-second); got != strings.Repeat("b", n) {
		t.Fatalf("second: %d bytes %.80q", len(got), got)
	}
	w.until(t, "all memory given back", func(left int64, waiting int) bool { return left == budgetTotal && waiting == 0 })
}

// TestBufferedOutputBudgetFails: a call that waits longer than
// BufferedOutputWait fails with 503 E_OUTPUT_BUDGET and Retry-After, its
// command stopped, rather than answer ok with its output cut.
func TestBufferedOutputBudgetFails(t *testing.T) {
	w := watchBudget(t, budgetTotal)
	_, hs := newServer(t, func(o *localsandbox.Options) {
		o.MaxBufferedOutputTotal, o.BufferedOutputWait = budgetTotal, 200*time.Millisecond
	})
	const n = 900000
	held, open := holdOutput(t, hs.URL, w, n)
	// More than the pipe (1 MiB) and the budget left hold: the command
	// is paused in its writes, and stopped there.
	a := postExec(hs.URL, "second", "head -c 3000000 /dev/zero | tr '\\0' b; echo > /home/user/went-on")
	if a.err != nil || a.status != 503 || a.header.Get("Retry-After") == "" ||
		!strings.Contains(a.body, `"code":"`+localsandbox.CodeOutputBudget+`"`) || !strings.Contains(a.body, "use execStream for large output") {
		t.Fatalf("%d %v %v %.400s", a.status, a.err, a.header, a.body)
	}
	if a := postExec(hs.URL, "second", "test -e /home/user/went-on && echo yes || echo no"); stdoutOf(t, a) != "no\n" {
		t.Fatalf("the stopped command went on: %s", a.body)
	}
	open()
	if got := stdoutOf(t, <-held); got != strings.Repeat("a", n) {
		t.Fatalf("holder: %d bytes %.80q", len(got), got)
	}
	w.until(t, "all memory given back", func(left int64, waiting int) bool { return left == budgetTotal && waiting == 0 })
}

// TestBufferedOutputBudgetNoDeadlock: calls that each hold part of the
// budget and all wait for more would wait for each other until
// BufferedOutputWait: the last one to wait fails at once instead, so at
// least one call answers in full, long before the wait could run out.
func TestBufferedOutputBudgetNoDeadlock(t *testing.T) {
	w := watchBudget(t, budgetTotal)
	_, hs := newServer(t, func(o *localsandbox.Options) {
		o.MaxBufferedOutputTotal, o.BufferedOutputWait = budgetTotal, 90*time.Second
	})
	const n, calls = 700000, 4
	answers := make(chan answer, calls)
	for i := range calls {
		id := "yes-" + itoa(i)
		go func() { answers <- postExec(hs.URL, id, "yes | head -c "+itoa(n)) }()
	}
	full := 0
	for range calls {
		select {
		case a := <-answers:
			if a.status == 503 && strings.Contains(a.body, `"code":"`+localsandbox.CodeOutputBudget+`"`) {
				continue
			}
			if got := stdoutOf(t, a); got != strings.Repeat("y\n", n/2) {
				t.Fatalf("%d bytes %.80q", len(got), got)
			}
			full++
		case <-time.After(time.Minute):
			t.Fatal("the calls wait for each other")
		}
	}
	if full == 0 {
		t.Fatal("no call answered in full")
	}
	w.until(t, "all memory given back", func(left int64, waiting int) bool { return left == budgetTotal && waiting == 0 })
}
