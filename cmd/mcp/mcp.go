// Package mcp implements `nimbus mcp`: a Model Context Protocol server that
// gives an AI agent one sandbox. The wiring is cmd/internal/mcpcli, the tools
// pkg/mcpserver.
package mcp

import (
	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/mcpcli"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/duration"
	"github.com/nimbus-sh/nimbus/pkg/mcpserver"
)

// NewCmdMCP returns `nimbus mcp`.
func NewCmdMCP(f *cmdutil.Factory) *cobra.Command {
	o := &mcpcli.Options{}
	cmd := &cobra.Command{
		Use:   "mcp [--sandbox ID] [--local] [--read-only] [--http ADDR] [--print-config claude|cursor|vscode]",
		Short: "Serve one sandbox to an AI agent over the Model Context Protocol",
		Long: `Serve a Nimbus sandbox to an AI agent (Claude, Cursor, VS Code, Codex…) as a
Model Context Protocol server, over stdio (the default) or streamable HTTP on
loopback (--http ADDR, at /mcp).

The tools are the upstream SDK's agent tool set, named <namespace>_<tool>:
exec, runCode, readFile, writeFile, listFiles, deleteFile, exists,
startProcess, killProcess, signalProcess, writeProcessInput, endProcessInput,
resizeProcess, logs, exposePort, unexposePort, listPorts, exposeApp, listApps,
installRuntime, listRuntimes and listProcesses; destroy only with
--allow-destroy. --read-only keeps only the tools that read. Each has a JSON
Schema for its input and returns a structured result. Output longer than
16 KiB is cut in the middle and the full output saved in the sandbox under
/tmp/nimbus-mcp; binary files come back as resources.

Least privilege: without --sandbox the server works on a fresh sandbox
mcp-<random>, destroyed when the server exits unless --keep. With JWT_SECRET
it mints its own short-lived tokens pinned to that sandbox with only
sandbox:use (destroying uses a separate session:destroy token the agent never
gets unless --allow-destroy).

A given token (--token-file, NIMBUS_TOKEN, token: in the config) is used as
is, so it is checked before the server starts, by the server's own rules and
without the secret: the agent would otherwise meet the same refusal on every
tool call. Refused with exit 65 (E_MCP_TOKEN):
  - not a token: not three base64url parts with a JSON header and payload;
  - a signature that is not 32 bytes: no secret verifies it as HS256;
  - a header whose alg is not HS256 (HS512, none, RS256, or no alg):
    refused by nimbus dev, though an upstream Worker does not check;
  - claims the Worker refuses: scope not "nimbus"; no tn, or a tn, sub,
    sid or jti that is not an id; iat or exp missing or not a number;
    scopes not a list of strings;
  - expired: exp before the current second.
Refused with exit 77: no sandbox:use in its scopes, or a sid pinning it to
another sandbox than --sandbox (the remote API would answer 403). A pinned
token selects its sandbox when --sandbox is not given. Served with a
warning: no scopes claim (full trust), scopes the server does not need, no
sid, no session:destroy where destroying is needed, or less than an hour left.

Every tool call is logged to stderr (tool, sandbox, duration, exit code or
error code), never arguments, file contents or tokens. stdout carries the
protocol (stdio) or the server URL (--http).

With --http the server listens on loopback only, refuses cross-origin browser
requests and foreign Host headers, and requires Authorization: Bearer <key>
with the key kept in --http-key-file (default: nimbus/mcp-http.key in the user
config directory, generated on first use, mode 0600).

--print-config prints the JSON that registers this same command in a client
and exits: the flags you pass are kept, settings from the environment are
carried as env entries, and secrets are referenced, never written.`,
		Example: `  # Claude Code: register a server on a fresh sandbox of your Worker
  claude mcp add nimbus -- nimbus mcp --endpoint https://my-nimbus.workers.dev
  # the snippet for Cursor, VS Code or Claude Desktop: a new config file
  # (> replaces one that exists: add the printed server to it instead)
  mkdir -p .cursor && nimbus mcp --local --print-config cursor > .cursor/mcp.json
  # one given sandbox, reading tools only, with a least-privilege token from
  #   nimbus token mint --tenant acme --scopes sandbox:use --sid ci-42 > token.txt
  # (one pinned to ci-41, or without sandbox:use, is refused: exit 77)
  nimbus mcp --sandbox ci-42 --read-only --token-file token.txt
  # no Worker needed: sandboxes on this machine
  nimbus mcp --local --keep --sandbox scratch
  nimbus mcp --http 127.0.0.1:8931 --allow-destroy`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(cmd); err != nil {
				return err
			}
			if o.PrintConfig != "" {
				return mcpcli.PrintConfig(f, cmd, o)
			}
			return mcpcli.Run(cmd.Context(), f, cmd, o)
		},
	}
	fl := cmd.Flags()
	o.Conn.AddFlags(fl)
	// Over stdio, standard input carries the protocol (checkTokenFile).
	fl.Lookup("token-file").Usage = "read the bearer token from `FILE` (\"-\" for stdin, with --http only; NIMBUS_TOKEN_FILE)"
	fl.BoolVar(&o.Local, "local", false, "use an in-process local backend (no Worker; data in NIMBUS_DEV_DATA, else nimbus/dev in the user cache dir)")
	fl.StringVar(&o.Sandbox, "sandbox", "", "sandbox `ID` to serve (default: the token's pinned sandbox, else a fresh mcp-<random>)")
	fl.BoolVar(&o.Keep, "keep", false, "keep a fresh sandbox when the server exits")
	fl.StringVar(&o.Namespace, "namespace", mcpserver.DefaultNamespace, "tool name prefix: <namespace>_exec, …")
	fl.BoolVar(&o.ReadOnly, "read-only", false, "expose only the tools that read (files, processes, ports, apps, runtimes)")
	fl.BoolVar(&o.AllowDestroy, "allow-destroy", false, "add the destroy tool (its token also carries session:destroy)")
	fl.StringVar(&o.HTTPAddr, "http", "", "serve streamable HTTP on loopback `ADDR` (host:port) instead of stdio")
	fl.StringVar(&o.HTTPKeyFile, "http-key-file", "", "access key `FILE` for --http (created with a random key if missing)")
	fl.StringVar(&o.PrintConfig, "print-config", "", "print the registration snippet for `CLIENT` (claude, cursor, vscode) and exit")
	cmdutil.CompleteWords(cmd, "print-config", mcpserver.Clients...)
	fl.StringSliceVar(&o.RuntimeAllow, "runtime-allow", nil, "the profile's runtimes.allow `LIST`, for the reported capabilities (default: no list, all allowed)")
	duration.Var(fl, &o.ExecTimeout, "exec-timeout", mcpserver.DefaultExecTimeout, duration.Limits{AllowZero: true, Max: mcpserver.MaxExecTimeout}, "kill exec and runCode commands that give no timeoutMs after this long: seconds or a duration such as 90s, 10m, at most 24d; 0 means never")
	return cmd
}
