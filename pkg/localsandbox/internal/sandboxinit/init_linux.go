package sandboxinit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// initMain is the init: argv is the protocol, the mode and the sandbox
// directory; fd 3 is its end of the control socket. It sets up once, then
// runs the commands the server sends, one at a time, until the socket
// closes. Its exit code is not read: it reports on the control socket.
func initMain(args []string) int {
	if len(args) != 3 || args[0] != protocol {
		return 70
	}
	in := &initState{mode: args[1], dir: strings.TrimSuffix(args[2], "/"), root: -1, mounts: -1}
	syscall.CloseOnExec(ctlFd)
	// Non-blocking, so that waiting for the server parks a goroutine in
	// the runtime's poller instead of holding a thread in a system call.
	if err := syscall.SetNonblock(ctlFd, true); err != nil {
		return 70
	}
	in.ctl = os.NewFile(ctlFd, "sandboxinit-ctl")
	switch in.mode {
	case Namespaces.String():
		// The sandbox's directory, held before the mounts may hide its
		// path: commands whose cwd is outside /home/user and /tmp start
		// in it through this handle.
		root, err := unix.Open(in.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			in.fail(msgFail, err, (&os.PathError{Op: "open", Path: in.dir, Err: err}).Error())
			return 1
		}
		in.root = root
		if kind, err := mountSandbox(root); err != nil {
			in.fail(kind, err, err.Error())
			return 1
		}
		// A command that keeps capabilities (the server runs as root)
		// could change the mounts under the next one. The init watches
		// its mount table instead of giving each command a copy of it (a
		// copy made and torn down per command cost a tenth of the exec
		// rate): after a command that changed it, the init reports that it
		// retires, and the next command gets a fresh one. The watch starts
		// here, once the sandbox's own mounts are made.
		if os.Getuid() == 0 {
			// Private: a mount made on the host after this would
			// otherwise reach the namespace and retire every init.
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				in.fail(msgSetup, err, "cannot make the mounts private: "+err.Error())
				return 1
			}
			fd, err := unix.Open("/proc/self/mountinfo", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err == nil {
				in.mounts = fd
				in.mountinfo, err = in.readMountinfo(nil)
			}
			if err != nil {
				in.fail(msgSetup, err, "cannot watch the mount table: "+err.Error())
				return 1
			}
			in.scratch = make([]byte, len(in.mountinfo)+1)
		} else {
			in.ambient = true
		}
	case Reaper.String():
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			in.fail(msgFail, err, "cannot become a child subreaper: "+err.Error())
			return 1
		}
	default:
		in.fail(msgFail, nil, "unknown mode "+in.mode)
		return 1
	}
	// Signals sent to the init itself are caught and dropped: an init
	// serves command after command, so a signal from outside (not the
	// server's, which come on the control socket) has no command to go to.
	// (Caught, not ignored: ignored signals would stay ignored in the
	// shells.)
	in.sigc = make(chan os.Signal, 16)
	signal.Notify(in.sigc, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGCONT, syscall.SIGTSTP)
	in.frames = make(chan frame, 16)
	go readFrames(in.ctl, in.frames)
	quietStderr()
	in.send(msgInit, "")
	for {
		select {
		case f, ok := <-in.frames:
			if !ok {
				// The server closed the socket (or went away): nothing runs.
				return 0
			}
			if f.kind == frameRun && !in.run(f) {
				return 0
			}
		case <-in.sigc:
			// Nothing runs to forward it to.
		}
	}
}

// quietStderr points the init's standard error at its end of the control
// socket. Until the init reports that it is set up, the server reads a
// pipe of its own for it; after that, what the Go runtime (or the C
// library) says as it dies, for want of a thread or memory while it
// starts a command, comes on the socket, where the server reads it in
// place of the report it waits for, and tells a shortage from a crash.
// An idle init keeps no other descriptor of the server for it. The socket
// is non-blocking: a dying init's traceback that fills it is cut short,
// not left waiting. dup3 takes no new descriptor: an init out of them
// still points its stderr away from the pipe.
func quietStderr() {
	_ = unix.Dup3(ctlFd, 2, 0)
}

// ctlFd is the init's end of the control socket.
const ctlFd = 3

