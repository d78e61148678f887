// Package job runs one CI step in a sandbox, the logic behind `nimbus
// sandbox run`: upload inputs (with the ignore rules of package ignore),
// ensure runtimes, run a command with its output streamed, download
// artifacts (also when the command failed, so test reports come back), and
// destroy the sandbox, also when the step is interrupted.
package job

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/nimbus-sh/nimbus/internal/hostpath"
	"github.com/nimbus-sh/nimbus/pkg/ignore"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

// DestroyTimeout bounds the destroy at the end of a job, which runs with a
// context of its own so that an interrupted job still cleans up.
const DestroyTimeout = 30 * time.Second

// DestroyReason is sent with the destroy.
const DestroyReason = "nimbus sandbox run finished"

// NewID returns a fresh sandbox id: "run-" and 16 random hex digits.
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "run-" + hex.EncodeToString(b[:])
}

// Upload is one input: a local file or directory and where it goes. A
// directory's contents go into Remote (created); a file goes to Remote,
// or into it when Remote is an existing directory or ends in "/". An
// empty Remote means the sandbox root.
type Upload struct {
	// Local is the path on this machine; Remote is the sandbox path,
	// resolved against the sandbox root when relative.
	Local, Remote string
}

// Download is one artifact: a sandbox file or directory, resolved against
// the command's working directory when relative. A directory's contents go
// into Local (created), as an upload's do, so a step run twice into the
// same directory gives the same tree; "" means a directory of the same
// name in the current directory. A file goes to Local, or into it when
// Local is an existing directory or ends in a separator; "" means the
// current directory. Artifacts come back as the command left them: no
// ignore rule applies to them (a build writes .gitignore files into its
// own outputs, such as coverage.py's htmlcov/.gitignore of "*"), and a
// .git directory in them comes back too.
type Download struct {
	// Remote is the sandbox path, resolved against the command's working
	// directory when relative, never empty (see Spec.Validate); Local is
	// the path on this machine.
	Remote, Local string
}

// ParseUpload reads LOCAL[:SANDBOX].
func ParseUpload(s string) Upload {
	l, r := splitSpec(s)
	return Upload{Local: l, Remote: r}
}

// ParseDownload reads SANDBOX[:LOCAL].
func ParseDownload(s string) Download {
	r, l := splitSpec(s)
	return Download{Remote: r, Local: l}
}

// splitSpec cuts at the first ':' (on Windows, a drive letter that starts
// s is kept: "C:\app:app" is C:\app and app).
func splitSpec(s string) (string, string) {
	start := 0
	if localOS == "windows" && hostpath.HasDrive(s) {
		start = 2
	}
	if i := strings.IndexByte(s[start:], ':'); i >= 0 {
		return s[:start+i], s[start+i+1:]
	}
	return s, ""
}

// Spec describes a job.
type Spec struct {
	// Uploads are copied in order before anything else; the first one's
	// sandbox directory becomes the command's working directory (the
	// sandbox root when there are none).
	Uploads []Upload
	// Downloads are copied back after the command, whatever its exit
	// code, so a failed build still returns its logs; one failing does
	// not stop the others.
	Downloads []Download
	// Runtimes are ensured (installed when missing) before the command.
	Runtimes []string
	// Env is the command's extra environment.
	Env map[string]string
	// Command is one shell line.
	Command string
	// Timeout kills the command after this long (exit 124); 0 means none.
	Timeout time.Duration
	// Keep leaves the sandbox in place at the end.
	Keep bool
	// Transfer holds the bounds and progress observer of the uploads and
	// downloads, and the ignore rules of the uploads (downloads have none,
	// see Download).
	Transfer transfer.Options
}

// Phases of a job.
const (
	// PhaseUpload is one Spec.Uploads entry being copied in.
	PhaseUpload = "upload"
	// PhaseRuntime is Spec.Runtimes being ensured, all in one step.
	PhaseRuntime = "runtime"
	// PhaseExec is the command running.
	PhaseExec = "exec"
	// PhaseDownload is one Spec.Downloads entry being copied back.
	PhaseDownload = "download"
	// PhaseDestroy is the sandbox being destroyed (skipped with
	// Spec.Keep).
	PhaseDestroy = "destroy"
)

