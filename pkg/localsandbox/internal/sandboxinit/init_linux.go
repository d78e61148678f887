package sandboxinit

import (
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// initMain is the init: argv is protocol, mode, the extra files (one
// letter each: "1" passed, "0" closed), whether stdin is the shell's
// terminal ("1") or not ("0"), the sandbox directory, the cwd, the shell's
// path and the shell's argv.
// Its exit code is not read: it reports on the control socket.
func initMain(args []string) int {
	// Capabilities are per thread: the one that drops them must be the one
	// that forks the shell.
	runtime.LockOSThread()
	if len(args) < 7 || args[0] != protocol || args[3] != "0" && args[3] != "1" {
		return 70
	}
	mode, tty, dir, cwd, path, argv := args[1], args[3] == "1", args[4], args[5], args[6], args[7:]
	extraFiles := args[2]
	extra := len(extraFiles)
	if strings.Trim(extraFiles, "01") != "" || extra > 64 {
		return 70
	}
	ctlFd := 3 + extra
	syscall.CloseOnExec(ctlFd)
	ctl := os.NewFile(uintptr(ctlFd), "sandboxinit-ctl")
	send := func(kind, arg string) {
		_, _ = ctl.Write([]byte(kind + " " + strings.ReplaceAll(arg, "\n", " ") + "\n"))
	}
	switch mode {
	case Namespaces.String():
		if kind, err := mountSandbox(dir); err != nil {
			send(kind, err.Error())
			return 1
		}
		dropCaps()
		if cwd != "" {
			if err := syscall.Chdir(cwd); err != nil {
				send(msgFail, "chdir "+cwd+": "+err.Error())
				return 1
			}
		}
	case Reaper.String():
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			send(msgFail, "cannot become a child subreaper: "+err.Error())
			return 1
		}
	default:
		send(msgFail, "unknown mode "+mode)
		return 1
	}
	if path == "" {
		// A probe: the setup worked.
		send(msgReady, "0")
		send(msgExit, "0")
		return 0
	}
	// Signals sent to the init itself go on to the shell's process group.
	sigc := make(chan os.Signal, 16)
	signal.Notify(sigc, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGCONT, syscall.SIGTSTP)
	// The shell gets the init's stdio and extra files at the same numbers
	// (a nil entry of ExtraFiles stays closed: the number may be one of the
	// init's own by now).
	files := make([]uintptr, 3+extra)
	for i := range files {
		files[i] = uintptr(i)
		if i >= 3 && extraFiles[i-3] == '0' {
			files[i] = ^uintptr(0)
		}
	}
	sys := &syscall.SysProcAttr{Setpgid: true}
	if tty {
		sys = ttyProcAttr()
	}
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: os.Environ(), Files: files, Sys: sys})
	if err != nil {
		send(msgFail, "fork/exec "+path+": "+err.Error())
		return 1
	}
	send(msgReady, strconv.Itoa(pid))

	shellDone := make(chan shellExit, 1)
	noChildren := make(chan struct{})
	go reap(pid, shellDone, noChildren)
	ctlc := make(chan byte, 16)
	go readCtl(ctl, ctlc)

	killEverything := func() {
		if mode == Namespaces.String() {
			// PID 1 signalling -1 reaches every other process of the
			// namespace.
			_ = syscall.Kill(-1, syscall.SIGKILL)
			return
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		killChildren()
	}
	var ex shellExit
wait:
	for {
		select {
		case ex = <-shellDone:
			break wait
		case b, ok := <-ctlc:
			if !ok || b == killAll {
				// Asked to, or the server went away.
				killEverything()
				ctlc = nil
				continue
			}
			_ = syscall.Kill(-pid, syscall.Signal(b))
		case s := <-sigc:
			_ = syscall.Kill(-pid, s.(syscall.Signal))
		}
	}
	if mode == Reaper.String() && ex.more {
		// Whatever the shell left behind has been reparented to us, or is
		// a descendant of something that was.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		for {
			killChildren()
			select {
			case <-noChildren:
			case <-time.After(20 * time.Millisecond):
				continue
			}
			break
		}
	}
	// In Namespaces mode, the init ending ends everything else; the
	// server's wait returns once they are gone.
	if ex.ws.Signaled() {
		send(msgSignal, strconv.Itoa(int(ex.ws.Signal())))
	} else {
		send(msgExit, strconv.Itoa(ex.ws.ExitStatus()))
	}
	return 0
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
func reap(shell int, shellDone chan<- shellExit, noChildren chan<- struct{}) {
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

// othersLeft reports whether the init still has children, reaping those
// that already exited.
func othersLeft() bool {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		switch {
		case err == syscall.EINTR || err == nil && pid > 0:
			continue
		case err == syscall.ECHILD:
			return false
		}
		return true
	}
}

func readCtl(ctl *os.File, out chan<- byte) {
	buf := make([]byte, 64)
	for {
		n, err := ctl.Read(buf)
		for _, b := range buf[:n] {
			out <- b
		}
		if err != nil {
			close(out)
			return
		}
	}
}

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

// mountSandbox gives the namespace its view: a small read-only tmpfs on
// /home holding the sandbox's home/user at /home/user and the host's other
// home directories bound back, the sandbox's tmp at /tmp, and a /proc of
// the new PID namespace. The kind of a failure is msgSetup when the kernel
// refuses (namespaces unusable here) and msgFail when the sandbox
// directory is not as expected.
func mountSandbox(dir string) (kind string, err error) {
	// Pin the directories first: the mounts may hide the paths that lead
	// to them (the data directory may be under /home or /tmp).
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return msgFail, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(root)
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
