package localsandbox

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"
	"unsafe"

	"github.com/nimbus-sh/nimbus/internal/jsjson"
	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// errnoText is Node's wording, which the session's messages carry. (A
// switch, not a map: a package-level map is built at start-up by every
// nimbus command.)
func errnoText(errno syscall.Errno) (code, text string, ok bool) {
	switch errno {
	case syscall.ENOENT:
		return "ENOENT", "no such file or directory", true
	case syscall.EACCES:
		return "EACCES", "permission denied", true
	case syscall.EEXIST:
		return "EEXIST", "file already exists", true
	case syscall.ENOTDIR:
		return "ENOTDIR", "not a directory", true
	case syscall.EISDIR:
		return "EISDIR", "illegal operation on a directory", true
	case syscall.ENOTEMPTY:
		return "ENOTEMPTY", "directory not empty", true
	case syscall.ENOSPC:
		return "ENOSPC", "no space left on device", true
	case syscall.EPERM:
		return "EPERM", "operation not permitted", true
	case syscall.ELOOP:
		return "ELOOP", "too many symbolic links encountered", true
	case syscall.EINVAL:
		return "EINVAL", "invalid argument", true
	case syscall.EBUSY:
		return "EBUSY", "resource busy or locked", true
	case syscall.EXDEV:
		return "EXDEV", "cross-device link not permitted", true
	case syscall.ENAMETOOLONG:
		return "ENAMETOOLONG", "name too long", true
	case syscall.EROFS:
		return "EROFS", "read-only file system", true
	// A write the file size limit (RLIMIT_FSIZE) or a quota stops: named,
	// not EIO, so that a client tells "no room" from a broken disk.
	case syscall.EFBIG:
		return "EFBIG", "file too large", true
	case syscall.EDQUOT:
		return "EDQUOT", "disk quota exceeded", true
	}
	return "", "", false
}

// fsErr reports a filesystem failure as the session does: 500
// E_NIMBUS_REMOTE_RPC whose message starts with the errno name and names
// the sandbox path (never the host path). A path that would leave the
// sandbox (os.Root refuses it) is EACCES.
func fsErr(op, p string, err error) *sandboxserver.Error {
	if e := overloaded(err); e != nil {
		return e
	}
	p = cleanPath(p)
	var errno syscall.Errno
	switch {
	case isEscape(err):
		return sandboxserver.RPCError(fmt.Sprintf("EACCES: permission denied, %s '%s' (the path leads outside the sandbox)", op, p))
	case errors.As(err, &errno):
		if code, text, ok := errnoText(errno); ok {
			return sandboxserver.RPCError(fmt.Sprintf("%s: %s, %s '%s'", code, text, op, p))
		}
		return sandboxserver.RPCError(fmt.Sprintf("EIO: %s, %s '%s'", errno.Error(), op, p))
	}
	return sandboxserver.RPCError(fmt.Sprintf("EIO: i/o error, %s '%s'", op, p))
}

// logHost gives the server's log (Options.Logf) the full text of a
// failure of its own files that the answer names by hostErrText alone:
// the operator needs the host path the client is not told.
func (s *Server) logHost(what, id string, err error) {
	if s.opts.Logf != nil {
		s.opts.Logf("%s in sandbox %s: %s", what, id, err)
	}
}

// hostErrText names a failure of the server's own files (its data
// directory, not the sandbox's) by its errno alone: the host error's text
// names host paths, which an answer to a sandbox client must not.
func hostErrText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if code, text, ok := errnoText(errno); ok {
			return code + ": " + text
		}
		return "EIO: " + errno.Error()
	}
	// Not an errno (os.OpenRoot of a file says "not a directory" with
	// errors.New): the words inside the path error, if they name no path.
	for {
		var pe *fs.PathError
		var le *os.LinkError
		switch {
		case errors.As(err, &pe):
			err = pe.Err
			continue
		case errors.As(err, &le):
			err = le.Err
			continue
		}
		break
	}
	if t := err.Error(); !strings.Contains(t, "/") {
		return t
	}
	return "EIO: i/o error"
}