// Statuses of a phase event.
const (
	// StatusStart opens a step; a StatusDone or StatusFailed event for
	// the same step follows unless the job is interrupted first.
	StatusStart = "start"
	// StatusDone closes a step that succeeded.
	StatusDone = "done"
	// StatusFailed closes a step that failed; the event's Error and Code
	// say why.
	StatusFailed = "failed"
)

// Event reports the start or end of one step of a phase. It is shaped for
// NDJSON: {"type":"phase","phase":"upload","status":"done",…}.
type Event struct {
	// Type is always "phase", so the events can share an NDJSON stream
	// with other kinds of records.
	Type string `json:"type"`
	// Phase is one of the Phase constants.
	Phase string `json:"phase"`
	// Status is one of the Status constants.
	Status string `json:"status"`
	// ID is the sandbox id; set on destroy events only.
	ID string `json:"id,omitempty"`
	// Local is the local path of an upload or download; empty for other
	// phases.
	Local string `json:"local,omitempty"`
	// Remote is the resolved sandbox path of an upload or download; empty
	// for other phases.
	Remote string `json:"remote,omitempty"`
	// Runtime is the comma-separated Spec.Runtimes of a runtime event.
	Runtime string `json:"runtime,omitempty"`
	// Command is the shell line of an exec event.
	Command string `json:"command,omitempty"`
	// Cwd is the sandbox directory the command runs in; set on the exec
	// start and failure events.
	Cwd string `json:"cwd,omitempty"`
	// Files is how many files an upload or download copied (see
	// transfer.Summary.Files); nil on start events and on failures that
	// produced no summary.
	Files *int `json:"files,omitempty"`
	// Bytes is how many bytes of files an upload or download copied; nil
	// when Files is.
	Bytes *int64 `json:"bytes,omitempty"`
	// ExitCode is the command's exit code exactly as the server sent it
	// (see Result.ExitCode).
	ExitCode *json.Number `json:"exitCode,omitempty"`
	// Duration is how long the command ran by the server's count, in
	// milliseconds; set on the exec done event only.
	Duration *int64 `json:"duration,omitempty"`
	// Interrupted names the signal ("SIGINT", "SIGTERM") that stopped the
	// job, or "canceled" when its context ended otherwise.
	Interrupted string `json:"interrupted,omitempty"`
	// Error and Code describe a failure.
	Error string `json:"error,omitempty"`
	// Code is the stable code of the failure (E_TRANSFER_PARTIAL,
	// E_RUNTIME_INSTALL, E_INTERRUPTED, a sandboxclient code…); empty
	// when the error carries none.
	Code string `json:"code,omitempty"`
	// Failures lists the paths that failed when an upload or download was
	// only partly done (Code E_TRANSFER_PARTIAL).
	Failures []transfer.Failure `json:"failures,omitempty"`
	// Err is the failure itself, for callers that map it.
	Err error `json:"-"`
}

// Result is the outcome of a job.
type Result struct {
	// ID is the sandbox the job ran in; with Spec.Keep it is still there
	// to inspect.
	ID string `json:"id"`
	// Ran tells whether the command ran (to an exit code).
	Ran bool `json:"ran"`
	// ExitCode is the command's exit code when it ran, as
	// sc.ExecResult.ExitCode gives it: not limited to 0-255 (do not mask
	// it), -1 when the server sent a number that is not a 32-bit integer.
	ExitCode int `json:"-"`
	// ExitCodeRaw is the exit code exactly as the server sent it (a JSON
	// number such as 256 or 1.5); it is the result's "exitCode" in JSON,
	// nil (null) when the command did not run to an exit code.
	ExitCodeRaw *json.Number `json:"exitCode"`
	// Interrupted names the signal ("SIGINT", "SIGTERM") that cancelled
	// the job, or "canceled" when its context ended otherwise; "" when it
	// was not interrupted. One that came during the destroy, which it
	// does not stop, counts: the job was cancelled all the same.
	Interrupted string `json:"interrupted,omitempty"`
	// Failed lists the phases that failed (upload, runtime, download,
	// destroy); the first failure is in Err.
	Failed []string `json:"failed,omitempty"`
	// Destroyed tells whether the sandbox was destroyed.
	Destroyed bool `json:"destroyed"`
	// Reached tells whether a request of the job may have reached the
	// sandbox, and so created it: false when the job sent none (an upload
	// whose local source is missing) or the Worker refused every one
	// before calling the sandbox (see sc.NeverReached: a token pinned to
	// another id, a missing scope). A sandbox never reached does not
	// exist by this job's doing, destroyed or not, so there is nothing to
	// clean up after it. In JSON ("reached") it tells a reader of a result
	// with destroyed false whether a sandbox may be left to destroy.
	Reached bool `json:"reached"`
	// Err is the first failure of nimbus itself (not of the command).
	Err error `json:"-"`
}

