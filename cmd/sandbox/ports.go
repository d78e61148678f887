package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/duration"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/portnum"
	"github.com/nimbus-sh/nimbus/internal/table"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// parsePort reads a sandbox port (PORT of ports and forward) with the one
// port parser: plain decimal digits from 1 to 65535.
func parsePort(s string) (int, error) {
	p, err := portnum.Parse(s, 1)
	if err != nil {
		return 0, clierr.Usagef("PORT %q must be a number from 1 to 65535 in plain decimal digits", s).WithHint(portHint(s, 1, "3000"))
	}
	return p, nil
}

// portHint is the hint of a refused port: its plain form when it has one
// ("+3000", "03000", " 3000"), else an example.
func portHint(s string, min int, example string) string {
	if t := portnum.Suggest(s, min); t != "" {
		return "write the port as " + t + ": no sign, spaces or leading zeros"
	}
	return "write the port in decimal digits, e.g. " + example
}

// listedPort is a port of ports list's and ports wait's JSON: the
// Worker's registration and its preview URL.
type listedPort struct {
	sandboxclient.Port
	URL *string `json:"url"`
}

// listed gives p the preview URL sb builds for it (host-style with
// --preview-host-suffix, as ports expose and apps give theirs); null when
// there is none to build.
func listed(sb *sandboxclient.Sandbox, p sandboxclient.Port) listedPort {
	l := listedPort{Port: p}
	if u := sb.PortURL(p.Port, sandboxclient.URLOptions{}); u != "" {
		l.URL = &u
	}
	return l
}

// suffixFlag adds --preview-host-suffix, the Worker's
// NIMBUS_PREVIEW_HOST_SUFFIX, to a command that builds preview URLs; the
// client takes it (openWithSuffix), so --local is honoured as by every
// other command.
func suffixFlag(cmd *cobra.Command, suffix *string) {
	cmd.Flags().StringVar(suffix, "preview-host-suffix", "", suffixHelp)
}

// suffixHelp is the help of --preview-host-suffix.
const suffixHelp = "the Worker's preview host suffix, for host-style URLs (localhost: on the endpoint's scheme and port)"

func newCmdPorts(o *common) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ports",
		Short: "List, expose and unexpose sandbox ports",
		Example: `  nimbus sandbox start job-123 -- npm run dev
  nimbus sandbox ports wait job-123 3000
  nimbus sandbox ports expose job-123 3000
  nimbus sandbox ports list job-123
  nimbus sandbox ports unexpose job-123 3000`,
	}
	cmdutil.MakeGroup(cmd)
	var public bool
	var name, suffix string
	list := &cobra.Command{
		Use:   "list ID",
		Short: "List exposed ports",
		Long: `List the sandbox's ports (exposed, or with a process listening) and the
preview URL of each: host-style (https://3000--job-1.<suffix>/) with
--preview-host-suffix (the Worker's NIMBUS_PREVIEW_HOST_SUFFIX), or from
nimbus dev, which names its own (http://3000--job-1.localhost:8787/);
otherwise path-style (<endpoint>/s/ID/port/3000/), as ports expose prints it.`,
		Example: `  nimbus sandbox ports list job-123
  nimbus sandbox ports list job-123 --json | jq -r '.[].url'`,
		Args: cmdutil.ExactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := o.openWithSuffix(cmd, args[0], scopesUse, suffix)
			if err != nil {
				return err
			}
			ps, err := sb.ListPorts(cmd.Context())
			if err != nil {
				return o.errorIn(sb.ID(), err)
			}
			// The Worker's registrations, each with the preview URL the
			// table shows (as apps list and ports expose give theirs);
			// null when there is none to build.
			all := make([]listedPort, len(ps))
			for i, p := range ps {
				all[i] = listed(sb, p)
			}
			return o.output(all, func() error {
				if len(ps) == 0 {
					_, err := fmt.Fprintln(o.f.IOStreams.ErrOut, o.f.IOStreams.Styles().Muted(o.hints(sb.ID()).OnSandbox(func(arg string) string {
						return "No exposed ports: expose one with nimbus sandbox ports expose " + arg + " PORT"
					})))
					return err
				}
				var t table.Table
				t.Row(o.f.IOStreams.Styles().Bold, "PORT", "PID", "URL")
				for _, p := range ps {
					pid := "-" // exposed, nothing listening yet
					if p.PID > 0 {
						pid = strconv.FormatInt(p.PID, 10)
					}
					t.Row(nil, strconv.Itoa(p.Port), pid, sb.PortURL(p.Port, sandboxclient.URLOptions{}))
				}
				_, err := t.WriteTo(o.f.IOStreams.Out)
				return err
			})
		},
	}
	expose := &cobra.Command{
		Use:   "expose ID PORT [--public] [--name NAME]",
		Short: "Expose a port and print its URL",
		Example: `  nimbus sandbox ports expose job-123 3000
  nimbus sandbox ports expose job-123 8080 --public --name api`,
		Long: `Expose a port and print its preview URL on stdout. With --preview-host-suffix
(the Worker's NIMBUS_PREVIEW_HOST_SUFFIX) the URL is host-style
(https://3000--job-1.<suffix>/), and so it is from nimbus dev, which names
its own (http://3000--job-1.localhost:8787/); otherwise path-style
(<endpoint>/s/ID/port/3000/). The URL carries no credential.`,
		Args: cmdutil.ExactArgs(2, "ID and PORT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			port, err := parsePort(args[1])
			if err != nil {
				return err
			}
			sb, err := o.openWithSuffix(cmd, args[0], scopesUse, suffix)
			if err != nil {
				return err
			}
			opts := sandboxclient.ExposeOptions{Name: name}
			if public {
				opts.Visibility = "public"
			}
			r, err := sb.ExposePort(cmd.Context(), port, opts)
			if err != nil {
				return o.errorIn(sb.ID(), err)
			}
			return o.value(r, func() error {
				_, err := fmt.Fprintln(o.f.IOStreams.Out, r.URL)
				return err
			})
		},
	}
	expose.Flags().BoolVar(&public, "public", false, "public visibility: the URL's capability is the credential")
	expose.Flags().StringVar(&name, "name", "", "app `NAME` for the URL instead of the port")
	suffixFlag(list, &suffix)
	suffixFlag(expose, &suffix)
	unexpose := &cobra.Command{
		Use:     "unexpose ID PORT",
		Short:   "Stop exposing a port",
		Example: `  nimbus sandbox ports unexpose job-123 3000`,
		Args:    cmdutil.ExactArgs(2, "ID and PORT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			port, err := parsePort(args[1])
			if err != nil {
				return err
			}
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return err
			}
			r, err := sb.UnexposePort(cmd.Context(), port)
			if err != nil {
				return o.errorIn(sb.ID(), err)
			}
			if r.OK {
				o.said("Port %d is no longer exposed", port)
			} else {
				o.said("Port %d was not exposed", port)
			}
			if !o.f.MachineOutput() {
				return nil
			}
			return o.f.PrintJSON(r)
		},
	}
	cmd.AddCommand(list, expose, unexpose, newCmdPortsWait(o))
	return cmd
}

