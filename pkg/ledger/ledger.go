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
// pending set is the adds without a later tombstone. A line that is not a
// record (torn, corrupt, or of an op this version does not know) may have
// named a live sandbox, so readers report it (ErrUnreadable) rather than
// skip it silently; only a torn tombstone is harmless (its sandbox stays
// pending) and is skipped.
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
var ErrUnreadable = errors.New("not a ledger record (torn or corrupt), so a sandbox it recorded would be missed")

// Record adds e (before the sandbox is created: a sandbox that never came
// to exist costs one idempotent destroy, one that is not recorded leaks).
func (l *Ledger) Record(e Entry) error {
	if e.Created.IsZero() {
		e.Created = l.now().UTC().Truncate(time.Second)
	}
	return l.append(record{Op: "add", Entry: e})
}

// Forget records that the sandbox e names is gone.
func (l *Ledger) Forget(e Entry) error {
	return l.append(record{Op: "done", Entry: Entry{ID: e.ID, Endpoint: e.Endpoint, BasePath: e.BasePath, Created: l.now().UTC().Truncate(time.Second)}})
}

func (l *Ledger) append(r record) error {
	r.Endpoint = withoutUserinfo(r.Endpoint)
	line, err := json.Marshal(r)
	if err != nil {
		return &Error{Path: l.path, Op: "encode a record", Err: err}
	}
	if len(line) >= maxLine {
		return &Error{Path: l.path, Op: "write", Err: errors.New("record too long")}
	}
	// Each record starts a new line, so one written after a torn line (a
	// writer killed mid-write) is still read.
	line = append([]byte{'\n'}, line...)
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
	auth := 0
	if i := strings.Index(endpoint, "://"); i >= 0 {
		auth = i + 3
	} else if strings.HasPrefix(endpoint, "//") {
		auth = 2
	}
	rest := endpoint[auth:]
	end := len(rest)
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		end = i
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return endpoint
	}
	return endpoint[:auth] + rest[at+1:]
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

func key(e Entry) string { return e.Endpoint + "\x00" + e.BasePath + "\x00" + e.ID }

// Pending returns the recorded sandboxes not yet forgotten, oldest first,
// each once. A missing file is an empty ledger. Lines that are not records
// are reported with an *Error wrapping ErrUnreadable, returned together
// with the entries of the other lines.
func (l *Ledger) Pending() ([]Entry, error) {
	if err := checkTrusted(l.path); err != nil {
		return nil, &Error{Path: l.path, Op: "use it", Err: err}
	}
	data, err := os.ReadFile(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &Error{Path: l.path, Op: "read", Err: err}
	}
	var order []string
	var bad []int
	live := map[string]Entry{}
	// Every line is read, whatever its length: a bufio.Scanner stopped at
	// the first overlong line, and so hid every record after it.
	for i, line := range bytes.Split(data, []byte{'\n'}) {
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimSpace(line)) == 0 {
			continue // records start with a newline: the file's first line is empty
		}
		var r record
		if json.Unmarshal(line, &r) != nil || r.ID == "" || r.Op != "add" && r.Op != "done" {
			if !bytes.HasPrefix(line, tornDone) {
				bad = append(bad, i+1)
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
			if _, ok := live[k]; !ok {
				order = append(order, k)
			}
			live[k] = r.Entry
		case "done":
			delete(live, k)
		}
	}
	var out []Entry
	for _, k := range order {
		if e, ok := live[k]; ok {
			out = append(out, e)
			delete(live, k)
		}
	}
	if len(bad) > 0 {
		return out, &Error{Path: l.path, Op: "read " + lineList(bad), Err: ErrUnreadable, Lines: bad}
	}
	return out, nil
}

// tornDone starts every tombstone as append writes it: a torn one only
// leaves its sandbox pending, to be destroyed again harmlessly.
var tornDone = []byte(`{"op":"done",`)

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

// Drain destroys every pending sandbox with destroy, in order, and forgets
// those that were destroyed; the others stay pending for another try.
// Sandboxes recorded while it runs are left for the next drain. Neither
// lines that could not be read nor a ledger that can no longer be written
// stop it: it destroys every sandbox it read, and then returns, with the
// outcomes, Pending's ErrUnreadable error and the first error of
// forgetting a destroyed sandbox (which stays pending, to be destroyed
// again harmlessly), joined (errors.Join) when there are both.
func (l *Ledger) Drain(ctx context.Context, destroy func(context.Context, Entry) error) ([]Outcome, error) {
	pending, err := l.Pending()
	if err != nil && !errors.Is(err, ErrUnreadable) {
		return nil, err
	}
	unreadable := err
	var forget error
	out := make([]Outcome, 0, len(pending))
	for _, e := range pending {
		if err := ctx.Err(); err != nil {
			out = append(out, Outcome{Entry: e, Err: err})
			continue
		}
		err := destroy(ctx, e)
		if err == nil {
			if ferr := l.Forget(e); ferr != nil && forget == nil {
				forget = ferr
			}
		}
		out = append(out, Outcome{Entry: e, Err: err})
	}
	if forget == nil {
		return out, unreadable
	}
	return out, errors.Join(forget, unreadable)
}
