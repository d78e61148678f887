package transfer

import (
	"fmt"
	"path"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/hostpath"
)

// The rules below take the host system as a parameter (localOS in use,
// "windows" in tests on any system), so the Windows cases are tested
// where CI runs. Sandbox paths are POSIX whatever the host is.

// sandboxLinkText is the text of a symlink read on goos, as the sandbox
// gives it meaning. Windows writes a link's target with '\' (os.Symlink
// turns '/' into '\' when it makes one), which in the sandbox would be a
// character of one name: "..\lib\x" is made "../lib/x". Elsewhere the text
// is kept as it is, a '\' included, since it is a name character there
// too.
func sandboxLinkText(goos, link string) string {
	if goos == "windows" {
		return strings.ReplaceAll(link, `\`, "/")
	}
	return link
}

// hostLinkProblem says why a symlink whose text (in sandboxLinkText's
// form) was read on goos cannot be recreated in the sandbox, or returns ""
// when it can. On Windows a target on a drive ("C:/Users/x", "C:x"), on a
// share ("//host/share/x") or at the root of the current drive ("/x", from
// "\x") is a place on this machine: the sandbox has no such path, and the
// link would name one of the sandbox's own instead. On other systems an
// absolute target is the same kind of path in the sandbox, and stays one,
// as cp keeps it.
func hostLinkProblem(goos, link string) string {
	if goos != "windows" {
		return ""
	}
	if strings.HasPrefix(link, "/") || hostpath.HasDrive(link) {
		return fmt.Sprintf("its target %q is a path on this Windows machine, which the sandbox does not have (a relative target is copied)", link)
	}
	return ""
}

// SandboxPathProblem says why p, a sandbox path typed on goos
// (runtime.GOOS), looks like a path of this machine rather than one of the
// sandbox, or returns "" when it does not. Sandbox paths are POSIX: on
// Windows one that starts with a drive ("C:/Program Files/Git/home/user",
// which Git Bash makes of /home/user) or holds a '\' ("app\src") would
// otherwise reach the sandbox as a name of its own, so it is refused. A
// '\' is a name character on other systems, and is kept there.
func SandboxPathProblem(goos, p string) string {
	if goos != "windows" {
		return ""
	}
	switch {
	case hostpath.HasDrive(p):
		return "a sandbox path is a POSIX path such as /home/user/app, not a Windows path (under Git Bash, set MSYS_NO_PATHCONV=1 to keep /home/user/app as typed)"
	case strings.Contains(p, `\`):
		return "a sandbox path separates names with '/', not '\\'"
	}
	return ""
}

// hostBase is the last name of the local path p on goos, the name a copy
// of it takes inside a sandbox directory, or "" when p has none: a root
// ("/", and on Windows "C:\", "\", or a share "\\host\share"). On Windows
// both separators count and the volume is no name: filepath.Base gives
// "\" for "C:\" and "\\host\share", which would become a sandbox name
// ("/home/user/\"). "." and ".." are returned as they are (Upload never
// names a copy with them: ContentsOf sends such sources into the
// destination itself). "C:" alone is the current directory of drive C,
// ".".
func hostBase(goos, p string) string {
	if goos != "windows" {
		b := path.Base(path.Clean(p))
		if b == "/" {
			return ""
		}
		return b
	}
	vol := hostpath.Volume("windows", p)
	rest := p[len(vol):]
	if rest == "" && !strings.HasPrefix(vol, `\\`) && !strings.HasPrefix(vol, "//") {
		return "."
	}
	rest = strings.TrimRight(rest, `\/`)
	if i := strings.LastIndexAny(rest, `\/`); i >= 0 {
		rest = rest[i+1:]
	}
	return rest
}
