// Package ledger records the sandboxes a CI job creates, so that a job that
// is cancelled or killed leaks none: every creator records the id before
// the sandbox exists and forgets it once it is destroyed, and a final step
// (`nimbus sandbox destroy --ledger`) destroys whatever is left. Where the
// file is (NIMBUS_LEDGER, RUNNER_TEMP…) is the caller's choice.
//
// The ledger is an append-only file of JSON lines: "add" records and
// "done" tombstones. Each record is written, newline first, with one
// write(2) on a file opened O_APPEND, so concurrent writers (parallel steps
// of one job) never interleave, a crash mid-write leaves at worst a torn
// line that the next record does not join, and no lock is needed. The
// pending set is the adds without a later tombstone of the same entry:
// the same id at the same Worker (endpoint and base path) for the same
// owner (the token's tenant and subject), since another owner's id is
// another sandbox. Tombstones of versions that wrote none with an owner
// still forget the id at that Worker for every owner, as those versions
// read them. A line that is not a record (corrupt, or of an op this
// version does not know) may have named a live sandbox, so readers
// report it (ErrUnreadable) rather than skip it silently. A record cut short (torn) is what a writer stopped mid-write
// leaves, and names no sandbox a drain could destroy: a torn tombstone
// only leaves its sandbox pending and is skipped; a torn add is reported
// as a warning (ErrTorn), since its writer never got past Record (so never
// created the sandbox) or was told that Record failed, and a drain drops it
// (see Drain).
//
// A drain sends the caller's credentials to the endpoint each entry names,
// so on Unix a ledger file that another user could have written (not owned
// by this user, writable by others, or not a regular file) is refused: in
// a shared /tmp anyone could otherwise plant entries.
//
// The file holds no credentials: an endpoint's userinfo
// (https://user:password@host, a Worker behind basic auth) is left out of
// every record, as the file outlives the job step that was given it (in
// RUNNER_TEMP, say). A drain gets it back from the endpoint it is
// configured with (ResolveEndpoint).
package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/internal/userinfo"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// maxLine bounds one record (ids and URLs are short).
const maxLine = 8 << 10

// Entry is one recorded sandbox.
type Entry struct {
	// ID is the sandbox id.
	ID string `json:"id"`
	// Endpoint and BasePath locate the Worker that holds it; Endpoint is
	// LocalEndpoint for sandboxes of the in-process backend (--local).
	// Its userinfo is never written, nor read back from older files.
	Endpoint string `json:"endpoint"`
	// BasePath is the remote API's base path at that Worker, as given to
	// sandboxclient.Options.BasePath; "" means the client's default. The
	// pair (Endpoint, BasePath) says which client can destroy the
	// sandbox.
	BasePath string `json:"basePath,omitempty"`
	// Owner is the owner the Worker names the sandbox after ("<tn>:<sub
	// or _>", the tenant and subject of the creator's token; never the
	// token), when the creator could tell: the same id at the same Worker
	// is another sandbox for another owner. "" (records of older
	// versions, or a token that did not decode) says nothing about it.
	// It is part of the entry's identity, with the endpoint, base path
	// and id: two owners' sandboxes of one id at one Worker are two
	// entries, and a tombstone forgets its owner's only (see Forget).
	Owner string `json:"owner,omitempty"`
	// By names the command that created it ("sandbox run", "mcp").
	By string `json:"by,omitempty"`
	// Keep is set when the creator meant to keep it (--keep); such
	// sandboxes are destroyed by a drain all the same.
	Keep bool `json:"keep,omitempty"`
	// Created is when it was recorded.
	Created time.Time `json:"created"`
}

// LocalEndpoint marks sandboxes of the in-process local backend.
const LocalEndpoint = "local"

// record is one line of the file.
type record struct {
	Op string `json:"op"` // "add" or "done"
	Entry
}

