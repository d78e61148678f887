package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

func newCmdFiles(o *common) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "files",
		Short: "Read, write and list files in a sandbox",
		Long: `Read, write and list files in a sandbox. Relative paths are resolved against
--root (default /home/user). Transfers are binary-safe; reads above 28 MiB are
fetched in chunks, and one write is limited to 20 MiB.`,
		Example: `  nimbus sandbox files ls job-123 app
  nimbus sandbox files write job-123 app/.env --from .env.ci
  nimbus sandbox files read job-123 app/coverage/lcov.info > lcov.info
  nimbus sandbox files rm job-123 app/tmp -r`,
	}
	cmdutil.MakeGroup(cmd)
	cmd.AddCommand(newCmdFilesRead(o), newCmdFilesWrite(o), newCmdFilesLs(o), newCmdFilesStat(o), newCmdFilesMkdir(o), newCmdFilesRm(o))
	return cmd
}

func (o *common) path(p string) string { return sandboxclient.ResolvePath(o.root, p) }

// pathArgs adds to an Args check that the PATH argument is not empty. An
// empty PATH resolves to --root, so `files rm ID "$DIR" -r` with DIR unset
// would wipe the sandbox's home, and the other commands would act on the root
// without saying so: an unset variable is a mistake, never a way to name the root.
func pathArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return err
		}
		if len(args) > 1 && strings.TrimSpace(args[1]) == "" {
			return clierr.Usagef("PATH is empty").
				WithHint("name the path; \".\" is the root (--root, default /home/user)")
		}
		return nil
	}
}

func newCmdFilesRead(o *common) *cobra.Command {
	return &cobra.Command{
		Use:   "read ID PATH",
		Short: "Write a file's bytes to stdout",
		Long: `Write a file's bytes to stdout, streamed (reads above 28 MiB are fetched in
chunks). With --json, stdout is one document {"path","bytes","base64"} instead,
which holds the file in memory: at most 20 MiB. On a terminal only text is
written: a file that is binary or holds control characters (an escape
sequence could drive the terminal) is refused, exit 64 (E_NOT_TEXT), as
curl does; redirect it to a file or a pipe, which get the bytes unchanged.
Then, with stderr on a terminal, a progress bar there shows the read.`,
		Example: `  nimbus sandbox files read job-123 app/coverage/lcov.info > lcov.info
  nimbus sandbox files read job-123 /tmp/build.tar.gz | tar xz`,
		Args: pathArgs(cmdutil.ExactArgs(2, "ID and PATH")),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return err
			}
			p := o.path(args[1])
			if !o.f.JSON {
				ios := o.f.IOStreams
				if !ios.IsStdoutTTY() && ios.CanRedrawStderr() {
					// The bytes go to a file or a pipe while a person
					// watches: a bar on stderr shows a big read, as cp
					// draws one for the same download.
					return sandboxcli.ErrorIn(sb.ID(), readWithProgress(cmd.Context(), ios, sb, p))
				}
				out, finish := sandboxcli.TerminalOutput(ios, o.hints(args[0]), args[1])
				_, err = sb.ReadFileTo(cmd.Context(), p, out)
				return o.readError(sb.ID(), p, finish(err))
			}
			buf := &cappedBuffer{max: maxJSONRead}
			n, err := sb.ReadFileTo(cmd.Context(), p, buf)
			if errors.Is(err, errTooLarge) {
				return clierr.New(exitcode.DataErr, "E_READ_TOO_LARGE", fmt.Sprintf("%s is larger than %d MiB, too large for --json", p, maxJSONRead>>20), "drop --json to stream the bytes to stdout")
			}
			if err != nil {
				return o.readError(sb.ID(), p, err)
			}
			return o.f.PrintJSON(struct {
				Path   string `json:"path"`
				Bytes  int64  `json:"bytes"`
				Base64 []byte `json:"base64"`
			}{p, n, buf.b})
		},
	}
}

