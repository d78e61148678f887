package sandboxtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// LostLogs is a process whose output outruns the backend's log ring
// between the polls of a client that follows it (see Server.LoseLogs).
// The loss is real: the backend's ring evicts the output; the middleware
// only decides when the process writes it, so that it happens between two
// polls whatever the machine's speed.
type LostLogs struct {
	// PID is the process's pid.
	PID int64
	// Steps is what the process writes: "a\n" before the client's first
	// poll, then one step (a burst larger than the ring, then "b\n", then
	// "c\n" for the last, after which the process exits 0) before each of
	// its next two polls by cursor.
	Steps []string
}

// Followed checks that got is what a client following the process shows:
// "a\n", then of each step the part the ring still held (a tail, with
// its last line), never the whole step. An error says what differs.
func (l *LostLogs) Followed(got string) error {
	rest, ok := strings.CutPrefix(got, l.Steps[0])
	if !ok {
		return fmt.Errorf("the output does not start with %q: %.80q", l.Steps[0], got)
	}
	for i, step := range l.Steps[1:] {
		last := step[strings.LastIndexByte(step[:len(step)-1], '\n')+1:]
		n := strings.Index(rest, last)
		if n < 0 {
			return fmt.Errorf("step %d's last line %q is missing from %.80q", i+1, last, rest)
		}
		kept := rest[:n+len(last)]
		if !strings.HasSuffix(step, kept) {
			return fmt.Errorf("what was shown of step %d is not the end of its output: %.80q", i+1, kept)
		}
		if len(kept) >= len(step) {
			return fmt.Errorf("step %d was shown whole (%d bytes): the ring lost nothing", i+1, len(kept))
		}
		rest = rest[len(kept):]
	}
	if rest != "" {
		return fmt.Errorf("more output than the process wrote: %.80q", rest)
	}
	return nil
}

// lossy is the state of a LoseLogs process.
type lossy struct {
	tok, id string
	pid     int64
	markers []string // the last line of each step still to run
}

// LoseLogs starts a process with token tok in sandbox id (in the default
// working directory) and returns once its first line is in the log ring.
// From then on, each of the next two processLogs polls of that process by
// cursor (a follower's, after its first poll, a tail) is held until the
// process has written the next step: more than the ring holds (set
// Options.ProcessLogBytes to keep it small), so the poll finds output
// evicted since the previous one. A step that fails answers the poll 500
// E_SANDBOXTEST. Internal calls go to the backend directly: they are
// neither recorded nor subject to faults.
func (s *Server) LoseLogs(tok, id string) (*LostLogs, error) {
	ring := s.opts.ProcessLogBytes
	if ring <= 0 {
		ring = localsandbox.DefaultProcessLogBytes
	}
	line := strings.Repeat("x", 63) + "\n"
	n := (2*ring+8<<10)/len(line) + 1
	burst := strings.Repeat(line, n)
	l := &LostLogs{Steps: []string{"a\n", burst + "b\n", burst + "c\n"}}
	loop := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo %s; i=$((i+1)); done`, n, line[:len(line)-1])
	script := "echo a; read line; " + loop + "; echo b; read line; " + loop + "; echo c"
	var started struct {
		PID int64 `json:"pid"`
	}
	if err := s.backendCall(tok, id, &started, "startProcess", script); err != nil {
		return nil, err
	}
	l.PID = started.PID
	p := &lossy{tok: tok, id: id, pid: l.PID, markers: []string{"b\n", "c\n"}}
	if err := s.waitLog(p, "a\n"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.lossy == nil {
		s.lossy = map[string]*lossy{}
	}
	s.lossy[lossyKey(id, l.PID)] = p
	s.mu.Unlock()
	return l, nil
}

func lossyKey(id string, pid int64) string { return id + "\x00" + fmt.Sprint(pid) }

// loseLogs runs the next step of a LoseLogs process before a poll of it
// by cursor; false means the step failed and the poll was answered.
func (s *Server) loseLogs(w http.ResponseWriter, id string, args json.RawMessage) bool {
	var a []json.RawMessage
	var pid int64
	var o struct {
		Cursor *int64 `json:"cursor"`
	}
	if json.Unmarshal(args, &a) != nil || len(a) < 2 || json.Unmarshal(a[0], &pid) != nil || json.Unmarshal(a[1], &o) != nil || o.Cursor == nil {
		return true
	}
	s.mu.Lock()
	p := s.lossy[lossyKey(id, pid)]
	var marker string
	if p != nil && len(p.markers) > 0 {
		marker = p.markers[0]
		p.markers = p.markers[1:]
	}
	s.mu.Unlock()
	if marker == "" {
		return true
	}
	var ack struct {
		OK bool `json:"ok"`
	}
	err := s.backendCall(p.tok, p.id, &ack, "writeProcessInput", pid, "\n")
	if err == nil && !ack.OK {
		err = errors.New("the process did not take its input")
	}
	if err == nil {
		err = s.waitLog(p, marker)
	}
	if err != nil {
		sandboxserver.WriteFail(w, sandboxserver.NewError(http.StatusInternalServerError, "E_SANDBOXTEST", "sandboxtest: losing logs: "+err.Error()))
		return false
	}
	return true
}

// waitLog waits until the process's log ends with marker. The process
// blocks (on its input, or by exiting) after each marker, so the ring
// holds it until the next poll.
func (s *Server) waitLog(p *lossy, marker string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var logs struct {
			Text string `json:"text"`
		}
		if err := s.backendCall(p.tok, p.id, &logs, "processLogs", p.pid, map[string]any{"lines": 1}); err != nil {
			return err
		}
		if strings.HasSuffix(logs.Text, marker) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d did not write %q within 30s; its log ends %q", p.pid, marker, logs.Text)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// backendCall calls op on the backend, past the middleware, and decodes
// its result into res.
func (s *Server) backendCall(tok, id string, res any, op string, args ...any) error {
	body, err := json.Marshal(map[string]any{"op": op, "args": args})
	if err != nil {
		return err
	}
	path := sandboxserver.NormalizeBasePath(s.opts.BasePath) + "/sandboxes/" + url.PathEscape(id) + "/rpc"
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	s.Backend.ServeHTTP(w, r)
	var env struct {
		OK     bool            `json:"ok"`
		Result json.RawMessage `json:"result"`
		Error  string          `json:"error"`
		Code   string          `json:"code"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
		return fmt.Errorf("%s: %d %q", op, w.Code, w.Body.String())
	}
	if !env.OK {
		return fmt.Errorf("%s: %s %s", op, env.Code, env.Error)
	}
	return json.Unmarshal(env.Result, res)
}
