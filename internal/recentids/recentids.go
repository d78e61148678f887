// Package recentids keeps the small file of sandboxes nimbus's own
// commands have used successfully, so that shell completion can tell a
// sandbox it knows exists from a mistyped id without asking the Worker:
// the remote API has no operation that says whether a sandbox exists
// without creating it (any request to an id creates that sandbox), so
// completion asks the Worker only about ids this file (or the cleanup
// ledger) holds.
//
// No answer of a Worker proves that a sandbox does not exist or was
// destroyed (a request to a destroyed sandbox's id makes it anew, and
// succeeds), so a record is removed only when nimbus itself destroys the
// sandbox (sandbox destroy, destroy --ledger, a run that destroyed it),
// when session attach ends because the sandbox was destroyed, or when it
// ages out (MaxAge). A sandbox destroyed elsewhere stays known until then.
//
// The file is a cache: bounded (MaxEntries records, MaxFileBytes bytes,
// records older than MaxAge dropped), private (mode 0600), replaced
// atomically, and never trusted beyond that: a file that is missing, too
// big, not a regular file or of another format is read as empty and a
// line that is no record is skipped, both without an error, and the next
// Remember replaces the file. Writers read and replace it under an
// advisory lock on the file beside it (<file>.lock: flock on Unix,
// LockFileEx on Windows), so that two commands ending at once both keep
// their records; one that cannot take the lock within 2 s records
// nothing rather than wait longer (a lost record costs a completion,
// never a sandbox). Readers take no lock: the file is replaced
// atomically. It holds no credentials: an endpoint's userinfo is
// never written.
package recentids

import (
	"github.com/nimbus-sh/nimbus/internal/idrule"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/internal/atomicfile"
	"github.com/nimbus-sh/nimbus/internal/userinfo"
)

// Limits of the file.
const (
	// MaxEntries is the number of records kept; the least recently used
	// go first.
	MaxEntries = 100
	// MaxFileBytes is the largest file read; a bigger one is ignored
	// whole, and replaced by the next write.
	MaxFileBytes = 128 << 10
	// MaxAge drops records not used for this long: a sandbox destroyed
	// elsewhere (another machine, a browser) is forgotten in time.
	MaxAge = 30 * 24 * time.Hour
	// Fresh is how long a record stays current: Remember leaves the
	// file as it is when every id it is given is recorded at the site
	// and was used within Fresh, so that repeated commands on one
	// sandbox do not rewrite the file each time (completion needs only
	// to know the sandbox exists). The "most recently used" order
	// therefore moves at most once per Fresh for an id used again.
	Fresh = time.Hour
	// maxField bounds each field of a record; longer values are not
	// recorded (no sandbox id is longer than 128 bytes, no tenant or
	// subject either).
	maxField = 512
)

// defaultBasePath is the remote API's default base path
// (sandboxclient.DefaultBasePath).
const defaultBasePath = "/api/nimbus/v1"

// header is the file's first line, which names its format; a file
// without it is read as empty.
const header = "nimbus recent sandboxes v1"

// Site is where a sandbox id names a sandbox: a Worker (endpoint and
// base path) and the owner its Durable Objects are named after ("<tn>:<sub
// or _>", the token's tenant and subject). The same id at another site is
// another sandbox, which a request would create.
type Site struct {
	Endpoint, BasePath, Owner string
}

// normalize makes equal sites compare equal: the endpoint without its
// userinfo, spaces and trailing '/', the base path with one leading '/'
// and none trailing ("" is the default, defaultBasePath).
func (s Site) normalize() Site {
	ep := strings.TrimSpace(s.Endpoint)
	if before, _, after, found := userinfo.Cut(ep); found {
		ep = before + after
	}
	s.Endpoint = strings.TrimRight(ep, "/")
	bp := strings.Trim(strings.TrimSpace(s.BasePath), "/")
	s.BasePath = defaultBasePath
	if bp != "" {
		s.BasePath = "/" + bp
	}
	return s
}

// ok reports whether s can be recorded: an endpoint, no field longer
// than maxField, none holding a tab or a line break (the file's
// separators).
func (s Site) ok() bool {
	if s.Endpoint == "" {
		return false
	}
	for _, f := range [...]string{s.Endpoint, s.BasePath, s.Owner} {
		if len(f) > maxField || strings.ContainsAny(f, "\t\r\n") {
			return false
		}
	}
	return true
}

// record is one line of the file, "<used>\t<endpoint>\t<base
// path>\t<owner>\t<id>" with used in Unix seconds, the most recently used
// first.
type record struct {
	site Site
	id   string
	used int64
}

