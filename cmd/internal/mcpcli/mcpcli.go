// Package mcpcli is the command-side wiring of `nimbus mcp`: which sandbox,
// which token (minted with only sandbox:use, or given and checked), the
// local backend, the stdio and HTTP transports, the access key of the HTTP
// transport, client configuration snippets, and destroying a fresh
// sandbox on exit. The tools themselves are pkg/mcpserver.
package mcpcli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/localdev"
	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/buildinfo"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/duration"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/recentids"
	"github.com/nimbus-sh/nimbus/pkg/ledger"
	"github.com/nimbus-sh/nimbus/pkg/mcpserver"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// Stable codes of nimbus mcp's own failures.
const (
	CodeTokenUnfit = "E_MCP_TOKEN"
	CodeTokenBroad = "W_MCP_TOKEN"
	CodeLedger     = "W_LEDGER"
	CodeHTTPAddr   = "E_MCP_HTTP_ADDR"
	CodeHTTPKey    = "E_MCP_HTTP_KEY"
)

// Options are nimbus mcp's flags.
type Options struct {
	Conn         sandboxcli.Connection
	Local        bool
	Sandbox      string
	Keep         bool
	Namespace    string
	ReadOnly     bool
	AllowDestroy bool
	HTTPAddr     string
	HTTPKeyFile  string
	PrintConfig  string
	RuntimeAllow []string
	ExecTimeout  time.Duration
}

var (
	scopesUse     = []string{token.ScopeSandboxUse}
	scopesDestroy = []string{token.ScopeSandboxUse, token.ScopeSessionDestroy}
)

// Validate checks flag combinations before anything is touched.
func (o *Options) Validate(cmd *cobra.Command) error {
	if o.ReadOnly && o.AllowDestroy {
		return clierr.Usagef("--read-only and --allow-destroy cannot be combined")
	}
	if o.HTTPKeyFile != "" && o.HTTPAddr == "" {
		return clierr.Usagef("--http-key-file needs --http ADDR")
	}
	if o.HTTPAddr != "" {
		if err := checkHTTPAddr(o.HTTPAddr); err != nil {
			return err
		}
	}
	if o.PrintConfig != "" && !slices.Contains(mcpserver.Clients, o.PrintConfig) {
		return clierr.Usagef("--print-config %q: use one of %s", o.PrintConfig, strings.Join(mcpserver.Clients, ", "))
	}
	if o.PrintConfig != "" && o.HTTPAddr != "" && anyPort(o.HTTPAddr) {
		// Port 0 is chosen by the kernel when a server binds, and
		// --print-config binds nothing: the snippet would name a port no
		// client can reach.
		return clierr.New(exitcode.Usage, CodeHTTPAddr,
			"--print-config needs the port the server will listen on, not "+o.HTTPAddr+": port 0 is picked only when the server starts",
			"give a fixed port, such as --http 127.0.0.1:8931 (`nimbus mcp --http 127.0.0.1:0` prints the URL it got when it starts)")
	}
	// As for the sandbox commands: a relative root was taken from "/", and
	// every tool call failed on paths the agent never named.
	if err := sandboxcli.RootError(runtime.GOOS, o.Conn.Root, "give an absolute path such as /home/user (the default); the tools resolve relative paths against it"); err != nil {
		return err
	}
	if o.Sandbox != "" && !sc.ValidID(o.Sandbox) {
		return clierr.Usagef("invalid sandbox id %q: use 1 to 128 characters from A-Z a-z 0-9 . _ -", o.Sandbox)
	}
	if o.Namespace == "" || len(o.Namespace) > 32 || strings.Trim(o.Namespace, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
		return clierr.Usagef("--namespace %q: use 1 to 32 characters from A-Z a-z 0-9 _ -", o.Namespace)
	}
	if o.Local {
		for _, fl := range []string{"endpoint", "token-file", "base-path"} {
			if cmd.Flags().Changed(fl) {
				return clierr.Usagef("--local and --%s cannot be combined", fl).WithHint("--local runs the sandbox backend inside nimbus; drop --" + fl)
			}
		}
	}
	if cmd.Flags().Changed("runtime-allow") && o.RuntimeAllow == nil {
		o.RuntimeAllow = []string{}
	}
	return nil
}

