package sandboxinit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults of a Pool.
const (
	// DefaultMaxIdle bounds the idle inits of a pool: each is a process of
	// about 1 MiB of its own memory and two descriptors of this one (its
	// control socket and the pidfd os/exec keeps until the wait). A load
	// spread over more sandboxes than this starts inits again (a few
	// milliseconds each).
	DefaultMaxIdle = 256
	// DefaultIdleTimeout is how long an init may wait for its next
	// command: a sandbox nobody uses holds no process and no descriptor.
	DefaultIdleTimeout = 15 * time.Second
)

// Pool keeps inits between commands. In Namespaces mode an init belongs to
// one sandbox directory (its mounts are that sandbox's) and is reused only
// while that sandbox's home/user and tmp are the directories it mounted;
// in Reaper mode any command may use any idle init. The zero value is
// ready to use; Close kills every init.
type Pool struct {
	// MaxIdle bounds idle inits (the least recently used go first); 0
	// means DefaultMaxIdle, a negative value keeps none.
	MaxIdle int
	// IdleTimeout ends inits idle for longer; 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// StartHook, when set, is called while a command's process is being
	// made: its init has been handed the command and forks and executes
	// the shell. Tests stall a start there to see what else proceeds
	// meanwhile; leave it nil otherwise.
	StartHook func()

	mu     sync.Mutex
	idle   map[poolKey][]*initProc
	nidle  int
	all    map[*initProc]struct{}
	closed bool
	timer  *time.Timer
}

// poolKey says which commands an init can run.
type poolKey struct {
	mode Mode
	dir  string
	// home and tmp identify the directories a Namespaces init mounted.
	home, tmp fileID
}

func (p *Pool) maxIdle() int {
	if p.MaxIdle == 0 {
		return DefaultMaxIdle
	}
	return max(p.MaxIdle, 0)
}

func (p *Pool) idleTimeout() time.Duration {
	if p.IdleTimeout <= 0 {
		return DefaultIdleTimeout
	}
	return p.IdleTimeout
}

func keyOf(mode Mode, dir string) poolKey {
	if mode != Namespaces {
		return poolKey{mode: mode}
	}
	return poolKey{mode: mode, dir: dir, home: idOf(dir + "/home/user"), tmp: idOf(dir + "/tmp")}
}

// get returns an idle init for the command, or starts one; reused says
// which. An *initError means a new init could not set up.
func (p *Pool) get(mode Mode, dir string) (ini *initProc, reused bool, err error) {
	key := keyOf(mode, dir)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, errors.New("sandboxinit: the pool is closed")
	}
	for list := p.idle[key]; len(list) > 0; list = p.idle[key] {
		ini = list[len(list)-1]
		p.removeIdleLocked(key, len(list)-1)
		if !ini.isDead() {
			p.mu.Unlock()
			return ini, true, nil
		}
		go ini.kill()
	}
	p.mu.Unlock()
	ini, err = startInit(mode, dir)
	if err != nil {
		return nil, false, err
	}
	ini.key = key
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		ini.kill()
		return nil, false, errors.New("sandboxinit: the pool is closed")
	}
	if p.all == nil {
		p.all = map[*initProc]struct{}{}
	}
	p.all[ini] = struct{}{}
	p.mu.Unlock()
	return ini, false, nil
}

func (p *Pool) removeIdleLocked(key poolKey, i int) {
	list := p.idle[key]
	list = append(list[:i], list[i+1:]...)
	if len(list) == 0 {
		delete(p.idle, key)
	} else {
		p.idle[key] = list
	}
	p.nidle--
}

// put takes back an init whose command ended cleanly.
func (p *Pool) put(ini *initProc) {
	p.mu.Lock()
	if p.closed || p.maxIdle() == 0 || ini.isDead() {
		delete(p.all, ini)
		p.mu.Unlock()
		ini.kill()
		return
	}
	ini.idleSince = time.Now()
	if p.idle == nil {
		p.idle = map[poolKey][]*initProc{}
	}
	p.idle[ini.key] = append(p.idle[ini.key], ini)
	p.nidle++
	var evict []*initProc
	for p.nidle > p.maxIdle() {
		evict = append(evict, p.oldestLocked())
	}
	if p.timer == nil {
		p.timer = time.AfterFunc(p.idleTimeout(), p.sweep)
	}
	p.mu.Unlock()
	for _, e := range evict {
		e.kill()
	}
}