// initState is what an init keeps between commands.
type initState struct {
	mode string
	dir  string // the sandbox directory (host path)
	root int    // Namespaces: a handle on it, taken before the mounts
	// mounts is a handle on the init's mount table (/proc/self/mountinfo),
	// which polls as changed once a mount or unmount happened in it since
	// it was opened; -1 when commands cannot change mounts. It is kept
	// open and read again from its start after each command: opening the
	// file anew and reading it in os.ReadFile's small steps cost a tenth
	// of the exec rate of a server running as root.
	mounts int
	// mountinfo is what mounts read when the watch began: propagation
	// types and filesystem options change without the mount table
	// polling as changed (a remount of a filesystem from another
	// namespace, mount --make-shared).
	mountinfo []byte
	// scratch is where mountsChanged reads the table: one byte longer
	// than mountinfo, so that a longer table is seen in one read.
	scratch []byte
	ambient bool // the init was given a capability to drop before a shell
	ctl     *os.File
	frames  chan frame
	sigc    chan os.Signal
}

func (in *initState) send(kind, arg string) {
	line := []byte(kind + " " + strings.ReplaceAll(arg, "\n", " ") + "\n")
	n, err := rawWrite(ctlFd, line)
	if err == syscall.EINTR || err == syscall.EAGAIN {
		n, err = 0, nil
	}
	if err == nil && n < len(line) {
		// The socket is full (the server is slow to read): wait for it.
		_, _ = in.ctl.Write(line[n:])
	}
}

// fail sends a failure of kind msgFail or msgSetup: the errno err holds,
// if any, goes as a number before the text, so that the server can tell
// a host out of processes or descriptors from the command's own failure
// without reading the text (see failArg).
func (in *initState) fail(kind string, err error, text string) {
	in.send(kind, failArg(err, text))
}

// startDir is where a command starts: its cwd in the namespaces, or its
// host directory, reached in Namespaces mode through the handle taken
// before the mounts (the data directory may be under /home or /tmp).
func (in *initState) startDir(r *runSpec) (string, bool) {
	if r.cwd != "" || in.root < 0 {
		if r.cwd != "" {
			return r.cwd, true
		}
		return r.dir, true
	}
	rel, ok := strings.CutPrefix(r.dir, in.dir)
	if !ok || rel != "" && rel[0] != '/' {
		return "", false
	}
	return fdPath(in.root) + rel, true
}

// run runs one command to its end and everything it started with it, and
// reports its exit. It returns false when the server went away meanwhile.
func (in *initState) run(f frame) bool {
	defer func() {
		for _, fd := range f.files {
			rawClose(fd)
		}
	}()
	if f.err != nil {
		in.fail(msgFail, f.err, f.err.Error())
		return true
	}
	r := f.spec
	dir, ok := in.startDir(r)
	if !ok {
		in.fail(msgFail, nil, "chdir "+r.dir+": outside the sandbox")
		return true
	}
	// The shell gets the files at 0, 1, 2 and the extra ones at 3, 4, …
	// (a closed extra file stays closed: the number may be one of the
	// init's own).
	files := make([]uintptr, 3+len(r.extra))
	next := 0
	for i := range files {
		if i >= 3 && r.extra[i-3] == '0' {
			files[i] = ^uintptr(0)
			continue
		}
		files[i] = uintptr(f.files[next])
		next++
	}
	// The init changes to the directory itself, and the shell inherits
	// it: a shell given a copy of the mounts finds it in its copy.
	if err := rawChdir(dir); err != nil {
		in.fail(msgFail, err, "chdir "+r.dir+": "+err.Error())
		return true
	}
	// Capabilities are per thread, and the shell inherits the forking
	// thread's: that thread drops the one the init was given to mount
	// (root keeps its own: it was given none).
	runtime.LockOSThread()
	if in.ambient {
		dropCaps()
	}
	pidfd := -1
	sys := &syscall.SysProcAttr{Setpgid: true}
	if r.tty {
		sys = ttyProcAttr()
	}
	sys.PidFD = &pidfd
	pid, err := syscall.ForkExec(r.path, r.argv, &syscall.ProcAttr{Env: r.env, Files: files, Sys: sys})
	runtime.UnlockOSThread()
	_ = rawChdir("/")
	if err != nil {
		in.fail(msgFail, err, "fork/exec "+r.path+": "+err.Error())
		return true
	}
	for _, fd := range f.files {
		rawClose(fd)
	}
	f.files = nil
	in.send(msgReady, strconv.Itoa(pid))

	shellDone := make(chan shellExit, 1)
	noChildren := make(chan struct{})
	go reap(pid, pidfd, shellDone, noChildren)
	killEverything := func() {
		if in.mode == Namespaces.String() {
			// PID 1 signalling -1 reaches every other process of the
			// namespace.
			_ = syscall.Kill(-1, syscall.SIGKILL)
			return
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		killChildren()
	}
	serverGone := false
	var ex shellExit
wait:
	for {
		select {
		case ex = <-shellDone:
			break wait
		case g, ok := <-in.frames:
			switch {
			case !ok:
				// The server went away.
				serverGone = true
				killEverything()
				in.frames = nil
			case g.kind == frameKill:
				killEverything()
			case g.kind == frameSignal:
				_ = syscall.Kill(-pid, syscall.Signal(g.sig))
			case g.kind == frameRun:
				for _, fd := range g.files {
					_ = unix.Close(fd)
				}
				in.fail(msgFail, nil, "a command is already running")
			}
		case <-in.sigc:
		}
	}
	if ex.more {
		// Whatever the shell left behind is ours now (PID 1, or the
		// subreaper), or a descendant of something that is.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		for {
			killEverything()
			select {
			case <-noChildren:
			case <-time.After(20 * time.Millisecond):
				continue
			}
			break
		}
	}
	if serverGone {
		return false
	}
	// Everything the command started is gone: what it did to the mounts
	// stays, so the init retires (its exit report follows) rather than
	// run the next command on them.
	retire := in.mountsChanged()
	if retire {
		in.send(msgRetire, "the command changed the mounts")
	}
	if ex.ws.Signaled() {
		in.send(msgSignal, strconv.Itoa(int(ex.ws.Signal())))
	} else {
		in.send(msgExit, strconv.Itoa(ex.ws.ExitStatus()))
	}
	return !retire
}

