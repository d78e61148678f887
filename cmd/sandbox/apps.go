package sandbox

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/shellquote"
	"github.com/nimbus-sh/nimbus/internal/table"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

const targetHelp = `TARGET names an app as the server resolves it: a number (a port something
listens on or has reserved, else a pid), a name or an owner, or explicitly
port:3000, pid:12, name:web or owner:<owner>.`

// appTarget checks an app verb's arguments (ID TARGET) and opens the
// sandbox.
func (o *common) appTarget(cmd *cobra.Command, args []string, suffix string) (*sandboxclient.Sandbox, sandboxclient.AppTarget, error) {
	if err := o.needServer("apps " + cmd.Name()); err != nil {
		return nil, nil, err
	}
	t, err := sandboxclient.ParseAppTarget(args[1])
	if err != nil {
		return nil, nil, clierr.Usagef("%s", err.Error()).WithHint("write TARGET as 3000, port:3000, pid:12, name:web or owner:OWNER")
	}
	sb, err := o.openWithSuffix(cmd, args[0], scopesUse, suffix)
	if err != nil {
		return nil, nil, err
	}
	return sb, t, nil
}

// CodeAppNotFound is the error of apps remove when there is no app to
// remove.
const CodeAppNotFound = "E_APP_NOT_FOUND"

// appNotFoundHint is the hint of a target that names no app in sandbox
// h.ID.
func appNotFoundHint(h sandboxcli.Hints) string {
	return h.OnSandbox(func(arg string) string { return "list the apps with nimbus sandbox apps list " + arg })
}

// appNotFound is err as E_APP_NOT_FOUND (65) when it is the server's
// refusal of a target that names no app (RemoteError.NoApp: an unknown
// name, owner or pid, a number nothing listens on, a port nothing serves), which the Worker
// answers as a generic failure (500); nil for any other err. args are
// the command's ID and TARGET.
func (o *common) appNotFound(err error, verb string, args []string) error {
	var re *sandboxclient.RemoteError
	if !errors.As(err, &re) || !re.NoApp() {
		return nil
	}
	h := o.hints(args[0])
	hint := appNotFoundHint(h)
	if re.NotExposed() {
		// The app is there, serving: what it lacks is a link, which
		// exposing gives it (TARGET names it for expose as for rotate).
		hint = h.OnSandbox(func(arg string) string {
			return "expose it first: nimbus sandbox apps expose " + arg + " " + shellquote.Quote(args[1])
		})
	}
	return clierr.Wrap(err, exitcode.DataErr, CodeAppNotFound, fmt.Sprintf("no app %s to %s in sandbox %s (the server: %s)", args[1], verb, args[0], re.Message), hint)
}