// drop forgets an init that cannot be reused and ends it.
func (p *Pool) drop(ini *initProc) {
	p.mu.Lock()
	delete(p.all, ini)
	p.mu.Unlock()
	ini.kill()
}

// oldestLocked removes and returns the least recently used idle init.
func (p *Pool) oldestLocked() *initProc {
	var best *initProc
	var bestKey poolKey
	bi := 0
	for k, list := range p.idle {
		// Each list is in the order inits came back: its first is its oldest.
		if best == nil || list[0].idleSince.Before(best.idleSince) {
			best, bestKey, bi = list[0], k, 0
		}
	}
	p.removeIdleLocked(bestKey, bi)
	delete(p.all, best)
	return best
}

// sweep ends the inits idle for longer than the timeout.
func (p *Pool) sweep() {
	cutoff := time.Now().Add(-p.idleTimeout())
	var evict []*initProc
	p.mu.Lock()
	for p.nidle > 0 {
		o := p.peekOldestLocked()
		if o.idleSince.After(cutoff) {
			break
		}
		evict = append(evict, p.oldestLocked())
	}
	p.timer = nil
	if p.nidle > 0 && !p.closed {
		next := time.Until(p.peekOldestLocked().idleSince.Add(p.idleTimeout()))
		p.timer = time.AfterFunc(max(next, 10*time.Millisecond), p.sweep)
	}
	p.mu.Unlock()
	for _, e := range evict {
		e.kill()
	}
}

func (p *Pool) peekOldestLocked() *initProc {
	var best *initProc
	for _, list := range p.idle {
		if best == nil || list[0].idleSince.Before(best.idleSince) {
			best = list[0]
		}
	}
	return best
}

// Idle returns how many inits wait for a command.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nidle
}

// Discard ends the inits of sandbox directory dir, idle or running (their
// commands are killed with them). Call it when the sandbox is destroyed.
func (p *Pool) Discard(dir string) {
	var kill []*initProc
	p.mu.Lock()
	for k, list := range p.idle {
		if k.mode == Namespaces && k.dir == dir {
			for range list {
				p.removeIdleLocked(k, 0)
			}
		}
	}
	for ini := range p.all {
		if ini.key.mode == Namespaces && ini.key.dir == dir {
			kill = append(kill, ini)
			delete(p.all, ini)
		}
	}
	p.mu.Unlock()
	for _, ini := range kill {
		ini.kill()
	}
	for _, ini := range kill {
		ini.waitExit()
	}
}

// Close ends every init, idle or running, and waits for them; the pool
// starts no more.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	var kill []*initProc
	for ini := range p.all {
		kill = append(kill, ini)
	}
	p.all, p.idle, p.nidle = nil, nil, 0
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.mu.Unlock()
	for _, ini := range kill {
		ini.kill()
	}
	for _, ini := range kill {
		ini.waitExit()
	}
}

// initProc is a running init and this side of its control socket.
type initProc struct {
	cmd       *exec.Cmd
	ctl       *os.File
	msgs      *bufio.Reader
	exited    chan struct{} // closed once the init has been reaped
	key       poolKey
	idleSince time.Time
	killOnce  sync.Once
	reapOnce  sync.Once
}

// outOfResources reports a failure to start a process for want of
// descriptors, processes or memory: it says nothing about namespaces.
func outOfResources(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.ENOMEM)
}

// msgBuf sizes the buffer an init's messages are read through: they are
// short lines ("ready <pid>", "exit <code>"; a longer one is read in
// pieces), and up to DefaultMaxIdle inits wait with theirs, so bufio's
// default 4 KiB would be a megabyte of buffers that hold a few bytes.
const msgBuf = 128

// startTimeout bounds the init's setup: a re-executed program and a few
// mounts, normally a few milliseconds.
const startTimeout = 30 * time.Second

// initEnv is the environment of an init: the Go runtime's settings for a
// small supervisor. The commands it starts never see it (each gets the
// environment its run frame carries). One processor's worth of runtime is
// plenty. GOGC=25 bounds the heap: an init allocates about 2 KiB per
// command (the frame, the argv and environment ForkExec copies) and keeps
// almost none of it, so at the default the heap grew towards the
// runtime's 4 MiB minimum goal before a first collection, and an init
// that had run 5,000 commands held about 6 MiB of anonymous memory (3.3
// MiB with a 1 MiB goal) where a fresh one holds 1.2 MiB. The price is
// about 0.3 MiB in an init that has run a few hundred commands, which
// has collected once where it would not have yet. A lower value collects
// right after the package initialisation and costs a fresh init more
// than it saves (docs/benchmarks.md, "Sandbox inits").
var initEnv = []string{"GOMAXPROCS=1", "GOGC=25"}

