//go:build unix

package terminal_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/pkg/terminal"
	"github.com/nimbus-sh/nimbus/pkg/terminal/frame"
)

// fakeWorker speaks the Worker's side of the terminal sockets where
// nimbus dev has nothing to show: attached-TTY process terminals (spec
// §9) and handshake answers of its router.
type fakeWorker struct {
	mu        sync.Mutex
	resizes   []string // resize frames, both sockets
	logsOpen  atomic.Int32
	probes    atomic.Int32 // empty inputs on a process terminal
	main      *websocket.Conn
	status    []int // statuses to answer, one per attempt, before accepting
	attempts  atomic.Int32
	retryWait string
}

func (w *fakeWorker) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	n := int(w.attempts.Add(1)) - 1
	if n < len(w.status) {
		if w.retryWait != "" {
			rw.Header().Set("Retry-After", w.retryWait)
		}
		rw.WriteHeader(w.status[n])
		_, _ = rw.Write([]byte(`{"ok":false,"error":"overloaded","code":"E_OVERLOADED"}`))
		return
	}
	if r.Header.Get("Authorization") == "" {
		http.Error(rw, `{"error":"no token","code":"E_TOKEN_MALFORMED"}`, http.StatusUnauthorized)
		return
	}
	ws, err := websocket.Accept(rw, r, nil)
	if err != nil {
		return
	}
	ctx := context.Background()
	switch {
	case strings.HasSuffix(r.URL.Path, "/ws"):
		w.mu.Lock()
		w.main = ws
		w.mu.Unlock()
		_ = ws.Write(ctx, websocket.MessageText, frame.Ready())
		_ = ws.Write(ctx, websocket.MessageText, frame.Output("$ "))
		for {
			_, msg, err := ws.Read(ctx)
			if err != nil {
				return
			}
			f, _ := frame.Decode(msg)
			switch {
			case f.Type == frame.TypeResize:
				w.record("main", string(msg))
			case f.Type == frame.TypeFSWatchUnsubscribe:
				// The liveness probe: answered as the Worker does.
				_ = ws.Write(ctx, websocket.MessageText, frame.ProbeResult(f.ReqID))
			case f.Type == frame.TypeInput && f.Data == "tui\r":
				_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":"spawn","pid":7,"command":"tui","longRunning":false,"attachedTty":true}`))
				_ = ws.Write(ctx, websocket.MessageText, frame.Output("tui\r\n[bin started: pid=7]\r\n$ "))
			case f.Type == frame.TypeInput:
				_ = ws.Write(ctx, websocket.MessageText, frame.Output("shell-got:"+f.Data))
			}
		}
	case strings.HasSuffix(r.URL.Path, "/api/logs/7"):
		w.logsOpen.Add(1)
		_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":"backlog","pid":7,"chunks":[{"stream":"stdout","data":"TUI> ","ts":1}]}`))
		for {
			_, msg, err := ws.Read(ctx)
			if err != nil {
				return
			}
			f, _ := frame.Decode(msg)
			switch f.Type {
			case frame.TypeResize:
				w.record("proc", string(msg))
			case frame.TypeInput:
				_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":"stdin-ack","pid":7,"ok":true,"action":"input"}`))
				if f.Data == "" {
					w.probes.Add(1)
					// Nothing reaches the program (the client's
					// liveness probe); the ack is the answer.
					continue
				}
				if f.Data == "q" {
					// The shell prints meanwhile; it shows after the process.
					w.mu.Lock()
					_ = w.main.Write(ctx, websocket.MessageText, frame.Output("bg-line\r\n"))
					w.mu.Unlock()
					time.Sleep(50 * time.Millisecond)
					_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":"exit","code":3,"at":5}`))
					continue
				}
				_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":"chunk","stream":"stdout","data":"tui-got:`+f.Data+`","ts":2}`))
			}
		}
	default:
		_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":"notfound","pid":0}`))
	}
}

func (w *fakeWorker) record(where, msg string) {
	w.mu.Lock()
	w.resizes = append(w.resizes, where+" "+msg)
	w.mu.Unlock()
}