// readWithProgress writes the file at p to ios.Out (not a terminal) with a
// progress bar on stderr (a terminal).
func readWithProgress(ctx context.Context, ios *iostreams.IOStreams, sb *sandboxclient.Sandbox, p string) error {
	st, err := sb.Stat(ctx, p)
	if err != nil {
		return err
	}
	if st == nil || st.Type == "directory" {
		// ReadFileTo gives the error a missing file or a directory gets.
		_, err = sb.ReadFileTo(ctx, p, ios.Out)
		return err
	}
	prog := sandboxcli.NewProgress(ios, "↓", false, false)
	defer prog.Close()
	prog.Plan(1, st.Size)
	_, err = sb.ReadStatTo(ctx, p, st, progressWriter{ios.Out, prog})
	return err
}

// progressWriter counts the bytes written through it into a Progress.
type progressWriter struct {
	w    io.Writer
	prog *sandboxcli.Progress
}

func (w progressWriter) Write(b []byte) (int, error) {
	n, err := w.w.Write(b)
	w.prog.Transferred(int64(n))
	return n, err
}

func newCmdFilesWrite(o *common) *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "write ID PATH [--from LOCAL|-]",
		Short: "Write a file from a local file or stdin",
		Example: `  nimbus sandbox files write job-123 app/.env --from .env.ci
  echo 'print("hi")' | nimbus sandbox files write job-123 hello.py`,
		Long: `Write a file in the sandbox from --from LOCAL, or from standard input (the
default, or "-"). Missing parent directories are created. The content is sent
as bytes, so binary files are safe. On a terminal a progress bar on stderr
shows the write.`,
		Args: pathArgs(cmdutil.ExactArgs(2, "ID and PATH")),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tf := o.stdinToken(); (from == "" || from == "-") && tf != "" {
				// The token would take the input and the file be written empty.
				return clierr.Usagef("%s and the content both read standard input", tf).
					WithHint("pass the token in a file or NIMBUS_TOKEN, or the content with --from FILE")
			}
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return err
			}
			var dst string
			var size int64
			// A big file takes a while: on a terminal a bar shows it, as
			// cp draws one for the same upload.
			prog := sandboxcli.NewProgress(o.f.IOStreams, "↑", false, o.f.JSON)
			opts := transfer.Options{PartSize: o.writeLimitBytes, Observer: prog}
			if from == "" || from == "-" {
				o.f.NoteReadingTerminal("the content", "--from FILE reads a file instead")
				dst, size, err = transfer.WriteReader(cmd.Context(), sb, args[1], o.f.IOStreams.In, opts)
			} else {
				dst, size, err = transfer.WriteLocalFile(cmd.Context(), sb, args[1], from, opts)
			}
			prog.Close()
			if err != nil {
				return o.errorIn(sb.ID(), err)
			}
			result := map[string]any{"path": dst, "bytes": size}
			if o.f.JSON {
				return o.f.PrintJSON(result)
			}
			if o.f.IOStreams.IsStderrTTY() {
				st := o.f.IOStreams.Styles()
				fmt.Fprintf(o.f.IOStreams.ErrOut, "%s Wrote %d bytes to %s\n", st.SuccessIcon(), size, dst)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "read the content from `LOCAL` (\"-\" or empty: stdin)")
	return cmd
}

func newCmdFilesLs(o *common) *cobra.Command {
	return &cobra.Command{
		Use:   "ls ID [PATH]",
		Short: "List a directory (default: the root)",
		Example: `  nimbus sandbox files ls job-123
  nimbus sandbox files ls job-123 app/src --json | jq -r '.[].name'`,
		Args: pathArgs(cmdutil.RangeArgs(1, 2, "ID and an optional PATH")),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return err
			}
			dir := o.root
			if len(args) == 2 {
				dir = o.path(args[1])
			}
			ents, err := sb.ReadDir(cmd.Context(), dir)
			if err != nil {
				return o.readError(sb.ID(), dir, err)
			}
			return o.output(ents, func() error {
				st := o.f.IOStreams.Styles()
				var b strings.Builder
				for _, e := range ents {
					if e.Type == "directory" {
						b.WriteString(st.Bold(clierr.Printable(e.Name)+"/") + "\n")
					} else {
						b.WriteString(clierr.Printable(e.Name) + "\n")
					}
				}
				_, err := io.WriteString(o.f.IOStreams.Out, b.String())
				return err
			})
		},
	}
}

