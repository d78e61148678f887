package sandboxclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Stat is the result of stat and lstat. Extra keys are tolerated.
type Stat struct {
	// Type is "file", "directory", "symlink" or another node kind such as
	// "fifo" or "socket" (wire "type"); Lstat reports a symlink as
	// "symlink", Stat reports its target.
	Type string `json:"type"`
	// Size is the length in bytes (wire "size").
	Size int64 `json:"size"`
	// Mtime is the last modification time, in milliseconds since the Unix
	// epoch (wire "mtime").
	Mtime int64 `json:"mtime"`
	// Mode is the full POSIX st_mode as Node reports it (wire "mode"):
	// the file-type bits (such as 0o100000 for a regular file) as well as
	// the permission bits, so mask it with 0o7777 before passing it to
	// Chmod or os.FileMode.
	Mode uint32 `json:"mode"`
	// Ctime is the inode change time, in milliseconds since the Unix
	// epoch (wire "ctime"); nil when the server does not send it.
	Ctime *int64 `json:"ctime,omitempty"`
	// Ino is the inode number (wire "ino"); nil when the server does not
	// send it.
	Ino *int64 `json:"ino,omitempty"`
	// Revision is the sandbox filesystem's revision when the stat was
	// taken (wire "revision"), which grows with every committed write;
	// nil from servers that do not send it.
	Revision *int64 `json:"revision,omitempty"`
}

// DirEntry is one readdir entry.
type DirEntry struct {
	// Name is the entry's base name, without the directory (wire "name").
	Name string `json:"name"`
	// Type is the entry's kind, "file", "directory", "symlink", "unknown"
	// or a device type (wire "type").
	Type string `json:"type"`
}

// ReadFile returns the file as text; ok is false when it does not exist.
func (s *Sandbox) ReadFile(ctx context.Context, path string) (text string, ok bool, err error) {
	var r *string
	if err := s.call(ctx, "readFile", []any{path}, &r); err != nil {
		return "", false, err
	}
	if r == nil {
		return "", false, nil
	}
	return *r, true, nil
}

// ReadFileBytes returns the file's bytes with one readFileBytes call; ok is
// false when it does not exist. The server refuses files above 28 MiB: use
// ReadFileTo for those.
func (s *Sandbox) ReadFileBytes(ctx context.Context, path string) (data []byte, ok bool, err error) {
	var r *Bytes
	if err := s.call(ctx, "readFileBytes", []any{path}, &r); err != nil {
		return nil, false, err
	}
	if r == nil {
		return nil, false, nil
	}
	if *r == nil {
		return []byte{}, true, nil
	}
	return *r, true, nil
}

// ReadRange returns up to length bytes from offset; ok is false when the
// file does not exist.
func (s *Sandbox) ReadRange(ctx context.Context, path string, offset, length int64) (data []byte, ok bool, err error) {
	if offset < 0 || length < 0 {
		return nil, false, &Error{Code: CodeInvalidArgument, Message: "readRange offset and length must not be negative"}
	}
	var r *Bytes
	if err := s.call(ctx, "readRange", []any{path, offset, length}, &r); err != nil {
		return nil, false, err
	}
	if r == nil {
		return nil, false, nil
	}
	return *r, true, nil
}

// ReadFileTo copies the file to w and returns its size. Files up to the
// chunk threshold (28 MiB) are read with one readFileBytes; bigger ones with
// readRange chunks, so memory stays bounded by one chunk. A missing file
// gives an error for which IsNotFound reports true.
func (s *Sandbox) ReadFileTo(ctx context.Context, path string, w io.Writer) (int64, error) {
	st, err := s.Stat(ctx, path)
	if err != nil {
		return 0, err
	}
	if st == nil {
		return 0, notFound(path)
	}
	return s.ReadStatTo(ctx, path, st, w)
}