// isEscape recognises os.Root's refusal of a path (or symlink) that leads
// outside the root; the os package has no exported sentinel for it.
func isEscape(err error) bool {
	return err != nil && strings.Contains(err.Error(), "path escapes from parent")
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist)
}

// fileOptsAt is where each file op's trailing options object is; like the
// Worker's dispatcher, it is checked (cred refused) before the path.
func fileOptsAt(op string) (int, bool) {
	switch op {
	case "readFile", "readFileBytes", "stat", "lstat", "readlink", "readdir", "exists", "mkdir":
		return 1, true
	case "writeFile", "rename", "chmod":
		return 2, true
	case "readRange":
		return 3, true
	}
	return 0, false
}

func (sb *sandbox) fileOp(c *sandboxserver.Call) (any, bool, *sandboxserver.Error) {
	if i, ok := fileOptsAt(c.Op); ok {
		if err := c.FileOpts(i); err != nil {
			return nil, false, err
		}
	}
	name := "path"
	if c.Op == "rename" {
		name = "from"
	}
	p, aerr := c.Str(0, name)
	if aerr != nil {
		return nil, false, aerr
	}
	switch c.Op {
	case "readFile", "readFileBytes":
		if data, found, ok := sb.readFileFast(rel(p)); ok {
			return readResult(c.Op, data, found)
		}
	case "writeFile":
		data, aerr := writeData(c.Arg(1))
		if aerr != nil {
			return nil, false, aerr
		}
		if ok, aerr := sb.writeFileFast(p, rel(p), data); ok {
			if aerr != nil {
				return nil, false, aerr
			}
			return sb.bumpRevision(), true, nil
		}
	}
	r := sb.rootPath(p, c.Op)
	switch c.Op {
	case "readFile", "readFileBytes":
		return sb.readFile(c.Op, p, r)
	case "stat", "lstat":
		stat := sb.root.Stat
		if c.Op == "lstat" {
			stat = sb.root.Lstat
		}
		fi, err := stat(r)
		if isNotExist(err) {
			return nil, true, nil
		}
		if err != nil {
			return nil, false, fsErr(c.Op, p, err)
		}
		st := statResult(fi)
		sb.mu.Lock()
		st["revision"] = sb.revision
		sb.mu.Unlock()
		return st, true, nil
	case "readlink":
		t, err := sb.root.Readlink(r)
		if isNotExist(err) {
			return nil, true, nil
		}
		if err != nil {
			return nil, false, fsErr("readlink", p, err)
		}
		return t, true, nil
	case "readdir":
		f, aerr := sb.openDir(p, r)
		if aerr != nil {
			return nil, false, aerr
		}
		defer f.Close()
		ents, err := f.ReadDir(-1)
		if err != nil {
			return nil, false, fsErr("scandir", p, err)
		}
		// Sorted by name as the Worker's VFS sorts (JavaScript's <), not
		// in the file system's own order.
		slices.SortFunc(ents, func(a, b os.DirEntry) int { return jsjson.Compare(a.Name(), b.Name()) })
		out := make([]any, 0, len(ents))
		for _, e := range ents {
			out = append(out, map[string]any{"name": e.Name(), "type": typeName(e.Type())})
		}
		return out, true, nil
	case "exists":
		_, err := sb.root.Stat(r)
		return err == nil, true, nil
	case "mkdir":
		if aerr := sb.mkdirAll(p, r); aerr != nil {
			return nil, false, aerr
		}
		return nil, false, nil
	case "writeFile":
		data, aerr := writeData(c.Arg(1))
		if aerr != nil {
			return nil, false, aerr
		}
		if err := sb.writeFile(p, r, data); err != nil {
			return nil, false, err
		}
		return sb.bumpRevision(), true, nil
	case "rename":
		to, aerr := c.Str(1, "to")
		if aerr != nil {
			return nil, false, aerr
		}
		rt := sb.rootPath(to, c.Op)
		// A file a command wrote (a transfer's parts joined by cat) is
		// flushed before it takes its new name: ok then means the content
		// is on the disk under that name, as for writeFile (durable.go).
		if err := syncRegular(sb.root, r); err != nil {
			return nil, false, fsErr("fsync", p, err)
		}
		err := fault("rename")
		if err == nil {
			err = sb.root.Rename(r, rt)
		}
		if err != nil {
			return nil, false, sb.renameErr(p, r, rt, err)
		}
		// Both names on the disk (durable.go).
		if err := syncRootDir(sb.root, path.Dir(rt)); err != nil {
			return nil, false, fsErr("fsync", to, err)
		}
		if path.Dir(r) != path.Dir(rt) {
			if err := syncRootDir(sb.root, path.Dir(r)); err != nil {
				return nil, false, fsErr("fsync", p, err)
			}
		}
		return nil, false, nil
	case "chmod":
		mode, aerr := c.Num(1, "mode")
		if aerr != nil {
			return nil, false, aerr
		}
		// uint32(int64(-1)) would be setuid+setgid+sticky+0777: only the
		// permission, setuid, setgid and sticky bits are a mode.
		if mode < 0 || mode > 0o7777 || mode != math.Trunc(mode) {
			return nil, false, sandboxserver.RPCError(fmt.Sprintf("EINVAL: invalid argument, chmod '%s' (mode must be an integer from 0 to 0o7777, got %s)", cleanPath(p), strconv.FormatFloat(mode, 'f', -1, 64)))
		}
		// Opened before the change too: a mode without read permission
		// leaves a file that cannot be opened after it (durable.go).
		f := openInode(sb.root, r)
		if err := sb.root.Chmod(r, fileMode(uint32(mode))); err != nil {
			if f != nil {
				f.Close()
			}
			return nil, false, fsErr("chmod", p, err)
		}
		if f == nil {
			f = openInode(sb.root, r)
		}
		err := syncInode(sb.root, r, f)
		if f != nil {
			f.Close()
		}
		if err != nil {
			return nil, false, fsErr("fsync", p, err)
		}
		return nil, false, nil
	case "readRange":
		off, aerr := c.Num(1, "offset")
		if aerr != nil {
			return nil, false, aerr
		}
		length, aerr := c.Num(2, "length")
		if aerr != nil {
			return nil, false, aerr
		}
		if off < 0 || length < 0 {
			return nil, false, sandboxserver.RPCError("EINVAL: offset and length must not be negative, read '" + cleanPath(p) + "'")
		}
		if int64(length) > sb.s.opts.ReadLimit {
			return nil, false, sandboxserver.ReadTooLarge(int64(length), sb.s.opts.ReadLimit)
		}
		f, fi, aerr := sb.openRead(p, r, "read")
		if aerr != nil {
			return nil, false, aerr
		}
		if f == nil {
			// A missing path answers "result":null.
			return nil, true, nil
		}
		// What the file holds bounds the answer, not what was asked for.
		want := min(int64(length), max(fi.Size()-int64(off), 0))
		if want > streamAbove {
			return sandboxserver.FileBytes{
				R:    sectionCloser{io.NewSectionReader(f, int64(off), want), f},
				Size: want,
				Fail: func(err error) *sandboxserver.Error { return fsErr("read", p, err) },
			}, true, nil
		}
		defer f.Close()
		buf := make([]byte, want)
		n, err := f.ReadAt(buf, int64(off))
		if err != nil && err != io.EOF {
			return nil, false, fsErr("read", p, err)
		}
		return sandboxserver.Bytes(buf[:n]), true, nil
	case "deleteFile":
		o := c.Obj(1)
		if _, has := o["cred"]; has {
			return nil, false, sandboxserver.ArgError("cred is not accepted over the remote API")
		}
		// The session tests it as `if (!options.recursive)`.
		recursive := truthy(o["recursive"])
		if r == "." {
			return nil, false, sandboxserver.RPCError("EPERM: operation not permitted, rm '/'")
		}
		fi, err := sb.root.Lstat(r)
		if isNotExist(err) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fsErr("rm", p, err)
		}
		if fi.IsDir() && recursive {
			err = sb.root.RemoveAll(r)
		} else {
			err = sb.root.Remove(r)
		}
		if err != nil {
			op := "unlink"
			if fi.IsDir() {
				op = "rmdir"
			}
			return nil, false, fsErr(op, p, err)
		}
		// The name's removal on the disk (durable.go): a delete answered
		// ok must not come back after a crash.
		if err := syncRootDir(sb.root, path.Dir(r)); err != nil {
			return nil, false, fsErr("fsync", p, err)
		}
		return nil, false, nil
	}
	return nil, false, sandboxserver.NewError(400, "E_REMOTE_OP", "Unknown Nimbus sandbox operation: "+c.Op)
}

