package localsandbox

import (
	"errors"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox/internal/sandboxinit"
)

// MaybeRunInit runs the sandbox init and exits when this process was
// started as one: the backend re-executes its own program to start each
// command under a small init that can find and kill everything the command
// starts (and, on Linux, set up its namespaces). Otherwise it returns at
// once. Call it first thing in main, and in TestMain of tests that start
// sandboxes. A program that does not call it still works, in the reduced
// mode of other systems: see Isolation.
func MaybeRunInit() { sandboxinit.MaybeRun() }

// Isolation selects how a sandbox's commands see the machine.
type Isolation int

const (
	// IsolationAuto runs commands in their own user, mount and PID
	// namespaces where Linux allows unprivileged user namespaces, and with
	// host paths elsewhere.
	IsolationAuto Isolation = iota
	// IsolationHostPaths never uses namespaces: commands see the host's
	// directory layout, as on systems without them (sudo works, for one).
	IsolationHostPaths
	// IsolationNamespaces requires namespaces: New fails where they cannot
	// be set up.
	IsolationNamespaces
)

// Isolation modes as IsolationStatus.Mode names them.
const (
	// ModeNamespaces: each command runs in new user, mount and PID
	// namespaces; /home/user and /tmp are the sandbox's, and destroy ends
	// every process of the sandbox.
	ModeNamespaces = "namespaces"
	// ModeHostPaths: commands see the host's paths (pwd prints the
	// sandbox's directory under the data directory; HOME and TMPDIR point
	// into it); an init process still finds and kills every process a
	// command starts (Linux).
	ModeHostPaths = "host-paths"
	// ModeHostPathsGroup: host paths, and only a command's process group
	// is killed (systems other than Linux, or a program that does not call
	// MaybeRunInit).
	ModeHostPathsGroup = "host-paths-group"
)

// IsolationStatus says how a server's commands see the machine.
type IsolationStatus struct {
	// Mode is ModeNamespaces, ModeHostPaths or ModeHostPathsGroup.
	Mode string `json:"mode"`
	// Reason says why namespaces are not used; "" when they are.
	Reason string `json:"reason,omitempty"`
	// Unconfirmed, with ModeNamespaces, says why namespaces could not be
	// checked yet: the host was out of descriptors, processes or memory
	// when they were set up to see ("too many open files"). Commands
	// still start in them, and the first one to set them up checks them
	// again: a refusal by the kernel then gives them up for host paths
	// (unless the server requires them), a shortage answers that command
	// 503 with Retry-After. "" once they are confirmed, or when not in
	// namespaces.
	Unconfirmed string `json:"unconfirmed,omitempty"`
}

// Namespaces reports whether commands run in namespaces.
func (st IsolationStatus) Namespaces() bool { return st.Mode == ModeNamespaces }

// isolation is the server's mode: chosen at New from what the machine
// allows, confirmed by the first command that sets up namespaces (or by a
// probe), or given up for host paths if the kernel refuses them before
// any command succeeded. Once confirmed it never changes, so paths do not
// change under a running session.
type isolation struct {
	mu        sync.Mutex
	mode      sandboxinit.Mode
	reason    string
	confirmed bool
	probeDir  string // where a probe makes its scratch sandbox
	// required: the server's options ask for namespaces (New checked
	// them, or could not for a shortage): they are never given up.
	required bool
	// short is the errno of the last probe that the host's shortage cut
	// short (0 for none), and probeAfter when the next may be made: a
	// passing shortage must not give namespaces up, and a host that
	// stays short is not probed on every call.
	short      syscall.Errno
	probeAfter time.Time
}

// probeBackoff is how long after a probe cut short by a shortage the
// next one waits.
const probeBackoff = 2 * time.Second

func newIsolation(opt Isolation, dataDir string) (*isolation, error) {
	mode, reason := sandboxinit.Available()
	if opt == IsolationHostPaths && mode == sandboxinit.Namespaces {
		mode, reason = sandboxinit.Reaper, "turned off by the server's options"
	}
	iso := &isolation{mode: mode, reason: reason, probeDir: dataDir, required: opt == IsolationNamespaces}
	if opt != IsolationNamespaces {
		return iso, nil
	}
	if mode != sandboxinit.Namespaces {
		return nil, &Error{Code: CodeIsolation, Message: "localsandbox: namespaces are not available: " + reason}
	}
	if st := iso.status(true); !st.Namespaces() {
		return nil, &Error{Code: CodeIsolation, Message: "localsandbox: namespaces are not available: " + st.Reason}
	}
	return iso, nil
}