// ReadStatTo is ReadFileTo for a file whose Stat the caller already has
// (e.g. to keep its mode), saving one round trip. A file that turns out
// shorter or longer than st.Size gives CodeFileChanged (the bytes read are
// written to w all the same).
func (s *Sandbox) ReadStatTo(ctx context.Context, path string, st *Stat, w io.Writer) (int64, error) {
	if st.Type == "directory" {
		return 0, &RemoteError{Op: "readFile", Code: CodeRemoteRPC, Status: 500, Message: fmt.Sprintf("EISDIR: illegal operation on a directory, read '%s'", path)}
	}
	if st.Size <= s.c.chunkAbove {
		found, n, err := s.streamBytesCall(ctx, "readFileBytes", []any{path}, w, st.Size+s.c.chunkSize)
		switch {
		case err == nil && !found:
			err = notFound(path)
		case err == nil && n != st.Size:
			// Whole, but not the file that was sized: it changed in
			// between (or the server's answers disagree).
			err = &Error{Code: CodeFileChanged, Message: fmt.Sprintf("%s: the file changed size while it was read (%d bytes read, %d expected)", path, n, st.Size)}
		}
		return n, err
	}
	var total int64
	for total < st.Size {
		want := min(s.c.chunkSize, st.Size-total)
		found, n, err := s.streamBytesCall(ctx, "readRange", []any{path, total, want}, w, want)
		total += n
		if err != nil {
			return total, err
		}
		if !found {
			return total, notFound(path)
		}
		if n < want {
			// The chunks already written are of another version of the
			// file: no copy that looks whole.
			return total, &Error{Code: CodeFileChanged, Message: fmt.Sprintf("%s: the file shrank while it was read (%d of %d bytes)", path, total, st.Size)}
		}
	}
	if err := s.checkNotGrown(ctx, path, st.Size); err != nil {
		return total, err
	}
	return total, nil
}

// checkNotGrown asks for the byte after size, the length of path when a
// chunked read began: a file that has one grew while it was read, and
// the chunks are of another version of it (the single read sees that by
// its length). It gives CodeFileChanged for a file that grew, nil
// otherwise (also for a file that is gone by then: every byte it had was
// read).
func (s *Sandbox) checkNotGrown(ctx context.Context, path string, size int64) error {
	found, n, err := s.streamBytesCall(ctx, "readRange", []any{path, size, int64(1)}, io.Discard, 1)
	if err != nil {
		return err
	}
	if found && n > 0 {
		return &Error{Code: CodeFileChanged, Message: fmt.Sprintf("%s: the file grew while it was read (longer than the %d bytes read)", path, size)}
	}
	return nil
}

// ReadRangeTo streams up to length bytes of path from offset into w and
// returns how many arrived; fewer than length means the file ended. A
// missing file gives an error for which IsNotFound reports true. Memory does
// not grow with length: the answer is decoded as it arrives, so callers can
// run several at once into an io.OffsetWriter to fetch a big file in
// parallel.
func (s *Sandbox) ReadRangeTo(ctx context.Context, path string, offset, length int64, w io.Writer) (int64, error) {
	if offset < 0 || length < 0 {
		return 0, &Error{Code: CodeInvalidArgument, Message: "readRange offset and length must not be negative"}
	}
	found, n, err := s.streamBytesCall(ctx, "readRange", []any{path, offset, length}, w, length)
	if err == nil && !found {
		err = notFound(path)
	}
	return n, err
}

func notFound(path string) *RemoteError {
	return &RemoteError{Op: "readFile", Code: CodeRemoteRPC, Status: 500, Message: fmt.Sprintf("ENOENT: no such file or directory, open '%s'", path)}
}

// WriteFileText stores text as UTF-8. The parent directory must exist.
func (s *Sandbox) WriteFileText(ctx context.Context, path, text string) error {
	if int64(len(text)) > s.c.writeLimit {
		return s.c.tooLarge(int64(len(text)))
	}
	return s.call(ctx, "writeFile", []any{path, text}, nil)
}

// WriteFile stores data binary-safe (bytes wire type). The parent directory
// must exist. Data above the write limit fails before anything is sent.
func (s *Sandbox) WriteFile(ctx context.Context, path string, data []byte) error {
	return s.WriteFileFrom(ctx, path, bytes.NewReader(data), int64(len(data)))
}

// WriteFileFrom stores size bytes read from src. The request body is
// base64-encoded while it is sent (through an io.Pipe), so memory does not
// grow with the file; src is read again from the start when a 503 is
// retried.
func (s *Sandbox) WriteFileFrom(ctx context.Context, path string, src io.ReaderAt, size int64) error {
	if size > s.c.writeLimit {
		return s.c.tooLarge(size)
	}
	if err := s.ensureReady(ctx); err != nil {
		return err
	}
	head, err := json.Marshal(struct {
		Profile string `json:"profile"`
		Root    string `json:"root"`
		Tenant  string `json:"tenant,omitempty"`
		Subject string `json:"subject,omitempty"`
		Diag    bool   `json:"diag,omitempty"`
		Op      string `json:"op"`
	}{s.opts.Profile, s.opts.Root, s.opts.Tenant, s.opts.Subject, s.c.diag, "writeFile"})
	if err != nil {
		return newError(CodeInvalidArgument, "writeFile: cannot encode arguments", err)
	}
	p, _ := json.Marshal(path)
	prefix := append(head[:len(head)-1:len(head)-1], `,"args":[`...)
	prefix = append(prefix, p...)
	prefix = append(prefix, ',')
	prefix = append(prefix, bytesPrefix...)
	suffix := []byte(`"}]}`)
	length := int64(len(prefix)) + int64(base64.StdEncoding.EncodedLen(int(size))) + int64(len(suffix))
	body := func() (io.Reader, int64, error) {
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(encodeBody(pw, prefix, io.NewSectionReader(src, 0, size), suffix))
		}()
		return pr, length, nil
	}
	resp, err := s.c.send(ctx, s.rpcRequest("writeFile", body, mediaJSON))
	if err != nil {
		return err
	}
	return s.c.decodeEnvelope(ctx, "writeFile", resp, nil)
}

