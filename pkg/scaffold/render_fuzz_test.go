package scaffold

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/tailscale/hujson"
)

// FuzzRender renders projects from arbitrary user input (directory name,
// --name, --bucket-prefix, --runtime-bucket, --nimbus-version,
// --runtime-catalog-sha256). Whatever Render accepts must produce a valid
// package.json and a wrangler.jsonc that parses as JSONC and carries exactly
// the names given; whatever it refuses must be a typed *Error.
func FuzzRender(f *testing.F) {
	f.Add("my-worker", "", "", "", "", "")
	f.Add("acme-sandbox", "acme-edge", "acme", "rb-1", "^0.3.0", testSHA)
	f.Add("a\"b", "x\ny", "*/", "//", "1\"", "")
	f.Fuzz(func(t *testing.T, project, name, prefix, runtimeBucket, version, sha string) {
		p, err := Render(Options{
			ProjectName:   project,
			NimbusVersion: version,
			Wrangler: WranglerOptions{
				Name: name, R2BucketPrefix: prefix,
				RuntimeCache: RuntimeCache{Bucket: runtimeBucket}, RuntimeCatalogSHA256: sha,
			},
		})
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Code == "" || se.Message == "" {
				t.Fatalf("untyped or empty error: %#v", err)
			}
			return
		}
		var pkg struct {
			Name         string            `json:"name"`
			Dependencies map[string]string `json:"dependencies"`
		}
		if err := json.Unmarshal(fileData(t, p, "package.json"), &pkg); err != nil {
			t.Fatalf("package.json: %v", err)
		}
		if pkg.Name != project {
			t.Fatalf("package name %q, want %q", pkg.Name, project)
		}
		if version != "" && pkg.Dependencies["@nimbus-sh/sdk"] != version {
			t.Fatalf("sdk range %q, want %q", pkg.Dependencies["@nimbus-sh/sdk"], version)
		}
		std, err := hujson.Standardize(bytes.Clone(fileData(t, p, "wrangler.jsonc")))
		if err != nil {
			t.Fatalf("wrangler.jsonc: %v", err)
		}
		var doc struct {
			Name      string `json:"name"`
			R2Buckets []struct {
				BucketName string `json:"bucket_name"`
			} `json:"r2_buckets"`
		}
		if err := json.Unmarshal(std, &doc); err != nil {
			t.Fatal(err)
		}
		wantName := name
		if wantName == "" {
			wantName = project
		}
		if doc.Name != wantName || len(doc.R2Buckets) != 3 {
			t.Fatalf("wrangler name %q buckets %v", doc.Name, doc.R2Buckets)
		}
		for i, b := range p.Wrangler.BucketNames() {
			if doc.R2Buckets[i].BucketName != b {
				t.Fatalf("bucket %d: %q vs %q", i, doc.R2Buckets[i].BucketName, b)
			}
		}
	})
}