// mkdirAll makes directory r and its missing parents, then flushes each
// directory that got a new entry (durable.go): the deepest one that
// existed and the new ones above r.
func (sb *sandbox) mkdirAll(p, r string) *sandboxserver.Error {
	top := r
	for top != "." {
		if _, err := sb.root.Stat(top); err == nil {
			break
		}
		top = path.Dir(top)
	}
	if err := sb.root.MkdirAll(r, 0o755); err != nil {
		return fsErr("mkdir", p, err)
	}
	for d := r; d != top; {
		d = path.Dir(d)
		if err := syncRootDir(sb.root, d); err != nil {
			return fsErr("fsync", p, err)
		}
	}
	return nil
}

// renameErr reports a failed rename. Onto an existing directory the
// Worker's VFS refuses with its own texts (the host says EEXIST, or
// ENOTEMPTY, and would let a directory replace an empty one, which the
// Worker refuses too); the code is checked only once the rename failed,
// so a rename that succeeds costs nothing more.
func (sb *sandbox) renameErr(p, r, rt string, err error) *sandboxserver.Error {
	if errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EISDIR) {
		if dst, derr := sb.root.Lstat(rt); derr == nil && dst.IsDir() {
			if src, serr := sb.root.Lstat(r); serr == nil && src.IsDir() {
				return sandboxserver.RPCError("ENOTDIR-or-EISDIR: rename onto existing dir not supported")
			}
			return sandboxserver.RPCError("EISDIR: cannot rename file onto existing directory")
		}
	}
	return fsErr("rename", p, err)
}