// pipeBufSize batches the base64 encoder's small writes into pipe writes.
const pipeBufSize = 32 << 10

func encodeBody(w io.Writer, prefix []byte, src io.Reader, suffix []byte) error {
	bw := bufio.NewWriterSize(w, pipeBufSize)
	if _, err := bw.Write(prefix); err != nil {
		return err
	}
	enc := base64.NewEncoder(base64.StdEncoding, bw)
	buf := make([]byte, 3*(pipeBufSize/4))
	if _, err := io.CopyBuffer(struct{ io.Writer }{enc}, struct{ io.Reader }{src}, buf); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	if _, err := bw.Write(suffix); err != nil {
		return err
	}
	return bw.Flush()
}

func (c *Client) tooLarge(size int64) *Error {
	return &Error{Code: CodeWriteTooLarge, Message: fmt.Sprintf("file is %d bytes, above the single-request write limit of %s (%d bytes)", size, humanBytes(c.writeLimit), c.writeLimit)}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// WriteLocalFile uploads a local file (binary-safe, streamed).
func (s *Sandbox) WriteLocalFile(ctx context.Context, path string, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return s.WriteFileFrom(ctx, path, f, fi.Size())
}

// Stat returns the entry's metadata, following symlinks, or nil when it does
// not exist.
func (s *Sandbox) Stat(ctx context.Context, path string) (*Stat, error) {
	return s.stat(ctx, "stat", path)
}

// Lstat is Stat without following a final symlink.
func (s *Sandbox) Lstat(ctx context.Context, path string) (*Stat, error) {
	return s.stat(ctx, "lstat", path)
}

func (s *Sandbox) stat(ctx context.Context, op, path string) (*Stat, error) {
	var r *Stat
	if err := s.call(ctx, op, []any{path}, &r); err != nil {
		return nil, err
	}
	if r != nil && r.Type == "" {
		return nil, malformed(op, "no type")
	}
	return r, nil
}

// Readlink returns a symlink's target; ok is false when there is none.
func (s *Sandbox) Readlink(ctx context.Context, path string) (target string, ok bool, err error) {
	var r *string
	if err := s.call(ctx, "readlink", []any{path}, &r); err != nil {
		return "", false, err
	}
	if r == nil {
		return "", false, nil
	}
	return *r, true, nil
}

// ReadDir lists a directory. Old servers answer an empty list for a missing
// directory, newer ones an ENOENT error: callers see both as given.
func (s *Sandbox) ReadDir(ctx context.Context, path string) ([]DirEntry, error) {
	var r []DirEntry
	if err := s.call(ctx, "readdir", []any{path}, &r); err != nil {
		return nil, err
	}
	for _, e := range r {
		if e.Name == "" {
			return nil, malformed("readdir", "an entry has no name")
		}
	}
	if r == nil {
		r = []DirEntry{}
	}
	return r, nil
}

// Exists reports whether path exists.
func (s *Sandbox) Exists(ctx context.Context, path string) (bool, error) {
	var r bool
	if err := s.call(ctx, "exists", []any{path}, &r); err != nil {
		return false, err
	}
	return r, nil
}

// Mkdir creates path and its parents (always recursive).
func (s *Sandbox) Mkdir(ctx context.Context, path string) error {
	return s.call(ctx, "mkdir", []any{path}, nil)
}

// Rename moves from to to. Never retried.
func (s *Sandbox) Rename(ctx context.Context, from, to string) error {
	return s.call(ctx, "rename", []any{from, to}, nil)
}

// Chmod sets the numeric mode (e.g. 0o755).
func (s *Sandbox) Chmod(ctx context.Context, path string, mode uint32) error {
	return s.call(ctx, "chmod", []any{path, mode}, nil)
}

// DeleteFile removes path; a missing path is a no-op. Without recursive a
// directory is removed like rmdir.
func (s *Sandbox) DeleteFile(ctx context.Context, path string, recursive bool) error {
	opts := map[string]any{}
	if recursive {
		opts["recursive"] = true
	}
	return s.call(ctx, "deleteFile", []any{path, opts}, nil)
}