// tombstone is how a "done" record is written: unlike an add's, its
// owner is written even when it is "", since a tombstone without the
// field is one of the versions that keyed entries without the owner,
// which forgets the sandbox at that Worker for every owner (see read).
type tombstone struct {
	Op       string    `json:"op"`
	ID       string    `json:"id"`
	Endpoint string    `json:"endpoint"`
	BasePath string    `json:"basePath,omitempty"`
	Owner    string    `json:"owner"`
	Created  time.Time `json:"created"`
}

// ownerField is what read decodes of a tombstone to tell whether it
// names its owner: Owner is nil when the field is missing.
type ownerField struct {
	Owner *string `json:"owner"`
}

// Ledger is a ledger file. Its methods are safe for concurrent use, also
// from several processes.
type Ledger struct {
	path string
	now  func() time.Time
}

// New returns the ledger at path; the file is created on first Record.
func New(path string) *Ledger { return &Ledger{path: path, now: time.Now} }

// WithClock returns the ledger with another clock (tests).
func (l *Ledger) WithClock(now func() time.Time) *Ledger { return &Ledger{path: l.path, now: now} }

// Path returns the file's path.
func (l *Ledger) Path() string { return l.path }

// Error is a ledger file that cannot be read or written.
type Error struct {
	// Path is the ledger file's path.
	Path string
	// Op is what could not be done, as a verb phrase that follows
	// "cannot" ("open", "write", "use it"…).
	Op string
	// Err is the cause: an I/O or encoding error, ErrUntrusted for a
	// file another user could have written, or ErrUnreadable for lines
	// that are not records.
	Err error
	// Lines are the 1-based numbers of the lines that could not be read
	// (with ErrUnreadable).
	Lines []int
}

// Error says which file and what could not be done.
func (e *Error) Error() string { return fmt.Sprintf("ledger %s: cannot %s: %v", e.Path, e.Op, e.Err) }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrUntrusted is the cause of an Error about a ledger file that another
// user could have written (see the package documentation).
var ErrUntrusted = errors.New("the file is not trusted")

// ErrUnreadable is the cause of an Error about ledger lines that are not
// records: each may have recorded a sandbox that a drain therefore cannot
// destroy.
var ErrUnreadable = errors.New("not a ledger record (corrupt), so a sandbox it recorded would be missed")

// ErrTorn is the cause of an Error about add records cut short (Lines): a
// writer stopped mid-write, before Record returned, so the sandbox was
// never created or its creator was told it is not in the ledger. It is a
// warning: the other lines were read in full.
var ErrTorn = errors.New("an add record cut short by a writer stopped mid-write: it recorded no sandbox that could be destroyed")

// Record adds e (before the sandbox is created: a sandbox that never came
// to exist costs one idempotent destroy, one that is not recorded leaks).
func (l *Ledger) Record(e Entry) error {
	if e.Created.IsZero() {
		e.Created = l.now().UTC().Truncate(time.Second)
	}
	return l.append(record{Op: "add", Entry: e})
}

// Forget records that the sandbox e names is gone: the entry of e's
// endpoint, base path, id and owner, not another owner's sandbox of the
// same id at the same Worker.
func (l *Ledger) Forget(e Entry) error {
	return l.append(tombstone{Op: "done", ID: e.ID, Endpoint: withoutUserinfo(e.Endpoint), BasePath: e.BasePath, Owner: e.Owner, Created: l.now().UTC().Truncate(time.Second)})
}

// append writes r, a record or a tombstone.
func (l *Ledger) append(r any) error {
	if rec, ok := r.(record); ok {
		rec.Endpoint = withoutUserinfo(rec.Endpoint)
		r = rec
	}
	line, err := json.Marshal(r)
	if err != nil {
		return &Error{Path: l.path, Op: "encode a record", Err: err}
	}
	if len(line) >= maxLine {
		return &Error{Path: l.path, Op: "write", Err: errors.New("record too long")}
	}
	// Each record starts a new line, so one written after a torn line (a
	// writer killed mid-write) is still read.
	return l.write(append([]byte{'\n'}, line...))
}

