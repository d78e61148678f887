package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/ledger"
)

func ids(es []ledger.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestRecordForgetPending(t *testing.T) {
	l := ledger.New(filepath.Join(t.TempDir(), "sub", "ledger.jsonl"))
	if p, err := l.Pending(); err != nil || p != nil {
		t.Fatalf("missing file: %v %v", p, err)
	}
	a := ledger.Entry{ID: "run-a", Endpoint: "https://w.example", By: "sandbox run"}
	b := ledger.Entry{ID: "run-b", Endpoint: "https://w.example", Keep: true}
	other := ledger.Entry{ID: "run-a", Endpoint: "https://other.example"}
	for _, e := range []ledger.Entry{a, b, other, a} {
		if err := l.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := l.Pending()
	if got := ids(p); !slices.Equal(got, []string{"run-a", "run-b", "run-a"}) || p[0].Endpoint != a.Endpoint || !p[1].Keep || p[0].Created.IsZero() {
		t.Fatalf("pending %+v", p)
	}
	if err := l.Forget(a); err != nil {
		t.Fatal(err)
	}
	p, _ = l.Pending()
	if got := ids(p); !slices.Equal(got, []string{"run-b", "run-a"}) || p[1].Endpoint != other.Endpoint {
		t.Fatalf("after forget %+v", p)
	}
	// An id used again after it was destroyed is pending again.
	l.Record(a)
	if p, _ = l.Pending(); len(p) != 3 {
		t.Fatalf("re-recorded %+v", p)
	}
	fi, err := os.Stat(l.Path())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", fi, err)
	}
}

func TestUnreadableLinesAreReported(t *testing.T) {
	p := filepath.Join(t.TempDir(), "l")
	content := `{"op":"add","id":"ok-1","endpoint":"e","created":"2026-01-01T00:00:00Z"}
not json
{"op":"add","id":"","endpoint":"e"}
{"op":"bogus","id":"x","endpoint":"e"}

{"op":"done","id":"ok-9","endp
{"op":"add","id":"torn","endp`
	os.WriteFile(p, []byte(content), 0o600)
	l := ledger.New(p)
	// What can be read is returned all the same, with an error naming
	// the lines that could not: each may have been a live sandbox. A torn
	// tombstone (line 6) is no such line: its sandbox stays pending; nor
	// is a torn add (line 7), reported apart (ErrTorn).
	pending, err := l.Pending()
	var le *ledger.Error
	if !slices.Equal(ids(pending), []string{"ok-1"}) || !errors.Is(err, ledger.ErrUnreadable) || !errors.As(err, &le) || !slices.Equal(le.Lines, []int{2, 3, 4}) || !errors.Is(err, ledger.ErrTorn) {
		t.Fatalf("%v %v", pending, err)
	}
	// A writer after the torn line starts on a new line of its own.
	l.Record(ledger.Entry{ID: "after", Endpoint: "e"})
	if pending, _ = l.Pending(); !slices.Equal(ids(pending), []string{"ok-1", "after"}) {
		t.Fatalf("%v", pending)
	}
	// A drain destroys what it can read and still reports the rest.
	var seen []string
	out, _, err := l.Drain(context.Background(), "", func(_ context.Context, e ledger.Entry) error {
		seen = append(seen, e.ID)
		return nil
	})
	if !slices.Equal(seen, []string{"ok-1", "after"}) || len(out) != 2 || !errors.Is(err, ledger.ErrUnreadable) {
		t.Fatalf("%v %+v %v", seen, out, err)
	}
}

// tornLedger writes a ledger of the records of ids, as Record writes
// them, ended by an add record cut short by a writer killed mid-write.
func tornLedger(t *testing.T, ids ...string) *ledger.Ledger {
	t.Helper()
	l := ledger.New(filepath.Join(t.TempDir(), "l"))
	for _, id := range ids {
		if err := l.Record(ledger.Entry{ID: id, Endpoint: "e"}); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(l.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("\n" + `{"op":"add","id":"torn","endpoint":"e","crea`); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestTornAddIsReportedOnce: a writer killed mid-write leaves the ledger
// ending in an add record cut short. It once failed every drain
// (ErrUnreadable) until someone removed the line. It recorded no sandbox
// a drain could destroy (its writer never got past Record), so it is a
// warning (ErrTorn), the first drain drops it, and later drains are clean;
// every readable record stays.
func TestTornAddIsReportedOnce(t *testing.T) {
	l := tornLedger(t, "a", "b")
	pending, err := l.Pending()
	var le *ledger.Error
	if !slices.Equal(ids(pending), []string{"a", "b"}) || !errors.Is(err, ledger.ErrTorn) || errors.Is(err, ledger.ErrUnreadable) || !errors.As(err, &le) || !slices.Equal(le.Lines, []int{4}) {
		t.Fatalf("%v %v", ids(pending), err)
	}
	var seen []string
	_, _, err = l.Drain(context.Background(), "", func(_ context.Context, e ledger.Entry) error {
		seen = append(seen, e.ID)
		if e.ID == "b" {
			return errors.New("503")
		}
		return nil
	})
	if !slices.Equal(seen, []string{"a", "b"}) || !errors.Is(err, ledger.ErrTorn) || errors.Is(err, ledger.ErrUnreadable) {
		t.Fatalf("first drain: %v %v", seen, err)
	}
	// Reported once: b, which could not be destroyed, is still there.
	if pending, err = l.Pending(); !slices.Equal(ids(pending), []string{"b"}) || err != nil {
		t.Fatalf("after the first drain: %v %v", ids(pending), err)
	}
	if _, _, err = l.Drain(context.Background(), "", func(context.Context, ledger.Entry) error { return nil }); err != nil {
		t.Fatalf("second drain: %v", err)
	}
	data, _ := os.ReadFile(l.Path())
	for _, want := range []string{`"op":"add","id":"a"`, `"op":"add","id":"b"`, `"op":"done","id":"a"`, `"op":"done","id":"b"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the ledger lost %s:\n%s", want, data)
		}
	}
	if strings.Contains(string(data), "torn") {
		t.Errorf("the torn record is still there:\n%s", data)
	}
}

// TestTornAddBeforeLaterRecords: a torn add followed by records written
// after it (other steps of the job went on) is the same warning, not an
// error, and is dropped by the drain. A corrupt line is still an error.
func TestTornAddBeforeLaterRecords(t *testing.T) {
	l := tornLedger(t, "a")
	l.Record(ledger.Entry{ID: "c", Endpoint: "e"})
	pending, err := l.Pending()
	if !slices.Equal(ids(pending), []string{"a", "c"}) || !errors.Is(err, ledger.ErrTorn) || errors.Is(err, ledger.ErrUnreadable) {
		t.Fatalf("%v %v", ids(pending), err)
	}
	if _, _, err = l.Drain(context.Background(), "", func(context.Context, ledger.Entry) error { return nil }); !errors.Is(err, ledger.ErrTorn) {
		t.Fatalf("drain: %v", err)
	}
	if pending, err = l.Pending(); len(pending) != 0 || err != nil {
		t.Fatalf("after the drain: %v %v", ids(pending), err)
	}
	// Not cut short but garbled: corrupt, whatever it starts with.
	f, _ := os.OpenFile(l.Path(), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("\n" + `{"op":"add","id":"x",!!}`)
	f.Close()
	if _, err = l.Pending(); !errors.Is(err, ledger.ErrUnreadable) || errors.Is(err, ledger.ErrTorn) {
		t.Fatalf("corrupt line: %v", err)
	}
}

// TestRecordBeingWrittenIsNotDropped: a reader can see a record while it
// is being written, cut short like a torn one. If its write completes
// while the drain runs, the drain must not blank it.
func TestRecordBeingWrittenIsNotDropped(t *testing.T) {
	l := tornLedger(t, "a")
	_, _, err := l.Drain(context.Background(), "", func(context.Context, ledger.Entry) error {
		// The rest of the record arrives while the drain destroys a.
		f, err := os.OpenFile(l.Path(), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.WriteString(`ted":"2026-12-01T00:00:00Z"}`)
		return err
	})
	if !errors.Is(err, ledger.ErrTorn) {
		t.Fatalf("drain: %v", err)
	}
	if pending, err := l.Pending(); !slices.Equal(ids(pending), []string{"torn"}) || err != nil {
		t.Fatalf("the completed record: %v %v", ids(pending), err)
	}
}

func TestOverlongLineDoesNotHideTheRest(t *testing.T) {
	// A line longer than any record (corruption) once ended the reading
	// there, silently: the sandboxes recorded after it were never
	// destroyed and the drain reported success.
	p := filepath.Join(t.TempDir(), "l")
	content := `{"op":"add","id":"before","endpoint":"e"}` + "\n" + strings.Repeat("x", 10<<10) + "\n" + `{"op":"add","id":"after","endpoint":"e"}` + "\n"
	os.WriteFile(p, []byte(content), 0o600)
	pending, err := ledger.New(p).Pending()
	var le *ledger.Error
	if !slices.Equal(ids(pending), []string{"before", "after"}) || !errors.As(err, &le) || !slices.Equal(le.Lines, []int{2}) {
		t.Fatalf("%v %v", pending, err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	l := ledger.New(filepath.Join(t.TempDir(), "l"))
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				e := ledger.Entry{ID: fmt.Sprintf("w%d-%d", w, i), Endpoint: "https://w.example/" + strings.Repeat("x", 200)}
				if err := l.Record(e); err != nil {
					t.Error(err)
				}
				if i%2 == 0 {
					if err := l.Forget(e); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	p, err := l.Pending()
	if err != nil || len(p) != 16*25 {
		t.Fatalf("%d pending, want %d: %v", len(p), 16*25, err)
	}
	data, _ := os.ReadFile(l.Path())
	if lines := strings.Count(string(data), "\n"); lines != 16*75 {
		t.Fatalf("%d lines, want %d: writes interleaved", lines, 16*75)
	}
}

func TestDrain(t *testing.T) {
	l := ledger.New(filepath.Join(t.TempDir(), "l"))
	for _, id := range []string{"a", "b", "c"} {
		l.Record(ledger.Entry{ID: id, Endpoint: "e"})
	}
	var seen []string
	out, _, err := l.Drain(context.Background(), "", func(_ context.Context, e ledger.Entry) error {
		seen = append(seen, e.ID)
		if e.ID == "b" {
			return errors.New("503")
		}
		return nil
	})
	if err != nil || !slices.Equal(seen, []string{"a", "b", "c"}) || len(out) != 3 || out[1].Err == nil || out[0].Err != nil {
		t.Fatalf("%v %+v %v", seen, out, err)
	}
	if p, _ := l.Pending(); !slices.Equal(ids(p), []string{"b"}) {
		t.Fatalf("left %+v", p)
	}
	// A cancelled drain destroys nothing more and keeps the entries.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out, _, _ = l.Drain(ctx, "", func(context.Context, ledger.Entry) error { t.Fatal("called"); return nil })
	if len(out) != 1 || !errors.Is(out[0].Err, context.Canceled) {
		t.Fatalf("%+v", out)
	}
}

func TestDrainGoesOnWhenTheLedgerCannotBeWritten(t *testing.T) {
	// A full disk or a ledger gone read-only at the end of a job: the
	// first destroyed sandbox cannot be forgotten. The drain once stopped
	// there, so the sandboxes after it were never destroyed.
	dir := filepath.Join(t.TempDir(), "d")
	l := ledger.New(filepath.Join(dir, "l"))
	for _, id := range []string{"a", "b", "c"} {
		l.Record(ledger.Entry{ID: id, Endpoint: "e"})
	}
	var seen []string
	out, _, err := l.Drain(context.Background(), "", func(_ context.Context, e ledger.Entry) error {
		seen = append(seen, e.ID)
		if e.ID == "a" {
			// The ledger's directory becomes a file: nothing can be
			// appended (root included).
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dir, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	var le *ledger.Error
	if !slices.Equal(seen, []string{"a", "b", "c"}) || len(out) != 3 || !errors.As(err, &le) || errors.Is(err, ledger.ErrUnreadable) {
		t.Fatalf("%v %+v %v", seen, out, err)
	}
	for _, o := range out {
		if o.Err != nil {
			t.Fatalf("%+v: destroyed, only not forgotten", o)
		}
	}
}

// TestCredentialsAreNotWritten: the userinfo of an endpoint (a Worker behind
// basic auth) never reaches the file, which outlives the step that was
// given it; entries written with it by older versions read back without
// it and are forgotten by tombstones written without it.
func TestCredentialsAreNotWritten(t *testing.T) {
	l := ledger.New(filepath.Join(t.TempDir(), "ledger.jsonl"))
	a := ledger.Entry{ID: "run-a", Endpoint: "https://alice:s3cret-pw@w.example/p@q"}
	if err := l.Record(a); err != nil {
		t.Fatal(err)
	}
	old := `{"op":"add","id":"run-b","endpoint":"https://bob:0ld-pw@w.example","created":"2026-12-01T00:00:00Z"}` + "\n"
	f, err := os.OpenFile(l.Path(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\n" + old)
	f.Close()
	p, err := l.Pending()
	if err != nil || len(p) != 2 || p[0].Endpoint != "https://w.example/p@q" || p[1].Endpoint != "https://w.example" {
		t.Fatalf("pending %+v %v", p, err)
	}
	if err := l.Forget(a); err != nil {
		t.Fatal(err)
	}
	if err := l.Forget(ledger.Entry{ID: "run-b", Endpoint: "https://bob:0ld-pw@w.example"}); err != nil {
		t.Fatal(err)
	}
	if p, err := l.Pending(); err != nil || len(p) != 0 {
		t.Fatalf("after forget %+v %v", p, err)
	}
	data, _ := os.ReadFile(l.Path())
	if strings.Contains(strings.Replace(string(data), old, "", 1), "pw") || strings.Contains(string(data), "alice") {
		t.Fatalf("credentials written:\n%s", data)
	}
}

// TestResolveEndpoint: a drain reaches a recorded Worker with the
// credentials of its own endpoint when that names the same Worker.
func TestResolveEndpoint(t *testing.T) {
	for _, c := range []struct{ recorded, configured, want string }{
		{"https://w.example", "https://alice:pw@w.example/", "https://alice:pw@w.example"},
		{"https://w.example", "https://w.example", "https://w.example"},
		{"https://w.example", "https://alice:pw@other.example", "https://w.example"},
		{"https://w.example", "", "https://w.example"},
		{"local", "local", "local"},
	} {
		if got := ledger.ResolveEndpoint(c.recorded, c.configured); got != c.want {
			t.Errorf("ResolveEndpoint(%q, %q) = %q, want %q", c.recorded, c.configured, got, c.want)
		}
	}
}

// TestDrainErrorSortsWhatTheDrainCouldNotDo: Drain returns one
// *DrainError whose Kind is the most severe of what it holds (a ledger
// that cannot be written, lines that are not records, torn add records,
// in that order), each held in its own field with its line numbers, so
// that a caller chooses its message and exit code from it without sorting
// the causes. It still unwraps to each cause, and its text is what
// errors.Join of them gives; a clean drain returns nil.
func TestDrainErrorSortsWhatTheDrainCouldNotDo(t *testing.T) {
	drain := func(l *ledger.Ledger, during func()) *ledger.DrainError {
		t.Helper()
		_, _, err := l.Drain(context.Background(), "", func(context.Context, ledger.Entry) error {
			if during != nil {
				during()
				during = nil
			}
			return nil
		})
		var de *ledger.DrainError
		if err != nil && !errors.As(err, &de) {
			t.Fatalf("drain: %v (%T) is not a *DrainError", err, err)
		}
		return de
	}

	// Clean.
	l := ledger.New(filepath.Join(t.TempDir(), "l"))
	l.Record(ledger.Entry{ID: "a", Endpoint: "e"})
	if de := drain(l, nil); de != nil {
		t.Fatalf("clean drain: %v", de)
	}

	// Torn only: a warning.
	de := drain(tornLedger(t, "a"), nil)
	if de == nil || de.Kind() != ledger.DrainTorn || de.Torn == nil || !slices.Equal(de.Torn.Lines, []int{3}) ||
		de.Unreadable != nil || de.Unwritten != nil || de.Read != nil || !errors.Is(de, ledger.ErrTorn) || de.Error() != de.Torn.Error() {
		t.Fatalf("torn: %+v", de)
	}

	// Lines that are not records, and a torn one.
	l = tornLedger(t, "a")
	f, _ := os.OpenFile(l.Path(), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("\nnot a record\nnor this\n")
	f.Close()
	de = drain(l, nil)
	if de == nil || de.Kind() != ledger.DrainUnreadable || de.Unreadable == nil || len(de.Unreadable.Lines) != 2 || de.Torn == nil ||
		!errors.Is(de, ledger.ErrUnreadable) || !errors.Is(de, ledger.ErrTorn) || de.Error() != errors.Join(de.Unreadable, de.Torn).Error() {
		t.Fatalf("unreadable and torn: %+v", de)
	}

	// A ledger that cannot be written any more, with a line that is not a
	// record: the drain goes on, and says both.
	dir := filepath.Join(t.TempDir(), "d")
	l = ledger.New(filepath.Join(dir, "l"))
	l.Record(ledger.Entry{ID: "a", Endpoint: "e"})
	f, _ = os.OpenFile(l.Path(), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("\nnot a record\n")
	f.Close()
	de = drain(l, func() {
		os.RemoveAll(dir)
		os.WriteFile(dir, nil, 0o600)
	})
	var le *ledger.Error
	if de == nil || de.Kind() != ledger.DrainUnwritten || de.Unwritten == nil || de.Unreadable == nil || de.Torn != nil ||
		!errors.As(de, &le) || le != de.Unwritten || errors.Is(de, ledger.ErrUntrusted) ||
		de.Error() != errors.Join(de.Unwritten, de.Unreadable).Error() {
		t.Fatalf("unwritten and unreadable: %+v", de)
	}
}

// The owner is recorded with the add, and records of other versions are
// read both ways: an older one's (no owner) and a later one's (a field
// this version does not know) are records, not corrupt lines, and an
// older version's tombstone (no owner) forgets an add that has one.
func TestOwnerIsRecordedAndOtherVersionsAreRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	l := ledger.New(path)
	owned := ledger.Entry{ID: "run-a", Endpoint: "https://w.example", Owner: "t1:alice"}
	if err := l.Record(owned); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"owner":"t1:alice"`) || !strings.HasPrefix(string(data), "\n"+`{"op":"add",`) {
		t.Fatalf("file %q", data)
	}
	older := "\n" + `{"op":"add","id":"run-b","endpoint":"https://w.example","created":"2026-01-01T00:00:01Z"}` + "\n" +
		`{"op":"add","id":"run-c","endpoint":"https://w.example","owner":"t1:bob","region":"eu","created":"2026-01-01T00:00:02Z"}` + "\n" +
		`{"op":"done","id":"run-a","endpoint":"https://w.example","created":"2026-01-01T00:00:03Z"}` + "\n"
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(older); err != nil {
		t.Fatal(err)
	}
	f.Close()
	p, err := l.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(p); !slices.Equal(got, []string{"run-b", "run-c"}) || p[0].Owner != "" || p[1].Owner != "t1:bob" {
		t.Fatalf("pending %+v", p)
	}
	// An add without an owner leaves the field out, as older versions
	// wrote; a tombstone names its entry's owner, "" included.
	if err := l.Record(ledger.Entry{ID: "run-d", Endpoint: "https://w.example"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Forget(p[0]); err != nil {
		t.Fatal(err)
	}
	if err := l.Forget(p[1]); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	want := []string{`"id":"run-d"`, `"id":"run-b",`, `"id":"run-c",`}
	for i, line := range lines[len(lines)-3:] {
		if !strings.Contains(line, want[i]) {
			t.Fatalf("line %s, want %s", line, want[i])
		}
	}
	if add := lines[len(lines)-3]; strings.Contains(add, "owner") {
		t.Errorf("record %s names an owner", add)
	}
	if done := lines[len(lines)-2]; !strings.Contains(done, `"owner":""`) {
		t.Errorf("tombstone %s names no owner", done)
	}
	if done := lines[len(lines)-1]; !strings.Contains(done, `"owner":"t1:bob"`) {
		t.Errorf("tombstone %s names no owner", done)
	}
}

// The same id at the same Worker recorded for two owners (two tenants
// sharing a Worker) is two sandboxes, so two entries: forgetting one
// owner's leaves the other's pending, and so does forgetting an entry
// that names no owner.
func TestOwnersAreApart(t *testing.T) {
	l := ledger.New(filepath.Join(t.TempDir(), "ledger.jsonl"))
	alice := ledger.Entry{ID: "job-1", Endpoint: "https://w.example", Owner: "t1:alice", Keep: true}
	bob := ledger.Entry{ID: "job-1", Endpoint: "https://w.example", Owner: "t2:bob"}
	unknown := ledger.Entry{ID: "job-1", Endpoint: "https://w.example"}
	for _, e := range []ledger.Entry{alice, bob, unknown} {
		if err := l.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	p, err := l.Pending()
	if err != nil || len(p) != 3 || p[0].Owner != alice.Owner || p[1].Owner != bob.Owner || p[2].Owner != "" || !p[0].Keep {
		t.Fatalf("pending %+v %v", p, err)
	}
	if err := l.Forget(bob); err != nil {
		t.Fatal(err)
	}
	if err := l.Forget(unknown); err != nil {
		t.Fatal(err)
	}
	if p, err = l.Pending(); err != nil || len(p) != 1 || p[0].Owner != alice.Owner {
		t.Fatalf("after bob's and the unknown owner's were forgotten: %+v %v", p, err)
	}
	// A drain forgets each entry it destroyed, its owner's only, and
	// leaves the other owner's to a drain of that owner.
	l.Record(bob)
	var destroyed []string
	out, others, err := l.Drain(context.Background(), bob.Owner, func(_ context.Context, e ledger.Entry) error {
		destroyed = append(destroyed, e.Owner)
		return errors.New("refused")
	})
	if err != nil || len(out) != 1 || out[0].Err == nil || len(others) != 1 || others[0].Owner != alice.Owner || !slices.Equal(destroyed, []string{bob.Owner}) {
		t.Fatalf("bob's drain %+v %+v %v %v", out, others, destroyed, err)
	}
	out, others, err = l.Drain(context.Background(), alice.Owner, func(_ context.Context, e ledger.Entry) error {
		destroyed = append(destroyed, e.Owner)
		return nil
	})
	if err != nil || len(out) != 1 || out[0].Err != nil || len(others) != 1 || others[0].Owner != bob.Owner || !slices.Equal(destroyed, []string{bob.Owner, alice.Owner}) {
		t.Fatalf("alice's drain %+v %+v %v %v", out, others, destroyed, err)
	}
	if p, _ = l.Pending(); len(p) != 1 || p[0].Owner != bob.Owner {
		t.Fatalf("after the drains %+v", p)
	}
}

// A drain destroys only the sandboxes its credentials reach: its owner's
// and those recorded without an owner (older versions, the local
// backend), each sandbox once, an owner-less entry and its owner's of the
// same id at the same Worker being one sandbox for its tokens. Another
// owner's entries are neither destroyed nor forgotten, and are returned,
// oldest first: with the same id, destroying them with these tokens would
// destroy this owner's sandbox again and forget the other's, which leaks.
func TestDrainTakesItsOwnersOnly(t *testing.T) {
	l := ledger.New(filepath.Join(t.TempDir(), "ledger.jsonl"))
	const w = "https://w.example"
	entries := []ledger.Entry{
		{ID: "dup", Endpoint: w, Owner: "t2:bob"},
		{ID: "dup", Endpoint: w, Owner: "t1:alice", Keep: true},
		{ID: "dup", Endpoint: w},                                    // the same sandbox for alice
		{ID: "dup", Endpoint: w + "/", BasePath: "/api/nimbus/v1/"}, // and again, written otherwise
		{ID: "dup", Endpoint: w, BasePath: "/other"},                // another Worker's
		{ID: "old", Endpoint: w},                                    // an older version's
		{ID: "loc", Endpoint: ledger.LocalEndpoint},                 // the local backend's
		{ID: "bob-2", Endpoint: w, Owner: "t2:bob"},
		{ID: "carol", Endpoint: w, Owner: "t3:carol"},
	}
	for _, e := range entries {
		if err := l.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	type got struct{ id, basePath, owner string }
	list := func(es []ledger.Entry) []got {
		var out []got
		for _, e := range es {
			out = append(out, got{e.ID, e.BasePath, e.Owner})
		}
		return out
	}
	var calls []ledger.Entry
	out, others, err := l.Drain(context.Background(), "t1:alice", func(_ context.Context, e ledger.Entry) error {
		calls = append(calls, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []got{{"dup", "", "t1:alice"}, {"dup", "/other", ""}, {"old", "", ""}, {"loc", "", ""}}
	if !slices.Equal(list(calls), want) {
		t.Errorf("destroyed %v, want %v", list(calls), want)
	}
	var outs []ledger.Entry
	for _, o := range out {
		outs = append(outs, o.Entry)
	}
	if !slices.Equal(list(outs), want) || !out[0].Entry.Keep {
		t.Errorf("outcomes %+v, want %v", out, want)
	}
	wantOthers := []got{{"dup", "", "t2:bob"}, {"bob-2", "", "t2:bob"}, {"carol", "", "t3:carol"}}
	if !slices.Equal(list(others), wantOthers) {
		t.Errorf("others %v, want %v", list(others), wantOthers)
	}
	p, err := l.Pending()
	if err != nil || !slices.Equal(list(p), wantOthers) {
		t.Fatalf("pending %v %v, want %v", list(p), err, wantOthers)
	}
	// Nothing of alice's is left: her next drain destroys nothing.
	calls = nil
	if out, others, err = l.Drain(context.Background(), "t1:alice", func(_ context.Context, e ledger.Entry) error {
		calls = append(calls, e)
		return nil
	}); err != nil || len(out) != 0 || len(calls) != 0 || len(others) != 3 {
		t.Fatalf("second drain %+v %+v %v %v", out, others, calls, err)
	}
	// Credentials whose owner cannot be told reach the entries that name
	// none only.
	if out, others, err = l.Drain(context.Background(), "", func(context.Context, ledger.Entry) error { t.Fatal("destroyed"); return nil }); err != nil || len(out) != 0 || len(others) != 3 {
		t.Fatalf("drain of no owner %+v %+v %v", out, others, err)
	}
	if !ledger.Mine(ledger.Entry{ID: "x"}, "t1:alice") || !ledger.Mine(ledger.Entry{ID: "x", Owner: "t1:alice"}, "t1:alice") || ledger.Mine(ledger.Entry{ID: "x", Owner: "t2:bob"}, "t1:alice") {
		t.Error("Mine")
	}
}

// A file written by the versions that keyed entries without the owner
// (testdata/unkeyed-owner.jsonl: adds that name an owner, tombstones that
// name none) reads as they read it: each such tombstone forgets its id at
// its Worker for every owner. Records appended by this version then keep
// owners apart.
func TestUnkeyedOwnerFileIsRead(t *testing.T) {
	old, err := os.ReadFile(filepath.Join("testdata", "unkeyed-owner.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	l := ledger.New(path)
	p, err := l.Pending()
	type got struct{ id, basePath, owner string }
	list := func(es []ledger.Entry) []got {
		var out []got
		for _, e := range es {
			out = append(out, got{e.ID, e.BasePath, e.Owner})
		}
		return out
	}
	want := []got{{"x-1", "", "t1:alice"}, {"x-1", "/other", "t1:alice"}, {"w-1", "", "t2:bob"}}
	if err != nil || !slices.Equal(list(p), want) || !p[0].Keep || p[2].By != "mcp" {
		t.Fatalf("pending %+v %v, want %v", p, err, want)
	}
	alice := ledger.Entry{ID: "y-1", Endpoint: "https://w.example", Owner: "t1:alice"}
	bob := ledger.Entry{ID: "y-1", Endpoint: "https://w.example", Owner: "t2:bob"}
	for _, e := range []ledger.Entry{alice, bob} {
		if err := l.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Forget(alice); err != nil {
		t.Fatal(err)
	}
	if err := l.Forget(ledger.Entry{ID: "w-1", Endpoint: "https://w.example", Owner: "t1:alice"}); err != nil {
		t.Fatal(err)
	}
	p, err = l.Pending()
	want = append(want, got{"y-1", "", "t2:bob"})
	if err != nil || !slices.Equal(list(p), want) {
		t.Fatalf("pending %+v %v, want %v", p, err, want)
	}
}