// Run runs the job in sb. The command's output goes to stdout and stderr
// as it arrives; phases go to events (which may be nil). A spec that
// Validate refuses is refused first, before anything is sent (no event, no
// sandbox made, none destroyed): its *SpecError is Run's error and the
// Result's Err, and the Result says Reached false. Otherwise Run returns
// an error only when ctx ended (the sandbox is destroyed all the same),
// with Result.Interrupted set; every other failure is in the Result. Whether
// it did is decided after the destroy, whose own context a signal does
// not end: a caller that finds ctx ended on the destroy's start event (to
// say, before the destroy, what it held back for the final error) always
// gets ctx's error from Run, and one that ends during the destroy, or
// before the destroy's done or failed event returns, gives it too. The command's exit code stays in the Result either way, for
// the caller to weigh against the interruption.
func Run(ctx context.Context, sb *sc.Sandbox, spec Spec, events func(Event), stdout, stderr io.Writer) (res *Result, err error) {
	if err := spec.Validate(); err != nil {
		return &Result{ID: sb.ID(), Err: err}, err
	}
	if events == nil {
		events = func(Event) {}
	}
	emit := func(e Event) {
		e.Type = "phase"
		events(e)
	}
	res = &Result{ID: sb.ID()}
	// reach records the outcome of a step that sent requests.
	reach := func(err error) {
		if err == nil || !sc.NeverReached(err) {
			res.Reached = true
		}
	}
	fail := func(phase string, err error) {
		if err == ctx.Err() {
			// A step cut short by the interruption (see failedIn),
			// which Result.Interrupted and Run's error say: no failure
			// of its phase.
			return
		}
		res.Failed = append(res.Failed, phase)
		if res.Err == nil {
			res.Err = err
		}
	}
	interrupted := func() {
		if ctx.Err() != nil {
			res.Interrupted, err = Interruption(ctx), ctx.Err()
		}
	}
	defer func() {
		if spec.Keep {
			interrupted()
			return
		}
		emit(Event{Phase: PhaseDestroy, Status: StatusStart, ID: sb.ID()})
		interrupted()
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DestroyTimeout)
		defer cancel()
		_, derr := sb.Destroy(dctx, DestroyReason)
		// A signal during the destroy does not cut it short, but it is
		// a cancel of the job all the same: said in the Result and by
		// Run's error, so that a CI job cancelled then does not pass
		// for one that succeeded. Decided only once the destroy's last
		// event is handled: a caller watching the destroy (to answer
		// a signal with "still destroying") ends its watch there, and
		// a signal it answered must not give a Result that says none.
		defer interrupted()
		if derr != nil {
			fail(PhaseDestroy, derr)
			emit(failed(Event{Phase: PhaseDestroy, ID: sb.ID()}, derr))
			return
		}
		res.Destroyed = true
		emit(Event{Phase: PhaseDestroy, Status: StatusDone, ID: sb.ID()})
	}()

	cwd := sb.Root()
	for i, u := range spec.Uploads {
		dst, sent, err := upload(ctx, sb, u, spec.Transfer, emit)
		if sent {
			reach(err)
		}
		if err != nil {
			fail(PhaseUpload, err)
			return res, nil
		}
		if i == 0 {
			cwd = dst
		}
	}
	if len(spec.Runtimes) > 0 {
		emit(Event{Phase: PhaseRuntime, Status: StatusStart, Runtime: strings.Join(spec.Runtimes, ",")})
		rs, err := sb.EnsureRuntimes(ctx, spec.Runtimes, false)
		reach(err)
		if err == nil {
			for _, r := range rs {
				if r.ExitCode != 0 {
					msg := strings.TrimSpace(r.Stderr)
					if msg == "" {
						msg = strings.TrimSpace(r.Stdout)
					}
					err = &RuntimeError{Spec: r.Spec, ExitCode: r.ExitCode, Output: sc.BoundServerText(msg)}
					break
				}
			}
		}
		if err != nil {
			ev := failedIn(ctx, Event{Phase: PhaseRuntime, Runtime: strings.Join(spec.Runtimes, ",")}, err)
			fail(PhaseRuntime, ev.Err)
			emit(ev)
			return res, nil
		}
		emit(Event{Phase: PhaseRuntime, Status: StatusDone, Runtime: strings.Join(spec.Runtimes, ",")})
	}

	emit(Event{Phase: PhaseExec, Status: StatusStart, Command: spec.Command, Cwd: cwd})
	// The Worker reports the timeout itself; Run's own bound
	// (sc.CommandGrace) catches a Worker that never does.
	r, err := sb.Run(ctx, spec.Command, sc.ExecOptions{Cwd: cwd, Env: spec.Env, Timeout: spec.Timeout}, stdout, stderr)
	reach(err)
	if err != nil {
		if ctx.Err() != nil {
			emit(failedIn(ctx, Event{Phase: PhaseExec, Command: spec.Command, Cwd: cwd}, err))
			return res, nil
		}
		fail(PhaseExec, err)
		emit(failed(Event{Phase: PhaseExec, Command: spec.Command, Cwd: cwd}, err))
	} else {
		raw := r.ExitCodeRaw
		if raw == "" {
			raw = json.Number(strconv.Itoa(r.ExitCode))
		}
		res.Ran, res.ExitCode, res.ExitCodeRaw = true, r.ExitCode, &raw
		code, d := raw, r.Duration
		emit(Event{Phase: PhaseExec, Status: StatusDone, Command: spec.Command, ExitCode: &code, Duration: &d})
	}

	links := &createdLinks{}
	for _, d := range spec.Downloads {
		if ctx.Err() != nil {
			return res, nil
		}
		err := download(ctx, sb, d, cwd, spec.Transfer, emit, links)
		reach(err)
		if err != nil {
			fail(PhaseDownload, err)
		}
	}
	return res, nil
}

