package transfer

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nimbus-sh/nimbus/internal/hexdigest"
	"github.com/nimbus-sh/nimbus/internal/shellquote"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// maxScript bounds one shell script sent to the sandbox: well under the
// 128 KiB that Linux allows for one argument (sh -c SCRIPT).
const maxScript = 64 << 10

// A script in the sandbox gets a timeout of its own, sent as timeoutMs so
// the sandbox ends it: scriptBase, plus the time to read or write the
// bytes it works on (work) at scriptRate. The client waits for its answer
// that long plus the HTTP timeout (sc.Sandbox.Exec): joining or hashing a
// big file may legitimately take longer than the HTTP timeout, and a
// sandbox that never answers still cannot hang a transfer.
const (
	scriptBase = 2 * time.Minute
	scriptRate = 4 << 20 // bytes per second: a slow disk, or a shell's builtins
	scriptMax  = 24 * time.Hour
)

// scriptTimeout is the timeout of a script that reads or writes work bytes.
func scriptTimeout(work int64) time.Duration {
	secs := max(work, 0) / scriptRate
	if secs >= int64((scriptMax-scriptBase)/time.Second) {
		return scriptMax
	}
	return scriptBase + time.Duration(secs)*time.Second
}

// script runs a shell script in the sandbox with cwd dir; work is how many
// bytes it reads or writes (see scriptTimeout).
func script(ctx context.Context, sb *sc.Sandbox, dir, s string, work int64) (*sc.ExecResult, error) {
	return sb.Exec(ctx, s, sc.ExecOptions{Cwd: dir, Timeout: scriptTimeout(work)})
}

// scriptFailure describes a script's failure: its stderr, or its exit
// code (124 meaning the sandbox stopped it at its timeout).
func scriptFailure(r *sc.ExecResult, work int64) string {
	if msg := strings.TrimSpace(r.Stderr); msg != "" {
		return sc.BoundServerText(msg)
	}
	if r.ExitCode == 124 {
		return fmt.Sprintf("it did not finish within %s", scriptTimeout(work))
	}
	return fmt.Sprintf("exit code %d", r.ExitCode)
}