// handles are the sandbox handles the server uses: tools get use, destroy
// (the tool and the clean-up on exit) gets destroy.
type handles struct {
	use, destroy *sc.Sandbox
	fresh        bool
	warnings     []string
	close        func()
	// entry is the sandbox as the cleanup ledger records it.
	entry ledger.Entry
	// known is the tenant and subject resolved, and a given token's
	// claims, for the hints.
	known sandboxcli.Hints
	// site is where the sandbox is (Worker and token owner), for the file
	// of recently used sandboxes; nil for --local.
	site *recentids.Site
}

// RandomID returns a fresh sandbox id, mcp-<8 hex digits>: a lowercase DNS
// label, so host-style previews work.
func RandomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "mcp-" + hex.EncodeToString(b)
}

func (o *Options) open(f *cmdutil.Factory, cmd *cobra.Command) (*handles, error) {
	h := &handles{close: func() {}}
	id := o.Sandbox
	if o.Local {
		cfg, err := f.LoadConfig()
		if err != nil {
			return nil, err
		}
		for key, flag := range map[string]string{"profile": "profile", "tenant": "tenant", "subject": "sub"} {
			if err := cfg.BindFlag(key, cmd.Flags().Lookup(flag)); err != nil {
				return nil, err
			}
		}
		// write_limit (NIMBUS_WRITE_LIMIT) bounds writeFile and the spill
		// files of long output, as it bounds the sandbox commands' writes.
		writeLimit, err := sandboxcli.WriteLimit(cfg)
		if err != nil {
			return nil, err
		}
		data, err := localdev.DataDir(f.Getenv)
		if err != nil {
			return nil, err
		}
		// The isolation every --local honours, so a sandbox an agent
		// shares with 'nimbus sandbox --local' runs its commands alike.
		iso, err := localdev.ParseIsolation(f.Getenv(localdev.IsolationEnv), localdev.IsolationEnv)
		if err != nil {
			return nil, err
		}
		p, err := localdev.NewInProcess(localdev.InProcessOptions{
			DataDir: data, Getenv: f.Getenv, Now: f.Now, Background: true, Isolation: iso,
			Tenant: cfg.GetString("tenant"), Subject: cfg.GetString("subject"), WriteLimit: writeLimit,
		})
		if err != nil {
			return nil, err
		}
		h.close = func() { _ = p.Close() }
		if id == "" {
			id, h.fresh = RandomID(), true
		}
		h.entry = ledger.Entry{ID: id, Endpoint: ledger.LocalEndpoint, By: "mcp", Keep: o.Keep}
		opts := sc.SandboxOptions{Profile: cfg.GetString("profile"), Root: o.Conn.Root}
		for _, s := range []struct {
			dst    **sc.Sandbox
			scopes []string
		}{{&h.use, scopesUse}, {&h.destroy, scopesDestroy}} {
			c, err := p.Client(s.scopes)
			if err != nil {
				h.close()
				return nil, sandboxcli.Error(err)
			}
			if *s.dst, err = c.Sandbox(id, opts); err != nil {
				h.close()
				return nil, sandboxcli.Error(err)
			}
		}
		return h, nil
	}

	st, err := o.Conn.Resolve(f, cmd)
	if err != nil {
		return nil, err
	}
	if err := o.checkTokenFile(st.Creds.TokenFile, st.Creds.TokenFileFrom); err != nil {
		return nil, err
	}
	h.known = sandboxcli.Hints{Tenant: st.Creds.Tenant, Subject: st.Creds.Subject}
	writeLimit, err := sandboxcli.WriteLimit(st.Config)
	if err != nil {
		return nil, err
	}
	if st.Endpoint == "" {
		return nil, clierr.New(exitcode.Config, clierr.CodeConfigMissing, "no Nimbus endpoint configured",
			"pass --endpoint URL or set NIMBUS_ENDPOINT, or use --local (or `nimbus dev`) to work without a Worker")
	}
	useTS, err := st.Creds.TokenSource(true, scopesUse...)
	if err != nil {
		return nil, err
	}
	// A mint hint names a given token's tenant and subject, as the
	// sandbox commands' do: what it mints then reaches the sandbox the
	// given token meant to.
	h.known = h.known.WithToken(useTS)
	destroyTS := useTS
	if static, ok := useTS.(sc.StaticToken); ok {
		// A given token is used as is: check it fits before the agent
		// finds out call by call.
		dec, err := decodeToken(string(static))
		if err != nil {
			return nil, err
		}
		if sid, pinned := dec.Claims.SessionID(); pinned && id == "" {
			id = sid
		}
		if id == "" {
			id, h.fresh = RandomID(), true
		}
		warnings, err := checkToken(dec, id, h.known, f.Now(), o.AllowDestroy || (h.fresh && !o.Keep))
		if err != nil {
			return nil, err
		}
		h.warnings = warnings
	} else {
		if id == "" {
			id, h.fresh = RandomID(), true
		}
		if destroyTS, err = st.Creds.TokenSource(true, scopesDestroy...); err != nil {
			return nil, err
		}
	}
	owner := st.Creds.Owner(useTS)
	h.entry = ledger.Entry{ID: id, Endpoint: strings.TrimRight(st.Endpoint, "/"), BasePath: st.BasePath, Owner: owner, By: "mcp", Keep: o.Keep}
	h.site = &recentids.Site{Endpoint: st.Endpoint, BasePath: st.BasePath, Owner: owner}
	opts := sc.SandboxOptions{Profile: st.Profile, Root: st.Root}
	for _, s := range []struct {
		dst **sc.Sandbox
		ts  sc.TokenSource
	}{{&h.use, useTS}, {&h.destroy, destroyTS}} {
		c, err := sc.New(sc.Options{Endpoint: st.Endpoint, BasePath: st.BasePath, Tokens: s.ts, HTTPClient: f.HTTPClient(), HTTPTimeout: st.HTTPTimeout, WriteLimit: writeLimit, UserAgent: "nimbus-mcp/" + buildinfo.Get().Version})
		if err != nil {
			return nil, sandboxcli.Error(err)
		}
		if *s.dst, err = c.Sandbox(id, opts); err != nil {
			return nil, sandboxcli.Error(err)
		}
	}
	return h, nil
}

