package provision_test

import (
	"os"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/provision"
)

func names(n *provision.Naming) string {
	var s []string
	for _, b := range n.Buckets {
		s = append(s, b.Binding+"="+b.Name)
	}
	return strings.Join(s, " ")
}

func TestResolveNamingFromFlags(t *testing.T) {
	tests := []struct {
		in      provision.Inputs
		want    string
		runtime string
	}{
		{provision.Inputs{Name: "demo"}, "NPM_TARBALL_CACHE=demo-npm-cache NPM_PACKUMENT_CACHE=demo-npm-packument-cache NIMBUS_RUNTIME_CACHE=nimbus-runtime-cache-public", "nimbus-runtime-cache-public"},
		{provision.Inputs{Name: "demo", BucketPrefix: "acme"}, "NPM_TARBALL_CACHE=acme-npm-cache NPM_PACKUMENT_CACHE=acme-npm-packument-cache NIMBUS_RUNTIME_CACHE=nimbus-runtime-cache-public", "nimbus-runtime-cache-public"},
		{provision.Inputs{Name: "demo", RuntimeBucket: "my-runtimes"}, "NPM_TARBALL_CACHE=demo-npm-cache NPM_PACKUMENT_CACHE=demo-npm-packument-cache NIMBUS_RUNTIME_CACHE=my-runtimes", "my-runtimes"},
	}
	for _, tc := range tests {
		n, err := provision.ResolveNaming(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if names(n) != tc.want || n.RuntimeBucket != tc.runtime || n.Worker != "demo" {
			t.Errorf("%+v: got %s / %s", tc.in, names(n), n.RuntimeBucket)
		}
	}
}

func TestResolveNamingFromWranglerConfig(t *testing.T) {
	data, err := os.ReadFile("testdata/wrangler.jsonc")
	if err != nil {
		t.Fatal(err)
	}
	n, err := provision.ResolveNaming(provision.Inputs{WranglerConfig: data, WranglerPath: "wrangler.jsonc"})
	if err != nil {
		t.Fatal(err)
	}
	if n.Worker != "demo" || n.RuntimeBucket != "nimbus-runtime-cache-public" || len(n.Buckets) != 3 {
		t.Fatalf("%+v", n)
	}
	// The file's custom bucket names win when no flag contradicts them.
	custom := strings.Replace(string(data), `"demo-npm-cache"`, `"custom-tarballs"`, 1)
	n, err = provision.ResolveNaming(provision.Inputs{Name: "demo", WranglerConfig: []byte(custom), WranglerPath: "wrangler.jsonc"})
	if err != nil || n.Buckets[0].Name != "custom-tarballs" {
		t.Fatalf("%v %+v", err, n)
	}
	// Flags that agree with the file are fine.
	if _, err := provision.ResolveNaming(provision.Inputs{Name: "demo", BucketPrefix: "demo", WranglerConfig: data, WranglerPath: "w"}); err != nil {
		t.Fatal(err)
	}
}

func TestResolveNamingRefuses(t *testing.T) {
	data, _ := os.ReadFile("testdata/wrangler.jsonc")
	tests := []struct {
		name string
		in   provision.Inputs
		code string
		msg  string
	}{
		{"no name", provision.Inputs{}, provision.CodeWorkerName, "--name <worker-name> required"},
		{"bad name", provision.Inputs{Name: "Demo_1"}, provision.CodeWorkerName, "Demo_1"},
		{"prefix too long", provision.Inputs{Name: "demo", BucketPrefix: strings.Repeat("a", 44)}, provision.CodeBucketName, "invalid"},
		{"bad runtime bucket", provision.Inputs{Name: "demo", RuntimeBucket: "x"}, provision.CodeBucketName, "invalid"},
		{"name differs from file", provision.Inputs{Name: "other", WranglerConfig: data, WranglerPath: "wrangler.jsonc"}, provision.CodeInvalidPlan, "does not match"},
		{"flags contradict file", provision.Inputs{BucketPrefix: "acme", WranglerConfig: data, WranglerPath: "wrangler.jsonc"}, provision.CodeInvalidPlan, "but the flags give"},
		{"broken file", provision.Inputs{Name: "demo", WranglerConfig: []byte("{"), WranglerPath: "wrangler.jsonc"}, provision.CodeWranglerConfig, "wrangler.jsonc"},
		{"bad bucket in file", provision.Inputs{WranglerConfig: []byte(`{"name":"demo","r2_buckets":[{"binding":"B","bucket_name":"No"}]}`), WranglerPath: "w.jsonc"}, provision.CodeBucketName, "binding B"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := provision.ResolveNaming(tc.in)
			pe, ok := provision.AsError(err)
			if !ok || pe.Code != tc.code || !strings.Contains(pe.Message, tc.msg) {
				t.Fatalf("got %v (%+v)", err, pe)
			}
			if pe.Hint == "" {
				t.Fatal("no hint")
			}
		})
	}
}

// TestResolveNamingForAnEnvironment: with Env the names are env.<Env>'s as
// wrangler resolves them (name and account_id inherited, r2_buckets not);
// an undefined environment, or one without a wrangler config, is a usage
// error.
func TestResolveNamingForAnEnvironment(t *testing.T) {
	cfg := []byte(`{
  "name": "demo", "account_id": "acct",
  "r2_buckets": [{ "binding": "NIMBUS_RUNTIME_CACHE", "bucket_name": "top-runtime" }],
  "env": { "staging": { "r2_buckets": [{ "binding": "NIMBUS_RUNTIME_CACHE", "bucket_name": "stage-runtime" }] } }
}`)
	n, err := provision.ResolveNaming(provision.Inputs{WranglerConfig: cfg, WranglerPath: "wrangler.jsonc", Env: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	if n.Worker != "demo-staging" || n.AccountID != "acct" || names(n) != "NIMBUS_RUNTIME_CACHE=stage-runtime" || n.RuntimeBucket != "stage-runtime" {
		t.Errorf("staging: %+v (%s)", n, names(n))
	}
	if _, err := provision.ResolveNaming(provision.Inputs{WranglerConfig: cfg, WranglerPath: "wrangler.jsonc", Env: "staging", Name: "demo"}); err == nil || !strings.Contains(err.Error(), `does not match name "demo-staging" in wrangler.jsonc (environment staging)`) {
		t.Errorf("--name of the top level with --env: %v", err)
	}
	for _, in := range []provision.Inputs{
		{WranglerConfig: cfg, WranglerPath: "wrangler.jsonc", Env: "qa"},
		{Name: "demo", Env: "staging"},
	} {
		_, err := provision.ResolveNaming(in)
		if e, ok := provision.AsError(err); !ok || e.Kind != provision.KindUsage || e.Code != provision.CodeWranglerConfig {
			t.Errorf("%+v: %v", in, err)
		}
	}
}