// batches splits lines into scripts of at most maxScript bytes each.
func batches(lines []string) [][]string {
	var out [][]string
	var cur []string
	size := 0
	for _, l := range lines {
		if len(cur) > 0 && size+len(l)+1 > maxScript {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, l)
		size += len(l) + 1
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// listEnd ends a complete find listing, so a listing cut short by an
// output limit is never taken for the whole tree.
const listEnd = "nimbus-list-end"

// listRemote lists the tree under root in the sandbox: one find command
// where the sandbox has GNU find, else readdir, stat and readlink calls
// with bounded parallelism. Subdirectories that cannot be read are
// reported to fail; only a failure on root itself is returned.
func listRemote(ctx context.Context, sb *sc.Sandbox, root string, par int, fail func(Failure)) ([]Entry, error) {
	r, err := script(ctx, sb, root, `find . -mindepth 1 -printf '%y\0%s\0%T@\0%m\0%P\0%l\0' && printf '`+listEnd+`\0'`, 0)
	if err == nil && r.ExitCode == 0 {
		if es, ok := parseFind(r.Stdout); ok {
			return exactNames(root, es, fail), nil
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	es, err := walkRemote(ctx, sb, root, par, fail)
	if err != nil {
		return nil, err
	}
	return exactNames(root, es, fail), nil
}

// exactNames drops the entries whose path (or symlink target) holds
// U+FFFD, each reported once at its top-most path (its subtree goes with
// it). The sandbox sends names as text: a name that is not valid UTF-8
// arrives with U+FFFD in place of its bytes, and is then no name the
// client can give back. Acting on it would read, overwrite or delete
// another file (one really named with U+FFFD), or none; and the failure
// makes a sync skip its deletions, so a destination file of that name is
// not deleted as missing from the source either.
func exactNames(root string, es []Entry, fail func(Failure)) []Entry {
	out := es[:0]
	var dropped map[string]bool
	for _, e := range es {
		if !strings.ContainsRune(e.Rel, utf8.RuneError) && !strings.ContainsRune(e.Link, utf8.RuneError) {
			out = append(out, e)
			continue
		}
		if dropped == nil {
			dropped = map[string]bool{}
		}
		dropped[e.Rel] = true
		under := false
		for d := path.Dir(e.Rel); d != "." && d != "/" && !under; d = path.Dir(d) {
			under = dropped[d]
		}
		if !under {
			fail(failure(path.Join(root, e.Rel), &Error{Code: CodeUnsafePath, Message: fmt.Sprintf("%s: the sandbox listed a name that is not valid UTF-8 (or holds U+FFFD), %q: it cannot be named exactly, so it is neither copied nor deleted", root, e.Rel)}))
		}
	}
	return out
}

// parseFind reads the NUL-separated records of listRemote's find.
func parseFind(out string) ([]Entry, bool) {
	f := strings.Split(out, "\x00")
	if len(f) < 2 || f[len(f)-1] != "" || f[len(f)-2] != listEnd || (len(f)-2)%6 != 0 {
		return nil, false
	}
	f = f[:len(f)-2]
	es := make([]Entry, 0, len(f)/6)
	for i := 0; i < len(f); i += 6 {
		typ, size, mtime, mode, rel, link := f[i], f[i+1], f[i+2], f[i+3], f[i+4], f[i+5]
		e := Entry{Rel: rel}
		switch typ {
		case "f":
			e.Type = TypeFile
		case "d":
			e.Type = TypeDir
		case "l":
			e.Type, e.Link = TypeSymlink, link
		case "s", "p", "c", "b", "D":
			e.Type = TypeOther
		default:
			return nil, false
		}
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil || n < 0 {
			return nil, false
		}
		if e.Type == TypeFile {
			e.Size = n
		}
		m, err := strconv.ParseUint(mode, 8, 32)
		if err != nil {
			return nil, false
		}
		e.Mode = fs.FileMode(m & 0o777)
		ms, ok := parseEpochMs(mtime)
		if !ok {
			return nil, false
		}
		e.MtimeMs = ms
		es = append(es, e)
	}
	return es, true
}

// parseEpochMs reads find's %T@ ("1700000000.1234567890") as Unix
// milliseconds, truncated, without floating-point rounding.
func parseEpochMs(s string) (int64, bool) {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, false
	}
	frac = (frac + "000")[:3]
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil || f < 0 {
		return 0, false
	}
	if n < 0 {
		return n*1000 - f, true
	}
	return n*1000 + f, true
}

// maxRemotePath bounds the paths a walk of the sandbox goes to: Linux's
// PATH_MAX, counting the terminating NUL. No sandbox tool can name a
// longer path, so a listing that reaches one loops.
const maxRemotePath = 4096

// walkRemote lists the tree with readdir, stat and readlink.
func walkRemote(ctx context.Context, sb *sc.Sandbox, root string, par int, fail func(Failure)) ([]Entry, error) {
	var (
		mu   sync.Mutex
		out  []Entry
		wg   sync.WaitGroup
		sem  = make(chan struct{}, par)
		errc = make(chan error, 1)
	)
	add := func(e Entry) {
		mu.Lock()
		out = append(out, e)
		mu.Unlock()
	}
	do := func(fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			fn()
		}()
	}
	statEntry := func(rel string, lstat bool) {
		do(func() {
			p := path.Join(root, rel)
			st, err := sb.Stat(ctx, p)
			if lstat {
				st, err = sb.Lstat(ctx, p)
			}
			if err != nil {
				fail(failure(p, err))
				return
			}
			if st == nil {
				return // vanished since the listing
			}
			e := Entry{Rel: rel, Size: st.Size, Mode: fs.FileMode(st.Mode & 0o777), MtimeMs: st.Mtime}
			switch st.Type {
			case "file":
				e.Type = TypeFile
			case "directory":
				e.Type = TypeDir
				e.Size = 0
			case "symlink":
				e.Type = TypeSymlink
				t, ok, err := sb.Readlink(ctx, p)
				if err != nil || !ok {
					if err == nil {
						err = &Error{Code: CodeNotFound, Message: p + ": vanished during the listing"}
					}
					fail(failure(p, err))
					return
				}
				e.Link, e.Size = t, 0
			default:
				e.Type, e.Size = TypeOther, 0
			}
			add(e)
		})
	}
	var visit func(rel string)
	visit = func(rel string) {
		do(func() {
			p := path.Join(root, rel)
			ents, err := sb.ReadDir(ctx, p)
			if err != nil {
				if rel == "" {
					select {
					case errc <- err:
					default:
					}
					return
				}
				fail(failure(p, err))
				return
			}
			for _, de := range ents {
				if de.Name == "" || de.Name == "." || de.Name == ".." || strings.ContainsAny(de.Name, "/\\\x00") {
					fail(failure(p+"/"+de.Name, &Error{Code: CodeUnsafePath, Message: fmt.Sprintf("%s: the sandbox listed an unsafe name %q", p, de.Name)}))
					continue
				}
				child := path.Join(rel, de.Name)
				if cp := path.Join(root, child); len(cp) >= maxRemotePath {
					// A listing that never ends (each directory holding
					// another, as a looping mount or a hostile server
					// answers) stops here instead of walking for ever.
					fail(failure(cp[:200]+"…", &Error{Code: CodeUnsafePath, Message: fmt.Sprintf("%s…: the sandbox listed a path longer than %d bytes (a directory that contains itself?): not copied", cp[:200], maxRemotePath-1)}))
					continue
				}
				switch de.Type {
				case "directory":
					add(Entry{Rel: child, Type: TypeDir, Mode: 0o755})
					visit(child)
				case "file":
					statEntry(child, false)
				default:
					statEntry(child, true)
				}
			}
		})
	}
	visit("")
	wg.Wait()
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// remoteDigests returns the sha256 (hex) of each path (relative to dir),
// whose sizes are given, or "" where the sandbox cannot tell (no
// sha256sum, unreadable file, a timeout). One
// sha256sum process hashes a whole batch; its lines are matched to the
// paths by name, so a file it cannot read just has no line.
func remoteDigests(ctx context.Context, sb *sc.Sandbox, dir string, rels []string, sizes []int64) ([]string, error) {
	out := make([]string, len(rels))
	index := make(map[string]int, len(rels))
	args := make([]string, len(rels))
	for i, r := range rels {
		index["./"+r] = i
		args[i] = shellquote.Quote("./" + r)
	}
	first := 0
	for _, b := range batches(args) {
		var work int64
		for _, n := range sizes[first : first+len(b)] {
			work += n
		}
		first += len(b)
		r, err := script(ctx, sb, dir, "sha256sum "+strings.Join(b, " ")+" 2>/dev/null", work)
		if err != nil {
			return nil, err
		}
		for _, l := range strings.Split(r.Stdout, "\n") {
			sum, name, ok := parseSumLine(l)
			if i, known := index[name]; ok && known {
				out[i] = sum
			}
		}
	}
	return out, nil
}

// parseSumLine reads one sha256sum line, "HEX  NAME", where a leading
// backslash marks a name with "\\n" and "\\\\" escapes (GNU coreutils).
func parseSumLine(line string) (sum, name string, ok bool) {
	escaped := strings.HasPrefix(line, "\\")
	if escaped {
		line = line[1:]
	}
	sum = digestOf(line)
	if sum == "" || len(line) < 66 || line[64:66] != "  " && line[64:66] != " *" {
		return "", "", false
	}
	name = line[66:]
	if escaped {
		var b strings.Builder
		for i := 0; i < len(name); i++ {
			if name[i] == '\\' && i+1 < len(name) {
				i++
				switch name[i] {
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				default:
					b.WriteByte(name[i])
				}
				continue
			}
			b.WriteByte(name[i])
		}
		name = b.String()
	}
	return sum, name, true
}

// runLines runs one shell line per item under dir, in as few execs as fit,
// and reports the indexes of the lines that failed. Each line must end
// with a command whose failure is detectable: it is run as
// "LINE || printf 'nimbus-failed N\n'".
func runLines(ctx context.Context, sb *sc.Sandbox, dir string, lines []string) (failed map[int]string, err error) {
	failed = map[int]string{}
	tagged := make([]string, len(lines))
	for i, l := range lines {
		tagged[i] = fmt.Sprintf("%s 2>&1 || printf 'nimbus-failed %d\\n'", l, i)
	}
	i := 0
	for _, b := range batches(tagged) {
		r, err := script(ctx, sb, dir, strings.Join(b, "\n"), 0)
		if err != nil {
			return nil, err
		}
		var last []string
		for _, l := range strings.Split(r.Stdout, "\n") {
			if n, ok := strings.CutPrefix(l, "nimbus-failed "); ok {
				if k, err := strconv.Atoi(n); err == nil && k >= i && k < i+len(b) {
					failed[k] = sc.BoundServerText(strings.Join(last, "; "))
				}
				last = nil
				continue
			}
			if l != "" {
				last = append(last, l)
			}
		}
		if r.ExitCode != 0 {
			// Lines never ran (the shell itself failed): all unconfirmed.
			for k := i; k < i+len(b); k++ {
				if _, ok := failed[k]; !ok {
					failed[k] = sc.BoundServerText(strings.TrimSpace(r.Stderr))
				}
			}
		}
		i += len(b)
	}
	return failed, nil
}

// digestOf takes the lowercase hex digest at the start of a sha256sum line.
func digestOf(line string) string {
	line = strings.TrimPrefix(line, "\\")
	if len(line) < 64 {
		return ""
	}
	d := line[:64]
	if !hexdigest.IsSHA256(d) {
		return ""
	}
	if len(line) > 64 && line[64] != ' ' {
		return ""
	}
	return d
}
