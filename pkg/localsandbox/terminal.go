package localsandbox

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox/internal/sandboxinit"
	"github.com/nimbus-sh/nimbus/pkg/terminal/frame"
)

// The session terminal (/s/<id>/ws, terminal-ws.md §13): one real PTY per
// sandbox running the user's shell in the sandbox root. It outlives its
// sockets: output is kept in a bounded scrollback ring and replayed to the
// next socket that attaches, and one socket at a time owns it.

// Defaults of the terminal options.
const (
	// DefaultTerminalScrollback is the size of the scrollback replayed on
	// attach, as upstream's 1 MiB.
	DefaultTerminalScrollback = 1 << 20
	// DefaultTerminalOwnerTimeout is how long a socket keeps the terminal
	// after its peer was last heard, as upstream's 120 s.
	DefaultTerminalOwnerTimeout = 120 * time.Second
	// DefaultTerminalIdleTimeout is how long a socket's peer may be
	// silent before the server pings it (see Options.TerminalIdleTimeout):
	// the owner timeout, after which the socket has lost its claim on the
	// terminal anyway.
	DefaultTerminalIdleTimeout = DefaultTerminalOwnerTimeout
)

const (
	// terminalReadLimit bounds one message from a client (a paste).
	terminalReadLimit = 1 << 20
	// terminalPending bounds the output waiting for a slow client; beyond
	// it the shell's output is held back until the client catches up or
	// its socket is closed.
	terminalPending = 1 << 20
	// terminalWriteTimeout is how long a client may take to accept one
	// frame before its socket is closed.
	terminalWriteTimeout = 30 * time.Second
	// terminalPendingInput bounds the input waiting for the PTY to take
	// it (a program that does not read, in raw mode); beyond it the
	// socket is read no further until the PTY has taken some, the owner
	// goes or the terminal ends.
	terminalPendingInput = 1 << 20
	// terminalFrameData bounds the terminal bytes of one output frame.
	terminalFrameData = 256 << 10
	// terminalDrain is how long the output of an exited shell is read
	// before its terminal closes (a background job may hold the PTY).
	terminalDrain = 250 * time.Millisecond
	// claimGrace is how long an attach waits for a live owner that may be
	// going away before it answers 409.
	claimGrace = 300 * time.Millisecond
	// terminalHangup is how long the processes of a closing terminal get
	// between SIGHUP and SIGKILL.
	terminalHangup = 100 * time.Millisecond
	// terminalSettle bounds how long the close of an exited shell's
	// terminal waits for the client to answer a ping (see termConn.settle).
	terminalSettle = 2 * time.Second
)

// Close codes and reasons of the terminal socket. 1000 and 1001 are
// upstream's; 1012 is this server going away, after which a client may
// reconnect to the next one.
const (
	terminalClosed    = "terminal closed"
	sessionDestroyed  = "session destroyed"
	terminalTakenOver = "terminal taken over"
	serverShutdown    = "server shutting down"
	// clientSilent closes, with 1008, a socket whose peer was silent for
	// the idle timeout and did not answer a WebSocket ping. Not 1001,
	// after which a client stops (another took the terminal over): a
	// client that was only cut off reconnects, and finds its terminal.
	clientSilent = "client silent"
)

// errTerminalBusy is the conflict of a second live attach.
var errTerminalBusy = errors.New("session already has active terminal")

// scrollback keeps the last size bytes of a terminal's output.
type scrollback struct {
	size    int
	buf     []byte
	dropped bool // bytes were evicted: the start is arbitrary
}

// write appends p, evicting the oldest bytes beyond size; the buffer is
// compacted only when it reaches twice the size, so appends stay cheap.
func (r *scrollback) write(p []byte) {
	r.buf = append(r.buf, p...)
	if len(r.buf) >= 2*r.size {
		n := copy(r.buf, r.buf[len(r.buf)-r.size:])
		r.buf = r.buf[:n]
		r.dropped = true
	}
}