// write appends line with one write(2).
func (l *Ledger) write(line []byte) error {
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return &Error{Path: l.path, Op: "create its directory", Err: err}
	}
	if err := checkTrusted(l.path); err != nil {
		return &Error{Path: l.path, Op: "use it", Err: err}
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return &Error{Path: l.path, Op: "open", Err: err}
	}
	// One write: appends of one small buffer are not interleaved.
	if _, err := f.Write(line); err != nil {
		f.Close()
		return &Error{Path: l.path, Op: "write", Err: err}
	}
	if err := f.Close(); err != nil {
		return &Error{Path: l.path, Op: "write", Err: err}
	}
	return nil
}

// withoutUserinfo is endpoint without the user:password@ of its authority
// (the password is the secret; the user name goes with it, as a name
// without its password is of no use to a drain). It works on the text,
// so an endpoint that does not parse as a URL loses it too.
func withoutUserinfo(endpoint string) string {
	before, _, after, found := userinfo.Cut(endpoint)
	if !found {
		return endpoint
	}
	return before + after
}

// ResolveEndpoint returns the endpoint a drain reaches a recorded sandbox
// at: configured (the drain's own endpoint, which may carry the userinfo
// of a Worker behind basic auth) when it names the same Worker as
// recorded, else recorded as the ledger holds it, without credentials.
func ResolveEndpoint(recorded, configured string) string {
	norm := func(ep string) string { return strings.TrimRight(withoutUserinfo(strings.TrimSpace(ep)), "/") }
	if configured != "" && recorded != LocalEndpoint && norm(configured) == norm(recorded) {
		return strings.TrimRight(strings.TrimSpace(configured), "/")
	}
	return recorded
}

// place is where an id names a sandbox whoever its owner: a Worker
// (endpoint and base path) and the id.
type place struct{ endpoint, basePath, id string }

// entryKey is an entry's identity: its place and its owner.
type entryKey struct {
	place
	owner string
}

func key(e Entry) entryKey {
	return entryKey{place{e.Endpoint, e.BasePath, e.ID}, e.Owner}
}

// Pending returns the recorded sandboxes not yet forgotten, oldest first,
// each once. A missing file is an empty ledger. Lines that are not records
// are reported with an *Error wrapping ErrUnreadable, torn add records
// with one wrapping ErrTorn (both joined, the ErrUnreadable one first,
// when there are both), returned together with the entries of the other
// lines.
func (l *Ledger) Pending() ([]Entry, error) {
	c, err := l.read()
	if err != nil {
		return nil, err
	}
	return c.pending, c.problems(l.path)
}

// contents is what read found in the file.
type contents struct {
	pending []Entry
	bad     []int      // lines that are not records
	torn    []tornLine // torn add records
}

// tornLine is a torn add record: its line number, where it starts in the
// file and what it holds.
type tornLine struct {
	n    int
	off  int64
	text []byte
}

func (l *Ledger) read() (*contents, error) {
	if err := checkTrusted(l.path); err != nil {
		return nil, &Error{Path: l.path, Op: "use it", Err: err}
	}
	data, err := os.ReadFile(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return &contents{}, nil
	}
	if err != nil {
		return nil, &Error{Path: l.path, Op: "read", Err: err}
	}
	c := &contents{}
	// order holds each add that made an entry pending, in the file's
	// order; live, the pending entries by place, then owner, with the
	// index in order of the add that made each pending (an id recorded
	// again once forgotten is a new sandbox, pending from then on).
	var order []entryKey
	type pendingAt struct {
		Entry
		at int
	}
	live := map[place]map[string]pendingAt{}
	var off int64
	// Every line is read, whatever its length: a bufio.Scanner stopped at
	// the first overlong line, and so hid every record after it.
	for i, line := range bytes.Split(data, []byte{'\n'}) {
		start := off
		off += int64(len(line)) + 1
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimSpace(line)) == 0 {
			continue // records start with a newline: the file's first line is empty
		}
		var r record
		err := json.Unmarshal(line, &r)
		if err != nil || r.ID == "" || r.Op != "add" && r.Op != "done" {
			switch {
			case torn(line, tornDone, err):
			case torn(line, tornAdd, err):
				c.torn = append(c.torn, tornLine{n: i + 1, off: start, text: line})
			default:
				c.bad = append(c.bad, i+1)
			}
			continue
		}
		// Files written before userinfo was left out still name the
		// same Worker, and a drain's tombstones (written without it)
		// must match their adds.
		r.Endpoint = withoutUserinfo(r.Endpoint)
		k := key(r.Entry)
		switch r.Op {
		case "add":
			if live[k.place] == nil {
				live[k.place] = map[string]pendingAt{}
			}
			at := len(order)
			if p, ok := live[k.place][k.owner]; ok {
				at = p.at
			} else {
				order = append(order, k)
			}
			live[k.place][k.owner] = pendingAt{r.Entry, at}
		case "done":
			var of ownerField
			if json.Unmarshal(line, &of) == nil && of.Owner == nil {
				// A tombstone of a version that keyed entries without
				// the owner, which wrote none: it forgot the sandbox
				// at that Worker whoever its owner, and still does.
				delete(live, k.place)
				continue
			}
			delete(live[k.place], k.owner)
		}
	}
	for i, k := range order {
		if p, ok := live[k.place][k.owner]; ok && p.at == i {
			c.pending = append(c.pending, p.Entry)
		}
	}
	return c, nil
}