func TestFollowsAttachedTTYProcesses(t *testing.T) {
	w := &fakeWorker{}
	hs := httptest.NewServer(w)
	defer hs.Close()
	o := termOpts(hs.URL, "w-1")
	o.FollowProcesses = true
	o.Size = func() (int, int, bool) { return 1200, 50, true }
	s := start(t, o)
	s.out.waitFor(t, "$ ")
	s.typeText("tui\r")
	s.out.waitFor(t, "TUI> ")
	s.waitEvent(terminal.EventProcessAttached)
	// Keys go to the process, not to the shell.
	s.typeText("x")
	s.out.waitFor(t, "tui-got:x")
	s.typeText("q")
	s.waitEvent(terminal.EventProcessDetached)
	s.out.waitFor(t, "bg-line\r\n")
	out := s.out.String()
	if strings.Contains(out, "shell-got:x") {
		t.Fatalf("a key meant for the process reached the shell: %q", out)
	}
	if strings.Index(out, "bg-line") < strings.Index(out, "tui-got:x") {
		t.Fatalf("the shell's output was not held while the process ran: %q", out)
	}
	s.typeText("y")
	s.out.waitFor(t, "shell-got:y")
	s.mu.Lock()
	var code *int
	for _, e := range s.events {
		if e.Kind == terminal.EventProcessDetached {
			code = e.Code
		}
	}
	s.mu.Unlock()
	if code == nil || *code != 3 {
		t.Fatalf("exit code %v", code)
	}
	w.mu.Lock()
	got := strings.Join(w.resizes, "\n")
	w.mu.Unlock()
	// Process terminals take "columns" (at most 1000); the shell is sent
	// its size again when it gets the keys back.
	if !strings.Contains(got, `proc {"type":"resize","columns":1000,"rows":50}`) || strings.Count(got, `main {"type":"resize","cols":1200,"rows":50}`) != 2 {
		t.Fatalf("resizes:\n%s", got)
	}
	s.typeText("\r~.")
	s.wait()
}

func TestReportsUnfollowedProcesses(t *testing.T) {
	w := &fakeWorker{}
	hs := httptest.NewServer(w)
	defer hs.Close()
	s := start(t, termOpts(hs.URL, "w-1"))
	s.out.waitFor(t, "$ ")
	s.typeText("tui\r")
	s.waitEvent(terminal.EventProcessTerminal)
	s.typeText("x")
	s.out.waitFor(t, "shell-got:x")
	if w.logsOpen.Load() != 0 {
		t.Fatal("the process terminal was opened")
	}
}

func TestHandshakeAnswers(t *testing.T) {
	// 503 with Retry-After, then success: retried on the first connect.
	w := &fakeWorker{status: []int{503}, retryWait: "1"}
	hs := httptest.NewServer(w)
	defer hs.Close()
	s := start(t, termOpts(hs.URL, "w-1"))
	s.out.waitFor(t, "$ ")
	if !s.saw(terminal.EventRetrying) || w.attempts.Load() != 2 {
		t.Fatalf("attempts %d", w.attempts.Load())
	}
	// A 404 is not a Nimbus terminal.
	nf := httptest.NewServer(http.NotFoundHandler())
	defer nf.Close()
	_, err := start(t, termOpts(nf.URL, "w-1")).wait()
	if codeOf(err) != terminal.CodeHandshake || !strings.Contains(err.Error(), "404") {
		t.Fatalf("%v", err)
	}
	// A redirect is refused, not followed with the token.
	rd := httptest.NewServer(http.RedirectHandler("https://elsewhere.example/", http.StatusFound))
	defer rd.Close()
	_, err = start(t, termOpts(rd.URL, "w-1")).wait()
	if codeOf(err) != terminal.CodeHandshake || !strings.Contains(err.Error(), "elsewhere.example") {
		t.Fatalf("%v", err)
	}
	// 5xx three times: unavailable.
	bad := &fakeWorker{status: []int{502, 502, 502, 502}}
	hb := httptest.NewServer(bad)
	defer hb.Close()
	_, err = start(t, termOpts(hb.URL, "w-1")).wait()
	if codeOf(err) != terminal.CodeUnavailable || bad.attempts.Load() != 3 {
		t.Fatalf("%v after %d attempts", err, bad.attempts.Load())
	}
}

// A server that accepts the socket and fails it at once, every time (a
// Durable Object that throws after the upgrade), is a connection that is
// not restored: the attempts are paced by the retry delay and end after
// Reconnect, as refused ones do. Each opened socket used to count as
// restored: the client redialled at once, for ever.
func TestFlappingServerIsNotRestored(t *testing.T) {
	var accepted atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(rw, r, nil)
		if err != nil {
			return
		}
		accepted.Add(1)
		_ = ws.Write(r.Context(), websocket.MessageText, frame.Ready())
		_ = ws.Close(websocket.StatusInternalError, "durable object reset")
	}))
	defer hs.Close()
	o := termOpts(hs.URL, "flap-1")
	o.Reconnect = 300 * time.Millisecond
	o.RetryDelay = 10 * time.Millisecond
	s := start(t, o)
	_, err := s.wait()
	if codeOf(err) != terminal.CodeUnavailable || !strings.Contains(err.Error(), "not restored within 300ms") {
		t.Fatalf("%v (after %d connections)", err, accepted.Load())
	}
	t.Logf("%d connections before giving up", accepted.Load())
}

