package localsandbox

import (
	"io/fs"
	"path"
	"strings"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox/internal/sandboxinit"
)

// followsLast reports whether file op acts on what a final symlink points
// to.
func followsLast(op string) bool {
	switch op {
	case "readFile", "readFileBytes", "stat", "readdir", "exists", "mkdir", "writeFile", "chmod", "readRange":
		return true
	}
	return false
}

// maxLinks bounds the symlinks followed in one path, as the kernel's 40.
const maxLinks = 40

// rootPath maps sandbox path p to a name inside the root for op, as a
// command sees it. In namespaces, where /home/user and /tmp are the
// sandbox's, an absolute symlink into them (commands make those) resolves
// from the sandbox's root, where os.Root alone refuses it as leaving the
// root; one to anywhere else is the host's for commands, and stays refused.
// Only a path os.Root refuses is resolved, so the usual cost is one stat;
// confinement stays os.Root's.
func (sb *sandbox) rootPath(p, op string) string {
	r := rel(p)
	if sb.s.iso.current() != sandboxinit.Namespaces {
		return r
	}
	stat := sb.root.Lstat
	if followsLast(op) {
		stat = sb.root.Stat
	}
	if _, err := stat(r); !isEscape(err) {
		return r
	}
	if res, ok := sb.resolveLinks(r, followsLast(op)); ok {
		return res
	}
	return r
}

// resolveLinks resolves every symlink of root-relative r (the last one too
// when last), absolute targets from the root and ".." stopping there. ok is
// false on a loop, and when a link leads outside /home/user and /tmp:
// there, commands see the host's files, not the sandbox's.
func (sb *sandbox) resolveLinks(r string, last bool) (string, bool) {
	todo := strings.Split(r, "/")
	done := "" // resolved so far, root-relative; "" is the root
	for links := 0; len(todo) > 0; {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			if done = path.Dir(done); done == "." {
				done = ""
			}
			continue
		}
		next := path.Join(done, name)
		if len(todo) == 0 && !last {
			done = next
			break
		}
		fi, err := sb.root.Lstat(next)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			done = next
			continue
		}
		target, err := sb.root.Readlink(next)
		if err != nil {
			done = next
			continue
		}
		if links++; links > maxLinks {
			return "", false
		}
		if strings.HasPrefix(target, "/") {
			if !inView(path.Clean(target)) {
				return "", false
			}
			done = ""
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	if !inView("/" + done) {
		return "", false
	}
	return done, true
}
