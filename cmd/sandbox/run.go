package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/duration"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/progress"
	"github.com/nimbus-sh/nimbus/internal/regularfile"
	"github.com/nimbus-sh/nimbus/internal/shellquote"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/job"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

func newCmdRun(o *common) *cobra.Command {
	var (
		id        string
		uploads   []string
		downloads []string
		envFile   string
		envs      []string
		runtimes  []string
		keep      bool
		timeout   time.Duration
		tf        transferFlags
	)
	cmd := &cobra.Command{
		Use:   "run [--id ID] [--upload LOCAL[:SANDBOX]]... [--download SANDBOX[:LOCAL]]... [--env-file FILE] [--env K[=V]]... [--runtime SPEC]... [--keep] -- COMMAND...",
		Short: "Run one CI step in a fresh sandbox: upload, run, download, destroy",
		Long: `Run one CI step in a sandbox, in one command:

  1. use the sandbox --id, or a fresh one (run-<random>);
  2. upload each --upload LOCAL[:SANDBOX]: a directory's contents go into
     SANDBOX (default: the root, --root), with the ignore rules below; a file
     goes to SANDBOX, or into it when it ends in "/";
  3. ensure each --runtime SPEC (NAME or NAME@VERSION) is installed;
  4. run COMMAND with its output streamed, in the first upload's destination
     (else the root), with --env and --env-file variables;
  5. download each --download SANDBOX[:LOCAL] (relative to the command's
     directory), also when the command failed, so test reports come back:
     a directory's contents go into LOCAL (default: ./NAME), so a re-run
     gives the same tree; a file goes to LOCAL, or into it when it is a
     directory or ends in "/" (default: the current directory). Artifacts
     come back as the command left them: the ignore rules below apply to
     uploads only (a build's own .gitignore, such as coverage.py's
     htmlcov/.gitignore of "*", does not hide its outputs);
  6. destroy the sandbox, unless --keep.

Before step 1 touches it, the sandbox id is recorded in the cleanup ledger
(NIMBUS_LEDGER, else nimbus-ledger.jsonl in RUNNER_TEMP, else
nimbus-ledger-<uid>.jsonl in the temporary directory; nimbus-ledger.jsonl on
Windows), --keep ones included, and removed once destroyed (or when the
Worker refused every request of the run, which then created no sandbox): a
final 'nimbus sandbox destroy --ledger' destroys what a killed job left behind.

nimbus exits with the command's exit code (one that is not an exit status,
such as 256, exits 125 with a warning: only a remote 0 exits 0). Its own
failures exit 125 (a failed upload skips the command), a timeout 124. Ctrl-C
or a CI cancel (SIGINT, SIGTERM) stops the step, still destroys the sandbox,
and exits 130 (143 for SIGTERM), also when it comes during the destroy: a
cancelled run never exits 0. A command that already exited non-zero keeps
its code. A signal does not cut the destroy short (at most 30s): nimbus
names the sandbox a nimbus stopped then would leave (with --json, the
warning W_STILL_DESTROYING on stderr).

--env K=V sets a variable and --env K forwards the local value of K;
--env-file reads KEY=VALUE lines (dotenv syntax); --env wins over the file.
Values never appear on the command line or in output.

` + ignoreHelp + `

On a terminal each phase is shown on stderr, with a progress bar during
transfers; elsewhere (CI logs) stderr gets one line naming the sandbox
("Sandbox ID"). --quiet shows only the command's output and errors. --json
prints NDJSON events on stdout:
{"type":"phase","phase":"upload|runtime|exec|download|destroy",
"status":"start|done|failed",…},
the command's {"type":"stdout"|"stderr","data":…} and {"type":"exit",…},
and finally {"type":"result","id":…,"ran":…,"exitCode":…,"destroyed":…,
"reached":…}. "exitCode" is null when the command did not run to an exit
code (a failed upload or runtime, an interruption); an interrupted run has
"interrupted":"SIGINT" or "SIGTERM" in the result, and in the "failed"
event of the phase it cut short (none when it came during the destroy).
"reached" is false when no request of the run reached the sandbox (the
Worker refused them all, or none was sent): it was never created, so with
"destroyed":false there is nothing to destroy; with "reached":true and
"destroyed":false it may be left: run nimbus sandbox destroy ID.

COMMAND is one shell script when it is a single argument (quote it:
-- 'npm ci && npm run build'); several arguments are each quoted and run as
one command, so -- make test works and '&&' is passed on as a word.`,
		Example: `  nimbus sandbox run --upload . --download junit.xml -- make test
  nimbus sandbox run --upload .:app --runtime python@3.12 --env-file ci.env -- 'pip install -r requirements.txt && pytest --junitxml=report.xml'
  nimbus sandbox run --id job-$GITHUB_RUN_ID --upload . --download dist:./dist --env NPM_TOKEN -- 'npm ci && npm run build'
  nimbus sandbox run --keep --upload . -- ./configure   # inspect afterwards, then: nimbus sandbox destroy ID
  # CI: whatever happens to the job, destroy what it created last
  trap 'nimbus sandbox destroy --ledger' EXIT; nimbus sandbox run --upload . -- make test`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return execUsage(clierr.Usagef("expected a COMMAND after --").WithHint("nimbus sandbox run [flags] -- COMMAND..."))
			}
			if err := blankCommand(args, "COMMAND", "nimbus sandbox run [flags] -- COMMAND..."); err != nil {
				return execUsage(err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := tf.check(); err != nil {
				return execUsage(err)
			}
			env := map[string]string{}
			if envFile != "" {
				// Bounded (a pipe, --env-file <(vault …), is read as
				// stdin is): /dev/zero must not fill memory.
				data, err := regularfile.ReadStream(envFile, job.MaxEnvFile)
				if errors.Is(err, regularfile.ErrTooLarge) {
					err = &job.EnvFileError{Name: envFile, Reason: "larger than " + regularfile.Size(job.MaxEnvFile)}
					return sandboxcli.ExecError(sandboxcli.EnvFileError(err))
				}
				if err != nil {
					return execUsage(clierr.Usagef("--env-file: %v", err))
				}
				fileEnv, err := job.ParseEnvFile(envFile, data)
				if err != nil {
					return sandboxcli.ExecError(sandboxcli.EnvFileError(err))
				}
				for k, v := range fileEnv {
					env[k] = v
				}
			}
			flagEnv, err := sandboxcli.ParseEnv(envs, o.f.Getenv)
			if err != nil {
				return sandboxcli.ExecError(err)
			}
			for k, v := range flagEnv {
				env[k] = v
			}
			if id == "" {
				id = job.NewID()
			} else if !sandboxclient.ValidID(id) {
				return execUsage(clierr.Usagef("--id %q: use 1 to 128 characters from A-Z a-z 0-9 . _ -", id))
			}
			spec := job.Spec{Runtimes: runtimes, Env: env, Command: shellquote.Join(args), Timeout: timeout, Keep: keep}
			for _, u := range uploads {
				spec.Uploads = append(spec.Uploads, job.ParseUpload(u))
			}
			for _, d := range downloads {
				spec.Downloads = append(spec.Downloads, job.ParseDownload(d))
			}
			// A bad spec (an empty source: an unset variable) is refused
			// before the sandbox is touched: --download "" brought back
			// the whole working directory and exited 0, --upload ""
			// failed the upload with ": no such file or directory", and
			// --runtime "" an install naming nothing. job.Run checks the
			// same, for Go callers.
			if err := spec.Validate(); err != nil {
				return specError(err, uploads, downloads)
			}
			scopes := scopesDestroy
			if keep {
				scopes = scopesUse
			}
			sb, err := o.open(cmd, id, scopes)
			if err != nil {
				return sandboxcli.ExecError(err)
			}
			return o.runJob(cmd.Context(), sb, spec, tf, o.recordInLedger(cmd, sb, "sandbox run", keep))
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return execUsage(clierr.Usagef("%s", err.Error()).WithHint(cmdutil.FlagErrorHint(c, err, "put the command after --: nimbus sandbox run [flags] -- COMMAND...")))
	})
	fl := cmd.Flags()
	fl.StringVar(&id, "id", "", "use sandbox `ID` (default: a fresh run-<random> id)")
	fl.StringArrayVar(&uploads, "upload", nil, "upload `LOCAL[:SANDBOX]` before the command (repeatable)")
	fl.StringArrayVar(&downloads, "download", nil, "download `SANDBOX[:LOCAL]` after the command, even when it failed (repeatable)")
	fl.StringVar(&envFile, "env-file", "", "read variables from `FILE` (KEY=VALUE lines)")
	fl.StringArrayVar(&envs, "env", nil, "set `K=V`, or forward the local value of K (repeatable)")
	fl.StringArrayVar(&runtimes, "runtime", nil, "ensure runtime `SPEC` (NAME or NAME@VERSION) before the command (repeatable)")
	fl.BoolVar(&keep, "keep", false, "keep the sandbox at the end (default: destroy it)")
	duration.Var(fl, &timeout, "timeout", 0, duration.Limits{AllowZero: true}, "kill the command after this long (exit 124): seconds or a duration such as 90s, 15m; 0 means no limit")
	tf.add(fl, false)
	return passesExit(cmd, "")
}