// CodeInterrupted is the code of the failed event of the step an
// interruption cut short (see failedIn).
const CodeInterrupted = "E_INTERRUPTED"

// Interruption names what ended ctx: the signal ("SIGINT", "SIGTERM") when
// its cause has a Signal method returning it (as the nimbus command's
// does), else "canceled".
func Interruption(ctx context.Context) string {
	var sc interface{ Signal() os.Signal }
	if errors.As(context.Cause(ctx), &sc) {
		switch sc.Signal() {
		case os.Interrupt:
			return "SIGINT"
		case syscall.SIGTERM:
			return "SIGTERM"
		}
		return sc.Signal().String()
	}
	return "canceled"
}

// CodeRuntimeInstall is the code of a RuntimeError.
const CodeRuntimeInstall = "E_RUNTIME_INSTALL"

// RuntimeError is a runtime that could not be installed.
type RuntimeError struct {
	// Spec is the runtime spec that failed to install, "name" or
	// "name@version".
	Spec string
	// ExitCode is the installer's exit code, never 0.
	ExitCode int
	// Output is the installer's trimmed standard error, or its standard
	// output when stderr was empty, to say why (at most
	// sc.MaxServerText bytes of it, with a note of what was cut).
	Output string
}

// Error names the runtime and the installer's output.
func (e *RuntimeError) Error() string {
	msg := fmt.Sprintf("installing %s failed with exit code %d", e.Spec, e.ExitCode)
	if e.Output != "" {
		msg += ": " + e.Output
	}
	return msg
}

func failed(e Event, err error) Event {
	e.Status, e.Error, e.Err = StatusFailed, err.Error(), err
	var re *sc.RemoteError
	var ce *sc.Error
	var te *transfer.Error
	var pe *transfer.PartialError
	switch {
	case errors.As(err, &pe):
		e.Code, e.Failures = transfer.CodePartial, pe.Failures
	case errors.As(err, &te):
		e.Code = te.Code
	case errors.As(err, &re):
		e.Code = re.Code
	case errors.As(err, &ce):
		e.Code = ce.Code
	case errors.As(err, new(*RuntimeError)):
		e.Code = CodeRuntimeInstall
	}
	return e
}

