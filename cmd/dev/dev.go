// Package dev implements `nimbus dev`: a local Nimbus sandbox backend
// (pkg/localsandbox) served over HTTP, and `nimbus dev token`.
package dev

import (
	"fmt"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/localdev"
	"github.com/nimbus-sh/nimbus/cmd/internal/tokencli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// devGCPercent is the garbage collector's target of `nimbus dev` when
// GOGC does not set one.
const devGCPercent = 50

// NewCmdDev returns `nimbus dev`.
func NewCmdDev(f *cmdutil.Factory) *cobra.Command {
	var addr, data, isolation string
	var allowRemote bool
	var allowHosts []string
	cmd := &cobra.Command{
		Use:   "dev [--addr 127.0.0.1:8787] [--data DIR]",
		Short: "Serve a local sandbox backend for development (no account needed)",
		Long: `Serve the Nimbus remote sandbox API on this machine, so every
'nimbus sandbox' command (and the SDK) works without a Cloudflare account.

Each sandbox is a directory under the data directory (--data, else
NIMBUS_DEV_DATA, else nimbus/dev in the user cache directory); sandbox paths
such as /home/user map inside it and file operations cannot leave it.
Commands run with /bin/sh as YOU, with your network and your tools: this is
a development backend, NOT a security boundary. It listens on loopback only
unless --allow-remote.

On Linux, where unprivileged user namespaces are allowed, each command runs in
its own user, mount and PID namespaces: the sandbox is mounted at /home/user,
/tmp is the sandbox's own, and every other path is this machine's. Elsewhere
(or with --isolation host-paths, e.g. to use sudo) commands see this machine's
paths: pwd prints the sandbox's directory. Either way every process a command
starts ends with it, and with destroy and Ctrl-C.

Each sandbox also has a terminal, /s/<id>/ws, for 'nimbus session attach ID':
your $SHELL on a real PTY in /home/user, started like its commands, kept
running between attachments with 1 MiB of scrollback; one client owns it at
a time (409 to others), destroy closes it. It is /bin/sh instead when $SHELL
is unset or a sandbox cannot run it (not an executable file, under /tmp or
/home/user in namespaces, or failing to start there); nimbus dev and the
terminal's first line then say why.

Tokens are verified with JWT_SECRET when it is set, otherwise with a secret
generated once and kept (mode 0600) in the data directory; 'nimbus dev token'
prints a token for it. It serves until interrupted.

It is hardened for a laptop with a browser open:
  - requests are authenticated from their headers before any body is read;
    a body may be at most 32 MiB (one 20 MiB write in base64)
  - a request head must arrive within 5s and a body within 60s, an answer
    must be accepted by the client within 5m per write, idle connections
    close after 120s, and at most 256 connections are open at once (when
    all are taken, the oldest idle one is closed for a new client); with
    --allow-remote a client from another machine holds at most 64 of them
    and all such clients 192, so 64 stay for this machine's tools (over
    its share a client is answered 503 with Retry-After); an exec stream
    itself may run (and stay silent) for hours
  - requests for any Host other than localhost, a loopback address, the
    listen address or an --allow-host name are refused (DNS rebinding)
  - a token from a cookie only works on same-origin application/json
    requests (same-origin upgrades for the terminal)
  - each preview has a host of its own, <port>--<id>.localhost and
    <name>--<id>.localhost on this port (every *.localhost name is this
    machine), so one sandbox's page cannot reach another's preview; its
    cookie is that host's only, SameSite=Strict, at most 1h, able to open
    that sandbox's previews only, and only for pages of its origin (or a
    link followed to it); a link's token is taken out of the address bar
    and of what the app sees. Under localhost or a loopback address the
    path doors /s/<id>/port/<n>/ take no cookie (a browser is sent on to
    the preview host); under an --allow-host name previews stay path-style,
    sharing one origin, without that isolation`,
		Example: `  nimbus dev &
  export NIMBUS_ENDPOINT=http://127.0.0.1:8787 NIMBUS_TOKEN=$(nimbus dev token)
  nimbus sandbox exec demo -- echo hello

  # reachable from containers on this machine by name
  nimbus dev --addr 0.0.0.0:8787 --allow-remote --allow-host host.docker.internal`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := dataDir(cmd, f, data)
			if err != nil {
				return err
			}
			if err := localdev.CheckAddr(addr, allowRemote); err != nil {
				return err
			}
			from := "--isolation"
			if !cmd.Flags().Changed("isolation") {
				isolation, from = f.Getenv(localdev.IsolationEnv), localdev.IsolationEnv
			}
			iso, err := localdev.ParseIsolation(isolation, from)
			if err != nil {
				return err
			}
			// The secret exists before the port accepts connections, so a
			// client that sees the port open can mint with it.
			secret, source := f.Getenv("JWT_SECRET"), "JWT_SECRET from the environment"
			if secret == "" {
				s, created, err := localdev.LoadSecret(data)
				if err != nil {
					return err
				}
				secret, source = s, "generated, kept in "+data+"/"+localdev.SecretFile
				if !created {
					source = "kept in " + data + "/" + localdev.SecretFile
				}
			}
			localdev.KeepInheritedFromCommands()
			ln, err := localdev.Listen(addr, allowRemote)
			if err != nil {
				return err
			}
			ios := f.IOStreams
			st := ios.Styles()
			// The server's log: what it could not serve, and the host
			// detail that answers to clients leave out.
			logf := func(format string, args ...any) {
				if f.JSON {
					f.Warn(&clierr.Warning{Code: "W_DEV_SERVER", Message: fmt.Sprintf(format, args...)})
					return
				}
				fmt.Fprintf(ios.ErrOut, "%s "+format+"\n", append([]any{st.WarningIcon()}, args...)...)
			}
			srv, err := localsandbox.New(localsandbox.Options{
				DataDir: data, Secret: secret, PreviousSecret: f.Getenv("JWT_SECRET_PREVIOUS"),
				HostEnv: localdev.HostEnv(f.Getenv), Now: f.Now, Isolation: iso,
				TerminalShell: f.Getenv("SHELL"),
				Hosts:         localsandbox.NewHostPolicy(ln.Addr(), allowHosts),
				Logf:          logf,
			})
			if err != nil {
				ln.Close()
				return localdev.BackendError(err, "pass --data DIR")
			}
			defer srv.Close()
			endpoint := "http://" + ln.Addr().String()
			isoStatus := srv.Isolation()
			if f.JSON {
				if err := f.PrintJSON(map[string]any{"endpoint": endpoint, "dataDir": srv.DataDir(), "isolation": isoStatus}); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(ios.Out, endpoint)
			}
			who := "you"
			if u, err := user.Current(); err == nil {
				who = u.Username
			}
			tokenCmd := "nimbus dev token"
			if cmd.Flags().Changed("data") {
				tokenCmd += " --data " + data
			}
			// The terminal's shell is judged once the mode is known: in
			// namespaces a $SHELL under /tmp or /home/user never starts.
			var shellNotice *clierr.Warning
			if ts := srv.TerminalShell(); ts.Reason != "" {
				shellNotice = &clierr.Warning{Code: "W_DEV_TERMINAL_SHELL",
					Message: fmt.Sprintf("session terminals run %s, not $SHELL %s: %s", ts.Shell, f.Getenv("SHELL"), ts.Reason),
					Hint:    "install the shell where sandboxes see it (not under /tmp or /home/user), or use --isolation host-paths"}
			}
			boundary := fmt.Sprintf("development backend, not a security boundary: commands run as %s on this machine", who)
			if f.JSON {
				// stderr carries JSON objects only: stdout's object
				// holds the banner's facts, and the warnings stay.
				if !isoStatus.Namespaces() {
					f.Warn(&clierr.Warning{Code: "W_DEV_HOST_PATHS", Message: "commands see this machine's paths (" + isoStatus.Reason + ")"})
				}
				if isoStatus.Unconfirmed != "" {
					f.Warn(&clierr.Warning{Code: "W_DEV_ISOLATION_UNCONFIRMED", Message: unconfirmedNotice(isoStatus.Unconfirmed)})
				}
				if shellNotice != nil {
					f.Warn(shellNotice)
				}
				f.Warn(&clierr.Warning{Code: "W_DEV_NOT_A_BOUNDARY", Message: boundary})
			} else {
				fmt.Fprintf(ios.ErrOut, "%s local sandbox backend listening on %s\n", st.SuccessIcon(), st.Bold(endpoint))
				fmt.Fprintf(ios.ErrOut, "  data    %s\n", srv.DataDir())
				fmt.Fprintf(ios.ErrOut, "  secret  %s\n", source)
				fmt.Fprintf(ios.ErrOut, "  token   export NIMBUS_ENDPOINT=%s NIMBUS_TOKEN=$(%s)\n", endpoint, tokenCmd)
				fmt.Fprintf(ios.ErrOut, "  try     nimbus sandbox exec demo -- echo hello\n")
				if isoStatus.Namespaces() {
					fmt.Fprintf(ios.ErrOut, "  paths   /home/user and /tmp are each sandbox's own (user, mount and PID namespaces)\n")
					if isoStatus.Unconfirmed != "" {
						fmt.Fprintf(ios.ErrOut, "%s %s\n", st.WarningIcon(), unconfirmedNotice(isoStatus.Unconfirmed))
					}
				} else {
					fmt.Fprintf(ios.ErrOut, "%s commands see this machine's paths (%s): pwd prints the sandbox's directory, and /home/user and /tmp in a command are this machine's\n", st.WarningIcon(), isoStatus.Reason)
				}
				if shellNotice != nil {
					fmt.Fprintf(ios.ErrOut, "%s %s\n  %s\n", st.WarningIcon(), shellNotice.Message, shellNotice.Hint)
				}
				fmt.Fprintf(ios.ErrOut, "%s %s. Ctrl-C to stop.\n", st.WarningIcon(), boundary)
			}
			// Interrupts stop the server gracefully even when nimbus runs
			// embedded without the root's signal handling.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if f.Getenv("GOGC") == "" {
				// The server's live heap is a few MiB (connections and
				// commands in flight); collecting at half its size again
				// instead of its whole size costs a few percent of CPU
				// under load and keeps the footprint on a laptop about
				// 4 MiB smaller at 256 clients (docs/benchmarks.md). A
				// heap that small would be collected every few hundred
				// requests: the goal stays at least localdev.GCFloor.
				defer localdev.StartGCFloor(devGCPercent, localdev.GCFloor)()
			}
			serve := localdev.ServeOptions{Logf: logf}
			if f.Getenv("GOMAXPROCS") == "" {
				// One processor while one client at a time drives the
				// server, all of them under concurrent load (localdev's
				// procGovernor says why; docs/benchmarks.md has figures).
				serve.Procs = localdev.RuntimeProcs
			}
			if err := serve.Serve(ctx, ln, srv); err != nil {
				return clierr.Wrap(err, exitcode.Unavailable, localdev.CodeListen, "serving failed: "+err.Error(), "")
			}
			if !f.JSON {
				fmt.Fprintln(ios.ErrOut, "stopped; sandboxes stay in "+srv.DataDir()+" until destroyed")
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&addr, "addr", localdev.DefaultAddr, "listen `ADDRESS` (host:port)")
	fl.StringVar(&data, "data", "", "data `DIR` (NIMBUS_DEV_DATA; default: nimbus/dev in the user cache dir)")
	fl.BoolVar(&allowRemote, "allow-remote", false, "allow a non-loopback --addr (anyone who gets a token runs commands as you)")
	fl.StringSliceVar(&allowHosts, "allow-host", nil, "also answer requests for host `NAME` (repeatable; e.g. host.docker.internal); other names are refused")
	fl.StringVar(&isolation, "isolation", "auto", "`MODE` of commands: auto, namespaces (required) or host-paths (NIMBUS_DEV_ISOLATION)")
	cmdutil.CompleteWords(cmd, "isolation", "auto", "namespaces", "host-paths")
	cmd.AddCommand(newCmdToken(f))
	return cmd
}

// devTokenTTL is the lifetime of `nimbus dev token` tokens: a working day
// and then some, since they only open local sandboxes.
const devTokenTTL = 24 * time.Hour

func newCmdToken(f *cmdutil.Factory) *cobra.Command {
	var data, tenant, sub, sid string
	mf := tokencli.MintFlags{Default: localdev.DefaultScopes}
	cmd := &cobra.Command{
		Use:   "token [--data DIR] [--tenant local] [--sub S] [--sid ID] [--scopes a,b] [--ttl 24h]",
		Short: "Print a token for the local backend of 'nimbus dev'",
		Long: `Print a token that 'nimbus dev' accepts: signed with JWT_SECRET when it is set,
otherwise with the secret kept in the data directory (created if needed).
The default scopes cover every sandbox command: sandbox:use,
session:destroy (destroy) and session:attach (port previews, session attach).
'nimbus session new' also needs session:create, which no default token
carries: mint one with --scopes session:create.`,
		Example: `  export NIMBUS_TOKEN=$(nimbus dev token)
  nimbus dev token --sid demo --scopes sandbox:use --ttl 15m
  NIMBUS_TOKEN=$(nimbus dev token --scopes session:create) nimbus session new`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := dataDir(cmd, f, data)
			if err != nil {
				return err
			}
			secret := f.Getenv("JWT_SECRET")
			if secret == "" {
				s, _, err := localdev.LoadSecret(data)
				if err != nil {
					return err
				}
				secret = s
			} else if kept := filepath.Join(data, localdev.SecretFile); fileExists(kept) {
				// A JWT_SECRET left exported (from a Worker's setup) and a
				// server started elsewhere without it: every sandbox
				// command would fail with E_TOKEN_SIGNATURE, far from why.
				f.Warn(&clierr.Warning{Code: "W_DEV_TOKEN_SECRET",
					Message: "signed with JWT_SECRET from the environment, not the secret in " + kept + ": a nimbus dev started without JWT_SECRET refuses this token",
					Hint:    "unset JWT_SECRET for a token such a server accepts"})
			}
			in := token.Input{Tenant: &tenant}
			if err := mf.Apply(&in); err != nil {
				return err
			}
			for _, w := range mf.ScopeWarnings() {
				f.Warn(w)
			}
			if !mf.TTLGiven() {
				ttl := devTokenTTL
				in.TTL = &ttl
			}
			// Given means present, as in token mint: an empty --sid is a
			// claims error, not a token pinned to nothing (every sandbox).
			if cmd.Flags().Changed("sub") {
				in.Subject = &sub
			}
			if cmd.Flags().Changed("sid") {
				in.SessionID = &sid
			}
			tok, err := token.Issuer{Secret: secret, Now: f.Now}.Mint(in)
			if err != nil {
				return tokencli.Error(err)
			}
			if f.JSON {
				return f.PrintJSON(map[string]string{"token": tok})
			}
			_, err = fmt.Fprintln(f.IOStreams.Out, tok)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&data, "data", "", "data `DIR` of 'nimbus dev' (NIMBUS_DEV_DATA; default: nimbus/dev in the user cache dir)")
	fl.StringVar(&tenant, "tenant", localdev.DefaultTenant, "tenant (tn)")
	fl.StringVar(&sub, "sub", "", "subject (sub)")
	fl.StringVar(&sid, "sid", "", "pin the token to one sandbox `ID`")
	mf.Add(fl, "lifetime: seconds or a duration such as 15m (default 1d, at most 30d)",
		"comma-separated scopes, repeatable (default sandbox:use,session:destroy,session:attach)")
	return cmdutil.Quick(cmd) // mints locally
}

// fileExists reports whether path names something that can be stat'ed.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// unconfirmedNotice says that namespaces could not be checked at start
// for a passing shortage, and what happens next: the server did not give
// them up for it.
func unconfirmedNotice(why string) string {
	return "namespaces are not confirmed yet: " + why + "; the first command checks them again (a shortage then answers it 503, retry shortly)"
}

// emptyData refuses --data "": it silently meant the default directory
// (NIMBUS_DEV_DATA, else the user cache dir), another backend's sandboxes
// and secret than the directory meant.
var emptyData = cmdutil.EmptyFlag{Name: "data", Hint: "name the data directory, or leave --data out for NIMBUS_DEV_DATA or the user cache dir"}

// dataDir is the data directory of `nimbus dev` and `nimbus dev token`,
// which must agree on it: --data, refused when empty, else NIMBUS_DEV_DATA
// or the user cache dir.
func dataDir(cmd *cobra.Command, f *cmdutil.Factory, data string) (string, error) {
	if err := cmdutil.RefuseEmpty(cmd, emptyData); err != nil {
		return "", err
	}
	if data != "" {
		return data, nil
	}
	return localdev.DataDir(f.Getenv)
}