// specError says a spec Validate refused as the flag it came from, quoted
// as typed: the entries of spec.Uploads and spec.Downloads are those of
// uploads and downloads, in order.
func specError(err error, uploads, downloads []string) error {
	var se *job.SpecError
	if !errors.As(err, &se) {
		return sandboxcli.ExecError(err)
	}
	switch {
	case se.Field == job.FieldUploads && se.Index < len(uploads):
		if se.Empty {
			return execUsage(clierr.Usagef("--upload %q names no local path", uploads[se.Index]).WithHint("--upload LOCAL[:SANDBOX], e.g. --upload . or --upload .:app"))
		}
		return execUsage(clierr.Usagef("--upload %q: %s", uploads[se.Index], se.Reason).WithHint("--upload LOCAL[:SANDBOX], e.g. --upload .:app"))
	case se.Field == job.FieldDownloads && se.Index < len(downloads):
		if se.Empty {
			return execUsage(clierr.Usagef("--download %q names no sandbox path", downloads[se.Index]).WithHint("--download SANDBOX[:LOCAL], e.g. --download junit.xml or --download dist:./dist"))
		}
		return execUsage(clierr.Usagef("--download %q: %s", downloads[se.Index], se.Reason).WithHint("--download SANDBOX[:LOCAL], e.g. --download dist:./dist"))
	case se.Field == job.FieldRuntimes:
		return execUsage(clierr.Usagef("--runtime is empty").WithHint("name a runtime: NAME or NAME@VERSION, e.g. --runtime python@3.12"))
	}
	// --env and --timeout are checked as they are read, before the spec.
	return execUsage(clierr.Usagef("%s", se.Error()))
}

