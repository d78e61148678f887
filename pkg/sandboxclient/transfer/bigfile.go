package transfer

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-sh/nimbus/internal/shellquote"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// cleanupTimeout bounds the removal of temporary parts after a failure,
// which runs even when the copy was interrupted: the deleteFile calls
// that remove them one by one get this budget of their own.
const cleanupTimeout = 30 * time.Second

// cleanupExecTimeout bounds the one rm that removes the temporary parts
// first, on the client and in the sandbox, so that a sandbox whose exec
// stalls leaves the deleteFile fallback its whole budget. A variable for
// tests only.
var cleanupExecTimeout = 10 * time.Second

// LeftoverError is the failure of a split write whose temporary files
// could not all be removed afterwards: Err is the failure itself, Paths
// the sandbox paths left behind (to remove by hand).
type LeftoverError struct {
	// Err is the failure of the write itself; errors.Is and errors.As see
	// it through Unwrap.
	Err error
	// Paths are the sandbox paths of the temporary part files that are
	// still there; never empty.
	Paths []string
}

// Error is Err's message naming the files left behind.
func (e *LeftoverError) Error() string { return e.Err.Error() + e.note() }

func (e *LeftoverError) note() string {
	return "; temporary files left in the sandbox: " + strings.Join(e.Paths, ", ")
}

// Unwrap returns Err, for errors.Is and errors.As.
func (e *LeftoverError) Unwrap() error { return e.Err }

// defaultRemoteMode is the mode writeFile gives new files.
const defaultRemoteMode fs.FileMode = 0o644

// executable reports whether any execute bit is set. Copies keep
// executable bits: an executable file gets its own permission bits in the
// sandbox; any other file keeps what writeFile gives it (0644 for a new
// file), so umask differences (0664, 0600) do not cost a chmod per file.
func executable(m fs.FileMode) bool { return m&0o111 != 0 }

// engine carries what one copy shares: the sandbox, the options, and the
// bound on transfer requests in flight.
type engine struct {
	sb   *sc.Sandbox
	opts Options
	obs  Observer
	reqs chan struct{} // one token per transfer request in flight
}

func newEngine(sb *sc.Sandbox, o Options) *engine {
	return &engine{sb: sb, opts: o, obs: o.observer(), reqs: make(chan struct{}, o.parallel())}
}