func newCmdFilesStat(o *common) *cobra.Command {
	return &cobra.Command{
		Use:   "stat ID PATH",
		Short: "Show a file's type, size, mode and times",
		Example: `  nimbus sandbox files stat job-123 app/package.json
  nimbus sandbox files stat job-123 app/dist --json | jq .size`,
		Long: `Show a file's type, size, mode and times. On a terminal times are RFC 3339 in
UTC; the JSON (piped, or --json) keeps the API's epoch milliseconds.`,
		Args: pathArgs(cmdutil.ExactArgs(2, "ID and PATH")),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return err
			}
			p := o.path(args[1])
			st, err := sb.Stat(cmd.Context(), p)
			if err != nil {
				return o.readError(sb.ID(), p, err)
			}
			if st == nil {
				return clierr.New(exitcode.DataErr, transfer.CodeNotFound, p+": no such file or directory", o.hints(sb.ID()).ReadNotFoundHint(p))
			}
			return o.output(st, func() error {
				var b strings.Builder
				fmt.Fprintf(&b, "path:  %s\ntype:  %s\nsize:  %d\nmode:  %04o\nmtime: %s\n", p, sandboxcli.DisplayText(st.Type), st.Size, st.Mode&0o7777, rfc3339ms(st.Mtime))
				if st.Ctime != nil {
					fmt.Fprintf(&b, "ctime: %s\n", rfc3339ms(*st.Ctime))
				}
				_, err := io.WriteString(o.f.IOStreams.Out, b.String())
				return err
			})
		},
	}
}

func newCmdFilesMkdir(o *common) *cobra.Command {
	return &cobra.Command{
		Use:     "mkdir ID PATH",
		Short:   "Create a directory and its parents",
		Example: `  nimbus sandbox files mkdir job-123 app/build/cache`,
		Args:    pathArgs(cmdutil.ExactArgs(2, "ID and PATH")),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return err
			}
			p := o.path(args[1])
			if err := sb.Mkdir(cmd.Context(), p); err != nil {
				return o.errorIn(sb.ID(), err)
			}
			return o.done("Created", p)
		},
	}
}

func newCmdFilesRm(o *common) *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "rm ID PATH [-r]",
		Short: "Remove a file or directory (a missing path is not an error)",
		Example: `  nimbus sandbox files rm job-123 app/tmp.log
  nimbus sandbox files rm job-123 app/node_modules -r`,
		Args: pathArgs(cmdutil.ExactArgs(2, "ID and PATH")),
		RunE: func(cmd *cobra.Command, args []string) error {
			sb, err := o.open(cmd, args[0], scopesUse)
			if err != nil {
				return err
			}
			p := o.path(args[1])
			if p == "/" {
				return clierr.Usagef("refusing to remove /").WithHint("use nimbus sandbox destroy to wipe a sandbox")
			}
			if err := sb.DeleteFile(cmd.Context(), p, recursive); err != nil {
				return o.errorIn(sb.ID(), err)
			}
			return o.done("Removed", p)
		},
	}
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "remove a directory and its contents")
	return cmd
}

// rfc3339ms shows a time in epoch milliseconds, as the API sends it, for
// people: RFC 3339 in UTC with milliseconds. JSON output keeps the number.
func rfc3339ms(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// maxJSONRead bounds `files read --json`, which holds the file in memory.
const maxJSONRead = 20 << 20

var errTooLarge = errors.New("too large")

// cappedBuffer collects at most max bytes.
type cappedBuffer struct {
	b   []byte
	max int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if len(c.b)+len(p) > c.max {
		return 0, errTooLarge
	}
	c.b = append(c.b, p...)
	return len(p), nil
}

// done reports an operation that has no result of its own: with --json
// one document {"ok":true,"path":…}; otherwise nothing on stdout, and on
// a terminal "✓ <verb> <path>" on stderr, as write and cp say what they
// did (a silent success left people wondering whether anything happened).
func (o *common) done(verb, path string) error {
	if !o.f.JSON {
		o.said("%s %s", verb, sandboxcli.DisplayText(path))
		return nil
	}
	return o.f.PrintJSON(struct {
		OK   bool   `json:"ok"`
		Path string `json:"path"`
	}{true, path})
}
