// Package interactive runs the sessions a person has with a Nimbus
// sandbox: a line-mode shell on a named shell of the sandbox (spec
// sandbox-api §2.2), from a script or on a terminal with line editing and
// history, and attaching to a background process (§2.5) to follow its
// output and feed its input.
//
// Everything goes through a *sandboxclient.Sandbox, so sessions work the
// same against a deployed Worker and `nimbus dev`. The package never prints
// on its own: it writes to the terminal and writers it is given, and
// reports what it cannot show through callbacks.
package interactive

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// ShellIDPrefix starts the names of shells this package creates.
const ShellIDPrefix = "nimbus-shell-"

// InterruptGrace is how long a command that was sent SIGINT may take to
// exit before its stream is closed, which kills it.
const InterruptGrace = 2 * time.Second

// ExitInterrupted is the exit code of a line stopped by an interrupt.
const ExitInterrupted = 130

// ExitTimeout is the exit code of a line that ran out of its Timeout, as
// the Worker reports it, and as the shell gives it when the Worker did
// not end the line within the timeout plus sandboxclient.CommandGrace.
const ExitTimeout = 124

// maxLine bounds one line of a script (a longer one is an error).
const maxLine = 1 << 20

// NewShellID returns a fresh shell name, nimbus-shell-<8 hex digits>.
func NewShellID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return ShellIDPrefix + hex.EncodeToString(b)
}

// ValidShellID reports whether id is a valid shellId:
// ^[A-Za-z0-9][A-Za-z0-9._:-]*$, at most 160 characters.
func ValidShellID(id string) bool {
	if id == "" || len(id) > 160 || !alnum(id[0]) {
		return false
	}
	for i := 1; i < len(id); i++ {
		if c := id[i]; !alnum(c) && c != '.' && c != '_' && c != ':' && c != '-' {
			return false
		}
	}
	return true
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }

// ShellOptions configure a Shell.
type ShellOptions struct {
	// ShellID names the server's shell; "" creates a new one (NewShellID).
	// Naming an existing shell rejoins it, with its cwd and environment.
	ShellID string
	// Timeout bounds each line (exit code 124); 0 means none.
	Timeout time.Duration
}

// Shell runs lines on one named shell of a sandbox, so that cd, export and
// shell variables carry over between lines exactly as the server keeps
// them. Lines run one at a time.
type Shell struct {
	sb      *sc.Sandbox
	id      string
	timeout time.Duration

	mu   sync.Mutex
	seq  int
	last int
}

// NewShell returns a shell on sb. It sends nothing until the first line.
func NewShell(sb *sc.Sandbox, o ShellOptions) (*Shell, error) {
	id := o.ShellID
	if id == "" {
		id = NewShellID()
	}
	if !ValidShellID(id) {
		return nil, &sc.Error{Code: sc.CodeInvalidArgument, Message: "invalid shell name " + strconv.Quote(id) + ": use letters, digits and . _ : - (at most 160, starting with a letter or digit)"}
	}
	return &Shell{sb: sb, id: id, timeout: o.Timeout}, nil
}

// ID returns the shell's name, to rejoin it later.
func (s *Shell) ID() string { return s.id }

// LastExit returns the exit code of the last line (0 before any).
func (s *Shell) LastExit() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// execID tags the processes of one line, so an interrupt can find them.
func (s *Shell) execID() string {
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	suffix := "." + strconv.Itoa(n)
	base := s.id
	if len(base)+len(suffix) > 160 {
		base = base[:160-len(suffix)]
	}
	return base + suffix
}

// Run runs one line on the shell, streaming its output to stdout and
// stderr as it arrives, and returns its exit code.
//
// A value on interrupts stops the line as Ctrl-C stops a local command:
// the processes the line started get SIGINT (where the server lists
// them) and InterruptGrace to exit, then the stream is closed, which
// kills the command; a second value closes it at once. The shell itself
// stays, with the cwd and environment of the last line that completed.
// An interrupted line returns ExitInterrupted unless it exited by itself.
//
// Failures of nimbus (transport, credentials, server errors) are errors;
// the line's own failure is only its exit code.
func (s *Shell) Run(ctx context.Context, line string, stdout, stderr io.Writer, interrupts <-chan struct{}) (int, error) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	execID := s.execID()
	type result struct {
		r   *sc.ExecResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := s.sb.Run(lctx, line, sc.ExecOptions{ShellID: s.id, ExecID: execID, Timeout: s.timeout}, stdout, stderr)
		done <- result{r, err}
	}()
	interrupted := false
	for {
		select {
		case res := <-done:
			code := 0
			switch {
			case res.err == nil:
				// As reported: a code outside 0-255 is the caller's to
				// judge (masked, 256 would look like success).
				code = res.r.ExitCode
			case interrupted && errors.Is(res.err, context.Canceled) && ctx.Err() == nil:
				code = ExitInterrupted
			case sc.HasCode(res.err, sc.CodeTimeout) && ctx.Err() == nil:
				// The stream was closed, which cancelled the line.
				code = ExitTimeout
			default:
				return 0, res.err
			}
			s.mu.Lock()
			s.last = code
			s.mu.Unlock()
			return code, nil
		case <-interrupts:
			if interrupted {
				cancel()
				continue
			}
			interrupted = true
			go func() {
				if s.signalLine(lctx, execID, "SIGINT") == 0 {
					cancel()
					return
				}
				t := time.NewTimer(InterruptGrace)
				defer t.Stop()
				select {
				case <-t.C:
					cancel()
				case <-lctx.Done():
				}
			}()
		}
	}
}

