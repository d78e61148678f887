package session

import (
	"errors"
	"os/signal"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/duration"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/localterm"
	"github.com/nimbus-sh/nimbus/internal/recentids"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/terminal"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// sessionDestroyed is the reason a server closes a session's terminal
// with when the sandbox is destroyed (terminal.Result.CloseReason).
const sessionDestroyed = "session destroyed"

func newCmdAttach(f *cmdutil.Factory) *cobra.Command {
	var fl flags
	var detachKeys string
	var wait, noFollow bool
	var waitTimeout, reconnect time.Duration
	cmd := &cobra.Command{
		Use:   "attach ID [--detach-keys enter,~,.] [--wait]",
		Short: "Open a session's terminal here, like ssh",
		Long: `Attach this terminal to the terminal of session (sandbox) ID: the same shell,
files and processes as the browser page /s/ID/ and as 'nimbus sandbox exec ID'.
It works against a deployed Worker and against 'nimbus dev', where the shell is
your $SHELL on a real PTY in the sandbox's /home/user.

Keys go to the remote shell as typed (Ctrl-C included) and its output comes
back unchanged, so full-screen programs work. Enter ~ . detaches (ssh-style;
~~ types one ~; --detach-keys ctrl-p,ctrl-q or none to change it): the shell
keeps running, and attaching again shows its scrollback. A dropped connection
is restored for up to --reconnect, with a fresh token, and the scrollback the
server replays is not printed twice. When the session is destroyed, or its
shell exits, nimbus exits 0.

One terminal at a time owns a session: if another (probably a browser tab)
holds it, attach fails with exit 75, or --wait waits for it to detach. If
another client takes the session over, nimbus exits 1.

On a Worker, full-screen npm programs (opencode…) run in a process terminal of
their own: nimbus switches to it while it runs (--no-follow only names its
pid, to follow with 'nimbus sandbox attach ID PID').

With standard input not a terminal, its bytes are sent as typed and nimbus
exits 0 once the input has ended, the server has confirmed receiving it and
the output has been quiet for a second, so scripts can drive a shell (the
output starts with the session's scrollback, as on a terminal). The shell
exiting after all of the input arrived also exits 0. A server that ends the
terminal before that (the input not ended or not confirmed, a followed
program's exit not seen, or the session destroyed while its output went on)
exits 69 (E_TERMINAL_CLOSED_EARLY): its commands may not have run.

The token needs session:attach (and no sid, or sid ID): --token-file,
NIMBUS_TOKEN, or one minted with JWT_SECRET for --tenant, pinned to ID.
For one command at a time, see 'nimbus sandbox exec' and 'nimbus sandbox shell'
(line mode); for one process's output and input, 'nimbus sandbox attach ID PID'.

Exit codes: 0 detached, destroyed or input ended; 1 taken over; 75 another
terminal holds the session; 77 token refused; 69 server unreachable, the
connection could not be restored, or the terminal ended before piped input
was seen through; 130 interrupted (143 for SIGTERM).`,
		Example: `  # against nimbus dev (NIMBUS_ENDPOINT and NIMBUS_TOKEN as 'nimbus dev' prints them)
  nimbus session attach demo

  # a deployed Worker, minting a pinned token with the exported JWT_SECRET;
  # wait for a browser tab to let go
  nimbus session attach job-1 --endpoint https://my-nimbus.workers.dev --tenant acme --wait

  # docker-style detach keys
  nimbus session attach demo --detach-keys ctrl-p,ctrl-q

  # drive the shell from a script
  printf 'cd app && npm test\n' | nimbus session attach demo`,
		Args: cmdutil.ExactArgs(1, "ID"),
		// The id is a sandbox's: no file names; the ledger's ids and
		// those used lately at this Worker with this token's owner.
		ValidArgsFunction: sandboxcli.CompleteID(f, func(cmd *cobra.Command) *recentids.Site {
			if sandboxcli.StdinToken(f, fl.tokenFile) != "" {
				// The token is not read: the Worker only, owner unknown.
				ep, _, err := fl.resolve(f, cmd)
				cfg, cerr := f.LoadConfig()
				if err != nil || cerr != nil {
					return sandboxcli.StdinSite("", "")
				}
				return sandboxcli.StdinSite(ep, cfg.GetString("base_path"))
			}
			site, _, _, err := fl.site(f, cmd, true, token.ScopeSessionAttach)
			if err != nil {
				return nil
			}
			return site
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if !sandboxclient.ValidID(id) {
				return clierr.Usagef("session id %q: use 1 to 128 characters from A-Z a-z 0-9 . _ -", id)
			}
			keys, err := terminal.ParseDetachKeys(detachKeys)
			if err != nil {
				return clierr.Usagef("--detach-keys %q: %v", detachKeys, err).WithHint("e.g. --detach-keys enter,~,. or ctrl-p,ctrl-q, or none")
			}
			if from := sandboxcli.StdinToken(f, fl.tokenFile); from != "" {
				return clierr.Usagef("%s and the terminal both read standard input", from).WithHint("pass the token in a file or NIMBUS_TOKEN")
			}
			site, ts, creds, err := fl.site(f, cmd, true, token.ScopeSessionAttach)
			if err != nil {
				return err
			}
			cfg, err := f.LoadConfig()
			if err != nil {
				return err
			}
			httpTimeout, err := sandboxcli.HTTPTimeout(cfg)
			if err != nil {
				return err
			}
			ios := f.IOStreams
			var lt *localterm.Terminal
			if ios.IsStdinTTY() {
				lt = localterm.Open(ios.In, ios.Out)
			}
			ctx := cmd.Context()
			if sigs := localterm.HangupSignals(); len(sigs) > 0 {
				// The root command handles interrupts and SIGTERM; a closing
				// terminal ends the attachment as cleanly.
				var stop func()
				ctx, stop = signal.NotifyContext(ctx, sigs...)
				defer stop()
			}
			notices := &sandboxcli.AttachNotices{W: ios.ErrOut, Styles: ios.Styles(), ID: id, Chatty: ios.IsStderrTTY()}
			o := terminal.Options{
				Endpoint: site.Endpoint, SessionID: id, Tokens: ts, HTTPClient: f.HTTPClient(), UserAgent: "nimbus-cli",
				In: ios.In, Out: ios.Out, Reconnect: reconnect, FollowProcesses: !noFollow,
			}
			if httpTimeout > 0 {
				// Each handshake is an exchange that should be quick, bounded
				// like the sandbox commands' (0 keeps the terminal's own).
				o.HandshakeTimeout = httpTimeout
			}
			if wait {
				o.Wait = waitTimeout
			}
			// Once a connection opened, the sandbox exists: it is recorded
			// as used (recentids) however the attachment ends, unless it
			// ended because the sandbox was destroyed.
			var connected atomic.Bool
			o.Notify = func(ev terminal.Event) {
				if ev.Kind == terminal.EventConnected {
					connected.Store(true)
				}
				if !f.JSON {
					notices.Event(ev)
				}
			}
			if lt != nil {
				o.Terminal, o.DetachKeys, o.Size = true, keys, lt.Size
				o.Resized = lt.WatchSize(ctx)
				if keys != nil {
					notices.Detach = keys.String()
				}
				// Raw before connecting: Ctrl-C is a key for the remote
				// shell from the first moment. Restored on every way out:
				// return, error, signal (they cancel ctx) and panic.
				if err := lt.Raw(); err != nil {
					return clierr.Wrap(err, exitcode.Software, clierr.CodeIO, "cannot put the terminal in raw mode: "+err.Error(), "")
				}
				notices.Raw = true
				defer lt.Restore()
			}
			res, err := terminal.Attach(ctx, o)
			if lt != nil {
				lt.Restore()
			}
			var te *terminal.Error
			destroyed := res.CloseReason == sessionDestroyed || (errors.As(err, &te) && te.CloseReason == sessionDestroyed)
			if destroyed {
				sandboxcli.ForgetSandbox(f, *site, id)
			} else if connected.Load() {
				sandboxcli.RememberSandbox(f, *site, id)
			}
			if err != nil {
				// A hint must not name a command on a destroyed
				// session: pasted, it would create a new, empty one
				// with the same id.
				return sandboxcli.AttachError(err, sandboxcli.Hints{ID: id, Tenant: creds.Tenant, Subject: creds.Subject, Destroyed: destroyed}.WithToken(ts))
			}
			if !f.JSON {
				notices.End(res)
			}
			return nil
		},
	}
	fl.add(cmd)
	fs := cmd.Flags()
	// Standard input is the terminal's (or the script's keys): a token
	// cannot come from it, and the help must not offer it.
	fs.Lookup("token-file").Usage = "read the token from `FILE` (NIMBUS_TOKEN_FILE; not \"-\": standard input is the terminal's)"
	fs.StringVar(&detachKeys, "detach-keys", terminal.DefaultDetachKeys, "key `SEQUENCE` that detaches: comma-separated keys (enter first means at a line start, ctrl-X, one character), or none")
	fs.BoolVar(&wait, "wait", false, "if another terminal holds the session, wait for it to detach (up to --wait-timeout)")
	duration.Var(fs, &waitTimeout, "wait-timeout", 10*time.Minute, duration.Limits{}, "how long --wait waits: seconds or a duration such as 90s, 10m")
	duration.Var(fs, &reconnect, "reconnect", 3*time.Minute, duration.Limits{AllowZero: true}, "how long to try restoring a dropped connection: seconds or a duration; 0 never reconnects")
	fs.BoolVar(&noFollow, "no-follow", false, "do not switch to the process terminal of a full-screen program (Workers); print its pid")
	return cmd
}