// startInit starts an init and waits until it is set up.
func startInit(mode Mode, dir string) (*initProc, error) {
	mine, theirs, err := socketPair()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		mine.Close()
		theirs.Close()
		return nil, err
	}
	cmd := &exec.Cmd{Path: selfExe, Args: []string{Name, protocol, mode.String(), dir}, Dir: "/",
		Env: initEnv, Stderr: errW,
		ExtraFiles: []*os.File{theirs}, SysProcAttr: sysProcAttr(mode)}
	err = startProcess(cmd)
	theirs.Close()
	errW.Close()
	if err != nil {
		mine.Close()
		errR.Close()
		if mode == Namespaces && !outOfResources(err) {
			// The kernel refused the namespaces (clone, or the id maps).
			return nil, &SetupError{Reason: err.Error()}
		}
		return nil, err
	}
	ini := &initProc{cmd: cmd, ctl: mine, msgs: bufio.NewReaderSize(mine, msgBuf), exited: make(chan struct{})}
	stderr := drainStderr(errR)
	_ = mine.SetReadDeadline(time.Now().Add(startTimeout))
	line, err := ini.msgs.ReadString('\n')
	_ = mine.SetReadDeadline(time.Time{})
	kind, arg := parseLine(line)
	switch {
	case err == nil && kind == msgInit:
		// The init no longer writes to the pipe (it pointed its stderr
		// elsewhere before it reported): an idle init holds none of this
		// server's descriptors for it.
		errR.Close()
		return ini, nil
	case err == nil && kind == msgSetup && outOfResources(parseFail(arg)):
		// Not the kernel refusing namespaces: the host is short of
		// descriptors, processes or memory for now, and namespaces must
		// not be given up for it.
		err = &initError{parseFail(arg)}
	case err == nil && kind == msgSetup:
		err = &initError{&SetupError{Reason: parseFail(arg).reason}}
	case err == nil && kind == msgFail:
		err = &initError{parseFail(arg)}
	case err == nil:
		err = unexpected(line)
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = errors.New("sandboxinit: the init did not set up within " + startTimeout.String())
	default:
		err = ini.diedBeforeSetup(stderr)
	}
	ini.kill()
	ini.waitExit()
	errR.Close()
	return nil, err
}

// stderrHead bounds what is kept of a dying init's standard error: the
// Go runtime says why it gives up in its first lines ("runtime: failed to
// create new OS thread", "fatal error: out of memory"), before the
// goroutines' stacks.
const stderrHead = 2048

// drainStderr reads an init's standard error until every writer has
// closed it (the init ended, or stopped writing to it once set up) or it
// is closed here, and sends the head of it. It reads all of it, not only
// the head: a dying init whose traceback filled the pipe would otherwise
// block in its write and never end.
func drainStderr(r *os.File) <-chan []byte {
	c := make(chan []byte, 1)
	go func() {
		var head []byte
		buf := make([]byte, 512)
		for {
			n, err := r.Read(buf)
			if k := min(n, stderrHead-len(head)); k > 0 {
				head = append(head, buf[:k]...)
			}
			if err != nil {
				c <- head
				return
			}
		}
	}()
	return c
}

// diedBeforeSetup explains an init that closed its control socket without
// a word: it died, and only its end says how. A shortage of processes or
// memory (the Go runtime cannot make a thread or map memory, or the
// kernel's out-of-memory killer ended it) gives an error holding the
// errno it amounts to, so that the caller answers it as the host out of
// resources for now; anything else (a crash) gives an error naming the
// exit status and, when it names no path, the first line the init wrote,
// never the host paths its stderr may hold.
func (ini *initProc) diedBeforeSetup(stderr <-chan []byte) error {
	ini.reap()
	select {
	case <-ini.exited:
	case <-time.After(startTimeout):
		// Its socket closed but it lives on: not an end this can read.
		return errors.New("sandboxinit: the init closed its control socket before setting up")
	}
	var out []byte
	select {
	case out = <-stderr:
	case <-time.After(startTimeout):
		// A process it left behind holds the pipe: the status alone.
	}
	st := ini.cmd.ProcessState
	ws, _ := st.Sys().(syscall.WaitStatus)
	if errno := shortageOf(ws, out); errno != 0 {
		return &initError{&commandError{reason: "the init could not set up: " + errno.Error(), errno: errno}}
	}
	what := st.String()
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if first != "" && len(first) <= 200 && !strings.Contains(first, "/") {
		what += ": " + first
	}
	return errors.New("sandboxinit: the init ended before setting up (" + what + ")")
}