// current is the mode to start the next command in.
func (i *isolation) current() sandboxinit.Mode {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.mode
}

// confirm records that a command ran in namespaces.
func (i *isolation) confirm() {
	i.mu.Lock()
	i.confirmed, i.short = true, 0
	i.mu.Unlock()
}

// fallBack gives namespaces up after the kernel refused them, unless a
// command already ran in them: then the failure is that command's alone.
// It reports whether the command should be started again with host paths.
func (i *isolation) fallBack(reason string) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.mode != sandboxinit.Namespaces {
		return true
	}
	if i.confirmed || i.required {
		return false
	}
	i.mode, i.reason = sandboxinit.Reaper, reason
	return true
}

// status reports the mode; with probe, namespaces not yet confirmed by a
// command are set up once to find out. A probe the host's shortage cut
// short changes nothing but Unconfirmed, and the next waits probeBackoff.
func (i *isolation) status(probe bool) IsolationStatus {
	i.mu.Lock()
	defer i.mu.Unlock()
	if probe && i.mode == sandboxinit.Namespaces && !i.confirmed && (i.short == 0 || !time.Now().Before(i.probeAfter)) {
		var se *sandboxinit.SetupError
		switch err := sandboxinit.Probe(i.probeDir); {
		case err == nil:
			i.confirmed, i.short = true, 0
		case errors.As(err, &se) && !i.required:
			i.mode, i.reason = sandboxinit.Reaper, strings.TrimPrefix(err.Error(), "cannot set up the sandbox namespaces: ")
		case errors.As(err, &se):
			// New reports it, and fails.
			i.reason = se.Reason
			return IsolationStatus{Mode: ModeHostPaths, Reason: se.Reason}
		default:
			i.short, i.probeAfter = shortErrno(err), time.Now().Add(probeBackoff)
		}
	}
	switch i.mode {
	case sandboxinit.Namespaces:
		st := IsolationStatus{Mode: ModeNamespaces}
		if !i.confirmed && i.short != 0 {
			st.Unconfirmed = "the host was out of resources (" + i.short.Error() + ") when they were set up to check"
		}
		return st
	case sandboxinit.Reaper:
		return IsolationStatus{Mode: ModeHostPaths, Reason: i.reason}
	}
	return IsolationStatus{Mode: ModeHostPathsGroup, Reason: i.reason}
}

// shortErrno is the errno of a shortage Probe reported.
func shortErrno(err error) syscall.Errno {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.EAGAIN, syscall.ENOMEM} {
		if errors.Is(err, e) {
			return e
		}
	}
	return syscall.ENOMEM
}

// Isolation reports how this server's commands see the machine. If no
// command has run in namespaces yet, it sets them up once to be sure.
func (s *Server) Isolation() IsolationStatus { return s.iso.status(true) }

// diagnostics are the notes of the ready op: how this backend differs
// from a Worker's sandbox, when it does. It does not probe, so ready stays
// cheap: before the first command it relies on what the machine allows.
func (s *Server) diagnostics() []string {
	st := s.iso.status(false)
	if st.Namespaces() {
		return nil
	}
	// The reason may name the data directory (a probe that could not be
	// made there): the client is told of it by that name.
	reason := strings.ReplaceAll(st.Reason, s.opts.DataDir, "<data dir>")
	return []string{"the local backend runs commands with host paths (" + reason + "): pwd prints the sandbox's directory on this machine, HOME and TMPDIR point into it, and /home/user and /tmp in a command are this machine's, not the sandbox's; file operations still use the sandbox's paths"}
}

// inView reports whether sandbox path p is mounted at the same path in a
// command's namespaces: /home/user and /tmp, and what is below them.
func inView(p string) bool {
	for _, m := range []string{"/home/user", "/tmp"} {
		if p == m || strings.HasPrefix(p, m+"/") {
			return true
		}
	}
	return false
}
