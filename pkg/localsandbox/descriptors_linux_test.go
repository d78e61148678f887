package localsandbox

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/proctest"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestDescriptorsDoNotGrowWithSandboxes: a sandbox holds descriptors while
// it is used; afterwards at most a bounded cache of directory handles and
// of idle inits remains, and the inits go after their idle timeout.
func TestDescriptorsDoNotGrowWithSandboxes(t *testing.T) {
	const secret = "descriptor-test-secret-0123456789abcdef"
	s, err := New(Options{DataDir: t.TempDir(), Secret: secret, HostEnv: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.inits.IdleTimeout = 200 * time.Millisecond
	s.inits.MaxIdle = 32
	s.roots.timeout = 400 * time.Millisecond
	tn := "acme"
	tok, err := token.Issuer{Secret: secret}.Mint(token.Input{Tenant: &tn, Scopes: []string{token.ScopeSandboxUse}})
	if err != nil {
		t.Fatal(err)
	}
	call := func(id, body string) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/api/nimbus/v1/sandboxes/"+id+"/rpc", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("%s %s: %d %s", id, body, rec.Code, rec.Body.String())
		}
	}
	idleInits := func() bool { return s.inits.Idle() == 0 }
	call("warm", `{"op":"exec","args":["true"]}`)
	proctest.WaitFor(t, "the idle init to end", idleInits)
	proctest.WaitFor(t, "the idle handle to close", func() bool {
		s.roots.mu.Lock()
		defer s.roots.mu.Unlock()
		return s.roots.idle.Len() == 0
	})
	base := openFDs(t)

	for i := range 3 * maxIdleRoots {
		call("files-"+strconv.Itoa(i), `{"op":"writeFile","args":["/home/user/a.txt","x"]}`)
	}
	if n := openFDs(t) - base; n > maxIdleRoots*rootFDs {
		t.Fatalf("%d sandboxes written to hold %d descriptors", 3*maxIdleRoots, n)
	}
	for i := range 100 {
		call("cmds-"+strconv.Itoa(i), `{"op":"exec","args":["true"]}`)
	}
	// Directory handles cached, and idle inits (a socket and a pidfd
	// each, at most MaxIdle) until their timeout.
	if n := openFDs(t) - base; n > maxIdleRoots*rootFDs+2*s.inits.MaxIdle {
		t.Fatalf("100 sandboxes that ran a command hold %d descriptors", n)
	}
	// Quiet: back to the idle count.
	proctest.WaitFor(t, "idle inits to end", idleInits)
	proctest.WaitFor(t, "descriptors back to the idle count", func() bool { return openFDs(t) <= base })
	// Every sandbox still works: its handle is opened again.
	call("files-0", `{"op":"readFile","args":["/home/user/a.txt"]}`)
	call("cmds-0", `{"op":"exec","args":["test -d /home/user"]}`)
}