func newCmdApps(o *common) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apps",
		Short: "List, expose, rotate and remove the sandbox's apps",
		Long: `An app is a program of the sandbox that serves a port (or has reserved one),
known by its owner. These commands list apps, expose them at a preview URL
(scoped: the URL needs a session:attach credential; public: the URL's
capability is the credential), give them a new capability, and remove them.

` + targetHelp,
		Example: `  nimbus sandbox start job-123 -- npm run dev
  nimbus sandbox apps list job-123
  nimbus sandbox apps expose job-123 5173 --name web
  nimbus sandbox apps rotate job-123 web
  nimbus sandbox apps remove job-123 web`,
	}
	cmdutil.MakeGroup(cmd)
	var suffix string
	cmd.PersistentFlags().StringVar(&suffix, "preview-host-suffix", "", suffixHelp)

	list := &cobra.Command{
		Use:   "list ID",
		Short: "List the apps (a table on a terminal, JSON otherwise)",
		Example: `  nimbus sandbox apps list job-123
  nimbus sandbox apps list job-123 --json | jq -r '.[] | select(.status=="running") | .url'`,
		Args: cmdutil.ExactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.needServer("apps " + cmd.Name()); err != nil {
				return err
			}
			sb, err := o.openWithSuffix(cmd, args[0], scopesUse, suffix)
			if err != nil {
				return err
			}
			apps, err := sb.ListApps(cmd.Context())
			if err != nil {
				return o.errorIn(sb.ID(), err)
			}
			return o.output(apps, func() error { return o.appsTable(sb.ID(), apps) })
		},
	}

	var name string
	var public bool
	expose := &cobra.Command{
		Use:   "expose ID TARGET [--name NAME] [--public]",
		Short: "Expose an app and print its preview URL",
		Long: `Expose the app behind TARGET (scoped unless --public) and print its preview
URL. --name gives it a name used in its URL instead of the port. Exits 65
(E_APP_NOT_FOUND) when TARGET names no app (an unknown name, owner or pid,
or a port nothing serves).

` + targetHelp,
		Example: `  nimbus sandbox apps expose job-123 3000
  nimbus sandbox apps expose job-123 3000 --name web --public
  nimbus sandbox apps expose job-123 owner:auto:/home/user:npm\ start --json`,
		Args: cmdutil.ExactArgs(2, "ID and TARGET"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, target, err := o.appTarget(cmd, args, suffix)
			if err != nil {
				return err
			}
			opts := sandboxclient.ExposeOptions{Name: name}
			if public {
				opts.Visibility = "public"
			}
			a, err := sb.ExposeApp(cmd.Context(), target, opts)
			if nf := o.appNotFound(err, "expose", args); nf != nil {
				return nf
			}
			if err != nil {
				return o.errorIn(sb.ID(), err)
			}
			return o.output(a, func() error { return o.appSummary("Exposed", a) })
		},
	}
	expose.Flags().StringVar(&name, "name", "", "app `NAME` (a DNS label) used in the URL instead of the port")
	expose.Flags().BoolVar(&public, "public", false, "public visibility: the URL's capability is the credential")

	rotate := &cobra.Command{
		Use:   "rotate ID TARGET",
		Short: "Give an app a new capability; its old URLs stop working",
		Long: `Give the app behind TARGET a new capability and print its new preview URL.
Links handed out before stop working. Exits 65 (E_APP_NOT_FOUND) when
TARGET names no app (an unknown name, owner or pid) or an app that is not
exposed, which has no link to rotate (expose it first).

` + targetHelp,
		Example: `  nimbus sandbox apps rotate job-123 web
  nimbus sandbox apps rotate job-123 port:3000 --json`,
		Args: cmdutil.ExactArgs(2, "ID and TARGET"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, target, err := o.appTarget(cmd, args, suffix)
			if err != nil {
				return err
			}
			a, err := sb.RotateLink(cmd.Context(), target)
			if nf := o.appNotFound(err, "rotate", args); nf != nil {
				return nf
			}
			if err != nil {
				return o.errorIn(sb.ID(), err)
			}
			return o.output(a, func() error { return o.appSummary("Rotated the link of", a) })
		},
	}

	remove := &cobra.Command{
		Use:   "remove ID TARGET",
		Short: "Remove an app: stop it, and drop its exposure, name and reservation",
		Long: `Remove the app behind TARGET: the process serving it is stopped, and its
exposure, name and port reservation go (links to it stop working).
Exits 65 (E_APP_NOT_FOUND) when there was nothing to remove, TARGET naming
nothing the server can find included (a port nothing listens on or has
reserved, an unknown name, owner or pid).

` + targetHelp,
		Example: `  nimbus sandbox apps remove job-123 web
  nimbus sandbox apps remove job-123 pid:12`,
		Args: cmdutil.ExactArgs(2, "ID and TARGET"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, target, err := o.appTarget(cmd, args, "")
			if err != nil {
				return err
			}
			r, err := sb.RemoveApp(cmd.Context(), target)
			// Nothing removed is a failure (65), and a failure prints
			// nothing on stdout: the error alone says it, on stderr.
			// Whether the server found the app with nothing left to
			// remove, or found nothing the target names, it is the same
			// failure.
			if nf := o.appNotFound(err, "remove", args); nf != nil {
				return nf
			}
			if err != nil {
				return o.errorIn(sb.ID(), err)
			}
			if !r.Removed {
				return clierr.New(exitcode.DataErr, CodeAppNotFound, fmt.Sprintf("no app %s to remove in sandbox %s", args[1], args[0]), appNotFoundHint(o.hints(args[0])))
			}
			return o.output(r, func() error {
				port := ""
				if r.Port != nil {
					port = fmt.Sprintf(" (port %d)", *r.Port)
				}
				// The owner is the server's text: quoted if it holds
				// anything a terminal would interpret (it stays usable as
				// owner:… once unquoted).
				_, err := fmt.Fprintf(o.f.IOStreams.Out, "%s Removed app %s%s\n", o.f.IOStreams.Styles().SuccessIcon(), clierr.Printable(r.Owner), port)
				return err
			})
		},
	}
	cmd.AddCommand(list, expose, rotate, remove)
	return cmd
}

// appsTable prints the apps of sandbox id for people.
func (o *common) appsTable(id string, apps []sandboxclient.App) error {
	ios := o.f.IOStreams
	st := ios.Styles()
	if len(apps) == 0 {
		_, err := fmt.Fprintln(ios.ErrOut, st.Muted(o.hints(id).OnSandbox(func(arg string) string {
			return "No apps: start a server (nimbus sandbox start " + arg + " -- COMMAND), then expose it."
		})))
		return err
	}
	var t table.Table
	t.Row(st.Bold, "NAME", "PORT", "PID", "STATUS", "VISIBILITY", "URL", "OWNER")
	for _, a := range apps {
		row := []string{str(a.Name), intp(a.Port), int64p(a.PID), a.Status, a.Visibility, str(a.URL), a.Owner}
		for i, c := range row {
			// The sandbox names its apps: no escape sequence reaches the
			// terminal.
			row[i] = sandboxcli.DisplayText(c)
		}
		var style func(string) string
		if a.Status == "failed" {
			style = st.Error
		}
		t.Row(style, row...)
		if a.Diagnostic != nil {
			t.Line("  " + st.Muted(sandboxcli.DisplayText(*a.Diagnostic)))
		}
	}
	_, err := t.WriteTo(ios.Out)
	return err
}

// appSummary prints an exposed app for people: the URL alone on stdout,
// the rest on stderr.
func (o *common) appSummary(verb string, a *sandboxclient.App) error {
	ios := o.f.IOStreams
	st := ios.Styles()
	what := a.Owner
	if a.Name != nil {
		what = *a.Name
	}
	detail := a.Visibility
	if a.Port != nil {
		detail = "port " + strconv.Itoa(*a.Port) + ", " + detail
	}
	fmt.Fprintf(ios.ErrOut, "%s %s app %s (%s)\n", st.SuccessIcon(), verb, st.Bold(sandboxcli.DisplayText(what)), sandboxcli.DisplayText(detail))
	if a.URL == nil {
		fmt.Fprintln(ios.ErrOut, st.Muted("The server gave no preview URL."))
		return nil
	}
	_, err := fmt.Fprintln(ios.Out, *a.URL)
	return err
}

func str(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

func intp(p *int) string {
	if p == nil {
		return "-"
	}
	return strconv.Itoa(*p)
}

func int64p(p *int64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatInt(*p, 10)
}