// readFile reads a whole file; ok is false when it does not exist.
// streamAbove is the size above which a read is answered from the open
// file while the answer is written (sandboxserver.FileText, FileBytes)
// rather than from a copy in memory: a few reads of 28 MiB at once would
// otherwise cost hundreds of MiB.
const streamAbove = 1 << 20

// readFile answers readFile (text) or readFileBytes of the whole file.
func (sb *sandbox) readFile(op, p, r string) (any, bool, *sandboxserver.Error) {
	f, fi, aerr := sb.openRead(p, r, "read")
	if aerr != nil || f == nil {
		return nil, aerr == nil, aerr
	}
	limit := sb.s.opts.ReadLimit
	if fi.Size() > limit {
		f.Close()
		return nil, false, sandboxserver.ReadTooLarge(fi.Size(), limit)
	}
	fail := func(err error) *sandboxserver.Error { return fsErr("read", p, err) }
	if fi.Size() > streamAbove {
		// A file that grew meanwhile is read on, as below, up to the
		// limit; a file of bytes is sent as it was when opened.
		if op == "readFile" {
			return sandboxserver.FileText{R: f, Limit: limit, Fail: fail}, true, nil
		}
		return sandboxserver.FileBytes{R: f, Size: fi.Size(), Fail: fail}, true, nil
	}
	defer f.Close()
	// One buffer of the size the file has; io.ReadAll would grow one
	// through several copies. A file that grew meanwhile is read on.
	data := make([]byte, fi.Size(), fi.Size()+1)
	n, err := io.ReadFull(f, data)
	data = data[:n]
	if err == nil {
		var more []byte
		more, err = io.ReadAll(io.LimitReader(f, limit+1-int64(n)))
		data = append(data, more...)
	}
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, false, fail(err)
	}
	if int64(len(data)) > limit {
		return nil, false, sandboxserver.ReadTooLarge(-1, limit)
	}
	return readResult(op, data, true)
}