// checkTokenFile refuses a token file of "-" (standard input) over stdio,
// where standard input carries the protocol: the client's messages would
// be read as the token, and a real client, which never ends its input,
// would wait forever for an answer. from names the setting that gave it.
func (o *Options) checkTokenFile(file, from string) error {
	if file != "-" || o.HTTPAddr != "" {
		return nil
	}
	return clierr.Usagef("%s is - (standard input), which carries the MCP protocol over stdio", from).
		WithHint("put the token in a file and pass --token-file FILE, or set NIMBUS_TOKEN; over --http, standard input is free")
}

func decodeToken(tok string) (*token.Decoded, error) {
	d, err := token.Decode(tok)
	if err != nil {
		return nil, clierr.Wrap(err, exitcode.DataErr, CodeTokenUnfit, "the given token is not a Nimbus token: "+err.Error(),
			"check --token-file, NIMBUS_TOKEN or token: in the config")
	}
	return d, nil
}

// checkToken refuses a given token that cannot work for sandbox id, by the
// server's rules (token.CheckUsable: the signature's length, the header's
// alg, claims, expiry, sandbox:use, the sid pin), and warns about one that
// grants more than the server needs: the agent holds whatever the token
// allows. known is the tenant and subject the command resolved and the
// given token's claims (Hints.WithToken), which the mint hints name.
func checkToken(d *token.Decoded, id string, known sandboxcli.Hints, now time.Time, needDestroy bool) (warnings []string, err error) {
	c := d.Claims
	known.ID = id
	if !token.IsIDComponent(id) {
		// id is the sid of a token the checks below refuse: not
		// verified, and not to be repeated in a command to paste.
		known.ID = ""
	}
	need := []string{token.ScopeSandboxUse}
	if needDestroy {
		need = append(need, token.ScopeSessionDestroy)
	}
	mint := "mint a least-privilege one: " + known.MintCommand(need...)
	if err := token.CheckUsable(d, now, token.Want{Scopes: []string{token.ScopeSandboxUse}, SessionID: id}); err != nil {
		return nil, unfit(d, now, err, mint)
	}
	scopes, has := c.Scopes()
	if !has {
		warnings = append(warnings, "the token has no scopes claim, so it grants everything (full trust); the agent can do whatever it allows. Prefer a token limited to "+strings.Join(need, " and ")+": "+mint)
	} else {
		allowed := []string{token.ScopeSandboxUse}
		if needDestroy {
			allowed = append(allowed, token.ScopeSessionDestroy)
		}
		var extra []string
		for _, s := range scopes {
			if !slices.Contains(allowed, s) {
				extra = append(extra, s)
			}
		}
		if len(extra) > 0 {
			warnings = append(warnings, "the token also grants "+strings.Join(extra, ", ")+", which the MCP server does not need; "+mint)
		}
		if needDestroy && !slices.Contains(scopes, token.ScopeSessionDestroy) && !slices.Contains(scopes, token.ScopeSessionAdmin) {
			warnings = append(warnings, "the token lacks session:destroy: destroying the sandbox (the destroy tool, or the clean-up on exit) will fail; "+mint)
		}
	}
	if _, ok := c.SessionID(); !ok {
		warnings = append(warnings, "the token is not pinned to the sandbox (no sid claim): it reaches every sandbox of its tenant; "+mint)
	}
	// exp may be the current second, which the Worker still accepts.
	if exp := c.ExpiresTime(); exp.Sub(now) < time.Hour {
		warnings = append(warnings, fmt.Sprintf("the token expires in %s (%s); tool calls fail after that", duration.Human(max(exp.Sub(now).Round(time.Second), 0)), exp.UTC().Format("15:04 MST")))
	}
	return warnings, nil
}

