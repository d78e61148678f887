package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/portnum"
	"github.com/nimbus-sh/nimbus/pkg/forward"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// scopesForward: exposing needs sandbox:use, the preview doors
// session:attach.
var scopesForward = []string{"sandbox:use", "session:attach"}

// forwardSpec is one PORT[:LOCAL] argument.
type forwardSpec struct {
	port, local int
	explicit    bool // LOCAL was given: no fallback to a free port
}

func parseForwardSpec(s string) (forwardSpec, error) {
	p, l, hasLocal := strings.Cut(s, ":")
	const hint = "write PORT or PORT:LOCAL, e.g. 3000 or 3000:8080 (LOCAL 0 picks a free port)"
	port, err := portnum.Parse(p, 1)
	if err != nil {
		h := hint
		if t := portnum.Suggest(p, 1); t != "" {
			h = portHint(p, 1, "") + "; " + hint
		}
		return forwardSpec{}, clierr.Usagef("%q: the sandbox port must be a number from 1 to 65535 in plain decimal digits", s).WithHint(h)
	}
	spec := forwardSpec{port: port, local: port}
	if hasLocal {
		n, err := portnum.Parse(l, 0)
		if err != nil {
			h := hint
			if t := portnum.Suggest(l, 0); t != "" {
				h = portHint(l, 0, "") + "; " + hint
			}
			return forwardSpec{}, clierr.Usagef("%q: the local port must be a number from 0 to 65535 in plain decimal digits", s).WithHint(h)
		}
		spec.local, spec.explicit = n, true
	}
	return spec, nil
}

// forwardLine is what forward prints for each port with --json.
type forwardLine struct {
	Port  int    `json:"port"`
	Local string `json:"local"`
	URL   string `json:"url"`
}

func newCmdForward(o *common) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "forward ID PORT[:LOCAL]...",
		Short: "Forward local ports to sandbox ports (HTTP and WebSocket)",
		Long: `Serve 127.0.0.1:LOCAL and proxy HTTP and WebSocket traffic to PORT in the
sandbox, through the Worker's authenticated preview door /s/ID/port/PORT/, until
interrupted (Ctrl-C). LOCAL defaults to PORT, or a free port when that one is
taken; 0 always picks a free port. Several ports can be forwarded at once; a
LOCAL given explicitly wins over a defaulted one, whatever the order: in
"8080 3000:8080", sandbox port 3000 is served on 8080 and 8080 on a free port.

A port that is not exposed yet is exposed (scoped) first, and stays exposed.
The token needs session:attach, pinned (sid) to the sandbox, besides
sandbox:use: a minted one carries both; a given one is checked before anything
is served.

Each local URL is printed on stdout, one line per port (NDJSON with --json),
once it accepts connections. Requests reach the app with the Worker's host and
origin and without your credentials. Browser requests from pages on other
sites (an Origin that is not a loopback one, a cross-site subresource) are
refused with 403: they would act in the app with the forward's token.`,
		Example: `  # after: nimbus sandbox start job-123 -- npm run dev
  nimbus sandbox forward job-123 5173
  nimbus sandbox forward job-123 3000:8080 9229:0 --json
  # sandbox port 3000 on local 8080; sandbox port 8080 on a free port
  nimbus sandbox forward job-123 8080 3000:8080`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return clierr.Usagef("expected ID and at least one PORT[:LOCAL], got %d argument(s)", len(args)).WithHint("nimbus sandbox forward " + firstArgID(args) + " 3000")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.needServer(cmd.Name()); err != nil {
				return err
			}
			var specs []forwardSpec
			seen := map[int]bool{}
			for _, a := range args[1:] {
				s, err := parseForwardSpec(a)
				if err != nil {
					return err
				}
				if s.explicit && s.local != 0 {
					if seen[s.local] {
						return clierr.Usagef("local port %d is given twice", s.local)
					}
					seen[s.local] = true
				}
				specs = append(specs, s)
			}
			c, s, err := o.client(cmd, true, scopesForward, "")
			if err != nil {
				return err
			}
			sb, err := c.Sandbox(args[0], sandboxclient.SandboxOptions{Profile: s.profile, Root: o.root})
			if err != nil {
				return sandboxcli.Error(err)
			}
			o.touch(sb.ID())
			return o.forward(cmd, sb, specs, s.httpTimeout)
		},
	}
	return cmd
}

