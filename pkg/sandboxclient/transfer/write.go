package transfer

import (
	"bytes"
	"context"
	"io"
	"os"
	"path"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// spoolInMemory is how much of a stream WriteReader keeps in memory; a
// longer stream is spooled to a temporary file so it can be split.
const spoolInMemory = 4 << 20

// WriteReader stores everything read from src at remote (resolved against
// the root), creating missing parents. Input of any size is accepted: up to
// a few MiB is held in memory, more is spooled to a temporary local file
// and written in parts like a big file.
func WriteReader(ctx context.Context, sb *sc.Sandbox, remote string, src io.Reader, o Options) (string, int64, error) {
	remote = sc.ResolvePath(sb.Root(), remote)
	head, err := io.ReadAll(io.LimitReader(src, spoolInMemory+1))
	if err != nil {
		return remote, 0, localErr(err)
	}
	e := newEngine(sb, o)
	if len(head) <= spoolInMemory {
		return remote, int64(len(head)), e.put(ctx, remote, bytes.NewReader(head), int64(len(head)))
	}
	tmp, err := os.CreateTemp("", "nimbus-stdin-*")
	if err != nil {
		return remote, 0, localErr(err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := io.Copy(tmp, io.MultiReader(bytes.NewReader(head), src))
	if err != nil {
		return remote, 0, localErr(err)
	}
	return remote, n, e.put(ctx, remote, tmp, n)
}

// WriteLocalFile stores the local file at remote (resolved against the
// root), creating missing parents, streaming it from disk; files above the
// write limit are split.
func WriteLocalFile(ctx context.Context, sb *sc.Sandbox, remote, local string, o Options) (string, int64, error) {
	remote = sc.ResolvePath(sb.Root(), remote)
	f, err := os.Open(local)
	if err != nil {
		return remote, 0, localErr(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return remote, 0, localErr(err)
	}
	if fi.IsDir() {
		return remote, 0, &Error{Code: CodeIsDirectory, Message: local + " is a directory (copy trees with cp -r)"}
	}
	e := newEngine(sb, o)
	return remote, fi.Size(), e.put(ctx, remote, &sizedFile{f: f, size: fi.Size(), name: local}, fi.Size())
}

// put creates the parent and writes.
func (e *engine) put(ctx context.Context, remote string, src io.ReaderAt, size int64) error {
	if err := e.sb.Mkdir(ctx, path.Dir(remote)); err != nil {
		return err
	}
	e.obs.Plan(1, size)
	return e.putFile(ctx, src, size, remote, defaultRemoteMode)
}
