package localsandbox

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// rpcServer is a Server and a token for it, called through its handler.
type rpcServer struct {
	s   *Server
	tok string
}

func newRPCServer(t *testing.T) *rpcServer {
	t.Helper()
	const secret = "spawn-test-secret-0123456789abcdef"
	s, err := New(Options{DataDir: t.TempDir(), Secret: secret, HostEnv: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	tn := "acme"
	tok, err := token.Issuer{Secret: secret}.Mint(token.Input{Tenant: &tn, Scopes: []string{token.ScopeSandboxUse}})
	if err != nil {
		t.Fatal(err)
	}
	return &rpcServer{s: s, tok: tok}
}

// call sends an rpc request for sandbox id and returns the answer.
func (r *rpcServer) call(id, body string) answer {
	req := httptest.NewRequest(http.MethodPost, "/api/nimbus/v1/sandboxes/"+id+"/rpc", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+r.tok)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	r.s.ServeHTTP(rec, req)
	return answer{rec.Code, rec.Body.String()}
}

type answer struct {
	code int
	body string
}

// callAsync is call in a goroutine.
func (r *rpcServer) callAsync(id, body string) <-chan answer {
	ch := make(chan answer, 1)
	go func() { ch <- r.call(id, body) }()
	return ch
}

// waitAnswer waits (boundedly: a loaded machine is slow, a deadlock is
// forever) for an answer.
func waitAnswer(t *testing.T, ch <-chan answer, what string) answer {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s: no answer within 2 minutes", what)
		return answer{}
	}
}

func wantStdout(t *testing.T, a answer, stdout string) {
	t.Helper()
	if a.code != 200 || !strings.Contains(a.body, `"exitCode":0,`) || !strings.Contains(a.body, `"stdout":"`+stdout+`"`) {
		t.Fatalf("want stdout %q: %d %s", stdout, a.code, a.body)
	}
}

// TestSpawnsOfOneSandboxDoNotWaitForEachOther: while a command's shell is
// being forked and executed (held there by the pool's StartHook), other
// commands of the same sandbox start, run and answer; no lock of the
// sandbox is held across a start. A named shell still runs its calls one
// at a time: its next call does not start until the stalled one ended.
func TestSpawnsOfOneSandboxDoNotWaitForEachOther(t *testing.T) {
	r := newRPCServer(t)
	wantStdout(t, r.call("box", `{"op":"exec","args":["echo warm"]}`), `warm\n`)

	var starts atomic.Int32
	stalled, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(free)
	r.s.inits.StartHook = func() {
		if starts.Add(1) == 1 {
			close(stalled)
			<-release
		}
	}
	// The first start stalls; it is in the named shell s1.
	first := r.callAsync("box", `{"op":"exec","args":["echo first > order; echo first",{"shellId":"s1"}]}`)
	select {
	case <-stalled:
	case <-time.After(2 * time.Minute):
		t.Fatal("the first command did not reach its start")
	}
	// The next call of s1 waits for it; one-shot commands of the sandbox
	// do not, several at once.
	queued := r.callAsync("box", `{"op":"exec","args":["cat order",{"shellId":"s1"}]}`)
	var others []<-chan answer
	for range 3 {
		others = append(others, r.callAsync("box", `{"op":"exec","args":["echo other"]}`))
	}
	for _, ch := range others {
		wantStdout(t, waitAnswer(t, ch, "a command beside a stalled start"), `other\n`)
	}
	if n := starts.Load(); n != 4 {
		t.Fatalf("%d starts while the first was stalled, want 4 (it and the 3 one-shot commands): the named shell's next call started early", n)
	}
	select {
	case a := <-first:
		t.Fatalf("the stalled command answered: %d %s", a.code, a.body)
	default:
	}
	free()
	wantStdout(t, waitAnswer(t, first, "the stalled command"), `first\n`)
	wantStdout(t, waitAnswer(t, queued, "the named shell's next call"), `first\n`)
}