// sectionCloser is a section of a file that closes the file.
type sectionCloser struct {
	*io.SectionReader
	f *os.File
}

func (s sectionCloser) Close() error { return s.f.Close() }

// statResult is the stat shape: the full st_mode (type bits included, as
// Node reports it), times in milliseconds.
func statResult(fi fs.FileInfo) map[string]any {
	out := map[string]any{
		"type":  typeName(fi.Mode().Type()),
		"size":  fi.Size(),
		"mtime": fi.ModTime().UnixMilli(),
		"mode":  unixMode(fi.Mode()),
	}
	statSys(fi, out)
	return out
}

func typeName(t fs.FileMode) string {
	switch {
	case t&fs.ModeDir != 0:
		return "directory"
	case t&fs.ModeSymlink != 0:
		return "symlink"
	case t&fs.ModeNamedPipe != 0:
		return "fifo"
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeCharDevice != 0:
		return "character-device"
	case t&fs.ModeDevice != 0:
		return "block-device"
	case t&fs.ModeIrregular != 0:
		return "unknown"
	}
	return "file"
}

// POSIX st_mode bits (the syscall package lacks them on some platforms).
const (
	sIFDIR = 0o040000
	sIFREG = 0o100000
	sIFLNK = 0o120000
	sISUID = 0o4000
	sISGID = 0o2000
	sISVTX = 0o1000
)

func unixMode(m fs.FileMode) uint32 {
	out := uint32(m.Perm())
	switch {
	case m.IsDir():
		out |= sIFDIR
	case m&fs.ModeSymlink != 0:
		out |= sIFLNK
	default:
		out |= sIFREG
	}
	if m&fs.ModeSetuid != 0 {
		out |= sISUID
	}
	if m&fs.ModeSetgid != 0 {
		out |= sISGID
	}
	if m&fs.ModeSticky != 0 {
		out |= sISVTX
	}
	return out
}

// fileMode converts a numeric chmod mode (e.g. 0o755) to an fs.FileMode.
func fileMode(m uint32) fs.FileMode {
	out := fs.FileMode(m & 0o777)
	if m&sISUID != 0 {
		out |= fs.ModeSetuid
	}
	if m&sISGID != 0 {
		out |= fs.ModeSetgid
	}
	if m&sISVTX != 0 {
		out |= fs.ModeSticky
	}
	return out
}

// validText reports whether b is UTF-8 text (for process logs).
func validText(b []byte) bool { return utf8.Valid(b) }

// readResult is the answer to readFile (text) or readFileBytes of data;
// a read of a missing path answers "result":null, never a void envelope:
// the SDK's result schemas reject {"ok":true}.
func readResult(op string, data []byte, found bool) (any, bool, *sandboxserver.Error) {
	if !found {
		return nil, true, nil
	}
	if op == "readFile" {
		return sandboxserver.Text(data), true, nil
	}
	return sandboxserver.Bytes(data), true, nil
}

// writeData is writeFile's content argument as bytes.
func writeData(v any) ([]byte, *sandboxserver.Error) {
	switch t := v.(type) {
	case string:
		// The content is only read (written to the file), so it is not
		// copied: for a big write that is a second copy of it in memory.
		return unsafe.Slice(unsafe.StringData(t), len(t)), nil
	case []byte:
		return t, nil
	case map[string]any:
		if t["__nimbusWireType"] == "bytes" {
			return nil, sandboxserver.ArgError("content: the base64 of the bytes object is not base64")
		}
	}
	return nil, sandboxserver.ArgError("content must be a string or Uint8Array")
}

// bumpRevision counts a change of the sandbox's files and returns the new
// revision.
func (sb *sandbox) bumpRevision() int64 {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.revision++
	return sb.revision
}
