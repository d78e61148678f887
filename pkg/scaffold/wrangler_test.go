package scaffold

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

const testSHA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestBuildWranglerConfigScaffoldCall checks the call init makes against the
// document written by hand from the spec's §1.5 table, byte for byte, which
// also pins the key order.
func TestBuildWranglerConfigScaffoldCall(t *testing.T) {
	cfg, err := BuildWranglerConfig(WranglerOptions{
		Name:                  "my-worker",
		NimbusPublicDirectory: true,
		Agent:                 &AgentOptions{Model: "@cf/moonshotai/kimi-k2.6", GatewayID: "default"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cfg.JSON()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/wrangler-spec-1.5.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("wrangler config differs from spec §1.5\n got:\n%s\nwant:\n%s", got, want)
	}
}

// topLevelKeys decodes a JSON object and returns its keys in document order.
func topLevelKeys(t *testing.T, doc []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestBuildWranglerConfigKeyOrder(t *testing.T) {
	cfg, err := BuildWranglerConfig(WranglerOptions{Name: "w", LegacyPublic: true})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := cfg.JSON()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"$schema", "name", "main", "compatibility_date", "compatibility_flags", "limits",
		"assets", "alias", "durable_objects", "migrations", "worker_loaders", "r2_buckets", "placement", "vars"}
	if got := topLevelKeys(t, doc); !reflect.DeepEqual(got, want) {
		t.Errorf("key order\n got %v\nwant %v", got, want)
	}
}

func mustBuild(t *testing.T, opts WranglerOptions) *WranglerConfig {
	t.Helper()
	cfg, err := BuildWranglerConfig(opts)
	if err != nil {
		t.Fatalf("BuildWranglerConfig(%+v): %v", opts, err)
	}
	return cfg
}

// TestBuildWranglerConfigOptions walks the spec's §5.2 table one option at a time.
func TestBuildWranglerConfigOptions(t *testing.T) {
	base := WranglerOptions{Name: "acme"}
	with := func(f func(*WranglerOptions)) WranglerOptions { o := base; f(&o); return o }

	t.Run("defaults", func(t *testing.T) {
		c := mustBuild(t, base)
		if c.Name != "acme" || c.Schema != WranglerSchema || c.Main != "src/index.ts" {
			t.Errorf("fixed fields: %+v", c)
		}
		if c.CompatibilityDate != "2026-09-26" || c.CompatibilityFlags == nil || len(c.CompatibilityFlags) != 0 {
			t.Errorf("date/flags: %q %#v", c.CompatibilityDate, c.CompatibilityFlags)
		}
		if c.Limits != (Limits{CPUMs: 300000, Subrequests: 10000000}) {
			t.Errorf("limits: %+v", c.Limits)
		}
		if c.Placement == nil || c.Placement.Mode != "smart" {
			t.Errorf("placement: %+v", c.Placement)
		}
		if c.Vars != nil {
			t.Errorf("vars must be absent without variables: %v", c.Vars)
		}
		if want := []string{"acme-npm-cache", "acme-npm-packument-cache", "nimbus-runtime-cache-public"}; !reflect.DeepEqual(c.BucketNames(), want) {
			t.Errorf("buckets %v", c.BucketNames())
		}
		if len(c.DurableObjects.Bindings) != 1 || len(c.Migrations) != 1 || c.Migrations[0].Tag != "nimbus-v1" {
			t.Errorf("durable objects %+v migrations %+v", c.DurableObjects, c.Migrations)
		}
		if !reflect.DeepEqual(c.Alias, RequiredAliases()) || len(c.Alias) != 12 {
			t.Errorf("alias %v", c.Alias)
		}
		doc, _ := c.JSON()
		for _, absent := range []string{`"vars"`, `"services"`, `"observability"`, `"kv_namespaces"`, `"d1_databases"`, `"queues"`, `"preview_urls"`, `"account_id"`} {
			if bytes.Contains(doc, []byte(absent)) {
				t.Errorf("unexpected key %s in %s", absent, doc)
			}
		}
	})

	t.Run("compatibilityDate", func(t *testing.T) {
		for date, flags := range map[string][]string{
			"2026-09-26": {},
			"2026-08-04": {},
			"2026-08-03": {"nodejs_compat"},
			"2026-04-21": {"nodejs_compat"},
			"2026-04-20": {"nodejs_compat", "enhanced_error_serialization"},
			"2026-04-01": {"nodejs_compat", "enhanced_error_serialization"},
		} {
			c := mustBuild(t, with(func(o *WranglerOptions) { o.CompatibilityDate = date }))
			if c.CompatibilityDate != date || !reflect.DeepEqual(c.CompatibilityFlags, flags) {
				t.Errorf("%s: got %q %v, want flags %v", date, c.CompatibilityDate, c.CompatibilityFlags, flags)
			}
		}
	})

	t.Run("limits", func(t *testing.T) {
		c := mustBuild(t, with(func(o *WranglerOptions) { o.CPUMs = 300000; o.Subrequests = 10000000 }))
		if c.Limits != (Limits{300000, 10000000}) {
			t.Errorf("minimums: %+v", c.Limits)
		}
		c = mustBuild(t, with(func(o *WranglerOptions) { o.CPUMs = 900000; o.Subrequests = 20000000 }))
		if c.Limits != (Limits{900000, 20000000}) {
			t.Errorf("custom: %+v", c.Limits)
		}
	})

	t.Run("placement", func(t *testing.T) {
		c := mustBuild(t, with(func(o *WranglerOptions) { o.Placement = PlacementSmart }))
		if c.Placement == nil || c.Placement.Mode != "smart" {
			t.Errorf("smart: %+v", c.Placement)
		}
		c = mustBuild(t, with(func(o *WranglerOptions) { o.Placement = PlacementOff }))
		doc, _ := c.JSON()
		if c.Placement != nil || bytes.Contains(doc, []byte(`"placement"`)) {
			t.Errorf("off: placement still written: %s", doc)
		}
	})

	t.Run("r2BucketPrefix", func(t *testing.T) {
		c := mustBuild(t, with(func(o *WranglerOptions) { o.R2BucketPrefix = "team" }))
		want := []string{"team-npm-cache", "team-npm-packument-cache", "nimbus-runtime-cache-public"}
		if !reflect.DeepEqual(c.BucketNames(), want) {
			t.Errorf("got %v want %v", c.BucketNames(), want)
		}
		bindings := []string{c.R2Buckets[0].Binding, c.R2Buckets[1].Binding, c.R2Buckets[2].Binding}
		if !reflect.DeepEqual(bindings, []string{"NPM_TARBALL_CACHE", "NPM_PACKUMENT_CACHE", "NIMBUS_RUNTIME_CACHE"}) {
			t.Errorf("binding order %v", bindings)
		}
	})

	t.Run("runtimeCache", func(t *testing.T) {
		for _, tc := range []struct {
			rc   RuntimeCache
			pre  string
			want string
		}{
			{RuntimeCache{}, "", "nimbus-runtime-cache-public"},
			{RuntimeCache{Mode: RuntimeCacheShared}, "", "nimbus-runtime-cache-public"},
			{RuntimeCache{Mode: RuntimeCacheBYOA}, "", "acme-runtime-cache"},
			{RuntimeCache{Mode: RuntimeCacheBYOA}, "team", "team-runtime-cache"},
			{RuntimeCache{Mode: RuntimeCacheBYOA, Bucket: "my-runtimes"}, "", "my-runtimes"},
			{RuntimeCache{Mode: RuntimeCacheShared, Bucket: "my-runtimes"}, "", "my-runtimes"},
			{RuntimeCache{Bucket: "my-runtimes"}, "", "my-runtimes"},
		} {
			c := mustBuild(t, with(func(o *WranglerOptions) { o.RuntimeCache = tc.rc; o.R2BucketPrefix = tc.pre }))
			if got := c.RuntimeBucket(); got != tc.want || c.BucketNames()[2] != tc.want {
				t.Errorf("%+v prefix %q: got %q want %q", tc.rc, tc.pre, got, tc.want)
			}
		}
	})

	t.Run("nimbusPublicDirectory", func(t *testing.T) {
		c := mustBuild(t, with(func(o *WranglerOptions) { o.NimbusPublicDirectory = true }))
		wantDO := []DurableObjectBinding{{"NIMBUS_SESSION", "NimbusSession"}, {"NIMBUS_PUBLIC_DIRECTORY", "NimbusPublicDirectory"}}
		wantMig := []Migration{{"nimbus-v1", []string{"NimbusSession"}}, {"nimbus-v2", []string{"NimbusPublicDirectory"}}}
		if !reflect.DeepEqual(c.DurableObjects.Bindings, wantDO) || !reflect.DeepEqual(c.Migrations, wantMig) {
			t.Errorf("got %+v %+v", c.DurableObjects.Bindings, c.Migrations)
		}
	})

	t.Run("legacyPublic", func(t *testing.T) {
		c := mustBuild(t, with(func(o *WranglerOptions) { o.LegacyPublic = true }))
		if !reflect.DeepEqual(c.Vars, StringMap{{"NIMBUS_LEGACY_PUBLIC", "1"}}) {
			t.Errorf("vars %v", c.Vars)
		}
	})

	t.Run("runtimeCatalogSha256", func(t *testing.T) {
		c := mustBuild(t, with(func(o *WranglerOptions) { o.RuntimeCatalogSHA256 = testSHA }))
		if !reflect.DeepEqual(c.Vars, StringMap{{"NIMBUS_RUNTIME_CATALOG_SHA256", testSHA}}) {
			t.Errorf("vars %v", c.Vars)
		}
	})

	t.Run("extraAliases", func(t *testing.T) {
		c := mustBuild(t, with(func(o *WranglerOptions) {
			o.ExtraAliases = []Alias{{"@lifo-sh/ui", "./stub.js"}, {"pako", "pako/dist/pako.esm.mjs"}}
		}))
		if len(c.Alias) != 13 {
			t.Fatalf("want 13 aliases, got %d: %v", len(c.Alias), c.Alias)
		}
		if v, _ := c.Alias.Get("pako"); v != "pako/dist/pako.esm.mjs" || c.Alias[4].Key != "pako" {
			t.Errorf("override must replace in place: %v", c.Alias)
		}
		if c.Alias[12] != (Alias{"@lifo-sh/ui", "./stub.js"}) {
			t.Errorf("new alias must be appended: %v", c.Alias)
		}
		if v, _ := RequiredAliases().Get("pako"); v != "pako" {
			t.Errorf("defaults mutated")
		}
	})

	t.Run("agent", func(t *testing.T) {
		c := mustBuild(t, with(func(o *WranglerOptions) {
			o.LegacyPublic = true
			o.RuntimeCatalogSHA256 = testSHA
			o.Agent = &AgentOptions{
				Model: "m", GatewayID: "g",
				OAuth: &AgentOAuth{ClientID: "cid", RedirectURI: "https://x/cb", Scopes: []string{"account:read", "workers:write"}},
				Owner: &AgentOwner{AccountID: "acc"},
			}
		}))
		want := StringMap{
			{"NIMBUS_LEGACY_PUBLIC", "1"},
			{"NIMBUS_RUNTIME_CATALOG_SHA256", testSHA},
			{"NIMBUS_AGENT_MODEL", "m"},
			{"NIMBUS_AGENT_GATEWAY_ID", "g"},
			{"NIMBUS_CF_OAUTH_CLIENT_ID", "cid"},
			{"NIMBUS_CF_OAUTH_REDIRECT_URI", "https://x/cb"},
			{"NIMBUS_CF_OAUTH_SCOPES", "account:read workers:write"},
			{"NIMBUS_CLOUDFLARE_ACCOUNT_ID", "acc"},
		}
		if !reflect.DeepEqual(c.Vars, want) {
			t.Errorf("vars\n got %v\nwant %v", c.Vars, want)
		}
		c = mustBuild(t, with(func(o *WranglerOptions) {
			o.Agent = &AgentOptions{OAuth: &AgentOAuth{ClientID: "cid"}}
		}))
		if !reflect.DeepEqual(c.Vars, StringMap{{"NIMBUS_CF_OAUTH_CLIENT_ID", "cid"}}) {
			t.Errorf("empty scopes must not be written: %v", c.Vars)
		}
		c = mustBuild(t, with(func(o *WranglerOptions) { o.Agent = &AgentOptions{} }))
		if c.Vars != nil {
			t.Errorf("empty agent must not write vars: %v", c.Vars)
		}
	})
}

func TestBuildWranglerConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts WranglerOptions
		code string
		msg  string
	}{
		{"name missing", WranglerOptions{}, CodeNameRequired, "name is required"},
		{"cpu below minimum", WranglerOptions{Name: "a", CPUMs: 299999}, CodeInvalidOption, "cpuMs must be an integer of at least 300000"},
		{"cpu negative", WranglerOptions{Name: "a", CPUMs: -1}, CodeInvalidOption, "cpuMs"},
		{"subrequests below minimum", WranglerOptions{Name: "a", Subrequests: 9999999}, CodeInvalidOption, "subrequests must be at least 10000000"},
		{"catalog short", WranglerOptions{Name: "a", RuntimeCatalogSHA256: "abc"}, CodeInvalidOption, "64 lowercase hex"},
		{"catalog upper", WranglerOptions{Name: "a", RuntimeCatalogSHA256: strings.ToUpper(testSHA)}, CodeInvalidOption, "64 lowercase hex"},
		{"catalog 65", WranglerOptions{Name: "a", RuntimeCatalogSHA256: testSHA + "0"}, CodeInvalidOption, "64 lowercase hex"},
		{"catalog non-hex", WranglerOptions{Name: "a", RuntimeCatalogSHA256: strings.Repeat("g", 64)}, CodeInvalidOption, "64 lowercase hex"},
		{"bad date", WranglerOptions{Name: "a", CompatibilityDate: "2026-13-01"}, CodeInvalidOption, "compatibility date"},
		{"bad mode", WranglerOptions{Name: "a", RuntimeCache: RuntimeCache{Mode: "public"}}, CodeInvalidOption, "runtime cache mode"},
		{"bad placement", WranglerOptions{Name: "a", Placement: "eu"}, CodeInvalidOption, "placement"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := BuildWranglerConfig(tc.opts)
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("want *Error, got %v (cfg %v)", err, cfg)
			}
			if se.Code != tc.code || !strings.Contains(se.Error(), tc.msg) || se.Hint == "" {
				t.Errorf("got code %s msg %q hint %q; want %s containing %q", se.Code, se.Error(), se.Hint, tc.code, tc.msg)
			}
			if cfg != nil {
				t.Errorf("config returned with error")
			}
		})
	}
}