// A followed process terminal goes through the same outage as the session
// socket: after a reconnection it is opened again, so that the keys reach
// the program. They used to go on into the old socket, dead without
// knowing it, until TCP gave up (minutes), the program frozen meanwhile.
func TestFollowedProcessIsReopenedAfterAReconnection(t *testing.T) {
	w := &fakeWorker{}
	hs := httptest.NewServer(w)
	defer hs.Close()
	p := newProxy(t, hs.URL)
	o := termOpts(p.url(), "w-1")
	o.FollowProcesses = true
	o.ProbeAfter, o.DeadAfter = 200*time.Millisecond, 300*time.Millisecond
	s := start(t, o)
	s.out.waitFor(t, "$ ")
	s.typeText("tui\r")
	s.out.waitFor(t, "TUI> ")
	s.waitEvent(terminal.EventProcessAttached)
	p.freeze()
	s.waitEvent(terminal.EventReconnected)
	s.typeText("x")
	s.out.waitFor(t, "tui-got:x")
	if n := w.logsOpen.Load(); n != 2 {
		t.Fatalf("the process terminal was opened %d times, want 2", n)
	}
	s.typeText("\r~.")
	s.wait()
}

// The followed process terminal's socket dies silently (the proxy stops
// carrying it, and only it) while the session socket stays healthy: the
// process terminal's own probe (an empty input, which the Worker answers
// with stdin-ack) goes unanswered, so it is opened again and the keys
// reach the program, without a reconnection of the session socket. The
// session socket's probe never looked at it: the keys went into the dead
// socket and the program's screen stayed frozen.
func TestSilentProcessTerminalDeathIsDetected(t *testing.T) {
	w := &fakeWorker{}
	hs := httptest.NewServer(w)
	defer hs.Close()
	p := newProxy(t, hs.URL)
	o := termOpts(p.url(), "w-1")
	o.FollowProcesses = true
	o.ProbeAfter, o.DeadAfter = 200*time.Millisecond, 300*time.Millisecond
	s := start(t, o)
	s.out.waitFor(t, "$ ")
	s.typeText("tui\r")
	s.out.waitFor(t, "TUI> ")
	s.waitEvent(terminal.EventProcessAttached)
	// A healthy process terminal answers its probes and stays open.
	deadline := time.Now().Add(20 * time.Second)
	for w.probes.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d probes on the process terminal", w.probes.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := w.logsOpen.Load(); n != 1 {
		t.Fatalf("a healthy process terminal was opened %d times", n)
	}
	if n := p.freezePath("/api/logs/7"); n != 1 {
		t.Fatalf("froze %d process terminal connections, want 1", n)
	}
	deadline = time.Now().Add(20 * time.Second)
	for w.logsOpen.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the process terminal was not opened again; output %q", s.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.typeText("x")
	s.out.waitFor(t, "tui-got:x")
	if s.saw(terminal.EventReconnected) || s.saw(terminal.EventDisconnected) {
		t.Fatal("the session socket was reconnected: only the process terminal died")
	}
	s.typeText("\r~.")
	s.wait()
}

// Piped input: nimbus exits once the input has ended and the output has
// been quiet, whatever informational frames the Worker keeps sending
// (spawn and exit of a watcher's processes, legacy hmr, shell-integration
// events). They used to restart the quiet period, so the attachment never
// ended while a background process was busy.
func TestPipeModeEndsDespiteInformationalFrames(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(rw, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := r.Context()
		_ = ws.Write(ctx, websocket.MessageText, frame.Ready())
		go func() {
			for {
				_, msg, err := ws.Read(ctx)
				if err != nil {
					return
				}
				if f, _ := frame.Decode(msg); f.Type == frame.TypeFSWatchUnsubscribe {
					_ = ws.Write(ctx, websocket.MessageText, frame.ProbeResult(f.ReqID))
				}
			}
		}()
		_ = ws.Write(ctx, websocket.MessageText, frame.Output("$ "))
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for pid := 100; ; pid++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			msg := `{"type":"exit","pid":` + strconv.Itoa(pid) + `,"code":0,"command":"node watch.js"}`
			if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				return
			}
		}
	}))
	defer hs.Close()
	o := terminal.Options{Endpoint: hs.URL, SessionID: "pipe-2", In: strings.NewReader("make test\n"), QuietAfterEOF: 200 * time.Millisecond}
	s := start(t, o)
	res, err := s.wait()
	if err != nil || res.Reason != terminal.InputEnded {
		t.Fatalf("%+v %v", res, err)
	}
}