// shortageOf reads in how an init ended whether it died for want of
// processes or memory, and returns the errno that says which (0 if it did
// not). SIGKILL is what the out-of-memory killer sends (nothing else of
// the host's kills a process that is setting up; this server kills an
// init only after reading its end); the Go runtime exits 2 (built with
// cgo, it aborts) and says why on its stderr: "failed to create new OS
// thread" or "pthread_create failed" (clone failing with EAGAIN under
// RLIMIT_NPROC or a cgroup's pids limit, or ENOMEM), "out of memory", or
// the errno's own words in a panic.
func shortageOf(ws syscall.WaitStatus, stderr []byte) syscall.Errno {
	if ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		return syscall.ENOMEM
	}
	if ws.Exited() && ws.ExitStatus() == 0 {
		return 0
	}
	s := string(stderr)
	switch {
	case strings.Contains(s, "failed to create new OS thread") || strings.Contains(s, "pthread_create failed"):
		if strings.Contains(s, "errno=12") || strings.Contains(s, syscall.ENOMEM.Error()) {
			return syscall.ENOMEM
		}
		return syscall.EAGAIN
	case strings.Contains(s, "out of memory") || strings.Contains(s, syscall.ENOMEM.Error()):
		return syscall.ENOMEM
	case strings.Contains(s, syscall.EAGAIN.Error()):
		return syscall.EAGAIN
	case strings.Contains(s, syscall.EMFILE.Error()):
		return syscall.EMFILE
	case strings.Contains(s, syscall.ENFILE.Error()):
		return syscall.ENFILE
	}
	return 0
}

func (ini *initProc) pid() int { return ini.cmd.Process.Pid }

// isDead reports whether an idle init has ended: its end of the control
// socket is closed (an idle init sends nothing, so anything to read is
// the end). Nothing waits for an init while it lives: a thread blocked in
// wait per init would be hundreds of threads.
func (ini *initProc) isDead() bool {
	select {
	case <-ini.exited:
		return true
	default:
	}
	fd := fdOf0(ini.ctl)
	p := []pollFd{{fd: int32(fd), events: pollIn}}
	if n, err := pollNow(p); err != nil || n > 0 {
		ini.reap()
		return true
	}
	return false
}

// reap waits for the init's end in the background, once; exited is closed
// then. The wait is in the poller (awaitExit) and Wait then returns at
// once: an evicted init's end holds no thread of the server.
func (ini *initProc) reap() {
	ini.reapOnce.Do(func() {
		go func() {
			awaitExit(ini.pid())
			_ = ini.cmd.Wait()
			close(ini.exited)
		}()
	})
}

// kill ends the init and everything it runs at once.
func (ini *initProc) kill() {
	ini.killOnce.Do(func() {
		_ = ini.cmd.Process.Kill()
		_ = ini.ctl.Close()
		ini.reap()
	})
}

// waitExit waits (boundedly) until the init has been reaped.
func (ini *initProc) waitExit() {
	ini.reap()
	select {
	case <-ini.exited:
	case <-time.After(startTimeout):
	}
}

func (ini *initProc) write(b []byte) error {
	_, err := ini.ctl.Write(b)
	return err
}

// sendRun sends a run frame with the command's files.
func (ini *initProc) sendRun(frame []byte, fds []int) error {
	rc, err := ini.ctl.SyscallConn()
	if err != nil {
		return err
	}
	var n int
	var serr error
	if err := rc.Write(func(fd uintptr) bool {
		n, serr = sendWithFiles(int(fd), frame, fds)
		return serr != syscall.EAGAIN
	}); err != nil {
		return err
	}
	if serr != nil {
		return serr
	}
	if n < len(frame) {
		_, err = ini.ctl.Write(frame[n:])
	}
	return err
}

// started reads the init's answer to a run frame: the shell's pid, or a
// *commandError.
func (ini *initProc) started() (int, error) {
	_ = ini.ctl.SetReadDeadline(time.Now().Add(startTimeout))
	line, err := ini.msgs.ReadString('\n')
	_ = ini.ctl.SetReadDeadline(time.Time{})
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, &startUnknownError{reason: "sandboxinit: the init did not say within " + startTimeout.String() + " whether it started the command, which may have run"}
		}
		return 0, ini.diedStarting([]byte(line))
	}
	kind, arg := parseLine(line)
	switch kind {
	case msgReady:
		pid, _ := atoi(arg)
		return pid, nil
	case msgFail:
		return 0, parseFail(arg)
	}
	// The init's last words as it dies (its standard error is the
	// control socket once it is set up), or a line it should not send.
	return 0, ini.diedStarting([]byte(line))
}

