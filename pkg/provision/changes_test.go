package provision

import (
	"strings"
	"testing"
)

// Changes reports what the runtime sync wrote, never a publication that
// did not happen.
func TestChangesSayWhatTheSyncDid(t *testing.T) {
	const digest = "5ab25115c4ba8a2bcf701a9bd710aae7a9eb7a4905505e0d9353c7d84bddd8b8"
	for _, c := range []struct {
		name string
		res  Result
		want string
	}{
		{"nothing to write", Result{RuntimesSynced: true, RuntimeBucket: "rt", CatalogSHA256: digest}, ""},
		{"new catalog", Result{RuntimesSynced: true, RuntimeBucket: "rt", CatalogSHA256: digest, RuntimeObjectsUploaded: 7, RuntimeCatalogChanged: true},
			"published runtime catalog 5ab25115c4ba to rt"},
		{"objects of the same catalog", Result{RuntimesSynced: true, RuntimeBucket: "rt", CatalogSHA256: digest, RuntimeObjectsUploaded: 1},
			"uploaded 1 missing runtime object to rt (its catalog was already 5ab25115c4ba)"},
		{"skipped", Result{RuntimeBucket: "rt"}, ""},
	} {
		if got := strings.Join(c.res.Changes(), ", "); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
