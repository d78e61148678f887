package mcpcli

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/nimbus-sh/nimbus/cmd/internal/localdev"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/shellquote"
	"github.com/nimbus-sh/nimbus/pkg/mcpserver"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// notForwarded are flags that describe this invocation, not the server.
var notForwarded = map[string]bool{"print-config": true, "json": true, "no-color": true, "help": true}

// PrintConfig writes the snippet that makes client start this same server
// (the flags given, minus --print-config) or reach it over HTTP. Settings
// that came from the environment are carried as env entries, because MCP
// clients do not start servers from the user's shell; secrets are only
// named, never written.
func PrintConfig(f *cmdutil.Factory, cmd *cobra.Command, o *Options) error {
	ios := f.IOStreams
	c := mcpserver.ClientConfig{Name: o.Namespace}
	var notes []string
	if o.HTTPAddr != "" {
		c.URL = "http://" + o.HTTPAddr + HTTPPath
		c.KeyEnv = KeyEnv
		path, err := o.keyFile(f)
		if err != nil {
			return err
		}
		// The server must be started with the flags given here: another
		// --http-key-file would be another key, and --local, --sandbox or
		// --read-only another server.
		notes = append(notes, fmt.Sprintf("start the server with `nimbus %s`, and give the client the key: export %s=$(cat %s)", shellquote.Join(serverArgs(cmd)), KeyEnv, shellquote.Quote(path)))
	} else {
		exe, err := os.Executable()
		if err != nil {
			exe = "nimbus"
		} else if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
		if !o.Local {
			file, from := cmd.Flags().Lookup("token-file").Value.String(), "--token-file"
			if !cmd.Flags().Changed("token-file") {
				file, from = f.Getenv("NIMBUS_TOKEN_FILE"), "NIMBUS_TOKEN_FILE"
			}
			if err := o.checkTokenFile(file, from); err != nil {
				return err
			}
		}
		c.Command = exe
		c.Args = serverArgs(cmd)
		c.Env = map[string]string{}
		for _, name := range carriedEnv(o.Local) {
			if v := f.Getenv(name); v != "" {
				if pathEnv[name] {
					v = absPath(v)
				}
				c.Env[name] = v
			}
		}
		if !o.Local {
			switch {
			case cmd.Flags().Changed("token-file") || f.Getenv("NIMBUS_TOKEN_FILE") != "":
			case f.Getenv("NIMBUS_TOKEN") != "":
				c.SecretEnv = append(c.SecretEnv, "NIMBUS_TOKEN")
			case f.Getenv("JWT_SECRET") != "":
				c.SecretEnv = append(c.SecretEnv, "JWT_SECRET")
			default:
				notes = append(notes, "no token is configured in this shell: the server will read token: from the config files, or fail; set NIMBUS_TOKEN (or JWT_SECRET with NIMBUS_TENANT) in the client's environment")
			}
			if f.Getenv("NIMBUS_ENDPOINT") == "" && !cmd.Flags().Changed("endpoint") {
				if cfg, err := f.LoadConfig(); err == nil && cfg.GetString("endpoint") != "" {
					c.Env["NIMBUS_ENDPOINT"] = cfg.GetString("endpoint")
				} else {
					notes = append(notes, "no endpoint is configured: add --endpoint URL, or use --local")
				}
			}
		}
		if !o.Local {
			if n := secretEndpoint(f, cmd, &c); n != "" {
				notes = append(notes, n)
			}
		}
		if len(c.SecretEnv) > 0 && o.PrintConfig == "claude" {
			notes = append(notes, "Claude Code expands ${VAR} from its environment; Claude Desktop does not: replace the placeholder there, or use --token-file")
			if c.URL == "" && !f.JSON {
				notes = append(notes, "the claude mcp add line leaves out "+strings.Join(c.SecretEnv, " and ")+": a secret on a command line is visible to other users of the machine, and a server registered that way may not see Claude Code's environment; keep the token in a file and add --env NIMBUS_TOKEN_FILE=FILE, or use the snippet")
			}
		}
	}
	out, err := mcpserver.RenderClientConfig(o.PrintConfig, c)
	if err != nil {
		return clierr.Wrap(err, exitcode.Usage, clierr.CodeUsage, err.Error(), "")
	}
	// The snippet is a file's content, indented to be read and pasted;
	// --json asks for the machine form, compact in a pipe.
	if f.JSON {
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			return err
		}
		return writeJSONThen(f, v, notes)
	}
	if _, err := ios.Out.Write(out); err != nil {
		return err
	}
	if !f.JSON {
		fmt.Fprintf(ios.ErrOut, "Add this to %s.\n", mcpserver.ClientConfigFile(o.PrintConfig))
		if o.PrintConfig == "claude" && c.URL == "" {
			fmt.Fprintf(ios.ErrOut, "Or register it with Claude Code: %s\n", claudeAddCommand(c))
		}
	}
	warnNotes(f, notes)
	return nil
}