// snapshot returns a copy of the kept output. When older output was
// evicted the copy starts at a line start (or at least at a character),
// so that a replay does not begin inside an escape sequence.
func (r *scrollback) snapshot() []byte {
	b := r.buf
	if len(b) > r.size {
		b = b[len(b)-r.size:]
	}
	if r.dropped || len(r.buf) > r.size {
		if i := indexByteWithin(b, '\n', 64<<10); i >= 0 {
			b = b[i+1:]
		} else {
			for len(b) > 0 && !utf8.RuneStart(b[0]) {
				b = b[1:]
			}
		}
	}
	return append([]byte(nil), b...)
}

func indexByteWithin(b []byte, c byte, limit int) int {
	for i := 0; i < len(b) && i < limit; i++ {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// terminal is the PTY of one sandbox and the shell on it.
type terminal struct {
	sb         *sandbox
	ptmx       *os.File
	cmd        *sandboxinit.Cmd
	readerDone chan struct{} // the PTY reader returned

	mu     sync.Mutex
	cond   *sync.Cond // signalled when pending output shrinks or an owner goes
	ring   scrollback
	owner  *termConn
	ended  bool
	cols   int
	rows   int
	finish sync.Once
	// in is the input the PTY has not taken yet. The terminal closes the
	// PTY itself (it reads it too), so in has no closer.
	in *inputQueue
}

// termConn is one socket attached to a terminal.
type termConn struct {
	t     *terminal
	heard atomic.Int64 // when the peer was last heard, in Unix nanoseconds
	// alive is when a WebSocket ping or pong last came from the peer (Unix
	// nanoseconds): it proves the peer alive, not that it wants the
	// terminal (upstream counts messages only for that).
	alive atomic.Int64
	// blocked says the reader waits for room in the terminal's input:
	// the socket is not being read, so the peer cannot be heard.
	blocked atomic.Bool
	wake    chan struct{}
	done    chan struct{} // the writer returned
	left    chan struct{} // closed when it stops being the owner
	leave   sync.Once

	// Guarded by t.mu.
	ws      *websocket.Conn
	pending []byte
	closing bool
	code    websocket.StatusCode
	reason  string
	gone    bool
	// settle says the close frame waits until the frames the peer sent
	// before it could learn of the close were handled (see settle).
	settleFirst bool
}

// TerminalShellStatus says which shell the session terminal starts.
type TerminalShellStatus struct {
	// Shell is the shell a new terminal starts.
	Shell string `json:"shell"`
	// Reason says why Shell is not Options.TerminalShell; "" when it is,
	// or when none was given.
	Reason string `json:"reason,omitempty"`
}

// TerminalShell reports which shell a new session terminal starts, and
// why it is not Options.TerminalShell when it is not. Call it after
// Isolation: the namespaces hide some host paths, and until a command
// confirmed them the shell is judged by the mode the server expects.
func (s *Server) TerminalShell() TerminalShellStatus {
	sh, why := s.terminalShell()
	return TerminalShellStatus{Shell: sh, Reason: why}
}

// terminalShell returns the shell of the terminal: the configured one
// when the sandbox can run it, else the command shell and why (a reason
// that names no host path: terminals show it to their clients).
func (s *Server) terminalShell() (shell, why string) {
	sh := s.opts.TerminalShell
	switch {
	case sh == "":
		return s.opts.Shell, ""
	case s.termShellFailed.Load():
		return s.opts.Shell, "it could not start in a sandbox"
	case !filepath.IsAbs(sh):
		return s.opts.Shell, "it is not an absolute path"
	}
	if fi, err := os.Stat(sh); err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return s.opts.Shell, "it is not an executable file"
	}
	if s.iso.current() == sandboxinit.Namespaces {
		if d := hiddenInNamespaces(sh); d != "" {
			return s.opts.Shell, "it is under " + d + ", which commands in namespaces see as the sandbox's own"
		}
	}
	return sh, ""
}

// hiddenInNamespaces returns the directory that hides host path p from
// commands in namespaces, or "" when they see it. The mount namespace
// (sandboxinit's mountSandbox) puts the sandbox's own directories on /tmp
// and /home/user and a new /proc; every other host path stays, the other
// home directories bound back. p is checked as given and with its links
// resolved, against those directories as given and with theirs resolved
// (/home may be a link to /var/home). What the check cannot see (a bind
// that failed, an interpreter or loader under a hidden directory) shows
// when the shell does not start: attachTerminal falls back then.
func hiddenInNamespaces(p string) string {
	paths := []string{filepath.Clean(p)}
	if r, err := filepath.EvalSymlinks(p); err == nil && r != paths[0] {
		paths = append(paths, r)
	}
	for _, d := range []string{"/tmp", "/home/user", "/proc"} {
		dirs := []string{d}
		parent, base := filepath.Split(d)
		if r, err := filepath.EvalSymlinks(filepath.Clean(parent)); err == nil {
			if rd := filepath.Join(r, base); rd != d {
				dirs = append(dirs, rd)
			}
		}
		if r, err := filepath.EvalSymlinks(d); err == nil && r != d {
			dirs = append(dirs, r)
		}
		for _, x := range dirs {
			for _, q := range paths {
				if q == x || strings.HasPrefix(q, x+"/") {
					return d
				}
			}
		}
	}
	return ""
}

// shellExecFailed reports whether err is the exec of path failing because
// of the file (ENOENT for a file or interpreter the sandbox does not see,
// EACCES, ENOEXEC and the like), as the init and os/exec report it, and
// returns the errno's text. A fork/exec that failed for want of processes,
// descriptors or memory (EAGAIN, EMFILE, ENOMEM), or for a moment
// (ETXTBSY while the shell is being updated), is no fault of the shell:
// it is not, or the command shell would stand in for it in every later
// terminal and hide the server's trouble. The text says the failure is
// the exec of path (not a chdir before it); the errno, which both the
// init's report and os/exec's error carry, says why.
func shellExecFailed(err error, path string) (string, bool) {
	if !strings.HasPrefix(err.Error(), "fork/exec "+path+": ") {
		return "", false
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return "", false
	}
	for _, e := range shellFaults {
		if errno == e {
			return errno.Error(), true
		}
	}
	return "", false
}

// shellFaults are the errnos of an exec that the file being exec'd (or
// its interpreter or loader) causes, and that trying again will not cure.
var shellFaults = []syscall.Errno{syscall.ENOENT, syscall.EACCES, syscall.ENOEXEC,
	syscall.ENOTDIR, syscall.ELOOP, syscall.ENAMETOOLONG, syscall.EPERM, syscall.EISDIR}

// attachTerminal returns the sandbox's live terminal, starting one (a new
// shell on a new PTY) when there is none.
func (sb *sandbox) attachTerminal() (*terminal, error) {
	sb.termMu.Lock()
	defer sb.termMu.Unlock()
	sb.mu.Lock()
	t, closed := sb.term, sb.closed
	sb.mu.Unlock()
	if closed {
		return nil, errBackendClosed
	}
	if t != nil && !t.isEnded() {
		return t, nil
	}
	if err := sb.ensureDir("/home/user"); err != nil {
		return nil, errors.New(err.Message)
	}
	dir, aerr := sb.hostDir("/home/user")
	if aerr != nil {
		return nil, errors.New(aerr.Message)
	}
	shell, why := sb.s.terminalShell()
	start := func(shell string) (*os.File, *sandboxinit.Cmd, error) {
		req := &execReq{cwd: "/home/user", hostCwd: dir, optEnv: map[string]string{"SHELL": shell, "TERM": "xterm-256color"}}
		return sb.startPTY(req, shell, 80, 24)
	}
	ptmx, c, err := start(shell)
	if err != nil && shell != sb.s.opts.Shell {
		if errno, failed := shellExecFailed(err, shell); failed {
			// The shell is there on the host, but the sandbox cannot run
			// it (what hiddenInNamespaces cannot see): a terminal with the
			// command shell serves better than none, and says so. Later
			// terminals do not try it again.
			if sb.s.termShellFailed.CompareAndSwap(false, true) && sb.s.opts.Logf != nil {
				sb.s.opts.Logf("terminal in sandbox %s: the terminal shell %s cannot start in a sandbox (%s); terminals run %s instead", sb.id, shell, errno, sb.s.opts.Shell)
			}
			why = "it could not start in this sandbox (" + errno + ")"
			shell = sb.s.opts.Shell
			ptmx, c, err = start(shell)
		}
	}
	if err != nil {
		return nil, err
	}
	t = &terminal{sb: sb, ptmx: ptmx, cmd: c, readerDone: make(chan struct{}), cols: 80, rows: 24}
	t.in = newInputQueue(ptmx, nil, terminalPendingInput)
	t.cond = sync.NewCond(&t.mu)
	t.ring.size = sb.s.opts.TerminalScrollback
	if why != "" {
		// Whoever attaches learns that this is not their shell (the
		// operator of nimbus dev was told on its stderr): the first lines
		// replayed say so, naming the shell by its base name only.
		t.ring.write([]byte("nimbus: the terminal shell " + filepath.Base(sb.s.opts.TerminalShell) + " is not used: " + why + "; this terminal runs " + shell + "\r\n"))
	}
	go t.readLoop()
	go t.waitShell()
	sb.mu.Lock()
	if sb.closed {
		sb.mu.Unlock()
		t.close(websocket.StatusNormalClosure, sessionDestroyed, true)
		return nil, errBackendClosed
	}
	sb.term = t
	sb.mu.Unlock()
	return t, nil
}

func (t *terminal) isEnded() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ended
}

