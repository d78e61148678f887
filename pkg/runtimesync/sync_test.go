package runtimesync_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/cftest"
	"github.com/nimbus-sh/nimbus/internal/npmtest"
	"github.com/nimbus-sh/nimbus/pkg/npmregistry"
	"github.com/nimbus-sh/nimbus/pkg/provision"
	"github.com/nimbus-sh/nimbus/pkg/runtimesync"
)

func puts(cf *cftest.Server) []string {
	var out []string
	for _, r := range cf.Requests() {
		if r.Method == "PUT" {
			out = append(out, strings.TrimPrefix(r.Path, "/accounts/"+acct+"/r2/buckets/"+bucket+"/objects/"))
		}
	}
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestSyncFreshBucketThenRerun(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.syncer(bucket).Sync(ctx, runtimesync.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bash, clang, cpython := bashRuntime(t), clangRuntime(t), cpythonRuntime(t)

	// Every blob, then the manifests, then the pinned catalog, then v1.
	var want []string
	for _, rt := range []npmtest.Runtime{clang, cpython, bash} {
		seen := map[string]bool{}
		for _, f := range rt.Files {
			if k := rt.BlobKey(f); !seen[k] {
				seen[k] = true
				want = append(want, k)
			}
		}
	}
	want = append(want, "manifests/clang-binji-2020.json", "manifests/cpython-3.13.14.json", "manifests/bash-5.2.37.json",
		"catalog/sha256/"+res.CatalogSHA256+".json", "catalog/v1.json")
	got := puts(e.cf)
	for i := range got {
		if k, err := url_unescape(got[i]); err == nil {
			got[i] = k
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("PUT order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The manifest is uploaded byte for byte, as JSON; blobs without a type.
	m, ct, _ := e.cf.Object(acct, bucket, "manifests/bash-5.2.37.json")
	if !bytes.Equal(m, bash.Manifest()) || ct != "application/json" {
		t.Fatalf("manifest %q (%s)", m, ct)
	}
	if _, ct, _ := e.cf.Object(acct, bucket, bash.BlobKey(bash.Files[0])); ct != "" {
		t.Fatalf("blob stored with content type %q", ct)
	}
	// catalog/v1.json and the pinned copy hold the same bytes, hashing to the digest.
	v1, _, _ := e.cf.Object(acct, bucket, "catalog/v1.json")
	pinned, _, _ := e.cf.Object(acct, bucket, "catalog/sha256/"+res.CatalogSHA256+".json")
	if !bytes.Equal(v1, pinned) || sha(v1) != res.CatalogSHA256 || bytes.HasSuffix(v1, []byte("\n")) {
		t.Fatalf("catalog bytes: v1 %d, pinned %d, digest %s", len(v1), len(pinned), res.CatalogSHA256)
	}
	var clangSize int64
	for _, f := range clang.Files {
		clangSize += int64(len(f.Data))
	}
	wantCatalog := `{
  "version": 1,
  "runtimes": {
    "clang": {
      "default": "binji-2020",
      "versions": {
        "binji-2020": {
          "manifest": "manifests/clang-binji-2020.json",
          "manifest_sha256": "` + sha(clang.Manifest()) + `",
          "size_bytes": ` + strconv.FormatInt(clangSize, 10) + `,
          "license": "Apache-2.0-with-LLVM-exception"
        }
      }
    },`
	if !strings.HasPrefix(string(v1), wantCatalog) {
		t.Fatalf("catalog:\n%s\nwant prefix:\n%s", v1, wantCatalog)
	}
	var doc struct {
		Runtimes map[string]struct {
			Default  string
			Versions map[string]struct {
				SizeBytes int64 `json:"size_bytes"`
			}
		}
	}
	if err := json.Unmarshal(v1, &doc); err != nil {
		t.Fatal(err)
	}
	// size_bytes counts bash's shared marker once.
	var bashSize int64
	for _, f := range bash.Files[:3] {
		bashSize += int64(len(f.Data))
	}
	bashSize += int64(len(bash.Files[4].Data))
	if got := doc.Runtimes["bash"].Versions["5.2.37"].SizeBytes; got != bashSize {
		t.Fatalf("bash size_bytes %d, want %d (distinct blobs)", got, bashSize)
	}
	if res.Uploaded.Objects != len(want) || res.Skipped.Objects != 0 || res.Downloaded.Objects != 3 {
		t.Fatalf("totals %+v", res)
	}
	if !slices.Equal(res.Requested, []string{"clang", "cpython", "bash"}) || res.Runtimes[0].Version != "binji-2020" || res.Runtimes[0].NPMVersion != "8.0.1" {
		t.Fatalf("result %+v", res.Runtimes)
	}

	// Rerun: no blob, no tarball, no write; the digest is unchanged.
	e.cf.ResetRequests()
	e.npm.ResetRequests()
	again, err := e.syncer(bucket).Sync(ctx, runtimesync.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again.CatalogSHA256 != res.CatalogSHA256 || again.PreviousSHA256 != res.CatalogSHA256 {
		t.Fatalf("digest changed: %s -> %s", res.CatalogSHA256, again.CatalogSHA256)
	}
	if n := e.cf.Mutations(); n != 0 {
		t.Fatalf("rerun wrote %d objects:\n%s", n, e.cf.Summary())
	}
	if p, tb := e.npm.Count(); tb != 0 || p != 3 {
		t.Fatalf("rerun: %d packuments, %d tarballs:\n%s", p, tb, e.npm.Summary())
	}
	if again.Uploaded.Objects != 0 || again.Skipped.Objects != len(want) || again.Downloaded.Objects != 0 {
		t.Fatalf("rerun totals %+v", again)
	}

	// Cache wiped: tarballs are fetched again, still nothing is uploaded.
	os.RemoveAll(e.cacheDir)
	e.cf.ResetRequests()
	e.npm.ResetRequests()
	if _, err := e.syncer(bucket).Sync(ctx, runtimesync.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, tb := e.npm.Count(); tb != 3 || e.cf.Mutations() != 0 {
		t.Fatalf("cold cache: %d tarballs, %d writes", tb, e.cf.Mutations())
	}

	// A blob lost from the bucket is uploaded again, and only it.
	lost := clang.BlobKey(clang.Files[1])
	e.cf.DeleteObject(acct, bucket, lost)
	e.cf.ResetRequests()
	if _, err := e.syncer(bucket).Sync(ctx, runtimesync.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := puts(e.cf); len(got) != 1 || !strings.HasSuffix(got[0], "/lld") {
		t.Fatalf("after losing %s, uploaded %v", lost, got)
	}
}

func url_unescape(s string) (string, error) {
	return strings.ReplaceAll(s, "%2F", "/"), nil
}

func TestSyncRefusesBadPackagesBeforeUploading(t *testing.T) {
	cases := []struct {
		name    string
		publish func(e *env)
		code    string
	}{
		{"corrupted blob", func(e *env) {
			e.npm.Publish("@nimbus-sh/runtime-clang", "8.0.1", clangRuntime(t).Tarball(npmtest.CorruptBlob("lld")))
		}, runtimesync.CodeBlobMismatch},
		{"missing blob", func(e *env) {
			e.npm.Publish("@nimbus-sh/runtime-cpython", "3.13.14", cpythonRuntime(t).Tarball(npmtest.DropBlob("python.wasm")))
		}, runtimesync.CodeBlobMismatch},
		{"wrong integrity", func(e *env) {
			e.npm.Publish("@nimbus-sh/runtime-bash", "5.2.37", bashRuntime(t).Tarball(), npmtest.WithIntegrity(npmtest.Integrity([]byte("other"))))
		}, runtimesync.CodeIntegrity},
		{"symlink blob", func(e *env) {
			e.npm.Publish("@nimbus-sh/runtime-bash", "5.2.37", bashRuntime(t).Tarball(npmtest.AddEntry(npmtest.Entry{Name: "package/blobs/bash-5.2.37/x/evil", Type: '2', Linkname: "/etc/passwd"})))
		}, runtimesync.CodePackageInvalid},
		{"manifest of another runtime", func(e *env) {
			e.npm.Publish("@nimbus-sh/runtime-cpython", "3.13.14", bashRuntime(t).Tarball())
		}, runtimesync.CodeManifestMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			c.publish(e)
			_, err := e.syncer(bucket).Sync(context.Background(), runtimesync.Options{})
			re, ok := runtimesync.AsError(err)
			if !ok || re.Code != c.code || re.Kind != runtimesync.KindData {
				t.Fatalf("err = %v (%+v), want %s", err, re, c.code)
			}
			if n := e.cf.Mutations(); n != 0 {
				t.Fatalf("%d writes after a bad package:\n%s", n, e.cf.Summary())
			}
			// Nothing unverified stays in the cache, and nothing is staged.
			entries, _ := filepath.Glob(filepath.Join(e.cacheDir, "staging", "*", "*"))
			if len(entries) != 0 {
				t.Fatalf("staging left behind: %v", entries)
			}
		})
	}
}

func TestSyncSelection(t *testing.T) {
	e := newEnv(t)
	e.npm.Publish("@nimbus-sh/runtime-bash", "5.3.0", bashRuntime(t).Tarball()) // now ambiguous
	s := e.syncer(bucket)
	ctx := context.Background()
	for _, c := range []struct {
		specs []string
		kind  runtimesync.Kind
		msg   string
	}{
		{[]string{"bash"}, runtimesync.KindUsage, `unknown or ambiguous runtime "bash" (use a publisher-supported name@version)`},
		{[]string{"nope"}, runtimesync.KindUsage, `unknown or ambiguous runtime "nope"`},
		{[]string{"clang@9"}, runtimesync.KindUsage, `unknown or ambiguous runtime "clang@9"`},
		{[]string{"Bad/Name"}, runtimesync.KindUsage, `unknown or ambiguous runtime "Bad/Name"`},
		{[]string{"ruby"}, runtimesync.KindUnavailable, `runtime "ruby" is not published as an npm package`},
		{[]string{"cpython", "python@0.29.4"}, runtimesync.KindUnavailable, `runtime "python@0.29.4" is Pyodide`},
	} {
		e.npm.ResetRequests()
		_, err := s.Sync(ctx, runtimesync.Options{Runtimes: c.specs})
		re, ok := runtimesync.AsError(err)
		if !ok || re.Kind != c.kind || !strings.HasPrefix(re.Message, c.msg) {
			t.Errorf("%v: %v, want %q", c.specs, err, c.msg)
		}
		if c.specs[len(c.specs)-1] == "python@0.29.4" && len(e.npm.Requests()) != 0 {
			t.Errorf("python@0.29.4 was looked up on the registry")
		}
	}
	if e.cf.Mutations() != 0 || len(e.cf.Requests()) != 0 {
		t.Fatalf("a refused selection reached Cloudflare:\n%s", e.cf.Summary())
	}
	// Manifest version, npm version and the python alias all resolve; the
	// same package asked twice is synced once.
	res, err := s.Sync(ctx, runtimesync.Options{Runtimes: []string{"clang@binji-2020", "clang@8.0.1", "python", "bash@5.2.37"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runtimes) != 3 || !slices.Equal(res.Runtimes[0].Specs, []string{"clang@binji-2020", "clang@8.0.1"}) || res.Runtimes[1].Name != "cpython" {
		t.Fatalf("runtimes %+v", res.Runtimes)
	}
	if !slices.Equal(res.Requested, []string{"clang@binji-2020", "clang@8.0.1", "python", "bash@5.2.37"}) {
		t.Fatalf("requested %v", res.Requested)
	}
}

func TestSyncKeepsRuntimesOthersPublished(t *testing.T) {
	e := newEnv(t)
	// A catalog the upstream publisher wrote, with ruby and an extra field.
	upstream := `{
  "version": 1,
  "runtimes": {
    "ruby": {
      "default": "3.3.4",
      "versions": {
        "3.3.4": {
          "manifest": "manifests/ruby-3.3.4.json",
          "manifest_sha256": "` + strings.Repeat("ab", 32) + `",
          "size_bytes": 36000000,
          "license": "Ruby+BSD-2-Clause",
          "note": "kept"
        }
      }
    }
  }
}`
	e.cf.PutObject(acct, bucket, "catalog/v1.json", []byte(upstream), "application/json")
	res, err := e.syncer(bucket).Sync(context.Background(), runtimesync.Options{Runtimes: []string{"bash"}})
	if err != nil {
		t.Fatal(err)
	}
	v1, _, _ := e.cf.Object(acct, bucket, "catalog/v1.json")
	if !strings.HasPrefix(string(v1), upstream[:len(upstream)-6]) || !strings.Contains(string(v1), `"bash": {`) {
		t.Fatalf("catalog after merge:\n%s", v1)
	}
	if res.PreviousSHA256 != sha([]byte(upstream)) {
		t.Fatalf("previous digest %s", res.PreviousSHA256)
	}
	// An old pinned catalog stays where deployed Workers read it.
	e.cf.PutObject(acct, bucket, "catalog/sha256/"+sha([]byte(upstream))+".json", []byte(upstream), "application/json")
	if _, err := e.syncer(bucket).Sync(context.Background(), runtimesync.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := e.cf.Object(acct, bucket, "catalog/sha256/"+sha([]byte(upstream))+".json"); !ok {
		t.Fatal("an older pinned catalog was deleted")
	}
}

func TestSyncRefusesToDropAConcurrentlyPublishedRuntime(t *testing.T) {
	e := newEnv(t)
	// Another publisher writes a catalog with ruby while the sync uploads.
	other := runtimesync.NewCatalog()
	other.Set("ruby", "3.3.4", runtimesync.CatalogEntry{Manifest: "manifests/ruby-3.3.4.json", ManifestSHA256: strings.Repeat("cd", 32), SizeBytes: 1, License: "BSD-2-Clause"})
	e.cf.Before("PUT", "/LICENSE", func() { e.cf.PutObject(acct, bucket, "catalog/v1.json", other.Bytes(), "application/json") })
	_, err := e.syncer(bucket).Sync(context.Background(), runtimesync.Options{Runtimes: []string{"bash"}})
	re, ok := runtimesync.AsError(err)
	if !ok || re.Kind != runtimesync.KindConflict || !strings.Contains(re.Message, "would drop ruby@3.3.4") {
		t.Fatalf("err = %v", err)
	}
	v1, _, _ := e.cf.Object(acct, bucket, "catalog/v1.json")
	if !bytes.Equal(v1, other.Bytes()) || len(e.cf.ObjectKeys(acct, bucket, "catalog/sha256/")) != 0 {
		t.Fatal("a catalog was published despite the conflict")
	}
	// The rerun merges with it.
	if _, err := e.syncer(bucket).Sync(context.Background(), runtimesync.Options{Runtimes: []string{"bash"}}); err != nil {
		t.Fatal(err)
	}
	v1, _, _ = e.cf.Object(acct, bucket, "catalog/v1.json")
	if !strings.Contains(string(v1), `"ruby"`) || !strings.Contains(string(v1), `"bash"`) {
		t.Fatalf("rerun catalog:\n%s", v1)
	}
}

func TestSyncInterruptedThenResumed(t *testing.T) {
	e := newEnv(t)
	old := runtimesync.NewCatalog()
	old.Set("bash", "5.0.0", runtimesync.CatalogEntry{Manifest: "manifests/bash-5.0.0.json", ManifestSHA256: strings.Repeat("ef", 32), SizeBytes: 1, License: "GPL"})
	e.cf.PutObject(acct, bucket, "catalog/v1.json", old.Bytes(), "application/json")
	e.cf.AddFault(cftest.Fault{Method: "PUT", PathSuffix: "/lld", Hang: true, Times: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.syncer(bucket).Sync(ctx, runtimesync.Options{})
		done <- err
	}()
	if !e.cf.WaitRequest("PUT", "/lld", 30*time.Second) {
		t.Fatal("the upload never started")
	}
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the sync did not stop after its context was cancelled")
	}
	pe, ok := provision.AsError(err)
	re, ok2 := runtimesync.AsError(err)
	if !(ok && pe.Kind == provision.KindInterrupted) && !(ok2 && re.Kind == runtimesync.KindInterrupted) {
		t.Fatalf("err = %v, want interrupted", err)
	}
	v1, _, _ := e.cf.Object(acct, bucket, "catalog/v1.json")
	if !bytes.Equal(v1, old.Bytes()) || len(e.cf.ObjectKeys(acct, bucket, "manifests/")) != 0 {
		t.Fatal("an interrupted sync changed the catalog or wrote a manifest")
	}
	before := len(e.cf.ObjectKeys(acct, bucket, "blobs/"))
	e.cf.ReleaseHangs()
	e.cf.ResetRequests()
	res, err := e.syncer(bucket).Sync(context.Background(), runtimesync.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if blobs := len(e.cf.ObjectKeys(acct, bucket, "blobs/")); res.Uploaded.Objects != (blobs-before)+3+2 {
		t.Fatalf("resumed run uploaded %d objects; %d blobs were missing", res.Uploaded.Objects, blobs-before)
	}
	if !strings.Contains(string(mustGet(t, e, "catalog/v1.json")), `"default": "5.2.37"`) {
		t.Fatal("bash 5.2.37 is not the default after the resumed run")
	}
}

func mustGet(t *testing.T, e *env, key string) []byte {
	data, _, ok := e.cf.Object(acct, bucket, key)
	if !ok {
		t.Fatalf("%s missing", key)
	}
	return data
}

func TestSyncDryRun(t *testing.T) {
	e := newEnv(t)
	res, err := e.syncer(bucket).Sync(context.Background(), runtimesync.Options{DryRun: true, Runtimes: []string{"bash"}})
	if err != nil {
		t.Fatal(err)
	}
	if e.cf.Mutations() != 0 {
		t.Fatalf("dry run wrote:\n%s", e.cf.Summary())
	}
	// 4 distinct blobs, the manifest and two catalog objects.
	if len(res.Planned) != 7 || res.Planned[4].Key != "manifests/bash-5.2.37.json" || res.Planned[6].Key != "catalog/v1.json" {
		t.Fatalf("planned %+v", res.Planned)
	}
	real, err := e.syncer(bucket).Sync(context.Background(), runtimesync.Options{Runtimes: []string{"bash"}})
	if err != nil {
		t.Fatal(err)
	}
	if real.CatalogSHA256 != res.CatalogSHA256 {
		t.Fatalf("dry run predicted %s, the sync published %s", res.CatalogSHA256, real.CatalogSHA256)
	}
	// Against a bucket that does not exist yet: everything is planned.
	dry, err := e.syncer("future-bucket").Sync(context.Background(), runtimesync.Options{DryRun: true, Runtimes: []string{"bash"}})
	if err != nil || !dry.BucketMissing || len(dry.Planned) != 7 {
		t.Fatalf("missing bucket dry run: %+v %v", dry, err)
	}
	_, err = e.syncer("future-bucket").Sync(context.Background(), runtimesync.Options{Runtimes: []string{"bash"}})
	if re, ok := runtimesync.AsError(err); !ok || re.Code != runtimesync.CodeBucketMissing {
		t.Fatalf("missing bucket: %v", err)
	}
}

func TestSyncRefusesAnInvalidCatalog(t *testing.T) {
	e := newEnv(t)
	e.cf.PutObject(acct, bucket, "catalog/v1.json", []byte(`{"version":2,"runtimes":{}}`), "application/json")
	_, err := e.syncer(bucket).Sync(context.Background(), runtimesync.Options{Runtimes: []string{"bash"}})
	if re, ok := runtimesync.AsError(err); !ok || re.Code != runtimesync.CodeCatalogInvalid {
		t.Fatalf("err = %v", err)
	}
	if e.cf.Mutations() != 0 {
		t.Fatalf("writes after an invalid catalog:\n%s", e.cf.Summary())
	}
}

// TestSyncRemovesStagingLeftByAKilledRun: a sync killed outright (SIGKILL
// at a CI job's timeout, an OOM kill) cannot remove its staged copies of
// the blobs, up to the runtimes' whole size. The next sync removes staging
// directories that old; one a sync running now could own is kept.
func TestSyncRemovesStagingLeftByAKilledRun(t *testing.T) {
	e := newEnv(t)
	staging := filepath.Join(e.cacheDir, "staging")
	stale := filepath.Join(staging, "sync-999999-1")
	live := filepath.Join(staging, "sync-999998-2")
	for _, d := range []string{stale, live} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "blob-1"), make([]byte, 4096), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-72 * time.Hour)
	for _, p := range []string{filepath.Join(stale, "blob-1"), stale} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.syncer(bucket).Sync(context.Background(), runtimesync.Options{Runtimes: []string{"bash"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the staging directory of a killed run is still there (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(live, "blob-1")); err != nil {
		t.Errorf("a recent staging directory was removed: %v", err)
	}
	ents, _ := os.ReadDir(staging)
	if len(ents) != 1 {
		t.Errorf("staging holds %d entries after the sync, want only the recent one", len(ents))
	}
}

// TestSyncDetectsACorruptManifestRecord: when the bucket holds every blob,
// a sync takes the package's manifest from the cache's record instead of
// reading the tarball again, and uploads those bytes as the manifest the
// catalog pins. A record damaged on disk (here one character of the
// license, still valid JSON) must be detected and read again from the
// verified tarball, not published as the package's manifest.
func TestSyncDetectsACorruptManifestRecord(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first, err := e.syncer(bucket).Sync(ctx, runtimesync.Options{Runtimes: []string{"bash"}})
	if err != nil {
		t.Fatal(err)
	}
	records, _ := filepath.Glob(filepath.Join(e.cacheDir, "tarballs", "*.manifest.json"))
	if len(records) != 1 {
		t.Fatalf("manifest records: %v", records)
	}
	data, err := os.ReadFile(records[0])
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Replace(data, []byte("GPL-3.0-or-later"), []byte("GPL-3.0-or-latex"), 1)
	if bytes.Equal(damaged, data) {
		t.Fatalf("the record does not hold the license:\n%s", data)
	}
	if err := os.WriteFile(records[0], damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	// The bucket loses the manifest and the catalog, and keeps the blobs.
	for _, k := range []string{"manifests/bash-5.2.37.json", "catalog/v1.json", "catalog/sha256/" + first.CatalogSHA256 + ".json"} {
		e.cf.DeleteObject(acct, bucket, k)
	}
	again, err := e.syncer(bucket).Sync(ctx, runtimesync.Options{Runtimes: []string{"bash"}})
	if err != nil {
		t.Fatal(err)
	}
	if m := mustGet(t, e, "manifests/bash-5.2.37.json"); !bytes.Equal(m, bashRuntime(t).Manifest()) {
		t.Fatalf("published a manifest the package does not hold:\n%s", m)
	}
	if again.CatalogSHA256 != first.CatalogSHA256 {
		t.Fatalf("catalog digest %s, want %s as before", again.CatalogSHA256, first.CatalogSHA256)
	}
}

// TestSyncRemovesDownloadsLeftByAKilledRun: a sync killed outright during a
// download (SIGKILL at a CI job's timeout, an OOM kill) cannot remove its
// partial tarball, up to a runtime's whole size, and nothing else ever
// would. The next sync removes such temporary files once they are old; a
// recent one, which a sync running now may be writing, is kept.
func TestSyncRemovesDownloadsLeftByAKilledRun(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Join(e.cacheDir, "tarballs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := []string{filepath.Join(dir, ".download-111"), filepath.Join(dir, ".tmp-222")}
	live := filepath.Join(dir, ".download-333")
	for _, p := range append(stale, live) {
		if err := os.WriteFile(p, make([]byte, 4096), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-72 * time.Hour)
	for _, p := range stale {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.syncer(bucket).Sync(context.Background(), runtimesync.Options{Runtimes: []string{"bash"}, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s, left by a killed run, is still there (%v)", filepath.Base(p), err)
		}
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a recent download was removed: %v", err)
	}
}

// TestSyncRefusesACatalogItCouldNotReadBack: the catalog copies each
// manifest's license, which the package chooses. Two packages with 2 MiB
// licenses made a catalog over the 4 MiB that ParseCatalog accepts: the
// sync published it, and every later sync and `runtime list` then refused
// the bucket's catalog as "not written by a Nimbus publisher". A catalog
// that would not read back is refused before anything is uploaded.
func TestSyncRefusesACatalogItCouldNotReadBack(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("MIT OR ", 2<<20/7)
	bash, cpython := bashRuntime(t), cpythonRuntime(t)
	bash.License, cpython.License = long, long
	e.npm.Publish("@nimbus-sh/runtime-bash", "5.2.37", bash.Tarball())
	e.npm.Publish("@nimbus-sh/runtime-cpython", "3.13.14", cpython.Tarball())
	_, err := e.syncer(bucket).Sync(context.Background(), runtimesync.Options{Runtimes: []string{"bash", "cpython"}})
	re, ok := runtimesync.AsError(err)
	if !ok || re.Kind != runtimesync.KindData {
		t.Fatalf("err = %v (%+v), want a data error before publishing", err, re)
	}
	if n := e.cf.Mutations(); n != 0 {
		t.Fatalf("%d writes for a catalog that cannot be read back:\n%s", n, e.cf.Summary())
	}
	t.Logf("%s: %s", re.Code, re.Message)
}

// TestConcurrentSyncsSharingACacheLoseNothing: two syncs sharing a cache
// directory (two CI jobs on one runner) publish at the same moment. The
// second used to re-read catalog/v1.json while the first's upload of it was
// in flight, find it unchanged and publish its own; the first's upload then
// dropped the second's runtime, and both reported success. Now the second
// waits for the first to publish, then sees its catalog and refuses to drop
// it (E_CATALOG_CONFLICT); its rerun merges the two.
func TestConcurrentSyncsSharingACacheLoseNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	syncer := func(waiting chan struct{}) *runtimesync.Syncer {
		return &runtimesync.Syncer{
			Registry: &npmregistry.Client{Registry: e.npm.Registry(), RetryBackoff: time.Millisecond},
			Bucket:   runtimesync.R2Bucket(e.client, acct, bucket),
			Cache:    &runtimesync.Cache{Dir: e.cacheDir},
			Observer: runtimesync.ObserverFunc(func(ev runtimesync.Event) {
				if ev.Kind == runtimesync.EventWaiting && waiting != nil {
					close(waiting)
				}
			}),
			Parallel: 1,
		}
	}
	second := make(chan error, 1)
	waiting := make(chan struct{})
	// The first sync's upload of catalog/v1.json is held until the second
	// sync has published, or is waiting for the first.
	e.cf.Before("PUT", "v1.json", func() {
		go func() {
			_, err := syncer(waiting).Sync(ctx, runtimesync.Options{Runtimes: []string{"clang"}})
			second <- err
		}()
		select {
		case err := <-second:
			second <- err
		case <-waiting:
		}
	})
	if _, err := syncer(nil).Sync(ctx, runtimesync.Options{Runtimes: []string{"bash"}}); err != nil {
		t.Fatal(err)
	}
	err := <-second
	v1, _, _ := e.cf.Object(acct, bucket, "catalog/v1.json")
	if !strings.Contains(string(v1), `"bash"`) || err == nil && !strings.Contains(string(v1), `"clang"`) {
		t.Fatalf("a runtime whose sync succeeded is not in the catalog (second sync: %v):\n%s", err, v1)
	}
	if re, ok := runtimesync.AsError(err); !ok || re.Code != runtimesync.CodeCatalogConflict {
		t.Fatalf("second sync: %v", err)
	}
	if _, err := syncer(nil).Sync(ctx, runtimesync.Options{Runtimes: []string{"clang"}}); err != nil {
		t.Fatal(err)
	}
	v1, _, _ = e.cf.Object(acct, bucket, "catalog/v1.json")
	if !strings.Contains(string(v1), `"bash"`) || !strings.Contains(string(v1), `"clang"`) {
		t.Fatalf("rerun catalog:\n%s", v1)
	}
}

// corruptCachedTarball syncs bash into the bucket, then flips a byte of
// the one tarball it cached: it returns that file's path and the good
// content it had.
func corruptCachedTarball(t *testing.T, e *env) (string, []byte) {
	t.Helper()
	if _, err := e.syncer(bucket).Sync(context.Background(), runtimesync.Options{Runtimes: []string{"bash"}}); err != nil {
		t.Fatal(err)
	}
	tgz, _ := filepath.Glob(filepath.Join(e.cacheDir, "tarballs", "*.tgz"))
	if len(tgz) != 1 {
		t.Fatalf("cached tarballs: %v", tgz)
	}
	good, err := os.ReadFile(tgz[0])
	if err != nil {
		t.Fatal(err)
	}
	bad := slices.Clone(good)
	bad[len(bad)/2] ^= 0xff
	if err := os.WriteFile(tgz[0], bad, 0o644); err != nil {
		t.Fatal(err)
	}
	return tgz[0], good
}

// TestSyncReplacesACorruptCachedTarball: a cached tarball that no longer
// matches its integrity is downloaded again and replaced in place (by the
// rename of the verified download, not removed first: another sync sharing
// the cache may be about to read the good copy it just put there).
func TestSyncReplacesACorruptCachedTarball(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tgz, good := corruptCachedTarball(t, e)
	// A bucket without the blobs makes the sync read the tarball.
	e.cf.AddBucket(acct, "other")
	e.npm.ResetRequests()
	if _, err := e.syncer("other").Sync(ctx, runtimesync.Options{Runtimes: []string{"bash"}}); err != nil {
		t.Fatal(err)
	}
	if _, tb := e.npm.Count(); tb != 1 {
		t.Fatalf("%d tarball downloads, want 1", tb)
	}
	if now, _ := os.ReadFile(tgz); !bytes.Equal(now, good) {
		t.Fatal("the corrupt cached tarball was not replaced")
	}
}

// TestCorruptTarballReplacementNeverHidesAGoodCopy forces the interleaving
// the replacement by rename is for: two syncs sharing a cache both find the
// cached tarball corrupt; the second downloads it and renames its verified
// copy into place, and is about to read it just as the first goes on to
// download its own. Removing the bad copy first (as the first sync used
// to) deleted the second's good one under it, which then failed to read
// it; renamed over instead, the file is there at every moment.
func TestCorruptTarballReplacementNeverHidesAGoodCopy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tgz, good := corruptCachedTarball(t, e)
	// Buckets without the blobs make both syncs read the tarball.
	e.cf.AddBucket(acct, "first")
	e.cf.AddBucket(acct, "second")

	second := e.syncer("second")
	secondReady := make(chan struct{}) // the second's verified copy is in place
	secondRead := make(chan struct{})  // the second may read it now
	secondDone := make(chan error, 1)  // the second's sync ended
	runtimesync.SetCacheHook(second.Cache, func(point, _ string) {
		if point == "ready" {
			close(secondReady)
			<-secondRead
		}
	})
	first := e.syncer("first")
	var missing error
	runtimesync.SetCacheHook(first.Cache, func(point, path string) {
		switch point {
		case "stale":
			// The first found the copy bad; the second now finds it bad
			// too and puts a verified copy there.
			go func() {
				_, err := second.Sync(ctx, runtimesync.Options{Runtimes: []string{"bash"}})
				secondDone <- err
			}()
			<-secondReady
		case "fetch":
			// The first is downloading its own copy: the second reads now.
			if _, err := os.Stat(path); err != nil {
				missing = err
			}
			close(secondRead)
			if err := <-secondDone; err != nil {
				t.Errorf("the second sync, reading the copy it had just verified: %v", err)
			}
		}
	})
	if _, err := first.Sync(ctx, runtimesync.Options{Runtimes: []string{"bash"}}); err != nil {
		t.Fatal(err)
	}
	if missing != nil {
		t.Errorf("the cached tarball was missing while the first sync downloaded its copy: %v", missing)
	}
	if now, _ := os.ReadFile(tgz); !bytes.Equal(now, good) {
		t.Fatal("the corrupt cached tarball was not replaced")
	}
}