// runJob runs the job and renders it: phases on a terminal, NDJSON with
// --json, the command's output as it arrives.
// destroyed is called once the job has destroyed the sandbox, or when no
// request of it reached the sandbox (which then does not exist).
func (o *common) runJob(ctx context.Context, sb *sandboxclient.Sandbox, spec job.Spec, tf transferFlags, destroyed func()) error {
	ios := o.f.IOStreams
	st := ios.Styles()
	human := ios.IsStderrTTY() && !tf.quiet && !o.f.JSON
	stdout, stderr := ios.Out, ios.ErrOut
	var events *sandboxcli.EventWriter
	if o.f.JSON {
		events = sandboxcli.NewEventWriter(ios.Out)
		stdout, stderr = events.Stream("stdout"), events.Stream("stderr")
	}

	// Each transfer gets its own progress bar; the job's observer forwards
	// to the current one.
	fwd := &forwardObserver{}
	spec.Transfer = tf.options(o, fwd)
	var prog *sandboxcli.Progress
	// The first failure of nimbus is the error it exits with (rendered
	// once, at the end) unless the command failed, whose status wins:
	// its "✗ PHASE failed" line is held back so that the error is not
	// said twice, and printed only if the run ends otherwise: interrupted
	// after it. When the signal came before the destroy, the line comes
	// as the destroy starts, in its place above the destroy's; when it
	// came during the destroy, after it.
	var (
		failedBefore bool
		cmdFailed    bool
		held         string
	)
	sayHeld := func() {
		fmt.Fprint(ios.ErrOut, held)
		held = ""
	}
	endWatch := func() {}
	onEvent := func(e job.Event) {
		if e.Phase == job.PhaseDestroy {
			endWatch()
			endWatch = func() {}
			if e.Status == job.StatusStart && ctx.Err() != nil {
				sayHeld()
			}
			if e.Status == job.StatusStart {
				w := stillDestroying(e.ID)
				endWatch = watchDestroy(ctx, func() {
					if events != nil {
						// With --json as nimbus's other warnings
						// are: one object on stderr, beside the
						// error object; stdout keeps to the run's
						// events and the command's output.
						o.f.Warn(w)
						return
					}
					fmt.Fprintf(ios.ErrOut, "%s %s: %s\n", st.WarningIcon(), w.Message, w.Hint)
				})
			}
		}
		// With --json too: a skipped entry is then a W_TRANSFER_SKIPPED
		// warning on stderr, as cp -r and sync give, not nothing.
		transferStart := (e.Phase == job.PhaseUpload || e.Phase == job.PhaseDownload) && e.Status == job.StatusStart
		switch {
		case transferStart:
			label := "↑"
			if e.Phase == job.PhaseDownload {
				label = "↓"
			}
			prog = sandboxcli.NewProgress(ios, label, tf.quiet, o.f.JSON)
			fwd.set(prog)
		case prog != nil && e.Status != job.StatusStart:
			prog.Close()
			fwd.set(nil)
			prog = nil
		}
		if events != nil {
			_ = events.JSON(e)
			if e.Phase == job.PhaseExec && e.Status == job.StatusDone {
				_ = events.Exit(*e.ExitCode, *e.Duration)
			}
			return
		}
		if transferStart {
			return
		}
		if e.Phase == job.PhaseExec && e.Status == job.StatusDone && *e.ExitCode != "0" {
			cmdFailed = true
		}
		if e.Status == job.StatusFailed {
			var pe *transfer.PartialError
			if errors.As(e.Err, &pe) {
				fmt.Fprint(ios.ErrOut, sandboxcli.FailureList(st, e.Failures))
			} else if !errors.Is(e.Err, context.Canceled) {
				line := fmt.Sprintf("%s %s failed: %s\n", st.FailureIcon(), e.Phase, sandboxcli.DisplayText(e.Error, e.Local, e.Remote))
				if failedBefore || cmdFailed {
					fmt.Fprint(ios.ErrOut, line)
				} else {
					held = line
				}
			}
			failedBefore = true
			return
		}
		if !human {
			return
		}
		switch {
		case e.Phase == job.PhaseUpload && e.Status == job.StatusDone:
			fmt.Fprintf(ios.ErrOut, "%s Uploaded %s → %s %s\n", st.SuccessIcon(), clierr.Printable(e.Local), clierr.Printable(e.Remote), st.Muted(counts(e)))
		case e.Phase == job.PhaseDownload && e.Status == job.StatusDone:
			fmt.Fprintf(ios.ErrOut, "%s Downloaded %s → %s %s\n", st.SuccessIcon(), clierr.Printable(e.Remote), clierr.Printable(e.Local), st.Muted(counts(e)))
		case e.Phase == job.PhaseRuntime && e.Status == job.StatusDone:
			fmt.Fprintf(ios.ErrOut, "%s Runtimes ready: %s\n", st.SuccessIcon(), sandboxcli.DisplayText(e.Runtime))
		case e.Phase == job.PhaseExec && e.Status == job.StatusStart:
			fmt.Fprintf(ios.ErrOut, "%s %s %s\n", st.Key("▶"), sandboxcli.DisplayText(e.Command), st.Muted("(in "+clierr.Printable(e.Cwd)+")"))
		case e.Phase == job.PhaseExec && e.Status == job.StatusDone:
			icon := st.SuccessIcon()
			if *e.ExitCode != "0" {
				icon = st.FailureIcon()
			}
			fmt.Fprintf(ios.ErrOut, "%s exit code %s %s\n", icon, *e.ExitCode, st.Muted(fmt.Sprintf("(%.1fs)", float64(*e.Duration)/1000)))
		case e.Phase == job.PhaseDestroy && e.Status == job.StatusDone:
			fmt.Fprintf(ios.ErrOut, "%s Destroyed %s\n", st.SuccessIcon(), e.ID)
		}
	}
	if human {
		fmt.Fprintf(ios.ErrOut, "%s Sandbox %s\n", st.Key("▶"), sb.ID())
	} else if !tf.quiet && !o.f.JSON {
		// In CI logs too: the one line that says which sandbox to look
		// for (or destroy) when the job goes wrong.
		fmt.Fprintf(ios.ErrOut, "Sandbox %s\n", sb.ID())
	}
	res, err := job.Run(ctx, sb, spec, onEvent, stdout, stderr)
	endWatch()
	if prog != nil {
		prog.Close()
	}
	if err != nil {
		// The interruption is the error now: the failure before it
		// would go unsaid (with --keep there was no destroy to say it
		// before, and one during the destroy came after its start).
		sayHeld()
	}
	if res != nil && (res.Destroyed || !res.Reached) {
		// Destroyed, or never created: the ledger has nothing left to
		// clean up.
		destroyed()
	}
	if res != nil && res.Destroyed && o.site != nil {
		// A run --id on a sandbox another command used leaves no record
		// completion would take for a live sandbox (rememberAfter
		// records nothing for run).
		sandboxcli.ForgetSandbox(o.f, *o.site, res.ID)
	}
	if events != nil {
		_ = events.JSON(struct {
			Type string `json:"type"`
			*job.Result
		}{"result", res})
	}
	// The commands these notices name are on a sandbox that is still
	// there; they are written as every hint on a sandbox is
	// (sandboxcli.Hints), the id quoted for a shell.
	if spec.Keep && human && res != nil && res.Reached {
		destroyLater := o.hints(res.ID).OnSandbox(func(arg string) string { return "(nimbus sandbox destroy " + arg + " when done)" })
		fmt.Fprintf(ios.ErrOut, "%s Kept sandbox %s %s\n", st.WarningIcon(), res.ID, st.Muted(destroyLater))
	}
	if res != nil && !res.Destroyed && res.Reached && !spec.Keep && events == nil {
		// Never leave a sandbox behind silently: say which one is left
		// (with --json the result event says it, and stderr holds only
		// the error object). One no request reached (the Worker refused
		// them all, or the job failed before sending any) does not exist:
		// no advice to destroy it.
		destroyNow := o.hints(res.ID).OnSandbox(func(arg string) string { return "run: nimbus sandbox destroy " + arg })
		fmt.Fprintf(ios.ErrOut, "%s sandbox %s was not destroyed; %s\n", st.WarningIcon(), res.ID, destroyNow)
	}
	switch {
	case res != nil && res.Ran && *res.ExitCodeRaw != "0":
		// The one rule of exec: never masked, only a remote 0 exits 0;
		// not by an interruption after it either (during a download or
		// the destroy), which cannot make the job pass: the step's own
		// failure says more (a test run that failed), and the result
		// event says "interrupted".
		return commandStatus(o, res.ExitCode, *res.ExitCodeRaw)
	}
	// A hint must not name a command on a sandbox the run destroyed:
	// pasted, it would create a new, empty one with the same id.
	hints := o.hints(sb.ID())
	hints.Destroyed = res != nil && res.Destroyed
	switch {
	case err != nil:
		// Also when the signal came only during the destroy: a
		// cancelled job does not exit 0 (nor 125 for a failure of
		// nimbus, such as a download, before it).
		return hints.ExecError(err)
	case res.Err != nil:
		ce := hints.ExecError(res.Err)
		var c *clierr.Error
		if errors.As(ce, &c) && c.Exit != exitcode.Timeout {
			out := *c
			out.Exit = exitcode.ExecFailed
			return &out
		}
		return ce
	}
	return nil
}