// unfit is the error of a given token that token.CheckUsable refuses:
// exit 65 for a token the Worker refuses outright, 77 for one it refuses
// for this sandbox (its scopes or pin).
func unfit(d *token.Decoded, now time.Time, err error, mint string) error {
	c := d.Claims
	msg := "the given token is one the Worker refuses: " + err.Error()
	var te *token.Error
	if errors.As(err, &te) {
		msg += " (" + te.Code + ")"
		switch {
		case te.Code == token.CodeTokenSignature:
			msg = fmt.Sprintf("the given token has a %d-byte signature, where an HS256 one is 32 bytes, so no secret verifies it: the Worker refuses it (E_TOKEN_SIGNATURE)", d.SignatureLen)
		case te.Code == token.CodeTokenMalformed:
			// nimbus's own check: an upstream Worker does not read the
			// header (docs/compat.md).
			msg = "the given token has a header whose alg is not HS256, which no Nimbus issuer writes: nimbus dev refuses it (E_TOKEN_MALFORMED)"
		case te.Code == token.CodeTokenClaims && te.Claim == "iat":
			msg = "the given token lacks numeric iat and exp claims (issue and expiry times): the Worker refuses it (E_TOKEN_CLAIMS)"
		case te.Code == token.CodeTokenExpired:
			msg = "the given token expired " + duration.Human(now.Sub(c.ExpiresTime()).Round(time.Second)) + " ago"
		case te.Code == token.CodeScopeMissing:
			return clierr.New(exitcode.NoPerm, CodeTokenUnfit, "the given token lacks the "+te.RequiredScope+" scope the remote API requires", mint)
		case te.Code == token.CodeSessionPin:
			return clierr.New(exitcode.NoPerm, CodeTokenUnfit, "the given token is pinned to sandbox "+strconv.Quote(te.PinnedTo)+", not "+strconv.Quote(te.Attempted),
				"drop --sandbox to use the token's sandbox, or "+mint)
		}
	}
	return clierr.New(exitcode.DataErr, CodeTokenUnfit, msg, mint)
}

