package scaffold

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tailscale/hujson"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenSets are the option sets whose six rendered files are pinned by
// golden files: the plain scaffold, and a BYOA runtime cache with a catalog
// pin, a custom bucket prefix, a Worker name that differs from the
// directory, and a Nimbus version override.
var goldenSets = map[string]Options{
	"default": {ProjectName: "my-worker"},
	"byoa-pinned": {
		ProjectName:   "acme-sandbox",
		NimbusVersion: "^0.3.0",
		Wrangler: WranglerOptions{
			Name:                 "acme-edge",
			R2BucketPrefix:       "acme",
			RuntimeCache:         RuntimeCache{Mode: RuntimeCacheBYOA},
			RuntimeCatalogSHA256: testSHA,
		},
	},
}

var sixFiles = []string{".gitignore", "README.md", "package.json", "tsconfig.json", "wrangler.jsonc", "src/index.ts"}

func TestRenderGolden(t *testing.T) {
	for set, opts := range goldenSets {
		t.Run(set, func(t *testing.T) {
			p, err := Render(opts)
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, f := range p.Files {
				paths = append(paths, f.Path)
				golden := filepath.Join("testdata", "golden", set, filepath.FromSlash(f.Path)+".golden")
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, f.Data, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -run TestRenderGolden -update)", err)
				}
				if !bytes.Equal(f.Data, want) {
					t.Errorf("%s differs from %s:\n%s", f.Path, golden, lineDiff(string(want), string(f.Data)))
				}
				if f.Mode != 0o644 {
					t.Errorf("%s mode %v", f.Path, f.Mode)
				}
			}
			if !reflect.DeepEqual(paths, sixFiles) {
				t.Errorf("files %v, want %v", paths, sixFiles)
			}
		})
	}
}

// lineDiff reports the first differing line, enough to find a golden mismatch.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + itoa(i+1) + "\n want: " + wl + "\n  got: " + gl
		}
	}
	return "(identical lines; trailing bytes differ)"
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func fileData(t *testing.T, p *Project, name string) []byte {
	t.Helper()
	for _, f := range p.Files {
		if f.Path == name {
			return f.Data
		}
	}
	t.Fatalf("no %s in %v", name, p.Files)
	return nil
}