// acquire takes a request slot.
func (e *engine) acquire(ctx context.Context) error {
	select {
	case e.reqs <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *engine) release() { <-e.reqs }

func (e *engine) partSize() int64 {
	limit := e.sb.Client().WriteLimit()
	if e.opts.PartSize > 0 && e.opts.PartSize < limit {
		return e.opts.PartSize
	}
	return limit
}

// randomTag names the temporary files of one copy.
func randomTag() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// putFile writes size bytes of src to dst (an absolute sandbox path whose
// parent exists) with mode. Files up to the write limit take one
// writeFile; bigger ones are split (putSplit).
func (e *engine) putFile(ctx context.Context, src io.ReaderAt, size int64, dst string, mode fs.FileMode) error {
	if size > e.partSize() {
		return e.putSplit(ctx, src, size, dst, mode)
	}
	if err := e.acquire(ctx); err != nil {
		return err
	}
	err := e.sb.WriteFileFrom(ctx, dst, countingReaderAt{src, e.obs}, size)
	e.release()
	if err != nil {
		return err
	}
	if executable(mode) {
		return e.sb.Chmod(ctx, dst, uint32(mode.Perm()))
	}
	return nil
}

// putSplit writes a big file as parts next to dst, joins them with cat in
// the sandbox, checks the result (size by stat; content by sha256sum, else
// by sampled ranges), sets the mode and renames it into place. On any
// failure the parts and the joined file are removed and dst is untouched.
func (e *engine) putSplit(ctx context.Context, src io.ReaderAt, size int64, dst string, mode fs.FileMode) (err error) {
	dir, base := path.Split(dst)
	dir = path.Clean(dir)
	part := e.partSize()
	n := int((size + part - 1) / part)
	tag := ".nimbus-" + randomTag()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%06d", tag, i)
	}
	joined := tag + ".join"
	defer func() {
		if err != nil {
			if left := e.removeTemps(ctx, dir, append(names, joined)); len(left) > 0 {
				err = &LeftoverError{Err: err, Paths: left}
			}
		}
	}()

	// Each part's digest is computed from the bytes as they are sent.
	sums := make([][]byte, n)
	err = e.parts(ctx, n, true, func(ctx context.Context, i int) error {
		off := int64(i) * part
		ln := min(part, size-off)
		if err := e.acquire(ctx); err != nil {
			return err
		}
		defer e.release()
		h := &hashingReaderAt{r: io.NewSectionReader(src, off, ln), h: sha256.New()}
		if err := e.sb.WriteFileFrom(ctx, path.Join(dir, names[i]), countingReaderAt{h, e.obs}, ln); err != nil {
			return err
		}
		sum, err := h.sum(ln)
		sums[i] = sum
		return err
	})
	if err != nil {
		return err
	}
	// The join is not abandoned half-way either (a cat still running
	// would recreate the joined file after the cleanup).
	jctx, jcancel := settled(ctx)
	err = e.join(jctx, dir, names, joined, part)
	jcancel()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := e.sb.Stat(ctx, path.Join(dir, joined))
	if err != nil {
		return err
	}
	if st == nil || st.Size != size {
		got := int64(-1)
		if st != nil {
			got = st.Size
		}
		return &Error{Code: CodeVerify, Message: fmt.Sprintf("%s: the joined file has %d bytes, expected %d", dst, got, size)}
	}
	if err := e.verify(ctx, dir, joined, dst, src, size, part, sums); err != nil {
		return err
	}
	// The joined file was made by the sandbox's shell, with its umask. It
	// gets the mode one writeFile would leave: an existing target's
	// (0600 stays 0600), else writeFile's default; an executable source's
	// bits in both cases, as putFile's chmod gives them.
	perm := defaultRemoteMode
	if executable(mode) {
		perm = mode.Perm()
	} else if old, err := e.sb.Lstat(ctx, dst); err != nil {
		return err
	} else if old != nil && old.Type == "file" {
		perm = fs.FileMode(old.Mode & 0o777)
	}
	if err := e.sb.Chmod(ctx, path.Join(dir, joined), uint32(perm)); err != nil {
		return err
	}
	if err := e.sb.Rename(ctx, path.Join(dir, joined), path.Join(dir, base)); err != nil {
		return err
	}
	return nil
}

