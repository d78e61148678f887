package runtimesync_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/runtimesync"
)

func TestList(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := runtimesync.R2Bucket(e.client, acct, bucket)
	if _, err := runtimesync.List(ctx, b, ""); err == nil || !strings.Contains(err.Error(), "no runtime catalog yet") {
		t.Fatalf("empty bucket: %v", err)
	}
	first, err := e.syncer(bucket).Sync(ctx, runtimesync.Options{Runtimes: []string{"bash"}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := runtimesync.List(ctx, b, "")
	if err != nil {
		t.Fatal(err)
	}
	if l.SHA256 != first.CatalogSHA256 || l.Current != first.CatalogSHA256 || len(l.Rows) != 1 || l.Rows[0].Name != "bash" || l.Rows[0].Version != "5.2.37" {
		t.Fatalf("listing %+v", l)
	}
	second, err := e.syncer(bucket).Sync(ctx, runtimesync.Options{Runtimes: []string{"clang"}})
	if err != nil {
		t.Fatal(err)
	}
	// The old pin still reads (and verifies) the old catalog, and says it
	// is not the current one.
	l, err = runtimesync.List(ctx, b, first.CatalogSHA256)
	if err != nil {
		t.Fatal(err)
	}
	if l.Key != "catalog/sha256/"+first.CatalogSHA256+".json" || len(l.Rows) != 1 || l.Current != second.CatalogSHA256 {
		t.Fatalf("pinned listing %+v", l)
	}
	// A pinned object whose bytes do not hash to its name is refused.
	e.cf.PutObject(acct, bucket, "catalog/sha256/"+first.CatalogSHA256+".json", []byte(`{"version":1,"runtimes":{}}`), "application/json")
	_, err = runtimesync.List(ctx, b, first.CatalogSHA256)
	if re, ok := runtimesync.AsError(err); !ok || re.Kind != runtimesync.KindData || !strings.Contains(re.Message, "the Worker refuses it") {
		t.Fatalf("tampered pin: %v", err)
	}
	_, err = runtimesync.List(ctx, b, strings.Repeat("0", 64))
	if re, ok := runtimesync.AsError(err); !ok || re.Kind != runtimesync.KindConfig {
		t.Fatalf("unknown pin: %v", err)
	}
	_, err = runtimesync.List(ctx, b, "nothex")
	if re, ok := runtimesync.AsError(err); !ok || re.Kind != runtimesync.KindUsage {
		t.Fatalf("bad pin: %v", err)
	}
	_, err = runtimesync.List(ctx, runtimesync.R2Bucket(e.client, acct, "nope-bucket"), "")
	if re, ok := runtimesync.AsError(err); !ok || re.Code != runtimesync.CodeBucketMissing {
		t.Fatalf("missing bucket: %v", err)
	}
}