func (o *common) forward(cmd *cobra.Command, sb *sandboxclient.Sandbox, specs []forwardSpec, connectTimeout time.Duration) error {
	ctx := cmd.Context()
	ios := o.f.IOStreams
	st := ios.Styles()
	// The preview doors need session:attach: ask the session route, which
	// checks it without reaching the app.
	if _, err := sb.PreviewURL(ctx, specs[0].port); err != nil {
		var le *sandboxclient.Error
		if !errors.As(err, &le) || le.Code != sandboxclient.CodeAPINotEnabled || le.Status != http.StatusNotFound {
			return o.forwardError(sb.ID(), err)
		}
	}
	if err := o.ensureExposed(cmd, sb, specs); err != nil {
		return err
	}

	type served struct {
		spec forwardSpec
		ln   net.Listener
		p    *forward.Proxy
		// ours: the defaulted local port is another spec's here.
		ours bool
	}
	all := make([]served, len(specs))
	closeAll := func() {
		for _, s := range all {
			if s.ln != nil {
				_ = s.ln.Close()
			}
		}
	}
	reporter := newForwardReporter(o, sb.ID())
	// An explicit LOCAL wins over a defaulted one, whatever the order of
	// the arguments: the explicit ones are listened on first, and a
	// defaulted local port that one of them (or an earlier defaulted
	// one) has is replaced by a free port, as a port taken by another
	// program is. In "8080 3000:8080", 3000 gets 8080 here.
	mine := map[int]bool{}
	for _, s := range specs {
		if s.explicit && s.local != 0 {
			mine[s.local] = true
		}
	}
	for _, explicit := range []bool{true, false} {
		for i, spec := range specs {
			if spec.explicit != explicit {
				continue
			}
			p, err := forward.New(forward.Options{
				Endpoint: sb.Client().Endpoint(), SandboxID: sb.ID(), Port: spec.port,
				ConnectTimeout: connectTimeout,
				Token:          func(ctx context.Context) (string, error) { return sb.Client().Token(ctx, sb.ID()) },
				OnError:        func(_ *http.Request, err error) { reporter.report(spec.port, err) },
			})
			if err != nil {
				closeAll()
				return o.errorIn(sb.ID(), err)
			}
			port, ours := spec.local, !explicit && mine[spec.local]
			if ours {
				port = 0
			}
			ln, err := forward.Listen(port, !spec.explicit)
			if err != nil {
				closeAll()
				// 73, as dev --addr and mcp --http: the port is taken or not
				// allowed, which retrying (69) does not change.
				return clierr.Wrap(err, exitcode.CantCreate, forward.CodeListen, err.Error(), "pick another local port: PORT:LOCAL (LOCAL 0 picks a free one)")
			}
			if _, lp, _ := net.SplitHostPort(ln.Addr().String()); lp == strconv.Itoa(spec.local) {
				mine[spec.local] = true
			}
			all[i] = served{spec, ln, p, ours}
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(all))
	for _, s := range all {
		go func() { errc <- forward.Serve(ctx, s.ln, s.p) }()
	}
	for _, s := range all {
		addr := s.ln.Addr().String()
		_, lport, _ := net.SplitHostPort(addr)
		// The form a browser shows and a URL parser gives back (an http
		// URL's empty path is "/"), the same in every output.
		u := "http://" + addr + "/"
		if o.f.JSON {
			if err := sandboxcli.WriteJSONLine(ios.Out, forwardLine{Port: s.spec.port, Local: addr, URL: u}); err != nil {
				return err
			}
		} else if !ios.IsStdoutTTY() || !o.human() {
			// For scripts; on a terminal the line below says it.
			fmt.Fprintln(ios.Out, u)
		}
		if o.human() {
			note := ""
			switch {
			case s.ours:
				note = st.Muted(fmt.Sprintf(" (port %d is another of these forwards)", s.spec.local))
			case lport != strconv.Itoa(s.spec.local) && s.spec.local != 0:
				note = st.Muted(fmt.Sprintf(" (port %d is taken here)", s.spec.local))
			}
			fmt.Fprintf(ios.ErrOut, "%s Forwarding %s → %s port %d%s\n", st.SuccessIcon(), st.Bold(u), sb.ID(), s.spec.port, note)
		}
	}
	if o.human() {
		fmt.Fprintln(ios.ErrOut, st.Muted("Ctrl-C stops."))
	}
	var first error
	for range all {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	if first != nil {
		return clierr.Wrap(first, exitcode.Unavailable, forward.CodeListen, "forward stopped: "+first.Error(), "")
	}
	if o.human() {
		fmt.Fprintln(ios.ErrOut, st.Muted("Stopped."))
	}
	return nil
}

// ensureExposed exposes (scoped) the ports that are not exposed yet, as
// the preview door serves exposed ports only, and says which have nothing
// listening yet.
func (o *common) ensureExposed(cmd *cobra.Command, sb *sandboxclient.Sandbox, specs []forwardSpec) error {
	ctx := cmd.Context()
	ios := o.f.IOStreams
	exposed := map[int]bool{}
	apps, err := sb.ListApps(ctx)
	if sandboxclient.HasCode(err, "E_SCOPE_MISSING") {
		// A token for the preview doors only (session:attach): forward
		// what is exposed already.
		port := "PORT"
		if len(specs) == 1 {
			port = strconv.Itoa(specs[0].port)
		}
		o.warn("W_NO_SANDBOX_USE", "the token cannot use the sandbox API (no sandbox:use): ports are forwarded as they are, and one that is not exposed answers 404",
			o.hints(sb.ID()).OnSandbox(func(arg string) string {
				return "expose ports with another token (nimbus sandbox ports expose " + arg + " " + port + "), or give forward one with sandbox:use too"
			}))
		return nil
	}
	if err != nil && !sandboxclient.HasCode(err, sandboxclient.CodeRemoteOp) {
		return o.forwardError(sb.ID(), err)
	}
	for _, a := range apps {
		if a.Port != nil && a.Capability != nil {
			exposed[*a.Port] = true
		}
	}
	for _, s := range specs {
		if exposed[s.port] {
			continue
		}
		r, err := sb.ExposePort(ctx, s.port, sandboxclient.ExposeOptions{})
		if err != nil {
			return o.forwardError(sb.ID(), err)
		}
		exposed[s.port] = true
		if o.human() {
			fmt.Fprintf(ios.ErrOut, "%s exposed port %d (scoped)\n", ios.Styles().Muted("·"), s.port)
		}
		if !r.Listening {
			o.warn("W_PORT_NOT_LISTENING", fmt.Sprintf("nothing listens on port %d in %s yet: requests fail until it does", s.port, sb.ID()),
				o.hints(sb.ID()).OnSandbox(func(arg string) string { return fmt.Sprintf("nimbus sandbox ports wait %s %d", arg, s.port) }))
		}
	}
	return nil
}

// forwardError maps a failure to set up a forward, with hints about the
// token it needs.
func (o *common) forwardError(id string, err error) error {
	mapped := o.errorIn(id, err)
	var ce *clierr.Error
	if errors.As(mapped, &ce) {
		switch ce.Code {
		case "E_SCOPE_MISSING":
			ce.Hint = "forward needs a token with sandbox:use and session:attach: " + o.hints(id).MintCommand(scopesForward...) + " (or let nimbus mint one with JWT_SECRET)"
		case "E_SESSION_PIN_MISMATCH":
			ce.Hint = o.hints(id).PinHint("sandbox", scopesForward...)
		}
	}
	return mapped
}

// forwardReporter shows failures of forwarded requests on stderr, once per
// port and code, so a burst of failing requests is one line.
type forwardReporter struct {
	o    *common
	id   string
	mu   sync.Mutex
	seen map[string]bool
}

func newForwardReporter(o *common, id string) *forwardReporter {
	return &forwardReporter{o: o, id: id, seen: map[string]bool{}}
}

func (r *forwardReporter) report(port int, err error) {
	mapped := r.o.forwardError(r.id, err)
	var ce *clierr.Error
	if !errors.As(mapped, &ce) {
		return
	}
	key := strconv.Itoa(port) + " " + ce.Code
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[key] {
		return
	}
	r.seen[key] = true
	r.o.warn(ce.Code, fmt.Sprintf("port %d: %s", port, ce.Message), ce.Hint)
}