// parts runs fn for parts 0..n-1 with PartParallel in flight. The first
// failure, or the end of ctx, stops handing out parts and is returned.
// With settle, parts already in flight are not abandoned but allowed to
// finish (for up to cleanupTimeout): a write cut off after its body was
// sent may still land in the sandbox, after the cleanup that was meant to
// remove it.
func (e *engine) parts(ctx context.Context, n int, settle bool, fn func(context.Context, int) error) error {
	work, cancel := context.WithCancel(ctx)
	if settle {
		work, cancel = settled(ctx)
	}
	defer cancel()
	var (
		wg     sync.WaitGroup
		once   sync.Once
		ferr   error
		failed = make(chan struct{})
		next   = make(chan int)
	)
	for range min(e.opts.partParallel(), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(work, i); err != nil {
					once.Do(func() {
						ferr = err
						close(failed)
						if !settle {
							cancel()
						}
					})
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		case <-failed:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return ferr
}

// settled returns a context that outlives ctx by cleanupTimeout: work
// started under it is not cut off the moment ctx ends, but is not waited
// for without bound either.
func settled(ctx context.Context) (context.Context, context.CancelFunc) {
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var t *time.Timer
	var mu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		t = time.AfterFunc(cleanupTimeout, cancel)
		mu.Unlock()
	})
	return work, func() {
		stop()
		mu.Lock()
		if t != nil {
			t.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// maxJoinArgs bounds the parts named on one cat line (a few dozen bytes
// each, well under the script limit).
const maxJoinArgs = 2000

// join concatenates the parts (of at most part bytes) into joined with cat
// (in batches for very big files) and removes them.
func (e *engine) join(ctx context.Context, dir string, names []string, joined string, part int64) error {
	for i := 0; i < len(names); i += maxJoinArgs {
		batch := names[i:min(i+maxJoinArgs, len(names))]
		redirect := ">"
		if i > 0 {
			redirect = ">>"
		}
		// The names start with ".": no "--" needed, which minimal shells lack.
		cmd := "cat " + strings.Join(batch, " ") + " " + redirect + " " + joined + " && rm -f " + strings.Join(batch, " ")
		work := 2 * int64(len(batch)) * part // read the parts, write the joined file
		r, err := script(ctx, e.sb, dir, cmd, work)
		if err != nil {
			return err
		}
		if r.ExitCode != 0 {
			return &Error{Code: CodeJoin, Message: fmt.Sprintf("%s: joining the parts in the sandbox failed: %s", path.Join(dir, joined), scriptFailure(r, work))}
		}
	}
	return nil
}

// verify checks the joined file's content against the digests of the
// parts sent: by SHA-256 in the sandbox (openssl, else sha256sum; see
// pickHasher) over each part's range of the joined file, several at once
// (tail -c +OFFSET | head -c LENGTH); where
// the shell cannot do that, by one sha256sum of the whole file; where there
// is no sha256sum, by comparing sampled ranges (the edges of every part,
// where a misplaced or missing part shows, plus the start and the end)
// with the local file.
func (e *engine) verify(ctx context.Context, dir, joined, dst string, src io.ReaderAt, size, part int64, sums [][]byte) error {
	got, err := rangeDigests(ctx, e.sb, dir, joined, size, part, e.opts.partParallel())
	if err != nil {
		return err
	}
	if got != nil {
		for i, want := range sums {
			if got[i] != hex.EncodeToString(want) {
				off := int64(i) * part
				return &Error{Code: CodeVerify, Message: fmt.Sprintf("%s: bytes %d to %d of the joined file differ from the local file (sha256 %s in the sandbox, %x here; is the sandbox's cat binary-safe?)", dst, off, min(off+part, size)-1, got[i], want)}
			}
		}
		return nil
	}
	whole, err := remoteDigests(ctx, e.sb, dir, []string{joined}, []int64{size})
	if err != nil {
		return err
	}
	if whole[0] != "" {
		h := sha256.New()
		if _, err := io.Copy(h, &ctxReader{ctx: ctx, r: io.NewSectionReader(src, 0, size)}); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return localErr(err)
		}
		if want := hex.EncodeToString(h.Sum(nil)); whole[0] != want {
			return &Error{Code: CodeVerify, Message: fmt.Sprintf("%s: the joined file's sha256 in the sandbox is %s, the local file's is %s (is the sandbox's cat binary-safe?)", dst, whole[0], want)}
		}
		return nil
	}
	const sample = 4 << 10
	var offs []int64
	for off := int64(0); off < size; off += part {
		offs = append(offs, max(0, off-sample/2))
	}
	offs = append(offs, max(0, size-sample))
	for _, off := range offs {
		ln := min(sample, size-off)
		local := make([]byte, ln)
		if _, err := src.ReadAt(local, off); err != nil && err != io.EOF {
			return localErr(err)
		}
		var remote bytes.Buffer
		if _, err := e.sb.ReadRangeTo(ctx, path.Join(dir, joined), off, ln, &remote); err != nil {
			return err
		}
		if !bytes.Equal(remote.Bytes(), local) {
			return &Error{Code: CodeVerify, Message: fmt.Sprintf("%s: the joined file differs from the local file near byte %d", dst, off)}
		}
	}
	return nil
}

// pickHasher sets S to the fastest SHA-256 command of the sandbox, or
// exits 3 when there is none. openssl uses the CPU's SHA instructions
// where sha256sum (coreutils 9) does not: hashing a 1 GiB upload's ranges
// took 3.3 s of CPU with sha256sum and 0.65 s with openssl on the
// benchmark machine, most of the upload's verification. Either is taken
// only when it hashes the empty input right, and both print the digest
// first ("HEX *stdin", "HEX  -").
const pickHasher = `e=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
o=$(openssl dgst -sha256 -r </dev/null 2>/dev/null); o2=$(sha256sum </dev/null 2>/dev/null)
if [ "${o%% *}" = $e ]; then S="openssl dgst -sha256 -r"; elif [ "${o2%% *}" = $e ]; then S=sha256sum; else exit 3; fi
`

// rangeDigests hashes each part-sized range of the file name (in dir) in
// the sandbox, par ranges at once, and returns the hex digests in order;
// nil when the sandbox's shell or tools cannot (the caller falls back).
func rangeDigests(ctx context.Context, sb *sc.Sandbox, dir, name string, size, part int64, par int) ([]string, error) {
	n := int((size + part - 1) / part)
	var b strings.Builder
	// Without one of the tools, the hasher would hash an empty input and
	// say so with confidence: check them first.
	b.WriteString("for t in tail head; do command -v $t >/dev/null 2>&1 || exit 3; done\n")
	b.WriteString(pickHasher)
	fmt.Fprintf(&b, "f=%s; n=0\nfor x in", shellquote.Quote(name))
	for i := range n {
		fmt.Fprintf(&b, " %d:%d", i, int64(i)*part+1)
	}
	// Each line is written by one echo, so lines of concurrent ranges do
	// not interleave.
	fmt.Fprintf(&b, "; do\n  (h=$(tail -c +${x#*:} \"$f\" | head -c %d | $S) && echo \"${x%%%%:*} $h\") &\n  n=$((n+1)); if [ $n -ge %d ]; then wait; n=0; fi\ndone\nwait\n", part, par)
	if b.Len() > maxScript {
		return nil, nil
	}
	r, err := script(ctx, sb, dir, b.String(), size)
	if err != nil {
		return nil, err
	}
	out := make([]string, n)
	seen := 0
	for _, l := range strings.Split(r.Stdout, "\n") {
		idx, rest, ok := strings.Cut(l, " ")
		i, err := strconv.Atoi(idx)
		if !ok || err != nil || i < 0 || i >= n || out[i] != "" {
			continue
		}
		if d := digestOf(rest); d != "" {
			out[i] = d
			seen++
		}
	}
	if seen != n || r.ExitCode != 0 {
		return nil, nil
	}
	return out, nil
}

// hashingReaderAt hashes the bytes read through it while they are read in
// order from the start; a read out of order (none happens when a request
// body is encoded) or a restart (a retried request) is handled by sum.
type hashingReaderAt struct {
	r    io.ReaderAt
	h    hash.Hash
	next int64
	bad  bool
}

func (x *hashingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := x.r.ReadAt(p, off)
	switch {
	case off == 0:
		x.h.Reset()
		x.next, x.bad = 0, false
		fallthrough
	case off == x.next:
		x.h.Write(p[:n])
		x.next += int64(n)
	default:
		x.bad = true
	}
	return n, err
}

// sum returns the digest of the size bytes read, reading them again when
// they were not all read once in order.
func (x *hashingReaderAt) sum(size int64) ([]byte, error) {
	if x.bad || x.next != size {
		x.h.Reset()
		if _, err := io.Copy(x.h, io.NewSectionReader(x.r, 0, size)); err != nil {
			return nil, localErr(err)
		}
	}
	return x.h.Sum(nil), nil
}

// removeTemps deletes temporary files after a failure, even when ctx was
// cancelled: one rm in the sandbox (bounded by cleanupExecTimeout), or
// deleteFile calls if that fails (with a budget of their own). It returns
// the sandbox paths it could not remove.
func (e *engine) removeTemps(ctx context.Context, dir string, names []string) []string {
	base := context.WithoutCancel(ctx)
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = shellquote.Quote(n)
	}
	ok := true
	for i := 0; i < len(quoted) && ok; i += maxJoinArgs {
		rctx, cancel := context.WithTimeout(base, cleanupExecTimeout)
		r, err := e.sb.Exec(rctx, "rm -f "+strings.Join(quoted[i:min(i+maxJoinArgs, len(quoted))], " "), sc.ExecOptions{Cwd: dir, Timeout: cleanupExecTimeout})
		cancel()
		ok = err == nil && r.ExitCode == 0
	}
	if ok {
		return nil
	}
	dctx, cancel := context.WithTimeout(base, cleanupTimeout)
	defer cancel()
	var left []string
	for _, n := range names {
		p := path.Join(dir, n)
		if err := e.sb.DeleteFile(dctx, p, false); err != nil && !sc.IsNotFound(err) {
			left = append(left, p)
		}
	}
	return left
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
