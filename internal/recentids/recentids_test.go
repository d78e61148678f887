package recentids

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRememberForgetAndBounds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nimbus", "recent-sandboxes")
	now := time.Unix(1_800_000_000, 0)
	site := Site{Endpoint: "https://user:pw@w.example/", BasePath: "/api/nimbus/v1/", Owner: "acme:ci"}
	same := Site{Endpoint: "https://w.example", BasePath: "api/nimbus/v1", Owner: "acme:ci"}
	if Has(path, site, "job-1", now) {
		t.Fatal("a missing file holds job-1")
	}
	if err := Remember(path, site, []string{"job-1", "bad id", "job-1"}, now); err != nil {
		t.Fatal(err)
	}
	if !Has(path, same, "job-1", now) {
		t.Fatal("job-1 not known at the same Worker spelled another way")
	}
	for _, other := range []Site{{Endpoint: "https://w2.example", Owner: "acme:ci"}, {Endpoint: "https://w.example", BasePath: "/api/nimbus/v1", Owner: "other:_"}} {
		if Has(path, other, "job-1", now) {
			t.Fatalf("job-1 known at %+v", other)
		}
	}
	if Has(path, site, "bad id", now) {
		t.Fatal("an invalid id was recorded")
	}
	if Has(path, site, "job-1", now.Add(MaxAge+time.Second)) {
		t.Fatal("a record older than MaxAge is known")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) == "" || strings.Contains(string(b), "pw") {
		t.Fatalf("file holds the endpoint's userinfo: %s", b)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %04o, want 0600", fi.Mode().Perm())
		}
	}
	if err := Forget(path, same, []string{"job-1"}); err != nil {
		t.Fatal(err)
	}
	if Has(path, site, "job-1", now) {
		t.Fatal("job-1 known after Forget")
	}

	// Only the MaxEntries most recently used stay, within MaxFileBytes,
	// even with the longest fields.
	long := Site{Endpoint: "https://" + strings.Repeat("e", maxField-8), BasePath: "/" + strings.Repeat("b", maxField-1), Owner: strings.Repeat("o", maxField)}
	for i := range MaxEntries + 20 {
		if err := Remember(path, long, []string{"id-" + strconv.Itoa(i)}, now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > MaxFileBytes {
		t.Fatalf("file is %d bytes, over %d", fi.Size(), MaxFileBytes)
	}
	last := now.Add(MaxEntries * time.Second)
	if !Has(path, long, "id-"+strconv.Itoa(MaxEntries+19), last) {
		t.Fatal("the newest record was dropped")
	}
	if Has(path, long, "id-0", last) {
		t.Fatal("the oldest record was kept past the bounds")
	}
	if n := len(read(path)); n > MaxEntries || n == 0 {
		t.Fatalf("%d records", n)
	}
}

func TestDefaultBasePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "recent")
	now := time.Unix(1_800_000_000, 0)
	if err := Remember(path, Site{Endpoint: "http://w"}, []string{"a"}, now); err != nil {
		t.Fatal(err)
	}
	if !Has(path, Site{Endpoint: "http://w", BasePath: "/api/nimbus/v1"}, "a", now) {
		t.Fatal("the default base path, given or not, is not one site")
	}
	if Has(path, Site{Endpoint: "http://w", BasePath: "/other"}, "a", now) {
		t.Fatal("another base path is the same site")
	}
}

func TestListMostRecentFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "recent")
	now := time.Unix(1_800_000_000, 0)
	site := Site{Endpoint: "http://w", Owner: "acme:_"}
	for i, id := range []string{"old", "mid", "new"} {
		if err := Remember(path, site, []string{id}, now.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := Remember(path, Site{Endpoint: "http://w", Owner: "other:_"}, []string{"theirs"}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range List(path, Site{Endpoint: "http://w/", BasePath: "/api/nimbus/v1", Owner: "acme:_"}, now.Add(2*time.Hour)) {
		got = append(got, u.ID)
	}
	if strings.Join(got, " ") != "new mid old" {
		t.Fatalf("List = %q, want new mid old (this site's, most recent first)", got)
	}
	if got := List(path, site, now.Add(MaxAge+90*time.Minute)); len(got) != 1 || got[0].ID != "new" {
		t.Fatalf("List past MaxAge of the older ones = %+v, want only new", got)
	}
}

// TestRememberRecentlyRecordedLeavesFile: an id recorded at the site
// within Fresh is not written again (every sandbox command records its
// id), and is once Fresh has passed, or at another site.
func TestRememberRecentlyRecordedLeavesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "recent")
	now := time.Unix(1_800_000_000, 0)
	site := Site{Endpoint: "http://w", Owner: "acme:_"}
	if err := Remember(path, site, []string{"a", "b"}, now); err != nil {
		t.Fatal(err)
	}
	stat := func() os.FileInfo {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	before := stat()
	if err := Remember(path, Site{Endpoint: "http://w/", BasePath: "/api/nimbus/v1", Owner: "acme:_"}, []string{"b", "a"}, now.Add(Fresh-time.Second)); err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, stat()) {
		t.Fatal("the file was replaced for ids recorded within Fresh")
	}
	if got := List(path, site, now.Add(Fresh)); len(got) != 2 || !got[0].Time.Equal(now) {
		t.Fatalf("List = %+v, want a and b used at %v", got, now)
	}
	// One id not recorded yet: the file is written, with both.
	if err := Remember(path, site, []string{"a", "c"}, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if os.SameFile(before, stat()) || !Has(path, site, "c", now.Add(time.Minute)) {
		t.Fatal("a new id was not recorded")
	}
	// The same id at another owner is another sandbox.
	other := Site{Endpoint: "http://w", Owner: "other:_"}
	if err := Remember(path, other, []string{"a"}, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !Has(path, other, "a", now.Add(time.Minute)) {
		t.Fatal("an id recorded at another owner was taken for this one")
	}
	// Past Fresh, the record's time moves.
	later := now.Add(time.Minute + Fresh)
	before = stat()
	if err := Remember(path, other, []string{"a"}, later); err != nil {
		t.Fatal(err)
	}
	if os.SameFile(before, stat()) {
		t.Fatal("a record older than Fresh was not refreshed")
	}
	if got := List(path, other, later); len(got) != 1 || !got[0].Time.Equal(later) {
		t.Fatalf("List = %+v, want a used at %v", got, later)
	}
}
