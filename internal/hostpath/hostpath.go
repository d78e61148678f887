// Package hostpath resolves a local path against a directory by the rules
// of the system given, so the Windows rules are tested on any system.
package hostpath

import (
	"path"
	"path/filepath"
	"runtime"
	"strings"
)

// Join is the path p, written on goos (runtime.GOOS), read from the
// directory base: p itself when it is absolute, else base joined with p.
// "Absolute" is not filepath.IsAbs's yes or no on Windows, where a path
// may have a drive and no root ("C:app", relative to the current directory
// of drive C) or a root and no drive ("\app", on the current drive):
// joining either to base ("D:\work\C:app", "D:\work\app") names a place
// the user did not. A rooted path takes base's volume ("D:\app"), and a
// path on base's drive is joined to base ("C:app" from "C:\work" is
// "C:\work\app"). A path relative to another drive's current directory
// is returned as it is: only the process knows that directory
// (filepath.Abs asks Windows), and Windows reads it there when it is
// opened. Elsewhere this is filepath.Join for a relative p.
func Join(goos, base, p string) string {
	if goos != "windows" {
		if path.IsAbs(p) {
			return p
		}
		return clean(goos, path.Join(base, p))
	}
	vol := Volume(goos, p)
	rest := p[len(vol):]
	switch {
	case vol != "" && isSep(rest):
		return p // C:\x, \\host\share\x
	case strings.HasPrefix(vol, `\\`) || strings.HasPrefix(vol, "//"):
		return p // \\host\share: its root
	case vol == "" && isSep(rest):
		return clean(goos, Volume(goos, base)+rest)
	case vol != "" && !strings.EqualFold(vol, Volume(goos, base)):
		return p
	}
	if rest == "" {
		return clean(goos, base)
	}
	return clean(goos, strings.TrimRight(base, `\/`)+`\`+rest)
}

// Volume is the volume at the start of p on goos: on Windows a drive
// ("C:") or a share ("\\host\share", either separator); elsewhere "".
func Volume(goos, p string) string {
	if goos != "windows" {
		return ""
	}
	if HasDrive(p) {
		return p[:2]
	}
	if len(p) < 3 || !isSepByte(p[0]) || !isSepByte(p[1]) || isSepByte(p[2]) {
		return ""
	}
	n := 2
	for n < len(p) && !isSepByte(p[n]) {
		n++
	}
	if n < len(p) {
		n++
		for n < len(p) && !isSepByte(p[n]) {
			n++
		}
	}
	return p[:n]
}

// HasDrive reports whether p starts with a Windows drive letter and its
// colon ("C:"), whatever follows: "C:\x", "C:/x" and "C:x" all do.
func HasDrive(p string) bool {
	return len(p) >= 2 && p[1] == ':' && (p[0]|0x20 >= 'a' && p[0]|0x20 <= 'z')
}

func isSep(s string) bool { return s != "" && isSepByte(s[0]) }

func isSepByte(c byte) bool { return c == '\\' || c == '/' }

// clean is filepath.Clean when goos is this system's. For another system
// (a test) the path is left as joined: filepath would clean it by this
// system's rules, not goos's.
func clean(goos, p string) string {
	if goos == runtime.GOOS {
		return filepath.Clean(p)
	}
	return p
}