// problems reports the lines c could not use (see Pending), or nil.
func (c *contents) problems(path string) error { return joined(c.problemList(path)) }

// joined is errs as one error: nil, the only one, or errors.Join's.
func joined(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// problemList is problems' errors, ErrUnreadable's first.
func (c *contents) problemList(path string) []error {
	var errs []error
	if len(c.bad) > 0 {
		errs = append(errs, &Error{Path: path, Op: "read " + lineList(c.bad), Err: ErrUnreadable, Lines: c.bad})
	}
	if len(c.torn) > 0 {
		var ns []int
		for _, t := range c.torn {
			ns = append(ns, t.n)
		}
		errs = append(errs, &Error{Path: path, Op: "read " + lineList(ns), Err: ErrTorn, Lines: ns})
	}
	return errs
}

// tornDone and tornAdd start every tombstone and every add record as
// append writes them: a torn tombstone only leaves its sandbox pending,
// to be destroyed again harmlessly; a torn add is reported (ErrTorn).
var (
	tornDone = []byte(`{"op":"done",`)
	tornAdd  = []byte(`{"op":"add",`)
)

// torn reports whether line, which json.Unmarshal refused with err, is a
// record that starts as prefix does cut short: its JSON is fine up to
// where it ends. Anything else (garbage after the cut, bytes a crashed
// file system left) is corrupt, not torn.
func torn(line, prefix []byte, err error) bool {
	var se *json.SyntaxError
	if !errors.As(err, &se) || se.Offset != int64(len(line)) {
		return false
	}
	return bytes.HasPrefix(line, prefix) || bytes.HasPrefix(prefix, line)
}

// dropTorn blanks the torn add records c read (spaces, which readers
// skip), so that they are reported once. A record that is still being
// written looks torn to a reader too, but only while it is the file's
// last line: a line is blanked only once a newline follows what was read
// of it, and a newline is appended first when nothing does (after a record
// still being written it only adds an empty line). Rewriting these bytes
// in place races with no writer: writers only append. Failing to drop one
// only leaves it to be reported again.
func (l *Ledger) dropTorn(c *contents) {
	if len(c.torn) == 0 || checkTrusted(l.path) != nil {
		return
	}
	f, err := os.OpenFile(l.path, os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer f.Close()
	for _, t := range c.torn {
		buf := make([]byte, len(t.text)+1)
		n, _ := f.ReadAt(buf, t.off)
		if n < len(t.text) || !bytes.Equal(buf[:len(t.text)], t.text) {
			continue
		}
		if n == len(t.text) {
			// The last line: end it, and look again.
			if l.write([]byte{'\n'}) != nil {
				continue
			}
			if n, _ = f.ReadAt(buf, t.off); n < len(buf) || !bytes.Equal(buf[:len(t.text)], t.text) {
				continue
			}
		}
		if end := buf[len(t.text)]; end != '\n' && end != '\r' {
			continue
		}
		_, _ = f.WriteAt(bytes.Repeat([]byte{' '}, len(t.text)), t.off)
	}
}

// lineList names lines: "line 3", "lines 2, 3 and 7", the first few of many.
func lineList(ns []int) string {
	const show = 5
	var parts []string
	for _, n := range ns[:min(len(ns), show)] {
		parts = append(parts, strconv.Itoa(n))
	}
	switch {
	case len(ns) == 1:
		return "line " + parts[0]
	case len(ns) > show:
		return fmt.Sprintf("lines %s and %d more", strings.Join(parts, ", "), len(ns)-show)
	}
	return "lines " + strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// Outcome is what happened to one entry in a drain.
type Outcome struct {
	// Entry is the recorded sandbox the drain tried to destroy.
	Entry Entry
	// Err is nil when the sandbox was destroyed (and forgotten).
	Err error
}

// DrainKind is what a drain could not do, beyond destroying sandboxes
// (each Outcome says that): the most severe of what a DrainError holds.
type DrainKind int

// The kinds of a DrainError, least severe first.
const (
	// DrainTorn: add records cut short were dropped (DrainError.Torn): a
	// warning, the drain did all it had to.
	DrainTorn DrainKind = iota + 1
	// DrainUnreadable: lines that are not records were skipped
	// (DrainError.Unreadable): a sandbox one recorded was not destroyed.
	DrainUnreadable
	// DrainUnwritten: a destroyed sandbox could not be forgotten
	// (DrainError.Unwritten): it stays pending, to be destroyed again
	// harmlessly.
	DrainUnwritten
	// DrainUntrusted: a destroyed sandbox could not be forgotten because
	// the ledger became a file another user could have written
	// (DrainError.Unwritten wraps ErrUntrusted).
	DrainUntrusted
	// DrainNotRead: the ledger could not be read at all, or is not
	// trusted (DrainError.Read): nothing was destroyed.
	DrainNotRead
)

// DrainError is what Drain could not do, sorted, so that a caller picks
// its message and exit status from Kind and the fields rather than from
// the causes: every field it does not hold is nil. It unwraps to each
// *Error it holds, so errors.Is(err, ErrTorn) and the like hold as for the
// errors themselves.
type DrainError struct {
	// Read is why the ledger could not be read (DrainNotRead); the
	// drain destroyed nothing and the other fields are nil.
	Read *Error
	// Unwritten is the first failure to forget a destroyed sandbox.
	Unwritten *Error
	// Unreadable holds the lines that are not records (ErrUnreadable);
	// len(Unreadable.Lines) counts them.
	Unreadable *Error
	// Torn holds the add records cut short, dropped (ErrTorn);
	// len(Torn.Lines) counts them.
	Torn *Error
}

// Kind is the most severe of what e holds (0 when it holds nothing).
func (e *DrainError) Kind() DrainKind {
	switch {
	case e.Read != nil:
		return DrainNotRead
	case e.Unwritten != nil && errors.Is(e.Unwritten, ErrUntrusted):
		return DrainUntrusted
	case e.Unwritten != nil:
		return DrainUnwritten
	case e.Unreadable != nil:
		return DrainUnreadable
	case e.Torn != nil:
		return DrainTorn
	}
	return 0
}

// errs is what e holds, in the order Error and Unwrap give it.
func (e *DrainError) errs() []error {
	var out []error
	for _, x := range []*Error{e.Read, e.Unwritten, e.Unreadable, e.Torn} {
		if x != nil {
			out = append(out, x)
		}
	}
	return out
}

// Error is what errors.Join of the errors held gives: each on its line.
func (e *DrainError) Error() string { return errors.Join(e.errs()...).Error() }

// Unwrap returns the errors held: Read, Unwritten, Unreadable, Torn.
func (e *DrainError) Unwrap() []error { return e.errs() }

// drainError sorts what a drain could not do (nil when it did all).
func drainError(forget error, c *contents, path string) error {
	e := &DrainError{}
	if forget != nil {
		e.Unwritten = asError(forget, path)
	}
	for _, p := range c.problemList(path) {
		le := asError(p, path)
		switch {
		case errors.Is(le, ErrUnreadable):
			e.Unreadable = le
		case errors.Is(le, ErrTorn):
			e.Torn = le
		}
	}
	if e.Kind() == 0 {
		return nil
	}
	return e
}

// asError is err as the *Error the ledger's methods return.
func asError(err error, path string) *Error {
	var le *Error
	if errors.As(err, &le) {
		return le
	}
	return &Error{Path: path, Op: "write", Err: err}
}

// Drain destroys with destroy, in order, the pending sandboxes that
// credentials of owner reach (Mine), and forgets those that were
// destroyed; the others stay pending for another try. destroy is called
// once per sandbox: an entry that names no owner and one of owner at the
// same place (the same id at the same Worker) are one sandbox for owner's
// tokens (whatever the form of the endpoint and base path, "" being the
// default), destroyed once and both forgotten; the Outcome is then
// owner's entry. The entries of other owners are neither destroyed nor forgotten:
// they are returned (others, oldest first), for a drain with credentials
// of their owner. Sandboxes recorded while it runs are left for the next
// drain. Neither lines that could not be read nor a ledger that can no
// longer be written stop it: it destroys every sandbox it read, drops the
// torn add records it read (they are reported once), and then returns,
// with the outcomes, a *DrainError holding the first error of forgetting
// a destroyed sandbox (which stays pending, to be destroyed again
// harmlessly) and Pending's ErrUnreadable and ErrTorn errors. A ledger it
// cannot read is a *DrainError of Kind DrainNotRead, with no outcomes.
func (l *Ledger) Drain(ctx context.Context, owner string, destroy func(context.Context, Entry) error) (out []Outcome, others []Entry, err error) {
	c, err := l.read()
	if err != nil {
		return nil, nil, &DrainError{Read: asError(err, l.path)}
	}
	// The entries of each place that owner's tokens reach, in the order
	// of the first.
	var places []place
	same := map[place][]Entry{}
	for _, e := range c.pending {
		if !Mine(e, owner) {
			others = append(others, e)
			continue
		}
		k := samePlace(e)
		if same[k] == nil {
			places = append(places, k)
		}
		same[k] = append(same[k], e)
	}
	var forget error
	out = make([]Outcome, 0, len(places))
	for _, k := range places {
		es := same[k]
		e := es[0]
		for _, x := range es {
			if x.Owner != "" {
				e = x
			}
		}
		if err := ctx.Err(); err != nil {
			out = append(out, Outcome{Entry: e, Err: err})
			continue
		}
		err := destroy(ctx, e)
		if err == nil {
			for _, x := range es {
				if ferr := l.Forget(x); ferr != nil && forget == nil {
					forget = ferr
				}
			}
		}
		out = append(out, Outcome{Entry: e, Err: err})
	}
	l.dropTorn(c)
	return out, others, drainError(forget, c, l.path)
}

// samePlace is where e's id names a sandbox, written one way: the
// endpoint without a trailing '/', the base path as the client takes it
// ("" is its default), so that the records of versions that wrote them
// otherwise name the same sandbox.
func samePlace(e Entry) place {
	return place{strings.TrimRight(e.Endpoint, "/"), sandboxclient.NormalizeBasePath(e.BasePath), e.ID}
}

// Mine reports whether a drain with credentials of owner (the token's
// "<tn>:<sub or _>", "" when it cannot be told) destroys entry e: e is
// owner's, or names no owner. Another owner's sandbox of e's id is
// another sandbox, which owner's tokens cannot reach: destroying the id
// with them destroys owner's sandbox of that id, if any, and forgetting e
// would then leak the other owner's. An entry that names no owner was
// recorded by a version that wrote none (it drained every entry with one
// token: a ledger held one job's sandboxes), for a sandbox of the local
// backend, which has no owners, or with a token that did not decode; a
// drain destroys it with its own credentials, as those versions did,
// rather than leave it pending for good, as no token's owner is "".
func Mine(e Entry, owner string) bool { return e.Owner == "" || e.Owner == owner }