// parseJSONC parses wrangler.jsonc the way wrangler does (JSON with comments
// and trailing commas) into generic values.
func parseJSONC(t *testing.T, src []byte) map[string]any {
	t.Helper()
	std, err := hujson.Standardize(bytes.Clone(src))
	if err != nil {
		t.Fatalf("wrangler.jsonc is not valid JSONC: %v\n%s", err, src)
	}
	var doc map[string]any
	if err := json.Unmarshal(std, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestRenderWranglerJSONCStructure(t *testing.T) {
	p, err := Render(goldenSets["default"])
	if err != nil {
		t.Fatal(err)
	}
	src := fileData(t, p, "wrangler.jsonc")
	if !bytes.HasPrefix(src, []byte("// ")) {
		t.Errorf("expected a leading comment")
	}
	doc := parseJSONC(t, src)

	// Upstream's rule: the parsed file deep-equals the builder output.
	cfgJSON, _ := p.Wrangler.JSON()
	var fromBuilder map[string]any
	if err := json.Unmarshal(cfgJSON, &fromBuilder); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(doc, fromBuilder) {
		t.Errorf("parsed wrangler.jsonc differs from the builder output")
	}

	get := func(path ...any) any {
		var v any = doc
		for _, k := range path {
			switch k := k.(type) {
			case string:
				v = v.(map[string]any)[k]
			case int:
				v = v.([]any)[k]
			}
		}
		return v
	}
	checks := []struct {
		path []any
		want any
	}{
		{[]any{"$schema"}, "./node_modules/wrangler/config-schema.json"},
		{[]any{"name"}, "my-worker"},
		{[]any{"main"}, "src/index.ts"},
		{[]any{"compatibility_date"}, "2026-09-26"},
		{[]any{"compatibility_flags"}, []any{}},
		{[]any{"limits", "cpu_ms"}, 300000.0},
		{[]any{"limits", "subrequests"}, 10000000.0},
		{[]any{"assets", "directory"}, "node_modules/@nimbus-sh/worker/public"},
		{[]any{"assets", "binding"}, "ASSETS"},
		{[]any{"assets", "run_worker_first"}, []any{"/api/*", "/s/*", "/new"}},
		{[]any{"durable_objects", "bindings", 1, "class_name"}, "NimbusPublicDirectory"},
		{[]any{"migrations", 1, "tag"}, "nimbus-v2"},
		{[]any{"worker_loaders", 0, "binding"}, "LOADER"},
		{[]any{"r2_buckets", 0, "bucket_name"}, "my-worker-npm-cache"},
		{[]any{"r2_buckets", 1, "bucket_name"}, "my-worker-npm-packument-cache"},
		{[]any{"r2_buckets", 2, "bucket_name"}, "nimbus-runtime-cache-public"},
		{[]any{"placement", "mode"}, "smart"},
		{[]any{"vars"}, map[string]any{"NIMBUS_AGENT_MODEL": "@cf/moonshotai/kimi-k2.6", "NIMBUS_AGENT_GATEWAY_ID": "default"}},
	}
	for _, c := range checks {
		if got := get(c.path...); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v = %#v, want %#v", c.path, got, c.want)
		}
	}
	if n := len(get("alias").(map[string]any)); n != 12 {
		t.Errorf("alias has %d entries", n)
	}
	for _, absent := range []string{"services", "observability", "kv_namespaces", "d1_databases", "queues", "preview_urls", "account_id"} {
		if _, ok := doc[absent]; ok {
			t.Errorf("unexpected key %s", absent)
		}
	}

	// The BYOA set: custom prefix, own runtime bucket, pinned catalog, and no
	// "add the pin" comment.
	p, err = Render(goldenSets["byoa-pinned"])
	if err != nil {
		t.Fatal(err)
	}
	src = fileData(t, p, "wrangler.jsonc")
	doc = parseJSONC(t, src)
	buckets := doc["r2_buckets"].([]any)
	var names []string
	for _, b := range buckets {
		names = append(names, b.(map[string]any)["bucket_name"].(string))
	}
	if want := []string{"acme-npm-cache", "acme-npm-packument-cache", "acme-runtime-cache"}; !reflect.DeepEqual(names, want) {
		t.Errorf("buckets %v", names)
	}
	if doc["name"] != "acme-edge" || doc["vars"].(map[string]any)["NIMBUS_RUNTIME_CATALOG_SHA256"] != testSHA {
		t.Errorf("name/pin: %v %v", doc["name"], doc["vars"])
	}
	if bytes.Contains(src, []byte("<64-hex>")) {
		t.Errorf("pinned config should not ask for the pin")
	}
}

func TestRenderPackageJSON(t *testing.T) {
	p, err := Render(goldenSets["byoa-pinned"])
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Name            string            `json:"name"`
		Version         string            `json:"version"`
		Private         bool              `json:"private"`
		Type            string            `json:"type"`
		Scripts         map[string]string `json:"scripts"`
		Dependencies    map[string]string `json:"dependencies"`
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := json.Unmarshal(fileData(t, p, "package.json"), &pkg); err != nil {
		t.Fatal(err)
	}
	if pkg.Name != "acme-sandbox" || pkg.Version != "0.1.0" || !pkg.Private || pkg.Type != "module" {
		t.Errorf("header %+v", pkg)
	}
	if pkg.Scripts["dev"] != "wrangler dev --ip 0.0.0.0 --port 8787" || pkg.Scripts["deploy"] != "wrangler deploy" || pkg.Scripts["typecheck"] != "tsc --noEmit" {
		t.Errorf("scripts %v", pkg.Scripts)
	}
	want := map[string]string{"@nimbus-sh/config": "^0.3.0", "@nimbus-sh/sdk": "^0.3.0", "@nimbus-sh/worker": "^0.3.0"}
	if !reflect.DeepEqual(pkg.Dependencies, want) {
		t.Errorf("dependencies %v", pkg.Dependencies)
	}
	v, err := LoadVersions()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range v.Toolchain {
		if pkg.DevDependencies[d.Name] != d.Range {
			t.Errorf("devDependency %s = %q, want %q", d.Name, pkg.DevDependencies[d.Name], d.Range)
		}
	}
	if len(pkg.DevDependencies) != 3 || pkg.DevDependencies["wrangler"] != "^4.143.0" {
		t.Errorf("devDependencies %v", pkg.DevDependencies)
	}
	// Without an override the data file's ranges are used.
	p, _ = Render(goldenSets["default"])
	if err := json.Unmarshal(fileData(t, p, "package.json"), &pkg); err != nil {
		t.Fatal(err)
	}
	for _, d := range v.Nimbus {
		if pkg.Dependencies[d.Name] != d.Range {
			t.Errorf("dependency %s = %q, want %q", d.Name, pkg.Dependencies[d.Name], d.Range)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		code string
		flag string
		msg  string
	}{
		{"unknown template", Options{ProjectName: "a", Template: "full-stack"}, CodeUnknownTemplate, "--template", "worker-only"},
		{"bad package name", Options{ProjectName: "http"}, CodeInvalidPackageName, "", "npm package name"},
		{"worker name checked first", Options{ProjectName: "My App"}, CodeInvalidWorkerName, "--name", "My App"},
		{"dir name not a worker name", Options{ProjectName: "my_app"}, CodeInvalidWorkerName, "--name", "my_app"},
		{"bad --name", Options{ProjectName: "app", Wrangler: WranglerOptions{Name: "App"}}, CodeInvalidWorkerName, "--name", "App"},
		{"derived bucket too long", Options{ProjectName: strings.Repeat("a", 50)}, CodeInvalidBucketName, "--name or --bucket-prefix", "NPM_PACKUMENT_CACHE"},
		{"bad prefix", Options{ProjectName: "app", Wrangler: WranglerOptions{R2BucketPrefix: "A"}}, CodeInvalidBucketName, "--bucket-prefix", "A-npm-cache"},
		{"bad runtime bucket", Options{ProjectName: "app", Wrangler: WranglerOptions{RuntimeCache: RuntimeCache{Bucket: "x"}}}, CodeInvalidBucketName, "--runtime-bucket", "NIMBUS_RUNTIME_CACHE"},
		{"bad catalog", Options{ProjectName: "app", Wrangler: WranglerOptions{RuntimeCatalogSHA256: "xyz"}}, CodeInvalidOption, "--runtime-catalog-sha256", "64"},
		{"bad nimbus version", Options{ProjectName: "app", NimbusVersion: `^1", "evil": "x`}, CodeInvalidOption, "--nimbus-version", "version range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Render(tc.opts)
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("want *Error, got %v / %v", err, p)
			}
			if se.Code != tc.code || se.Flag != tc.flag || !strings.Contains(se.Message+se.Hint, tc.msg) || se.Hint == "" {
				t.Errorf("got %s flag %q: %s / %s", se.Code, se.Flag, se.Message, se.Hint)
			}
		})
	}
}

func TestTemplates(t *testing.T) {
	if got := Templates(); !reflect.DeepEqual(got, []string{"worker-only"}) {
		t.Errorf("templates %v", got)
	}
}