// signalLine sends sig to the running processes tagged with execID and
// returns how many it reached. Servers that do not list a line's
// processes reach none.
func (s *Shell) signalLine(ctx context.Context, execID, sig string) int {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ps, err := s.sb.ListProcesses(ctx)
	if err != nil {
		return 0
	}
	n := 0
	for _, p := range ps {
		if p.ExecID != execID || p.ExitCode != nil || p.State == "exited" || p.State == "killed" {
			continue
		}
		if ack, err := s.sb.SignalProcess(ctx, p.PID, sig); err == nil && ack.OK {
			n++
		}
	}
	return n
}

// Cwd asks the shell for its working directory.
func (s *Shell) Cwd(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	r, err := s.sb.Exec(ctx, "pwd", sc.ExecOptions{ShellID: s.id})
	if err != nil {
		return "", err
	}
	cwd := strings.TrimRight(r.Stdout, "\r\n")
	if r.ExitCode != 0 || !strings.HasPrefix(cwd, "/") || strings.Contains(cwd, "\n") {
		return "", &sc.Error{Code: sc.CodeBadResponse, Message: "the shell did not report its directory"}
	}
	return cwd, nil
}

// ParseExit recognises the exit builtin, which ends the session locally
// instead of running remotely: "exit" gives the last exit code, "exit N"
// gives N modulo 256. Any other line gives ok false.
func ParseExit(line string, last int) (code int, ok bool) {
	f := strings.Fields(line)
	if len(f) == 0 || f[0] != "exit" || len(f) > 2 {
		return 0, false
	}
	if len(f) == 1 {
		return last, true
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, false
	}
	return n & 0xff, true
}

// skippable reports lines that run nothing: blank ones and comments.
func skippable(line string) bool {
	t := strings.TrimSpace(line)
	return t == "" || strings.HasPrefix(t, "#")
}

// RunScript runs the lines of r one by one, as a shell reads a script that
// is piped to it: each line's output goes to stdout and stderr, nothing
// else is written, and the result is the last line's exit code. Blank
// lines and comments run nothing; a command that spans lines (a backslash
// at a line's end, an open quote, block or here-document: incomplete) is
// run whole once it ends, or at the end of the input; "exit [N]" stops. Cancelling ctx stops the running line
// (its stream is closed, which kills it) and returns ctx's error.
// done, when set, is called after each line with its exit code and how
// long it took.
func (s *Shell) RunScript(ctx context.Context, r io.Reader, stdout, stderr io.Writer, done func(code int, took time.Duration) error) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var pending []string
	var joiner lineJoiner
	for {
		line, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		eof := errors.Is(err, io.EOF)
		cont := joiner.opens(line)
		if line != "" || !eof {
			pending = append(pending, line)
		}
		if len(pending) > 0 && (!cont || eof) {
			cmd := strings.Join(pending, "\n")
			pending = pending[:0]
			joiner.end()
			if code, ok := ParseExit(cmd, s.LastExit()); ok {
				return code, nil
			}
			if !skippable(cmd) {
				start := time.Now()
				code, rerr := s.Run(ctx, cmd, stdout, stderr, nil)
				if rerr != nil {
					return 0, rerr
				}
				if done != nil {
					if err := done(code, time.Since(start)); err != nil {
						return 0, err
					}
				}
			}
		}
		if eof {
			return s.LastExit(), nil
		}
	}
}

// readLine reads one line without its line ending ("\n" or "\r\n").
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		b = append(b, chunk...)
		if len(b) > maxLine {
			return "", &sc.Error{Code: sc.CodeInvalidArgument, Message: "a line of the script is longer than " + strconv.Itoa(maxLine>>20) + " MiB"}
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(b) > 0 {
				return string(b), io.EOF
			}
			return string(b), err
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}