// watchDestroy calls say on each Ctrl-C (or SIGTERM) the destroy gets: it
// goes on (a signal cannot cut it short, see cmd's interrupts), and
// without a word the person pressing Ctrl-C again and again would stop
// nimbus some other way, leaving the sandbox without knowing which. The
// returned function ends the watch, once say is done.
func watchDestroy(ctx context.Context, say func()) (end func()) {
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		if ctx.Err() == nil {
			select {
			case <-ctx.Done():
				say()
			case <-quit:
				return
			}
		}
		var sigs interface{ Later() <-chan os.Signal }
		if !errors.As(context.Cause(ctx), &sigs) {
			return
		}
		for {
			select {
			case <-sigs.Later():
				say()
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
	}
}

// CodeStillDestroying is the warning that answers a signal during the
// destroy (see watchDestroy).
const CodeStillDestroying = "W_STILL_DESTROYING"

// stillDestroying says which sandbox a nimbus stopped during its destroy
// would leave, and (the hint) the command that deletes it.
//
// The hint writes the id with ArgID itself, not through Hints.OnSandbox,
// which every other hint on a sandbox takes: it is said while the
// destroy runs, whose end is not known, and it names the one command
// that is right either way. Destroy is idempotent and leaves no sandbox
// behind when the id's is gone already, where OnSandbox, once the
// sandbox is destroyed, would put a run's "run again with --keep"
// instead of the command that finishes the job.
func stillDestroying(id string) *clierr.Warning {
	return &clierr.Warning{
		Code:    CodeStillDestroying,
		Message: fmt.Sprintf("still destroying sandbox %s (at most %s); stopped now, nimbus would leave it", id, job.DestroyTimeout),
		Hint:    "nimbus sandbox destroy " + sandboxcli.ArgID(id),
	}
}

func counts(e job.Event) string {
	if e.Files == nil {
		return ""
	}
	return fmt.Sprintf("(%d file(s), %s)", *e.Files, progress.Bytes(*e.Bytes))
}

// forwardObserver passes transfer progress to the current Progress.
type forwardObserver struct {
	mu  sync.RWMutex
	cur transfer.Observer
}

func (f *forwardObserver) set(o transfer.Observer) {
	f.mu.Lock()
	f.cur = o
	f.mu.Unlock()
}

func (f *forwardObserver) get() transfer.Observer {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.cur == nil {
		return transfer.ObserverFuncs{}
	}
	return f.cur
}

func (f *forwardObserver) Plan(files int, bytes int64) { f.get().Plan(files, bytes) }
func (f *forwardObserver) Transferred(n int64)         { f.get().Transferred(n) }
func (f *forwardObserver) Event(e transfer.Event)      { f.get().Event(e) }
func (f *forwardObserver) Failed(fl transfer.Failure)  { f.get().Failed(fl) }