// startUnknownError: the init was handed a command and ended (or broke
// the protocol) before it said whether the command started: it may have
// run, and nothing of it can be told. errno is the shortage the init died
// of (0 for none): errors.Is finds it.
type startUnknownError struct {
	reason string
	errno  syscall.Errno
}

func (e *startUnknownError) Error() string { return e.reason }

// Unwrap returns the errno, or nil.
func (e *startUnknownError) Unwrap() error {
	if e.errno == 0 {
		return nil
	}
	return e.errno
}

// MayHaveStarted reports whether err (of Cmd.Started) leaves unknown
// whether the command started: the init died, or stopped answering, after
// it was handed the command and before it said. Such a command is neither
// run nor not run: a client must check before running it again.
func MayHaveStarted(err error) bool {
	var e *startUnknownError
	return errors.As(err, &e)
}

// diedStarting explains an init that, handed a command, closed its
// control socket or wrote something other than a report (head): it reads
// the rest of what the init wrote up to its end (its standard error is
// the socket once set up), waits for its end, and reads both as
// diedBeforeSetup does: a shortage of processes or memory gives an error
// holding its errno, anything else the exit status and, when it names no
// path, the init's first line. Either way the command may have run.
func (ini *initProc) diedStarting(head []byte) error {
	out := head[:min(len(head), stderrHead)]
	_ = ini.ctl.SetReadDeadline(time.Now().Add(startTimeout))
	buf := make([]byte, 512)
	var err error
	for err == nil {
		var n int
		n, err = ini.msgs.Read(buf)
		if k := min(n, stderrHead-len(out)); k > 0 {
			out = append(out, buf[:k]...)
		}
	}
	_ = ini.ctl.SetReadDeadline(time.Time{})
	// Its end: EOF, or ECONNRESET when it died with the command's frame
	// unread.
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		// It lives on, or its socket cannot be read: not an end.
		line, _, _ := strings.Cut(string(head), "\n")
		return &startUnknownError{reason: fmt.Sprintf("sandboxinit: unexpected message %q from the init as it started the command, which may have run", bounded(line))}
	}
	ini.reap()
	select {
	case <-ini.exited:
	case <-time.After(startTimeout):
		return &startUnknownError{reason: "sandboxinit: the init closed its control socket as it started the command, which may have run"}
	}
	st := ini.cmd.ProcessState
	ws, _ := st.Sys().(syscall.WaitStatus)
	if errno := shortageOf(ws, out); errno != 0 {
		return &startUnknownError{reason: "the init died for want of resources (" + errno.Error() + ") as it started the command, which may have run", errno: errno}
	}
	what := st.String()
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if first != "" && len(first) <= 200 && !strings.Contains(first, "/") {
		what += ": " + first
	}
	return &startUnknownError{reason: "sandboxinit: the init ended as it started the command (" + what + "), which may have run"}
}

// bounded cuts s to a length fit for an error.
func bounded(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// finished waits for the init to report the end of the command, after
// everything it started is gone. clean says the init can run another
// command; otherwise it died (killed, or the command was cut off) or it
// retires (the command changed its mounts).
func (ini *initProc) finished() (Exit, bool) {
	line, err := ini.msgs.ReadString('\n')
	retire := false
	if err == nil && strings.HasPrefix(line, msgRetire+" ") {
		// The command changed what the init would run the next one on.
		retire = true
		line, err = ini.msgs.ReadString('\n')
	}
	if err == nil {
		kind, arg := parseLine(line)
		n, ok := atoi(arg)
		switch {
		case ok && kind == msgExit:
			return Exit{Code: n}, !retire
		case ok && kind == msgSignal:
			return Exit{Code: -1, Signal: syscall.Signal(n)}, !retire
		}
	}
	// Without its last words the init was killed, and the namespace (or
	// the subreaper's children) with it.
	ini.kill()
	ini.waitExit()
	if st := ini.cmd.ProcessState; st != nil {
		if ex := exitOf(st); ex.Signal != 0 {
			return ex, false
		}
	}
	return Exit{Code: -1, Signal: syscall.SIGKILL}, false
}
