package sandbox

import (
	"context"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/recentids"
	"github.com/nimbus-sh/nimbus/pkg/ledger"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// completeTimeout bounds the request completion sends to a sandbox (its
// processes, its ports): a shell waits for completion, and one that
// hangs is worse than one that offers nothing.
const completeTimeout = 2 * time.Second

// completeSandboxArgs gives c, when its first argument is a sandbox id
// (its Use reads "NAME ID …", or "(ID" for destroy), completion that
// never offers local file names: the id is no file, nor is anything
// after it (a sandbox path, a pid, a port, an app, a runtime, a remote
// command). The id completes to the sandboxes the cleanup ledger knows
// this machine created and has not destroyed (kept ones, mostly: sandbox
// run --keep, mcp --keep) and to those nimbus used lately at the same
// Worker with a token of the same owner (completeSite), most recent
// first, without a request. A PID after it completes to the sandbox's
// processes, a PORT to its ports (ports list) and an app TARGET to its
// apps' names and ports, asked of the sandbox when nimbus knows it exists
// (completeFromSandbox). Commands with local paths of their own (cp,
// sync, run) are left as they are.
func (o *common) completeSandboxArgs(c *cobra.Command) {
	words := strings.Fields(c.Use)
	if c.ValidArgsFunction != nil || len(words) < 2 || (words[1] != "ID" && !strings.HasPrefix(words[1], "(ID")) {
		return
	}
	next := ""
	if len(words) > 2 {
		next = words[2]
	}
	switch {
	case next == "PID":
		c.ValidArgsFunction = o.completeFromSandbox(false, processIDs)
	case next == "PORT":
		c.ValidArgsFunction = o.completeFromSandbox(false, portNumbers)
	case strings.HasPrefix(next, "PORT") && strings.HasSuffix(next, "..."): // forward's PORT[:LOCAL]...
		c.ValidArgsFunction = o.completeFromSandbox(true, portNumbers)
	case next == "TARGET":
		c.ValidArgsFunction = o.completeFromSandbox(false, appTargets)
	default:
		c.ValidArgsFunction = sandboxcli.CompleteID(o.f, o.completeSite)
	}
}

// completeSite is the site (Worker and token owner) the command's flags
// and settings reach, for completing ids from the file of recently used
// sandboxes and the cleanup ledger: the ledger's local endpoint
// (ledger.LocalEndpoint) for --local, whose ids are the ledger's only,
// the Worker without an owner (sandboxcli.StdinSite) for a token it would
// read from stdin, which it never reads, and nil for settings that do not
// resolve. It builds the client, which sends nothing, and prints nothing.
func (o *common) completeSite(cmd *cobra.Command) *recentids.Site {
	if o.lo.enabled {
		return &recentids.Site{Endpoint: ledger.LocalEndpoint}
	}
	o.f.IOStreams.ErrOut = io.Discard
	if o.stdinToken() != "" {
		// The token is not read: the Worker only, owner unknown.
		s, err := o.resolve(cmd)
		if err != nil {
			return sandboxcli.StdinSite("", "")
		}
		return sandboxcli.StdinSite(s.endpoint, s.basePath)
	}
	if _, _, err := o.client(cmd, true, scopesUse, ""); err != nil {
		return nil
	}
	return o.site
}

// completeFromSandbox completes the id as CompleteID does,
// then the argument after it (every one after it with repeat) from the
// sandbox: list asks it for the candidates, each a word and a
// description. It asks only a sandbox nimbus knows exists at that Worker,
// for that token's owner (sandboxcli.KnownSandbox: the cleanup ledger or
// the file of recently used sandboxes), since the request would create
// any other. It never offers file names, and offers nothing rather than
// fail: for an id it does not know, --local (nothing there outlives a
// command), a --root the commands refuse, a token it would read from
// stdin, or a request that fails or does not answer within
// completeTimeout. Nothing is printed, and nothing is written.
func (o *common) completeFromSandbox(repeat bool, list func(context.Context, *sandboxclient.Sandbox) ([][2]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		const none = cobra.ShellCompDirectiveNoFileComp
		if len(args) == 0 {
			return sandboxcli.CompleteID(o.f, o.completeSite)(cmd, args, toComplete)
		}
		if (len(args) > 1 && !repeat) || o.lo.enabled || o.stdinToken() != "" ||
			sandboxcli.RootError(runtime.GOOS, o.root, "") != nil {
			return nil, none
		}
		// Whatever the client would warn about is not for the shell.
		o.f.IOStreams.ErrOut = io.Discard
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, cancel := context.WithTimeout(ctx, completeTimeout)
		defer cancel()
		sb, err := o.open(cmd, args[0], scopesUse)
		if err != nil || o.site == nil || !sandboxcli.KnownSandbox(o.f, *o.site, args[0], o.f.Now()) {
			// Any request to an id creates that sandbox, and the API has
			// none that only says whether one exists: a mistyped id
			// must not become a sandbox on the user's account.
			return nil, none
		}
		cands, err := list(ctx, sb)
		if err != nil {
			return nil, none
		}
		var out []string
		for _, c := range cands {
			if strings.HasPrefix(c[0], toComplete) && !slices.Contains(args[1:], c[0]) {
				out = append(out, c[0]+"\t"+c[1])
			}
		}
		return out, none
	}
}

// processIDs are the sandbox's processes: the pid, described by its
// state and command line.
func processIDs(ctx context.Context, sb *sandboxclient.Sandbox) ([][2]string, error) {
	ps, err := sb.ListProcesses(ctx)
	if err != nil {
		return nil, err
	}
	out := make([][2]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, [2]string{strconv.FormatInt(p.PID, 10), sandboxcli.DisplayText(p.State + " " + p.Command)})
	}
	return out, nil
}

// portNumbers are the sandbox's ports (ports list), described by the pid
// listening on each.
func portNumbers(ctx context.Context, sb *sandboxclient.Sandbox) ([][2]string, error) {
	ps, err := sb.ListPorts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([][2]string, 0, len(ps))
	for _, p := range ps {
		desc := "exposed, nothing listening"
		if p.PID > 0 {
			desc = "pid " + strconv.FormatInt(p.PID, 10)
		}
		out = append(out, [2]string{strconv.Itoa(p.Port), desc})
	}
	return out, nil
}

// appTargets are the names and ports of the sandbox's apps (apps list),
// each described by the other and the app's status.
func appTargets(ctx context.Context, sb *sandboxclient.Sandbox) ([][2]string, error) {
	apps, err := sb.ListApps(ctx)
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, a := range apps {
		port, name := "", ""
		if a.Port != nil {
			port = strconv.Itoa(*a.Port)
		}
		if a.Name != nil {
			name = sandboxcli.DisplayText(*a.Name)
		}
		if name != "" {
			desc := a.Status
			if port != "" {
				desc = strings.TrimSpace("port " + port + " " + desc)
			}
			out = append(out, [2]string{name, sandboxcli.DisplayText(desc)})
		}
		if port != "" {
			out = append(out, [2]string{port, sandboxcli.DisplayText(strings.TrimSpace(name + " " + a.Status))})
		}
	}
	return out, nil
}
