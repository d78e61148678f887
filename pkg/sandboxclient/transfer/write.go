package transfer

import (
	"bytes"
	"context"
	"io"
	"os"
	"path"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// WriteReader stores everything read from src at remote (resolved against
// the root), creating missing parents. src is read up to the client's write
// limit first, so an oversized input fails before anything is sent.
func WriteReader(ctx context.Context, sb *sc.Sandbox, remote string, src io.Reader) (string, int64, error) {
	remote = sc.ResolvePath(sb.Root(), remote)
	limit := sb.Client().WriteLimit()
	data, err := io.ReadAll(io.LimitReader(src, limit+1))
	if err != nil {
		return remote, 0, localErr(err)
	}
	return remote, int64(len(data)), put(ctx, sb, remote, bytes.NewReader(data), int64(len(data)))
}

// WriteLocalFile stores the local file at remote (resolved against the
// root), creating missing parents, streaming it from disk.
func WriteLocalFile(ctx context.Context, sb *sc.Sandbox, remote, local string) (string, int64, error) {
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
	return remote, fi.Size(), put(ctx, sb, remote, f, fi.Size())
}

// put checks the limit before any request, then creates the parent and
// writes.
func put(ctx context.Context, sb *sc.Sandbox, remote string, src io.ReaderAt, size int64) error {
	if size > sb.Client().WriteLimit() {
		// Fails locally with the limit error; nothing is sent.
		return sb.WriteFileFrom(ctx, remote, src, size)
	}
	if err := sb.Mkdir(ctx, path.Dir(remote)); err != nil {
		return err
	}
	return sb.WriteFileFrom(ctx, remote, src, size)
}