// failedIn is failed for a step of the job: one that ctx's end cut short
// is said as such ("interrupted", E_INTERRUPTED), whatever the cut left
// as its error ("context canceled", a half-done tree). Its Err is then
// ctx's, which the step returns, so that Run does not count the step as a
// failure of its phase.
func failedIn(ctx context.Context, e Event, err error) Event {
	if ctx.Err() == nil {
		return failed(e, err)
	}
	e = failed(e, ctx.Err())
	e.Interrupted = Interruption(ctx)
	e.Code, e.Error = CodeInterrupted, "interrupted by "+e.Interrupted
	return e
}

func summaryEvent(e Event, s *transfer.Summary) Event {
	if s != nil {
		files, bytes := s.Files, s.Bytes
		e.Files, e.Bytes = &files, &bytes
	}
	return e
}

// upload copies one input and returns the sandbox directory it landed in
// (a file's parent directory). sent is false when it failed before sending
// any request: its local source is missing.
func upload(ctx context.Context, sb *sc.Sandbox, u Upload, o transfer.Options, emit func(Event)) (dir string, sent bool, err error) {
	o.MkPath = true // a step's destination is made, parents and all
	remote := sc.ResolvePath(sb.Root(), u.Remote)
	fi, statErr := os.Stat(u.Local)
	isDir := statErr == nil && fi.IsDir()
	if !isDir && (u.Remote == "" || strings.HasSuffix(u.Remote, "/")) {
		remote = path.Join(remote, filepath.Base(u.Local))
	}
	ev := Event{Phase: PhaseUpload, Local: u.Local, Remote: remote}
	start := ev
	start.Status = StatusStart
	emit(start)
	var sum *transfer.Summary
	dir = remote
	if isDir {
		// Asked first, as transfer.Upload asks for cp: a Worker that
		// refuses the sandbox (a token pinned to another id, a missing
		// scope) then fails the step with its own error, where the tree
		// copy would report it once per path as a partial copy.
		if _, err = sb.Stat(ctx, remote); err == nil {
			sum, err = transfer.UploadTree(ctx, sb, u.Local, remote, o)
		}
	} else {
		o.Recursive = true
		sum, err = transfer.Upload(ctx, sb, u.Local, remote, o) // reports a missing source
		dir = path.Dir(remote)
		if err == nil {
			// Upload put it inside an existing directory of that name.
			if st, serr := sb.Stat(ctx, remote); serr == nil && st != nil && st.Type == "directory" {
				dir = remote
			}
		}
	}
	// A missing source fails in transfer.Upload before its first request
	// (unless it appeared since the Stat above, and then it was sent).
	sent = statErr == nil || err == nil
	if err != nil {
		ev = failedIn(ctx, summaryEvent(ev, sum), err)
		emit(ev)
		return "", sent, ev.Err
	}
	ev.Status = StatusDone
	emit(summaryEvent(ev, sum))
	return dir, sent, nil
}

// createdLinks are the symlinks the job's downloads made, by absolute
// path. Their targets are the sandbox's text: a later download never
// writes through one, or `--download out:out --download logs:out/logs`
// with out/logs made a symlink in the sandbox would put the second
// artifact wherever the sandbox chose.
type createdLinks struct {
	mu    sync.Mutex
	paths map[string]bool
}

// observer wraps o to record the symlinks a download makes.
func (c *createdLinks) observer(o transfer.Observer) transfer.Observer {
	return linkRecorder{Observer: o, links: c}
}

func (c *createdLinks) add(p string) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return
	}
	// Kept in the form on walks paths in: its directory with every
	// symlink resolved (a working directory under /tmp is under
	// /private/tmp on macOS).
	dir, _ := walkPath(filepath.Dir(abs), nil)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paths == nil {
		c.paths = map[string]bool{}
	}
	c.paths[filepath.Join(dir, filepath.Base(abs))] = true
}

// on returns the created symlink that p is or goes through, if any. p is
// walked name by name as the system resolves it, not in its cleaned form:
// in out/logs/../x the system follows the link out/logs before it applies
// "..", so the path goes through the link, though out/x does not.
func (c *createdLinks) on(p string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, link := walkPath(p, c.paths)
	return link
}