// Piped input whose confirmation comes late, after the quiet period ran
// out, while a followed process prints: the process's output starts the
// quiet over, so the confirmation does not end the attachment, and what
// the process prints next is shown. Only the session socket's output used
// to start it over: the late confirmation ended the attachment at once and
// the process's next lines were lost.
func TestPipedInputConfirmedLateKeepsFollowedProcessOutput(t *testing.T) {
	const quietFor = 800 * time.Millisecond
	probes := make(chan json.RawMessage, 1)
	mains := make(chan *websocket.Conn, 1)
	procs := make(chan *websocket.Conn, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(rw, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := r.Context()
		switch {
		case strings.HasSuffix(r.URL.Path, "/ws"):
			_ = ws.Write(ctx, websocket.MessageText, frame.Ready())
			_ = ws.Write(ctx, websocket.MessageText, frame.Output("$ "))
			mains <- ws
			for {
				_, msg, err := ws.Read(ctx)
				if err != nil {
					return
				}
				f, _ := frame.Decode(msg)
				switch {
				case f.Type == frame.TypeInput && strings.Contains(f.Data, "tui"):
					_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":"spawn","pid":7,"command":"tui","longRunning":false,"attachedTty":true}`))
				case f.Type == frame.TypeFSWatchUnsubscribe && strings.HasPrefix(string(f.ReqID), `"input-end-`):
					// Held back: the test answers it.
					select {
					case probes <- f.ReqID:
					default:
					}
				case f.Type == frame.TypeFSWatchUnsubscribe:
					// The one right after the input frame: it alone
					// does not end the attachment.
					_ = ws.Write(ctx, websocket.MessageText, frame.ProbeResult(f.ReqID))
				}
			}
		case strings.HasSuffix(r.URL.Path, "/api/logs/7"):
			_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":"backlog","pid":7,"chunks":[{"stream":"stdout","data":"TUI> ","ts":1}]}`))
			procs <- ws
			for {
				if _, _, err := ws.Read(ctx); err != nil {
					return
				}
			}
		}
	}))
	defer hs.Close()
	// No liveness probe but the ones after the input and its end; the
	// end's answer may take far longer than the test does.
	o := terminal.Options{Endpoint: hs.URL, SessionID: "pipe-3", In: strings.NewReader("tui\n"), FollowProcesses: true,
		QuietAfterEOF: quietFor, ProbeAfter: time.Hour, DeadAfter: time.Minute}
	s := start(t, o)
	recv := func(what string, c <-chan *websocket.Conn) *websocket.Conn {
		t.Helper()
		select {
		case ws := <-c:
			return ws
		case <-time.After(20 * time.Second):
			t.Fatalf("no %s socket; output %q", what, s.out.String())
			return nil
		}
	}
	main, proc := recv("session", mains), recv("process terminal", procs)
	var probe json.RawMessage
	select {
	case probe = <-probes:
	case <-time.After(20 * time.Second):
		t.Fatalf("no probe after the input; output %q", s.out.String())
	}
	s.out.waitFor(t, "TUI> ")
	// The quiet period started before the probe went out and after the
	// last output ("TUI> "): twice its length later it has run out. The
	// client shows nothing of it; a wait too short under load would only
	// leave the bug untested, never fail the fixed code.
	time.Sleep(2 * quietFor)
	ctx := context.Background()
	chunk := func(data string) {
		q, _ := json.Marshal(data)
		// A failure is the attachment having ended: the line is lost.
		_ = proc.Write(ctx, websocket.MessageText, []byte(`{"type":"chunk","stream":"stdout","data":`+string(q)+`,"ts":2}`))
	}
	chunk("building\r\n")
	// Shown, so the client handled it before the answer.
	s.out.waitFor(t, "building\r\n")
	if err := main.Write(ctx, websocket.MessageText, frame.ProbeResult(probe)); err != nil {
		t.Fatal(err)
	}
	// The process goes on printing, each line well within the quiet
	// period of the one before.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 1; i <= 5; i++ {
		<-tick.C
		chunk("step-" + strconv.Itoa(i) + "\r\n")
	}
	res, err := s.wait()
	if err != nil || res.Reason != terminal.InputEnded {
		t.Fatalf("%+v %v", res, err)
	}
	for i := 1; i <= 5; i++ {
		if want := "step-" + strconv.Itoa(i) + "\r\n"; !strings.Contains(s.out.String(), want) {
			t.Fatalf("%q was lost: the attachment ended within the quiet period after it; output %q", want, s.out.String())
		}
	}
}