func TestValidateNames(t *testing.T) {
	long := strings.Repeat("a", 44) // 44 + len("-npm-packument-cache") = 64
	for _, tc := range []struct {
		name string
		opts WranglerOptions
		code string
		flag string
	}{
		{"ok at 43", WranglerOptions{Name: long[:43]}, "", ""},
		{"worker name upper", WranglerOptions{Name: "Acme"}, CodeInvalidWorkerName, "--name"},
		{"worker name 64", WranglerOptions{Name: strings.Repeat("a", 64)}, CodeInvalidWorkerName, "--name"},
		{"prefix from name too long", WranglerOptions{Name: long}, CodeInvalidBucketName, "--name or --bucket-prefix"},
		{"explicit prefix too long", WranglerOptions{Name: "a", R2BucketPrefix: long}, CodeInvalidBucketName, "--bucket-prefix"},
		{"prefix with dot", WranglerOptions{Name: "a", R2BucketPrefix: "a.b"}, CodeInvalidBucketName, "--bucket-prefix"},
		{"byoa from prefix", WranglerOptions{Name: "a", R2BucketPrefix: "-x", RuntimeCache: RuntimeCache{Mode: RuntimeCacheBYOA}}, CodeInvalidBucketName, "--bucket-prefix"},
		{"runtime bucket short", WranglerOptions{Name: "abc", RuntimeCache: RuntimeCache{Bucket: "rb"}}, CodeInvalidBucketName, "--runtime-bucket"},
		{"runtime bucket trailing dash", WranglerOptions{Name: "abc", RuntimeCache: RuntimeCache{Bucket: "rb-"}}, CodeInvalidBucketName, "--runtime-bucket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := mustBuild(t, tc.opts).ValidateNames()
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("want *Error, got %v", err)
			}
			if se.Code != tc.code || se.Flag != tc.flag || !strings.Contains(se.Hint, tc.flag) {
				t.Errorf("got %s flag %q hint %q: %s", se.Code, se.Flag, se.Hint, se.Message)
			}
		})
	}
}