// maxLinkHops bounds the symlinks walkPath follows (the system gives up
// with ELOOP after as many).
const maxLinkHops = 40

// walkPath resolves p name by name as the system does, following the
// symlinks on disk, and returns the path it resolves to, or, as soon as it
// reaches one, the first path of stop it goes through (which it does not
// follow). Names that do not exist yet are taken as they are.
func walkPath(p string, stop map[string]bool) (resolved, stopped string) {
	if !filepath.IsAbs(p) {
		wd, err := os.Getwd()
		if err != nil {
			return p, ""
		}
		p = wd + string(filepath.Separator) + p // not Join, which cleans
	}
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r < utf8.RuneSelf && os.IsPathSeparator(uint8(r)) })
	}
	vol := filepath.VolumeName(p)
	cur, rest := vol+string(filepath.Separator), split(p[len(vol):])
	for hops := 0; len(rest) > 0; {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case ".":
			continue
		case "..":
			// cur is no symlink (those were followed): its parent is
			// where ".." leads.
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, name)
		if stop[next] {
			return next, next
		}
		fi, err := os.Lstat(next)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		target, err := os.Readlink(next)
		if hops++; err != nil || hops > maxLinkHops {
			return next, ""
		}
		if filepath.IsAbs(target) {
			v := filepath.VolumeName(target)
			cur, target = v+string(filepath.Separator), target[len(v):]
		}
		rest = append(split(target), rest...)
	}
	return cur, ""
}

type linkRecorder struct {
	transfer.Observer
	links *createdLinks
}

func (r linkRecorder) Event(e transfer.Event) {
	if e.Kind == transfer.Copied && e.Type == transfer.TypeSymlink && !e.Upload {
		r.links.add(e.Local)
	}
	r.Observer.Event(e)
}

// localOS is the system downloads write to: runtime.GOOS, set otherwise
// only by tests (SetLocalOS) to check the Windows rules on any system.
var localOS = runtime.GOOS

// download copies one artifact (see Download).
func download(ctx context.Context, sb *sc.Sandbox, d Download, cwd string, o transfer.Options, emit func(Event), links *createdLinks) error {
	o.MkPath = true // an artifact's destination is made, parents and all
	remote := sc.ResolvePath(cwd, d.Remote)
	local := d.Local
	o.Recursive = true
	o.Ignore = ignore.Options{NoGitIgnore: true, NoIgnoreFile: true, IncludeVCS: true}
	st, err := sb.Stat(ctx, remote)
	isDir := err == nil && st != nil && st.Type == "directory"
	if local == "" {
		local = "."
		if b := path.Base(remote); isDir && b != "/" {
			local = b
			// The name is the sandbox's: checked as a tree's names are.
			if problem := transfer.LocalNameProblem(localOS, b); problem != "" && err == nil {
				err = &transfer.Error{Code: transfer.CodeUnsafePath, Message: fmt.Sprintf("%s: not copied: %s", remote, problem)}
			}
		}
	}
	ev := Event{Phase: PhaseDownload, Local: local, Remote: remote}
	start := ev
	start.Status = StatusStart
	emit(start)
	if err == nil {
		// A directory's contents go into local, a file to local or into
		// it: local may not be, or go through, a symlink an earlier
		// download made. (A file is written next to its name and renamed
		// over it, which replaces a symlink there rather than follow it.)
		if l := links.on(local); l != "" {
			target, _ := os.Readlink(l)
			err = &transfer.Error{Code: transfer.CodeUnsafePath, Message: fmt.Sprintf("%s: not written through %s, a symlink an earlier download of this run made (to %q)", local, l, target)}
		}
	}
	if o.Observer == nil {
		o.Observer = transfer.ObserverFuncs{}
	}
	o.Observer = links.observer(o.Observer)
	var sum *transfer.Summary
	switch {
	case err != nil:
	case isDir:
		sum, err = transfer.DownloadTree(ctx, sb, remote, local, o)
	default:
		sum, err = transfer.Download(ctx, sb, remote, local, o) // reports a missing artifact
	}
	if err != nil {
		ev = failedIn(ctx, summaryEvent(ev, sum), err)
		emit(ev)
		return ev.Err
	}
	ev.Status = StatusDone
	emit(summaryEvent(ev, sum))
	return nil
}
