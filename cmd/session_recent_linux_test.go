//go:build linux

package cmd_test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// TestSessionAttachForgetsADestroyedSandbox: session attach records the
// sandbox it attached to in the file of recently used sandboxes, which
// shell completion offers and asks the Worker about, unless the
// attachment ended because the sandbox was destroyed: completing it then
// would make it anew.
func TestSessionAttachForgetsADestroyedSandbox(t *testing.T) {
	endpoint := startDevServer(t, devOptions{}).URL
	const id = "att-gone"
	a := startPipedAttach(t, endpoint, id)
	a.send("echo up-$((2+2))\n")
	a.waitFor("up-4")

	tok, err := token.Issuer{Secret: devSecret}.Mint(token.Input{Tenant: ptr("acme"), SessionID: ptr(id), Scopes: []string{token.ScopeSandboxUse, token.ScopeSessionDestroy}})
	if err != nil {
		t.Fatal(err)
	}
	env := slices.DeleteFunc(slices.Clone(a.cmd.Env), func(kv string) bool { return strings.HasPrefix(kv, "NIMBUS_TOKEN=") })
	destroy := exec.Command(os.Args[0], "sandbox", "destroy", id)
	destroy.Args[0] = "nimbus"
	destroy.Env = append(env, "NIMBUS_TOKEN="+tok)
	if out, err := destroy.CombinedOutput(); err != nil {
		t.Fatalf("destroy: %v\n%s", err, out)
	}
	if code := a.exit(60 * time.Second); code != 0 && code != 69 {
		t.Fatalf("attach exit %d\nstdout %q\nstderr %q", code, a.stdout, a.stderr)
	}

	// The attach token's owner and Worker: what a completion here asks.
	complete := exec.Command(os.Args[0], "__complete", "session", "attach", "")
	complete.Args[0] = "nimbus"
	complete.Env = a.cmd.Env
	out, err := complete.Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), id) {
		t.Fatalf("the destroyed sandbox is offered:\n%s\nattach stderr %q", out, a.stderr)
	}
}