// mountsChanged reports whether the mounts differ from what the init set
// up: a mount, unmount or remount in its namespace (the table polls as
// changed), or a change of a propagation type or of a filesystem's options
// made from elsewhere (mountinfo differs). An error counts as a change.
func (in *initState) mountsChanged() bool {
	if in.mounts < 0 {
		return false
	}
	rev, err := rawPollNow(in.mounts, unix.POLLPRI)
	if err != nil || rev&(unix.POLLPRI|unix.POLLERR) != 0 {
		return true
	}
	now, err := in.readMountinfo(in.scratch[:0])
	in.scratch = now[:0]
	return err != nil || !bytes.Equal(now, in.mountinfo)
}

// readMountinfo reads the whole mount table from its start into buf's
// spare capacity, growing it as needed. The table is a seq_file: a read
// at offset 0 generates it afresh, and a read as long as the table
// returns all of it at once. The reads are raw (see raw_linux.go).
func (in *initState) readMountinfo(buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, max(4096, cap(buf)))...)[:len(buf)]
		}
		n, err := rawPread(in.mounts, buf[len(buf):cap(buf)], int64(len(buf)))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return buf, err
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// shellExit is the shell's status, and whether other children were left
// when it was reaped (most commands leave none: nothing to look for).
type shellExit struct {
	ws   syscall.WaitStatus
	more bool
}

// reap waits for every child: it reports the shell's status, and closes
// noChildren once there is no child left at all (so no descendant either:
// an orphan would have become our child).
//
// With a pidfd (Linux 5.3 and later) it waits for the shell in the
// runtime's poller, reaping what else ended every few seconds; then (and
// without one) in wait4.
func reap(shell, pidfd int, shellDone chan<- shellExit, noChildren chan<- struct{}) {
	if pidfd >= 0 {
		waitPidfd(shell, pidfd)
		var ws syscall.WaitStatus
		if got, err := rawWait4(shell, &ws, 0); err == nil && got == shell {
			more := othersLeft()
			shellDone <- shellExit{ws, more}
			if more {
				// Wait for the rest to be killed.
				for {
					if _, err := syscall.Wait4(-1, &ws, 0, nil); err != nil && err != syscall.EINTR {
						break
					}
				}
			}
			close(noChildren)
			return
		}
	}
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			close(noChildren)
			return
		}
		if pid != shell {
			continue
		}
		more := othersLeft()
		shellDone <- shellExit{ws, more}
		if !more {
			close(noChildren)
			return
		}
	}
}