// secretEndpoint moves an endpoint carrying a password (the userinfo of a
// Worker behind basic auth) out of the snippet, which is pasted into a
// file: the client supplies NIMBUS_ENDPOINT, as it does the token. It
// returns the note that says so, or "" when the endpoint has no password.
func secretEndpoint(f *cmdutil.Factory, cmd *cobra.Command, c *mcpserver.ClientConfig) string {
	ep, from := c.Env["NIMBUS_ENDPOINT"], "NIMBUS_ENDPOINT"
	if fl := cmd.Flags().Lookup("endpoint"); fl != nil && fl.Changed {
		ep, from = fl.Value.String(), "--endpoint"
	}
	if ep == "" || sc.RedactEndpoint(ep) == ep {
		return ""
	}
	delete(c.Env, "NIMBUS_ENDPOINT")
	c.Args = slices.DeleteFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--endpoint=") })
	c.SecretEnv = append(c.SecretEnv, "NIMBUS_ENDPOINT")
	return fmt.Sprintf("the endpoint of %s carries a password, which the snippet does not write: set NIMBUS_ENDPOINT=%s in the client's environment, with the password", from, sc.RedactEndpoint(ep))
}

// serverArgs are the arguments that start this same server: mcp and the
// flags given, minus those that describe this invocation.
func serverArgs(cmd *cobra.Command) []string {
	args := []string{"mcp"}
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		if notForwarded[fl.Name] {
			return
		}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				args = append(args, "--"+fl.Name+"="+v)
			}
			if len(sv.GetSlice()) == 0 {
				args = append(args, "--"+fl.Name+"=")
			}
			return
		}
		if fl.Value.Type() == "bool" && fl.Value.String() == "true" {
			args = append(args, "--"+fl.Name)
			return
		}
		v := fl.Value.String()
		if pathFlags[fl.Name] {
			v = absPath(v)
		}
		args = append(args, "--"+fl.Name+"="+v)
	})
	return args
}

// printConfigCommand is the command that prints the registration of the
// HTTP server cmd runs, listening on addr: its own flags (--local,
// --sandbox, --http-key-file… choose the backend and the key the note of
// --print-config tells to start), with --http naming the port it got.
func printConfigCommand(cmd *cobra.Command, addr string) string {
	args := serverArgs(cmd)
	for i, a := range args {
		if strings.HasPrefix(a, "--http=") {
			args[i] = "--http=" + addr
		}
	}
	return "nimbus " + shellquote.Join(args) + " --print-config claude|cursor|vscode"
}

// pathFlags and pathEnv name files: the client starts the server in a
// directory of its own (Claude Desktop: /), so relative paths are made
// absolute.
var (
	pathFlags = map[string]bool{"token-file": true, "http-key-file": true, "config": true}
	pathEnv   = map[string]bool{"NIMBUS_TOKEN_FILE": true, "NIMBUS_LEDGER": true, localdev.DataEnv: true}
)

// absPath is p made absolute against the current directory (p itself if
// that fails, and "-", standard input, as it is).
func absPath(p string) string {
	if p == "-" {
		return p
	}
	if a, err := filepath.Abs(p); err == nil && p != "" {
		return a
	}
	return p
}

// carriedEnv are the non-secret variables of this shell that decide which
// sandboxes the server reaches and how: the client's server must see the
// same ones, or --sandbox names a sandbox in another store (--local's
// NIMBUS_DEV_DATA), its commands run with another isolation
// (NIMBUS_DEV_ISOLATION), its writes with another write limit
// (NIMBUS_WRITE_LIMIT, which --local applies too) and fresh ones go to
// another cleanup ledger.
func carriedEnv(local bool) []string {
	names := []string{"NIMBUS_PROFILE", "NIMBUS_TENANT", "NIMBUS_SUBJECT", "NIMBUS_LEDGER", "NIMBUS_WRITE_LIMIT"}
	if local {
		return append(names, localdev.DataEnv, localdev.IsolationEnv)
	}
	return append(names, "NIMBUS_ENDPOINT", "NIMBUS_BASE_PATH", "NIMBUS_TOKEN_FILE", "NIMBUS_HTTP_TIMEOUT")
}

func writeJSONThen(f *cmdutil.Factory, v any, notes []string) error {
	if err := f.PrintJSON(v); err != nil {
		return err
	}
	warnNotes(f, notes)
	return nil
}

func warnNotes(f *cmdutil.Factory, notes []string) {
	for _, n := range notes {
		f.Warn(&clierr.Warning{Code: "W_MCP_CONFIG", Message: n})
	}
}

// claudeAddCommand is the `claude mcp add` line that registers the server
// of c as the snippet does: the snippet's settings go in --env (options
// before the name, as Claude Code's CLI wants them), since a server
// registered without them would have no endpoint. Secrets are not written
// on a command line: the server reads them from the environment Claude
// Code starts it with, as the note about them says.
func claudeAddCommand(c mcpserver.ClientConfig) string {
	var b strings.Builder
	b.WriteString("claude mcp add --transport stdio")
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		b.WriteString(" --env " + shellquote.Quote(k+"="+c.Env[k]))
	}
	fmt.Fprintf(&b, " %s -- %s", shellquote.Quote(c.Name), shellquote.Quote(c.Command))
	if len(c.Args) > 0 {
		b.WriteString(" " + shellquote.Join(c.Args))
	}
	return b.String()
}
