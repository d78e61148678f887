package sandboxinit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// selfExe re-executes the running program, even if its file was replaced
// or removed since it started.
const selfExe = "/proc/self/exe"

// capSysAdmin is CAP_SYS_ADMIN: kept across the exec of the init (as an
// ambient capability) so it can mount, then dropped before the shell.
const capSysAdmin = 21

func sysProcAttr(m Mode) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if m != Namespaces {
		return a
	}
	// The namespace maps only the current user, to itself: commands see
	// their usual uid and gid (other ids show as nobody).
	uid, gid := os.Getuid(), os.Getgid()
	a.Cloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID
	a.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
	a.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
	a.GidMappingsEnableSetgroups = false
	if uid != 0 {
		a.AmbientCaps = []uintptr{capSysAdmin}
	}
	return a
}

// Available reports the best mode this machine offers without trying it,
// and why it is not Namespaces: read from the sysctls that forbid user
// namespaces. Probe, or the first command, confirms it.
func Available() (Mode, string) {
	if !Hooked() {
		return Direct, "this program does not run the sandbox init (it does not call localsandbox.MaybeRunInit first)"
	}
	if r := userNSForbidden(os.Getuid()); r != "" {
		return Reaper, r
	}
	if fi, err := os.Stat("/home"); err != nil || !fi.IsDir() {
		return Reaper, "there is no /home directory to mount /home/user on"
	}
	return Namespaces, ""
}

// userNSForbidden names the sysctl that forbids this user to create user
// namespaces, or returns "".
func userNSForbidden(uid int) string {
	if sysctl("user/max_user_namespaces") == "0" {
		return "user namespaces are disabled (sysctl user.max_user_namespaces = 0)"
	}
	if uid == 0 {
		return ""
	}
	if sysctl("kernel/unprivileged_userns_clone") == "0" {
		return "unprivileged user namespaces are disabled (sysctl kernel.unprivileged_userns_clone = 0)"
	}
	if sysctl("kernel/apparmor_restrict_unprivileged_userns") == "1" {
		return "AppArmor restricts unprivileged user namespaces (sysctl kernel.apparmor_restrict_unprivileged_userns = 1)"
	}
	return ""
}

func sysctl(name string) string {
	b, err := os.ReadFile(filepath.Join("/proc/sys", name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Probe sets up the namespaces and mounts of a sandbox once, for a
// sandbox directory it makes under parent (and removes), without running a
// command: a *SetupError says why they cannot be used here. Any other error
// is the host short of descriptors, processes or memory for now (errors.Is
// finds the errno: EMFILE, ENFILE, EAGAIN or ENOMEM), which says nothing
// of namespaces: the probe is to be made again later, not taken for a
// refusal.
func Probe(parent string) error {
	err := probe(parent)
	if err == nil {
		return nil
	}
	var ie *initError
	if errors.As(err, &ie) {
		err = ie.err
	}
	var se *SetupError
	if errors.As(err, &se) || outOfResources(err) {
		return err
	}
	return &SetupError{Reason: err.Error()}
}

func probe(parent string) error {
	dir, err := os.MkdirTemp(parent, "isolation-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"home/user", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return err
		}
	}
	ini, err := startInit(Namespaces, dir)
	if err != nil {
		return err
	}
	ini.kill()
	ini.waitExit()
	return nil
}

// socketPair returns the two ends of a control socket: this side's, set
// non-blocking so reads can have deadlines, and the init's, blocking.
func socketPair() (mine, theirs *os.File, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, os.NewSyscallError("socketpair", err)
	}
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		syscall.Close(fds[0])
		syscall.Close(fds[1])
		return nil, nil, os.NewSyscallError("setnonblock", err)
	}
	return os.NewFile(uintptr(fds[0]), "sandboxinit-ctl"), os.NewFile(uintptr(fds[1]), "sandboxinit-ctl-init"), nil
}