// waitPidfd returns once process pid has exited (it is not reaped), and
// closes pidfd. Meanwhile children that exited are reaped every few
// seconds, so that a long command leaves no pile of zombies.
func waitPidfd(pid, pidfd int) {
	_ = syscall.SetNonblock(pidfd, true)
	f := os.NewFile(uintptr(pidfd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	for {
		_ = f.SetReadDeadline(time.Now().Add(2 * time.Second))
		// A pidfd becomes readable when its process exits.
		err := rc.Read(func(fd uintptr) bool {
			return rawReadable(int(fd))
		})
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
		reapOthers(pid)
	}
}

// reapOthers reaps the children that have exited, except pid (the shell,
// left for reap).
func reapOthers(pid int) {
	for _, c := range children() {
		if c != pid {
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(c, &ws, syscall.WNOHANG, nil)
		}
	}
}

// othersLeft reports whether the init still has children, reaping those
// that already exited.
func othersLeft() bool {
	for {
		var ws syscall.WaitStatus
		pid, err := rawWait4(-1, &ws, 0)
		switch {
		case err == syscall.EINTR || err == nil && pid > 0:
			continue
		case err == syscall.ECHILD:
			return false
		}
		return true
	}
}

// frame is one frame from the server: a run (spec and the files that came
// with it, or err when it cannot be read), a signal or a kill.
type frame struct {
	kind  byte
	sig   byte
	spec  *runSpec
	files []int
	err   error
}

// readFrames reads frames from the control socket until it closes or
// fails, then closes out. Files arrive as SCM_RIGHTS with the first bytes
// of their run frame, close-on-exec.
func readFrames(ctl *os.File, out chan<- frame) {
	defer close(out)
	store := make([]byte, 0, frameChunk)
	chunk := make([]byte, frameChunk)
	oob := make([]byte, unix.CmsgSpace(4*(3+64)*2))
	var fds []int
	rc, err := ctl.SyscallConn()
	if err != nil {
		return
	}
	for {
		var n, oobn int
		var err error
		if rerr := rc.Read(func(fd uintptr) bool {
			n, oobn, err = rawRecvmsg(int(fd), chunk, oob, unix.MSG_CMSG_CLOEXEC|unix.MSG_DONTWAIT)
			return err != unix.EAGAIN && err != unix.EINTR
		}); rerr != nil && err == nil {
			err = rerr
		}
		if oobn > 0 {
			if msgs, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil {
				for _, m := range msgs {
					if got, rerr := unix.ParseUnixRights(&m); rerr == nil {
						fds = append(fds, got...)
					}
				}
			}
		}
		if err != nil || n == 0 {
			for _, f := range fds {
				_ = unix.Close(f)
			}
			return
		}
		store = append(store, chunk[:n]...)
		buf := store
		for len(buf) > 0 {
			var f frame
			used := 0
			switch buf[0] {
			case frameKill:
				f, used = frame{kind: frameKill}, 1
			case frameSignal:
				if len(buf) < 2 {
					break
				}
				f, used = frame{kind: frameSignal, sig: buf[1]}, 2
			case frameRun:
				if len(buf) < 5 {
					break
				}
				size := int(binary.BigEndian.Uint32(buf[1:5]))
				if size > maxRunFrame {
					return
				}
				if len(buf) < 5+size {
					break
				}
				f = frame{kind: frameRun}
				f.spec, f.err = parseRunPayload(buf[5 : 5+size])
				want := 3
				if f.err == nil {
					want = f.spec.nfiles()
				}
				if len(fds) < want {
					f.err = errors.New("the command's files did not arrive")
					want = len(fds)
				}
				f.files, fds = fds[:want:want], fds[want:]
				used = 5 + size
			default:
				// Out of step with the server: nothing more can be trusted.
				return
			}
			if used == 0 {
				break
			}
			buf = buf[used:]
			out <- f
		}
		// What is left is the start of a frame. A large frame's buffer is
		// not kept for the rest of the init's life.
		if cap(store) > maxKeptStore && len(buf) <= frameChunk {
			store = make([]byte, 0, frameChunk)
		}
		store = append(store[:0], buf...)
	}
}

// frameChunk is what one read of the control socket takes, and what the
// store of a partly read frame starts with. Frames are short (a command,
// its environment, a signal); a large one (an environment of megabytes)
// takes several reads. Buffers of 64 KiB here made this goroutine's stack
// frame 128 KiB, so every init carried a 256 KiB stack, half of it
// touched, for its whole life: at a few hundred idle inits, tens of
// megabytes.
const frameChunk = 4 << 10

// maxKeptStore is the largest store kept after the frame that grew it.
const maxKeptStore = 64 << 10

// killChildren kills every child of the init; their own children are then
// reparented to it, to be killed in the next round.
func killChildren() {
	for _, pid := range children() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// children lists the init's children from /proc/self/task/*/children, or,
// on kernels without it, by scanning every process's parent.
func children() []int {
	tasks, _ := os.ReadDir("/proc/self/task")
	var out []int
	found := false
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/children")
		if err != nil {
			continue
		}
		found = true
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	if found {
		return out
	}
	self := os.Getpid()
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		n, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + p.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(b), ')')
		if f := strings.Fields(string(b[i+1:])); i > 0 && len(f) > 1 && f[1] == strconv.Itoa(self) {
			out = append(out, n)
		}
	}
	return out
}

// dropCaps leaves the shell without the capability the init was given to
// mount: no ambient or inheritable capabilities survive its exec.
func dropCaps() {
	_ = unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) == nil {
		data[0].Inheritable, data[1].Inheritable = 0, 0
		_ = unix.Capset(&hdr, &data[0])
	}
}

