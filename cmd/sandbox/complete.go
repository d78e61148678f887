package sandbox

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
)

// completeSandboxArgs gives c, when its first argument is a sandbox id
// (its Use reads "NAME ID …", or "(ID" for destroy), completion that
// never offers local file names: the id is no file, nor is anything
// after it (a sandbox path, a pid, a port, an app, a runtime, a remote
// command). The id completes to the sandboxes the cleanup ledger knows
// this machine created and has not destroyed (kept ones, mostly: sandbox
// run --keep, mcp --keep). Commands with local paths of their own (cp,
// sync, run) are left as they are.
func (o *common) completeSandboxArgs(c *cobra.Command) {
	words := strings.Fields(c.Use)
	if c.ValidArgsFunction != nil || len(words) < 2 || (words[1] != "ID" && !strings.HasPrefix(words[1], "(ID")) {
		return
	}
	c.ValidArgsFunction = sandboxcli.CompleteID(o.f)
}