// Run serves the MCP server until the client goes away or ctx ends, then
// destroys a fresh sandbox unless --keep.
func Run(ctx context.Context, f *cmdutil.Factory, cmd *cobra.Command, o *Options) error {
	ios := f.IOStreams
	// A client that is killed closes our stdin, stdout and stderr at once.
	// Go kills a process that writes to a closed stdout or stderr with
	// SIGPIPE unless SIGPIPE is caught: the next log line would then end
	// the server before it destroys the fresh sandbox. Caught, such writes
	// just fail (EPIPE).
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	defer signal.Stop(pipes)
	// SIGHUP (the terminal that runs the client, or `nimbus mcp --http`,
	// was closed) ends the server like Ctrl-C, so the fresh sandbox is
	// destroyed rather than left to the ledger.
	ctx, stopHUP := signal.NotifyContext(ctx, syscall.SIGHUP)
	defer stopHUP()
	var hl *httpListener
	if o.HTTPAddr != "" {
		l, err := o.listenHTTP(f)
		if err != nil {
			return err
		}
		defer l.ln.Close()
		hl = l
	}
	h, err := o.open(f, cmd)
	if err != nil {
		return err
	}
	defer h.close()
	for _, w := range h.warnings {
		f.Warn(&clierr.Warning{Code: CodeTokenBroad, Message: w})
	}
	// A fresh sandbox goes into the cleanup ledger before it exists, so a
	// server that is killed leaks nothing `sandbox destroy --ledger` misses.
	var led *ledger.Ledger
	if h.fresh {
		led = ledger.New(f.Paths().LedgerFile())
		if err := led.Record(h.entry); err != nil {
			f.Warn(&clierr.Warning{Code: CodeLedger, Message: fmt.Sprintf("%v; sandbox %s is not in the cleanup ledger", err, h.entry.ID)})
			led = nil
		}
	}
	logger := newLogger(f)
	// Fail now, not on the agent's first call, when the endpoint, the
	// token or the sandbox cannot work.
	if _, err := h.use.Ready(ctx); err != nil {
		switch {
		case sc.NeverReached(err):
			// Nothing was created: keep the ledger free of ids that only
			// cost a later drain a failing destroy.
			if led != nil {
				_ = led.Forget(h.entry)
			}
		case h.fresh:
			// The request may have reached the Worker, which may have
			// created the sandbox before the answer was lost (a timeout,
			// a dropped connection, a 5xx): whether it exists is unknown,
			// and no agent will ever use it. Destroy it now, --keep or
			// not (destroying one that does not exist succeeds); only if
			// that fails too does the id stay in the ledger, with a
			// warning naming it.
			if cleanup(f, logger, h.destroy, true) && led != nil {
				_ = led.Forget(h.entry)
			}
		}
		known := h.known
		known.ID = h.use.ID()
		return known.Error(err)
	}
	// The sandbox exists now. One that outlives the server (given with
	// --sandbox or a pinned token, or fresh with --keep) is recorded as
	// used, as the sandbox commands record theirs, so that completion
	// offers it and may ask about it; a fresh one without --keep is
	// destroyed on exit and is not.
	if h.site != nil && (!h.fresh || o.Keep) {
		sandboxcli.RememberSandbox(f, *h.site, h.entry.ID)
	}
	so := mcpserver.Options{
		Sandbox: h.use, Namespace: o.Namespace, ReadOnly: o.ReadOnly, RuntimeAllow: o.RuntimeAllow,
		ExecTimeout: o.ExecTimeout, Logger: logger, Version: buildinfo.Get().Version, Now: f.Now,
	}
	if o.ExecTimeout == 0 {
		so.ExecTimeout = -1
	}
	if o.AllowDestroy {
		so.Destroyer = h.destroy
		if h.site != nil {
			// Completion must not take it for a live sandbox: asking
			// about it would make it anew.
			site := *h.site
			so.OnDestroyed = func(id string) { sandboxcli.ForgetSandbox(f, site, id) }
		}
	}
	srv, err := mcpserver.New(so)
	if err != nil {
		return clierr.Wrap(err, exitcode.Usage, clierr.CodeUsage, err.Error(), "")
	}
	d := srv.Descriptor()
	mode := "read-write"
	if o.ReadOnly {
		mode = "read-only"
	}
	lifetime := "kept on exit"
	if h.fresh && !o.Keep {
		lifetime = "fresh, destroyed on exit unless --keep"
	}
	say(f, logger, fmt.Sprintf("nimbus mcp: sandbox %s (%s); %d tools %s_*, %s", h.use.ID(), lifetime, len(d.Tools), o.Namespace, mode),
		"sandbox", h.use.ID(), "tools", len(d.Tools), "namespace", o.Namespace, "readOnly", o.ReadOnly, "fresh", h.fresh, "keep", o.Keep)

	var serveErr error
	if hl != nil {
		// Running calls end with the server, not after their commands.
		stopCalls := context.AfterFunc(ctx, srv.Close)
		serveErr = hl.serve(ctx, f, cmd, logger, srv)
		stopCalls()
	} else {
		serveErr = srv.RunStdio(ctx, ios.In, ios.Out)
		if ctx.Err() == nil && serveErr != nil && isClosed(serveErr) {
			serveErr = nil
		}
	}
	if h.fresh && !o.Keep && cleanup(f, logger, h.destroy, false) && led != nil {
		if err := led.Forget(h.entry); err != nil {
			f.Warn(&clierr.Warning{Code: CodeLedger, Message: err.Error()})
		}
	}
	if fe := (*mcpserver.FrameError)(nil); errors.As(serveErr, &fe) {
		return clierr.Wrap(fe, exitcode.DataErr, mcpserver.CodeFrameTooLarge, fe.Error(),
			fmt.Sprintf("a client sends messages of at most %d MiB, one per line: send a large file in parts", mcpserver.MaxMessage>>20))
	}
	if serveErr != nil && ctx.Err() == nil {
		return clierr.Wrap(serveErr, exitcode.Unavailable, "E_MCP_SERVE", "the MCP connection failed: "+serveErr.Error(), "")
	}
	return nil
}