// readLoop copies the PTY's output into the scrollback and to the owner,
// whole characters at a time. It always drains the PTY, so a shell never
// blocks on output nobody reads, except while an attached client is
// behind by terminalPending bytes: then it waits for that client.
func (t *terminal) readLoop() {
	defer close(t.readerDone)
	buf := make([]byte, 32<<10)
	var carry frame.Carry
	var out []byte
	for {
		n, err := t.ptmx.Read(buf)
		if n > 0 {
			out = carry.Append(out[:0], buf[:n])
			t.mu.Lock()
			t.ring.write(out)
			for {
				o := t.owner
				if o == nil || o.gone || o.closing || t.ended {
					break
				}
				if len(o.pending) < terminalPending {
					o.pending = append(o.pending, out...)
					o.signal()
					break
				}
				t.cond.Wait()
			}
			t.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// waitShell ends the terminal when its shell exits.
func (t *terminal) waitShell() {
	_, _ = t.cmd.Wait()
	t.sb.untrack(t.cmd)
	// What the shell printed last (its "exit") reaches the client.
	select {
	case <-t.readerDone:
	case <-time.After(terminalDrain):
	}
	t.close(websocket.StatusNormalClosure, terminalClosed, false)
}

// close ends the terminal once: its processes are hung up and killed, the
// PTY is closed and the owner's socket is closed with code and reason
// after the output it has not been sent yet. It returns the owner's
// writer's done channel (nil when there was no owner), closed once the
// close frame is written.
func (t *terminal) close(code websocket.StatusCode, reason string, now bool) <-chan struct{} {
	var done <-chan struct{}
	t.finish.Do(func() {
		t.mu.Lock()
		t.ended = true
		t.cond.Broadcast() // a reader held back by a slow client lets go
		t.mu.Unlock()
		// Queued input is dropped and a socket waiting for room lets go;
		// closing the PTY below ends a write in progress.
		t.in.close()
		hangup(t.cmd, now)
		_ = t.ptmx.Close()
		<-t.readerDone
		t.mu.Lock()
		o := t.owner
		t.owner = nil
		if o != nil {
			// The shell exited by itself (an exit at the end of a piped
			// script): the client's confirmation of its input may be on
			// its way, and is answered before the close.
			o.settleFirst = !now
			o.closeLocked(code, reason)
			done = o.done
		}
		t.cond.Broadcast()
		t.mu.Unlock()
		t.sb.mu.Lock()
		if t.sb.term == t {
			t.sb.term = nil
		}
		t.sb.mu.Unlock()
	})
	return done
}

// hangup ends the shell's processes: SIGHUP to the shell first, as a
// terminal that goes away does (shells pass it on to their jobs), then,
// after terminalHangup unless now, everything the shell started is killed.
func hangup(c *sandboxinit.Cmd, now bool) {
	if !now && c.Signal(syscall.SIGHUP) == nil {
		time.Sleep(terminalHangup)
	}
	c.Kill()
}

// closeTerminal ends the sandbox's terminal, if any, with code and reason,
// and returns a channel closed once the owner's close frame is written
// (nil when nothing needs waiting for).
func (sb *sandbox) closeTerminal(code websocket.StatusCode, reason string) <-chan struct{} {
	sb.mu.Lock()
	t := sb.term
	sb.mu.Unlock()
	if t == nil {
		return nil
	}
	return t.close(code, reason, true)
}

// claim makes a new socket the owner and returns it with the scrollback to
// replay. While the current owner's peer was heard within the owner
// timeout, it fails with errTerminalBusy; a stale owner is closed with
// 1001.
func (t *terminal) claim(timeout time.Duration) (*termConn, []byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for waited := false; ; waited = true {
		if t.ended {
			return nil, nil, errBackendClosed
		}
		o := t.owner
		if o == nil {
			break
		}
		if o.gone || o.closing || time.Since(time.Unix(0, o.heard.Load())) >= timeout {
			o.closeLocked(websocket.StatusGoingAway, terminalTakenOver)
			break
		}
		if waited {
			return nil, nil, errTerminalBusy
		}
		// A client that detaches and at once attaches again (or hands over
		// to another) closes its socket first, but the close completes on
		// its side a moment before this server has read it: give the
		// owner that moment to go.
		left := o.left
		t.mu.Unlock()
		select {
		case <-left:
		case <-time.After(claimGrace):
		}
		t.mu.Lock()
	}
	c := &termConn{t: t, wake: make(chan struct{}, 1), done: make(chan struct{}), left: make(chan struct{})}
	c.heard.Store(time.Now().UnixNano())
	t.owner = c
	t.cond.Broadcast()
	return c, t.ring.snapshot(), nil
}

// input queues keystrokes for the PTY, which a goroutine writes in
// order. A PTY whose program does not read (in raw mode) blocks writes:
// written here, the socket's reader stopped with it, so pings went
// unanswered and a client that went away was not noticed (the next
// attach got 409 until the owner timeout). While terminalPendingInput
// waits, input waits for room; false means c stopped being the owner or
// the terminal ended meanwhile (the input is dropped with the socket).
func (t *terminal) input(c *termConn, data string) bool {
	if data == "" {
		return true
	}
	switch err := t.in.writeWait(data, c.left); {
	case errors.Is(err, errInputEnded):
		// The PTY refused a write (its queue was dropped) while the
		// terminal lives on: the input is lost but the socket is not,
		// so it still gets the terminal's close code when the shell's
		// end closes it.
		return !t.isEnded()
	case err != nil:
		return false
	}
	return true
}

// resize sets the PTY's window size (the kernel sends SIGWINCH to the
// foreground job); a zero dimension keeps the current one.
func (t *terminal) resize(cols, rows int) {
	t.mu.Lock()
	if cols > 0 {
		t.cols = cols
	}
	if rows > 0 {
		t.rows = rows
	}
	cols, rows = t.cols, t.rows
	ended := t.ended
	t.mu.Unlock()
	if !ended {
		_ = setPTYSize(t.ptmx, cols, rows)
	}
}

func (c *termConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// closeLocked asks the writer to send what is pending, then close the
// socket with code and reason; t.mu is held.
func (c *termConn) closeLocked(code websocket.StatusCode, reason string) {
	if c.closing || c.gone {
		return
	}
	c.closing, c.code, c.reason = true, code, reason
	if c.t.owner == c {
		c.t.owner = nil
	}
	c.leave.Do(func() { close(c.left) })
	c.t.cond.Broadcast()
	c.signal()
}

// closingNow says the socket is being closed (its close frame is on its
// way) or is gone.
func (c *termConn) closingNow() bool {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	return c.closing || c.gone
}

// drop forgets the socket at once: its peer went away or failed. A clean
// disconnect thereby frees the terminal immediately.
func (c *termConn) drop() {
	c.t.mu.Lock()
	c.gone = true
	if c.t.owner == c {
		c.t.owner = nil
	}
	c.leave.Do(func() { close(c.left) })
	ws := c.ws
	c.t.cond.Broadcast()
	c.t.mu.Unlock()
	c.signal()
	if ws != nil {
		_ = ws.CloseNow()
	}
}