// mountSandbox gives the namespace of the sandbox directory root its view: a small read-only tmpfs on
// /home holding the sandbox's home/user at /home/user and the host's other
// home directories bound back, the sandbox's tmp at /tmp, and a /proc of
// the new PID namespace. The kind of a failure is msgSetup when the kernel
// refuses (namespaces unusable here) and msgFail when the sandbox
// directory is not as expected.
func mountSandbox(root int) (kind string, err error) {
	// Pin the directories first: the mounts may hide the paths that lead
	// to them (the data directory may be under /home or /tmp).
	user, err := openBeneath(root, "home/user")
	if err != nil {
		return msgFail, err
	}
	defer unix.Close(user)
	tmp, err := openBeneath(root, "tmp")
	if err != nil {
		return msgFail, err
	}
	defer unix.Close(tmp)
	hostHome, err := os.Open("/home")
	if err != nil {
		return msgSetup, err
	}
	defer hostHome.Close()
	names, _ := hostHome.Readdirnames(-1)

	if err := unix.Mount("tmpfs", "/home", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755,size=64k"); err != nil {
		return msgSetup, &os.PathError{Op: "mount tmpfs on", Path: "/home", Err: err}
	}
	hfd := int(hostHome.Fd())
	for _, n := range names {
		if n != "user" {
			bindBack(hfd, n)
		}
	}
	if err := unix.Mkdir("/home/user", 0o755); err != nil {
		return msgSetup, &os.PathError{Op: "mkdir", Path: "/home/user", Err: err}
	}
	if err := bind(fdPath(user), "/home/user"); err != nil {
		return msgSetup, err
	}
	_ = unix.Mount("", "/home", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "")
	// The tmpfs itself read-only too, not only this mount of it: a command
	// that may mount could otherwise bind it again, writable, in a private
	// namespace of its own and leave files there for the next command
	// (making it writable again shows in the mount table the init watches).
	_ = unix.Mount("", "/home", "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "")
	if err := bind(fdPath(tmp), "/tmp"); err != nil {
		return msgSetup, err
	}
	// Without it (a kernel that refuses a new proc here) /proc is the
	// host's: ps shows host pids.
	_ = unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	return "", nil
}

// openBeneath opens a directory below root without following symlinks,
// so a sandbox cannot point its own mounts elsewhere.
func openBeneath(root int, rel string) (int, error) {
	fd := root
	for _, part := range strings.Split(rel, "/") {
		next, err := unix.Openat(fd, part, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if fd != root {
			unix.Close(fd)
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: "<sandbox>/" + rel, Err: err}
		}
		fd = next
	}
	return fd, nil
}

func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

func bind(src, dst string) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return &os.PathError{Op: "bind mount on", Path: dst, Err: err}
	}
	return nil
}

// bindBack recreates /home/<name> of the host on the new /home: the
// directory bound back, a symlink copied. Others are left out.
func bindBack(hostHome int, name string) {
	var st unix.Stat_t
	if unix.Fstatat(hostHome, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return
	}
	dst := "/home/" + name
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if unix.Mkdir(dst, 0o755) == nil {
			_ = bind(fdPath(hostHome)+"/"+name, dst)
		}
	case unix.S_IFLNK:
		buf := make([]byte, 4096)
		if n, err := unix.Readlinkat(hostHome, name, buf); err == nil {
			_ = unix.Symlink(string(buf[:n]), dst)
		}
	}
}
