package sandboxinit

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
)

// The control socket protocol (version protocol). The server sends
// frames, the init answers with lines.
//
// Server to init:
//
//	'R' len:uint32be payload   run a command; its files (stdin, stdout,
//	                           stderr, then each passed extra file) ride
//	                           along as SCM_RIGHTS
//	'S' n:byte                 signal n for the running shell's group
//	'K'                        kill the command and everything it started
//
// Init to server, one line each: "init" once set up ("setup <errno>
// <reason>" or "fail <errno> <reason>" instead, then it exits); per
// command "ready <pid>" or "fail <errno> <reason>", then "exit <code>" or
// "signal <n>" once the shell and everything it started are gone. errno
// is the failed system call's, in decimal, 0 for none. The init then waits for the next
// command; closing the socket ends it and everything it runs.
const (
	frameRun    = 'R'
	frameSignal = 'S'
	frameKill   = 'K'
)

// maxRunFrame bounds a run frame: more than the kernel lets argv and the
// environment hold together.
const maxRunFrame = 8 << 20

// runSpec is one command for an init.
type runSpec struct {
	dir   string // host directory to start in
	cwd   string // directory to change to in the namespaces; "" keeps dir
	path  string
	argv  []string
	env   []string
	extra string // one letter per extra file: "1" passed, "0" closed
	tty   bool   // stdin is the shell's terminal
}

// nfiles is how many files ride with the frame.
func (r *runSpec) nfiles() int { return 3 + strings.Count(r.extra, "1") }

var errNUL = errors.New("sandboxinit: a NUL byte in an argument, the environment or a path")

// appendRunFrame appends r as a run frame: NUL-terminated fields dir,
// cwd, path, extra, tty ("1" or "0"), the argument count, the arguments,
// then the environment.
func appendRunFrame(dst []byte, r *runSpec) ([]byte, error) {
	start := len(dst)
	dst = append(dst, frameRun, 0, 0, 0, 0)
	field := func(s string) bool {
		if strings.IndexByte(s, 0) >= 0 {
			return false
		}
		dst = append(dst, s...)
		dst = append(dst, 0)
		return true
	}
	tty := "0"
	if r.tty {
		tty = "1"
	}
	ok := field(r.dir) && field(r.cwd) && field(r.path) && field(r.extra) && field(tty) && field(strconv.Itoa(len(r.argv)))
	for _, a := range r.argv {
		ok = ok && field(a)
	}
	for _, e := range r.env {
		ok = ok && field(e)
	}
	if !ok {
		return dst[:start], errNUL
	}
	n := len(dst) - start - 5
	if n > maxRunFrame {
		return dst[:start], errors.New("sandboxinit: the command and its environment are too large")
	}
	binary.BigEndian.PutUint32(dst[start+1:], uint32(n))
	return dst, nil
}

// parseRunPayload reads a run frame's payload.
func parseRunPayload(p []byte) (*runSpec, error) {
	fields := strings.Split(string(p), "\x00")
	if len(fields) < 7 || fields[len(fields)-1] != "" {
		return nil, errors.New("malformed run frame")
	}
	fields = fields[:len(fields)-1]
	r := &runSpec{dir: fields[0], cwd: fields[1], path: fields[2], extra: fields[3], tty: fields[4] == "1"}
	n, err := strconv.Atoi(fields[5])
	rest := fields[6:]
	if err != nil || n < 1 || n > len(rest) || strings.Trim(r.extra, "01") != "" || len(r.extra) > 64 || fields[4] != "0" && fields[4] != "1" {
		return nil, errors.New("malformed run frame")
	}
	r.argv, r.env = rest[:n], rest[n:]
	return r, nil
}