// isClosed tells the normal end of a stdio session (the client closed
// stdin) from a failure.
func isClosed(err error) bool {
	s := err.Error()
	return strings.Contains(s, "EOF") || strings.Contains(s, "closed")
}

// cleanup destroys the fresh sandbox with a context of its own: the
// command's may already be cancelled by the signal that stopped it.
// unconfirmed says the sandbox may not exist (its start failed).
func cleanup(f *cmdutil.Factory, logger *slog.Logger, sb *sc.Sandbox, unconfirmed bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reason, what := "nimbus mcp exited", "sandbox "+sb.ID()
	if unconfirmed {
		reason, what = "nimbus mcp could not start", "sandbox "+sb.ID()+", which the failed start may have created,"
	}
	if _, err := sb.Destroy(ctx, reason); err != nil {
		f.Warn(&clierr.Warning{Code: "W_MCP_DESTROY", Message: "could not destroy " + what + ": " + sandboxcli.ErrorIn(sb.ID(), err).Error(),
			Hint: "it stays in the cleanup ledger: destroy it with nimbus sandbox destroy " + sandboxcli.ArgID(sb.ID()) + " (or --ledger)"})
		return false
	}
	say(f, logger, "destroyed sandbox "+sb.ID(), "sandbox", sb.ID(), "destroyed", true)
	return true
}

// newLogger logs tool calls to stderr: text lines for people, JSON lines
// with --json.
func newLogger(f *cmdutil.Factory) *slog.Logger {
	if f.JSON {
		return slog.New(slog.NewJSONHandler(f.IOStreams.ErrOut, nil)).With("component", "mcp")
	}
	return slog.New(slog.NewTextHandler(f.IOStreams.ErrOut, nil)).With("component", "mcp")
}

// say reports a step of the server's life: a "✓" line for people, a log
// record with --json (stderr then holds only JSON).
func say(f *cmdutil.Factory, logger *slog.Logger, human string, attrs ...any) {
	if f.JSON {
		logger.Info(human, attrs...)
		return
	}
	fmt.Fprintf(f.IOStreams.ErrOut, "%s %s\n", f.IOStreams.Styles().SuccessIcon(), human)
}
