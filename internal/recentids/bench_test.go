package recentids

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// fullFile returns a file of MaxEntries records at site, used an hour
// apart up to now, the newest "id-0".
func fullFile(b *testing.B, site Site, now time.Time) string {
	path := filepath.Join(b.TempDir(), "recent")
	for i := MaxEntries - 1; i >= 0; i-- {
		if err := Remember(path, site, []string{"id-" + strconv.Itoa(i)}, now.Add(-time.Duration(i)*time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	if n := len(read(path)); n != MaxEntries {
		b.Fatalf("%d records, want %d", n, MaxEntries)
	}
	return path
}

// BenchmarkRememberRecorded is what every successful sandbox command on
// a sandbox it used lately costs: the id is already in a full file.
func BenchmarkRememberRecorded(b *testing.B) {
	site := Site{Endpoint: "https://w.example", Owner: "acme:ci"}
	now := time.Unix(1_800_000_000, 0)
	path := fullFile(b, site, now)
	for b.Loop() {
		if err := Remember(path, site, []string{"id-0"}, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRememberNew is the cost of recording an id the full file does
// not hold.
func BenchmarkRememberNew(b *testing.B) {
	site := Site{Endpoint: "https://w.example", Owner: "acme:ci"}
	now := time.Unix(1_800_000_000, 0)
	path := fullFile(b, site, now)
	i := 0
	for b.Loop() {
		i++
		if err := Remember(path, site, []string{"new-" + strconv.Itoa(i)}, now); err != nil {
			b.Fatal(err)
		}
	}
}
