//go:build unix

package transfer_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

const testSecret = "transfer-test-secret-0123456789abcdef"

// bigWriteHead finds the op and the path at the start of a big request.
var bigWriteHead = regexp.MustCompile(`"op":"([A-Za-z]+)","args":\[("(?:[^"\\]|\\.)*")`)

// backend is the real local sandbox backend over HTTP, with a recording
// and fault-injecting layer in front of it.
type backend struct {
	t   testing.TB
	srv *localsandbox.Server
	hs  *httptest.Server

	mu       sync.Mutex
	ops      []string
	inflight map[string]int
	peak     map[string]int
	// fault, when set, may answer a request instead of the backend: it gets
	// the op and its raw args and returns true when it answered.
	fault func(w http.ResponseWriter, op string, args []json.RawMessage) bool
	delay map[string]time.Duration
}

type backendOpts struct {
	path string // PATH of sandbox commands; "" means the test's PATH
}

func newBackend(t testing.TB, o backendOpts) *backend {
	t.Helper()
	p := o.path
	iso := localsandbox.IsolationAuto
	if p == "" {
		p = os.Getenv("PATH")
	} else {
		// A sandbox short of tools: its PATH is a directory of links under
		// the test's temporary directory, which a command in namespaces
		// would not see (/tmp is the sandbox's own there).
		iso = localsandbox.IsolationHostPaths
	}
	srv, err := localsandbox.New(localsandbox.Options{DataDir: t.TempDir(), Secret: testSecret, HostEnv: []string{"PATH=" + p}, Isolation: iso})
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{t: t, srv: srv, inflight: map[string]int{}, peak: map[string]int{}, delay: map[string]time.Duration{}}
	b.hs = httptest.NewServer(b)
	t.Cleanup(func() {
		b.hs.Close()
		srv.Close()
	})
	return b
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Only the head of a body is read here; the backend reads the rest
	// as it arrives, so the recorder adds no copy of a big write.
	const small = 64 << 10
	br := bufio.NewReaderSize(r.Body, small+1)
	head, err := br.Peek(small + 1)
	if err != nil && err != io.EOF {
		http.Error(w, err.Error(), 400)
		return
	}
	var env struct {
		Op   string            `json:"op"`
		Args []json.RawMessage `json:"args"`
	}
	if len(head) > small {
		// A write's content: read the op and path from the head only.
		m := bigWriteHead.FindSubmatch(head[:4<<10])
		if m != nil {
			env.Op = string(m[1])
			env.Args = []json.RawMessage{m[2]}
		}
	} else {
		_ = json.Unmarshal(head, &env)
	}
	b.mu.Lock()
	b.ops = append(b.ops, env.Op)
	b.inflight[env.Op]++
	if b.inflight[env.Op] > b.peak[env.Op] {
		b.peak[env.Op] = b.inflight[env.Op]
	}
	fault, delay := b.fault, b.delay[env.Op]
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.inflight[env.Op]--
		b.mu.Unlock()
	}()
	if delay > 0 {
		time.Sleep(delay)
	}
	if fault != nil && fault(w, env.Op, env.Args) {
		return
	}
	r.Body = io.NopCloser(br)
	b.srv.ServeHTTP(w, r)
}

// opsSeen returns the ops received since the last call and forgets them.
func (b *backend) opsSeen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.ops
	b.ops = nil
	return out
}

func (b *backend) peakOf(op string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak[op]
}

func (b *backend) setFault(f func(w http.ResponseWriter, op string, args []json.RawMessage) bool) {
	b.mu.Lock()
	b.fault = f
	b.mu.Unlock()
}

// host returns the host path of a sandbox path of sandbox "job".
func (b *backend) host(p string) string {
	return filepath.Join(b.srv.SandboxDir("acme:_:job"), filepath.FromSlash(strings.TrimPrefix(p, "/")))
}

// sandbox returns a handle on sandbox "job"; mod adjusts the client.
func (b *backend) sandbox(mod func(*sc.Options)) *sc.Sandbox {
	b.t.Helper()
	tn := "acme"
	tok, err := token.Issuer{Secret: testSecret}.Mint(token.Input{Tenant: &tn, Scopes: []string{token.ScopeSandboxUse}})
	if err != nil {
		b.t.Fatal(err)
	}
	o := sc.Options{Endpoint: b.hs.URL, Tokens: sc.StaticToken(tok)}
	if mod != nil {
		mod(&o)
	}
	c, err := sc.New(o)
	if err != nil {
		b.t.Fatal(err)
	}
	sb, err := c.Sandbox("job", sc.SandboxOptions{})
	if err != nil {
		b.t.Fatal(err)
	}
	return sb
}

// rpcError answers like the Worker does for a filesystem failure.
func rpcError(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(500)
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "code": "E_NIMBUS_REMOTE_RPC", "error": msg})
}

func argString(args []json.RawMessage, i int) string {
	if i >= len(args) {
		return ""
	}
	var s string
	_ = json.Unmarshal(args[i], &s)
	return s
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// leftovers lists temporary files of transfers under dir (host side).
func leftovers(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".nimbus-") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

var ctxCanceled = context.Canceled

func contextWithCancel(t testing.TB) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx, cancel
}

func lookPath(tool string) (string, error) { return exec.LookPath(tool) }