// read returns the file's records, none for a file that is missing,
// unreadable, too big, not a regular file or of another format; lines
// that are no record are skipped. It never fails: the file is a cache.
func read(path string) []record {
	fi, err := os.Stat(path)
	// Stat first: opening a FIFO planted there would block a shell's
	// completion.
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > MaxFileBytes {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil || len(b) > MaxFileBytes {
		return nil
	}
	lines := strings.Split(string(b), "\n")
	if lines[0] != header {
		return nil
	}
	var out []record
	for _, l := range lines[1:] {
		p := strings.Split(l, "\t")
		if len(p) != 5 {
			continue
		}
		used, err := strconv.ParseInt(p[0], 10, 64)
		r := record{site: Site{Endpoint: p[1], BasePath: p[2], Owner: p[3]}, id: p[4], used: used}
		if err == nil && idrule.Valid(r.id) && r.site.ok() && len(out) < MaxEntries {
			out = append(out, r)
		}
	}
	return out
}

// Has reports whether the file at path holds id at site, used within
// MaxAge of now.
func Has(path string, site Site, id string, now time.Time) bool {
	return len(keep(read(path), site.normalize(), []string{id}, now, true)) > 0
}

// Used is a sandbox id of a site, and when a command last used it.
type Used struct {
	ID   string
	Time time.Time
}

// List returns the ids the file at path holds at site, used within
// MaxAge of now, the most recently used first.
func List(path string, site Site, now time.Time) []Used {
	site = site.normalize()
	var out []Used
	for _, r := range read(path) {
		if r.site == site && now.Sub(time.Unix(r.used, 0)) <= MaxAge {
			out = append(out, Used{ID: r.id, Time: time.Unix(r.used, 0)})
		}
	}
	slices.SortStableFunc(out, func(a, b Used) int { return b.Time.Compare(a.Time) })
	return out
}

// Remember records ids at site as used now, most recent first, and
// writes the file (creating its directory, mode 0700). Ids that break the
// id rule and sites with an overlong field are not recorded. When each of
// ids is recorded at site already, used within Fresh of now, the file is
// left as it is: the order of ids used again moves at most once per
// Fresh. The file is read and replaced under a lock (lockFile); when
// another process holds it for longer than Remember waits (2 s), nothing
// is recorded and the error is ErrBusy.
func Remember(path string, site Site, ids []string, now time.Time) error {
	site = site.normalize()
	var add []record
	for _, id := range ids {
		if site.ok() && idrule.Valid(id) && len(keep(add, site, []string{id}, time.Time{}, true)) == 0 {
			add = append(add, record{site: site, id: id, used: now.Unix()})
		}
	}
	if len(add) == 0 {
		return nil
	}
	// Read without the lock first: a command on a sandbox it used lately
	// changes nothing, and needs no lock.
	if fresh(read(path), add, now) {
		return nil
	}
	lf, err := lockFile(path)
	if err != nil {
		return err
	}
	defer unlockFile(lf)
	rs := read(path)
	if fresh(rs, add, now) {
		return nil
	}
	return write(path, append(add, keep(rs, site, ids, now, false)...))
}

// fresh reports whether rs records each of add at its site, used within
// Fresh before now.
func fresh(rs, add []record, now time.Time) bool {
	n := 0
	for _, a := range add {
		for _, r := range rs {
			if age := now.Unix() - r.used; r.site == a.site && r.id == a.id && age >= 0 && age < int64(Fresh/time.Second) {
				n++
				break
			}
		}
	}
	return n == len(add)
}

// Forget removes ids at site (destroyed sandboxes) from the file. A file
// that does not hold them is left as it is. Like Remember, it returns
// ErrBusy, having changed nothing, when another process held the file's
// lock for longer than it waits.
func Forget(path string, site Site, ids []string) error {
	site = site.normalize()
	if len(keep(read(path), site, ids, time.Time{}, true)) == 0 {
		return nil
	}
	lf, err := lockFile(path)
	if err != nil {
		return err
	}
	defer unlockFile(lf)
	rs := read(path)
	left := keep(rs, site, ids, time.Time{}, false)
	if len(left) == len(rs) {
		return nil
	}
	return write(path, left)
}

// keep returns the records of rs that are one of ids at site (match), or
// that are not (!match); when now is set, only those used within MaxAge
// of it.
func keep(rs []record, site Site, ids []string, now time.Time, match bool) []record {
	var out []record
	for _, r := range rs {
		in := false
		for _, id := range ids {
			in = in || (r.site == site && r.id == id)
		}
		if in == match && (now.IsZero() || now.Sub(time.Unix(r.used, 0)) <= MaxAge) {
			out = append(out, r)
		}
	}
	return out
}

// write replaces the file with rs, the oldest dropped beyond the
// bounds.
func write(path string, rs []record) error {
	b := []byte(header + "\n")
	for i, r := range rs {
		l := strconv.FormatInt(r.used, 10) + "\t" + r.site.Endpoint + "\t" + r.site.BasePath + "\t" + r.site.Owner + "\t" + r.id + "\n"
		if i == MaxEntries || len(b)+len(l) > MaxFileBytes {
			break
		}
		b = append(b, l...)
	}
	return atomicfile.WriteFile(path, b, atomicfile.Options{Perm: 0o600, Exact: true})
}