func newCmdPortsWait(o *common) *cobra.Command {
	var timeout, interval time.Duration
	var suffix string
	cmd := &cobra.Command{
		Use:   "wait ID PORT [--timeout 60s]",
		Short: "Wait until a process in the sandbox listens on a port",
		Long: `Wait until a process in the sandbox listens on PORT, as the server reports it
(listPorts), and exit 0; exit 124 if it does not within --timeout. This is
what CI needs between starting a server and testing it. --json prints the
registration with the port's preview URL, as ports list gives it
(host-style with --preview-host-suffix).`,
		Example: `  # between: nimbus sandbox start job-123 -- npm run dev
  nimbus sandbox ports wait job-123 3000 --timeout 2m
  # and: nimbus sandbox exec job-123 -- curl -fsS http://localhost:3000/health`,
		Args: cmdutil.ExactArgs(2, "ID and PORT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.needServer("ports wait"); err != nil {
				return err
			}
			port, err := parsePort(args[1])
			if err != nil {
				return err
			}
			sb, err := o.openWithSuffix(cmd, args[0], scopesUse, suffix)
			if err != nil {
				return err
			}
			ios := o.f.IOStreams
			st := ios.Styles()
			if o.human() {
				fmt.Fprintf(ios.ErrOut, "%s\n", st.Muted(fmt.Sprintf("Waiting up to %s for a process of %s to listen on port %d…", timeout, args[0], port)))
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			p, err := sb.WaitPort(ctx, port, interval)
			if errors.Is(err, context.DeadlineExceeded) && cmd.Context().Err() == nil {
				return clierr.Wrap(err, exitcode.Timeout, "E_TIMEOUT", fmt.Sprintf("nothing listens on port %d in sandbox %s after %s", port, args[0], timeout),
					o.hints(sb.ID()).OnSandbox(func(arg string) string {
						return "check the server's output with nimbus sandbox ps " + arg + " and nimbus sandbox logs " + arg + " PID, or wait longer with --timeout"
					}))
			}
			if err != nil {
				return o.errorIn(sb.ID(), err)
			}
			if o.f.JSON {
				return o.f.PrintJSON(listed(sb, *p))
			}
			if o.human() {
				fmt.Fprintf(ios.ErrOut, "%s port %d is listening (pid %d)\n", st.SuccessIcon(), port, p.PID)
			}
			return nil
		},
	}
	duration.Var(cmd.Flags(), &timeout, "timeout", 60*time.Second, duration.Limits{}, "give up after this long (exit 124): seconds or a duration such as 90s, 2m")
	suffixFlag(cmd, &suffix)
	duration.Var(cmd.Flags(), &interval, "interval", 250*time.Millisecond, duration.Limits{Min: 25 * time.Millisecond, Max: 5 * time.Second}, "polling interval, 25ms to 5s")
	return cmd
}
