//go:build unix

package doctor_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nimbus-sh/nimbus/internal/cftest"
	"github.com/nimbus-sh/nimbus/pkg/doctor"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/provision"
	"github.com/nimbus-sh/nimbus/pkg/runtimesync"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

const (
	secret  = "doctor-test-secret-0123456789abcdef01"
	account = "0123456789abcdef0123456789abcdef"
	cfToken = "cf-token"
)

// find returns the named check of a report.
func find(t *testing.T, r *doctor.Report, name string) doctor.Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, r.Checks)
	return doctor.Check{}
}

// expect runs d and checks one check's status and that its detail (and
// hint) contain the given texts.
func expect(t *testing.T, d *doctor.Doctor, name string, status doctor.Status, contains ...string) doctor.Check {
	t.Helper()
	r := d.Run(context.Background())
	c := find(t, r, name)
	if c.Status != status {
		t.Fatalf("%s: status %s, want %s: %+v", name, c.Status, status, c)
	}
	for _, s := range contains {
		if !strings.Contains(c.Detail+"\n"+c.Hint, s) {
			t.Errorf("%s: %q not in %+v", name, s, c)
		}
	}
	if (status == doctor.Fail || status == doctor.Warn) && c.Hint == "" {
		t.Errorf("%s: a %s without a hint: %+v", name, status, c)
	}
	if r.OK != (status != doctor.Fail) && status == doctor.Fail {
		t.Errorf("report ok=%v with a failing check", r.OK)
	}
	return c
}

func mint(t *testing.T, key, sid string, ttl time.Duration, scopes ...string) string {
	t.Helper()
	return mintAt(t, time.Now(), key, sid, ttl, scopes...)
}

// mintAt mints as if the clock said now (a negative ttl: expired by -ttl).
func mintAt(t *testing.T, now time.Time, key, sid string, ttl time.Duration, scopes ...string) string {
	t.Helper()
	tn := "acme"
	if ttl < 0 {
		// Expired: minted long enough ago.
		now, ttl = now.Add(2*ttl), -ttl
	}
	in := token.Input{Tenant: &tn, Scopes: scopes, TTL: &ttl}
	if sid != "" {
		in.SessionID = &sid
	}
	tok, err := token.Issuer{Secret: key, Now: func() time.Time { return now }}.Mint(in)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// dev starts the real local backend (what nimbus dev serves) and returns
// its URL and data directory.
func dev(t *testing.T, key string) (string, string) {
	t.Helper()
	data := t.TempDir()
	srv, err := localsandbox.New(localsandbox.Options{DataDir: data, Secret: key, HostEnv: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); _ = srv.Close() })
	return hs.URL, data
}

func sandboxes(data string) []string {
	ents, _ := os.ReadDir(filepath.Join(data, "sandboxes"))
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestVersion(t *testing.T) {
	var tag string
	rel := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "application/vnd.github+json" {
			http.Error(w, "bad accept", 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"tag_name":"` + tag + `","html_url":"https://github.com/nimbus-sh/nimbus/releases/tag/` + tag + `"}`))
	}))
	defer rel.Close()
	d := &doctor.Doctor{Version: "1.4.0", ReleaseURL: rel.URL}

	tag = "v1.4.0"
	expect(t, d, "version", doctor.Pass, "up to date")
	tag = "v1.3.9"
	expect(t, d, "version", doctor.Pass)
	tag = "v1.10.0"
	expect(t, d, "version", doctor.Warn, "older than the latest release v1.10.0", "releases/tag/v1.10.0")
	d.Version = "1.10.0-rc.2"
	expect(t, d, "version", doctor.Warn)
	d.Version = "v0.0.0-20261201120000-abcdef123456"
	expect(t, d, "version", doctor.Skip, "development build")
	d.Version = "(devel)"
	expect(t, d, "version", doctor.Skip, "development build")

	// Offline, rate-limited or turned off: never a failure.
	d.Version = "1.4.0"
	d.ReleaseURL = rel.URL + "/nope"
	tag = ""
	expect(t, d, "version", doctor.Skip, "could not check")
	rel.Close()
	d.ReleaseURL = rel.URL
	expect(t, d, "version", doctor.Skip, "could not check")
	d.ReleaseURL = ""
	expect(t, d, "version", doctor.Skip, "turned off")
}

func TestConfigAndCredentials(t *testing.T) {
	known := []string{"endpoint", "token", "tenant", "subject", "profile", "base_path", "token_file"}
	d := &doctor.Doctor{KnownKeys: known}
	expect(t, d, "config", doctor.Pass, "no config file")
	d.ConfigFiles = []doctor.ConfigFile{{Path: "/home/u/.config/nimbus/config.yaml", Keys: []string{"token"}}, {Path: "nimbus.yaml", Keys: []string{"endpoint", "tenant"}}}
	expect(t, d, "config", doctor.Pass, "nimbus.yaml (endpoint, tenant)", "config.yaml (token)")
	d.ConfigFiles[1].Keys = append(d.ConfigFiles[1].Keys, "endpiont", "colour")
	d.ConfigFiles[1].Unknown = []doctor.UnknownKey{{Key: "endpiont", Suggestion: "endpoint"}, {Key: "colour"}}
	expect(t, d, "config", doctor.Warn, "nimbus.yaml: endpiont (did you mean endpoint?)", "nimbus.yaml: colour")
	d.ConfigFiles[1].Err = errors.New("yaml: line 2: mapping values are not allowed")
	expect(t, d, "config", doctor.Fail, "line 2", "fix the YAML")

	expect(t, d, "credentials", doctor.Warn, "Worker: none", "NIMBUS_TOKEN")
	d.Credentials = []doctor.Credential{{Name: "NIMBUS_TOKEN", Source: "environment"}, {Name: "CLOUDFLARE_API_TOKEN", Source: "--api-token-file cf.txt"}}
	d.Token = "x"
	c := expect(t, d, "credentials", doctor.Pass, "NIMBUS_TOKEN (environment)", "Cloudflare: CLOUDFLARE_API_TOKEN (--api-token-file cf.txt)")
	if strings.Contains(c.Detail, "x") && strings.Contains(c.Detail, `"x"`) {
		t.Fatal("value printed")
	}
	d.Token, d.Secret = "", "s"
	d.Credentials = []doctor.Credential{{Name: "JWT_SECRET", Source: "environment"}}
	expect(t, d, "credentials", doctor.Warn, "needs a tenant")
	d.Credentials = []doctor.Credential{{Name: "token file", Source: "--token-file ci.token", Err: errors.New("no such file")}}
	expect(t, d, "credentials", doctor.Fail, "ci.token", "no such file")
}

func TestToken(t *testing.T) {
	now := time.Unix(1796290000, 0)
	d := &doctor.Doctor{Now: func() time.Time { return now }}
	expect(t, d, "token", doctor.Skip, "no token")

	d.Secret = "short"
	expect(t, d, "token", doctor.Warn, "only 5 characters")
	d.Secret = secret
	expect(t, d, "token", doctor.Pass, "mints 15-minute tokens")

	d.Token, d.TokenSource = mintAt(t, now, secret, "job-1", time.Hour, token.ScopeSandboxUse), "NIMBUS_TOKEN"
	expect(t, d, "token", doctor.Pass, "from NIMBUS_TOKEN", "tenant acme", "scopes sandbox:use", "pinned to sandbox job-1", "expires in 1h")
	d.Token = mintAt(t, now, "another-secret-0123456789abcdef0123", "job-1", time.Hour, token.ScopeSandboxUse)
	expect(t, d, "token", doctor.Warn, "not signed with the JWT_SECRET of this environment")
	d.Secret = ""
	expect(t, d, "token", doctor.Pass)

	d.Token = mintAt(t, now, secret, "", time.Hour)
	expect(t, d, "token", doctor.Warn, "full trust")
	d.Token = mintAt(t, now, secret, "", time.Hour, token.ScopeSessionAttach)
	expect(t, d, "token", doctor.Fail, "lacks sandbox:use", "nimbus token mint --tenant acme --scopes sandbox:use")
	d.Token = mintAt(t, now, secret, "", 5*time.Minute, token.ScopeSandboxUse)
	expect(t, d, "token", doctor.Warn, "expires in 5m", "--ttl")
	// A 24-hour token reads the same a second (or twenty) after its
	// minting as in that second: "23h59m" was the expiry cut, not rounded,
	// so a terminal report and a --json one a second later disagreed.
	day := mintAt(t, now, secret, "", 24*time.Hour, token.ScopeSandboxUse)
	for _, after := range []time.Duration{0, 1500 * time.Millisecond, 20 * time.Second} {
		d.Token, d.Now = day, func() time.Time { return now.Add(after) }
		if c := expect(t, d, "token", doctor.Pass); !strings.HasSuffix(c.Detail, "expires in 1d") {
			t.Errorf("%s after minting: %q, want it to expire in 1d", after, c.Detail)
		}
	}
	d.Now = func() time.Time { return now }
	d.Token = mintAt(t, now, secret, "", time.Minute, token.ScopeSandboxUse)
	now = now.Add(2 * time.Hour)
	expect(t, d, "token", doctor.Fail, "expired 1h59m ago")
	d.Token = "not.a-token"
	expect(t, d, "token", doctor.Fail, "not a Nimbus token")
}

// signed builds an HS256 token with exactly the given payload, for claims
// nimbus token mint never writes.
func signed(key, payload string) string {
	enc := base64.RawURLEncoding
	in := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(in))
	return in + "." + enc.EncodeToString(mac.Sum(nil))
}

// TestTokenWithoutExpiry: a token without a numeric exp (or iat) is one
// the Worker refuses (E_TOKEN_CLAIMS); the check says so rather than
// calling it expired two thousand years ago.
func TestTokenWithoutExpiry(t *testing.T) {
	now := time.Unix(1796290000, 0)
	for _, payload := range []string{
		`{"scope":"nimbus","tn":"acme","scopes":["sandbox:use"],"iat":1796290000}`,
		`{"scope":"nimbus","tn":"acme","scopes":["sandbox:use"],"iat":1796290000,"exp":"1796299999"}`,
		`{"scope":"nimbus","tn":"acme","scopes":["sandbox:use"],"exp":1796299999}`,
	} {
		d := &doctor.Doctor{Now: func() time.Time { return now }, Token: signed(secret, payload)}
		c := expect(t, d, "token", doctor.Fail, "iat and exp", "E_TOKEN_CLAIMS", "nimbus token mint")
		if strings.Contains(c.Detail, "expired") {
			t.Errorf("%s: %s", payload, c.Detail)
		}
	}
}

func TestEndpoint(t *testing.T) {
	url, data := dev(t, secret)

	// Nothing configured: skipped.
	expect(t, &doctor.Doctor{}, "endpoint", doctor.Skip, "no endpoint")
	expect(t, &doctor.Doctor{}, "clock", doctor.Skip)

	// Minting: ready on a throwaway sandbox, destroyed again.
	d := &doctor.Doctor{Endpoint: url, Secret: secret, Tenant: "acme"}
	expect(t, d, "endpoint", doctor.Pass, "remote API enabled at "+url+"/api/nimbus/v1", "destroyed it again")
	if left := sandboxes(data); len(left) != 0 {
		t.Fatalf("throwaway sandbox left: %v", left)
	}

	// A pinned token: the Worker's refusal of another id proves that it
	// accepts the token (signature, expiry, scopes come first) without
	// creating its sandbox, which ready would (any op creates a sandbox).
	d = &doctor.Doctor{Endpoint: url, Token: mint(t, secret, "mine", time.Hour, token.ScopeSandboxUse)}
	expect(t, d, "endpoint", doctor.Pass, "remote API enabled at "+url+"/api/nimbus/v1", "accepts the token", "pinned to sandbox mine")
	if left := sandboxes(data); len(left) != 0 {
		t.Fatalf("the probe created sandboxes %v", left)
	}
	// Its problems are still found.
	d = &doctor.Doctor{Endpoint: url, Token: mint(t, secret, "mine", time.Hour, token.ScopeSessionAttach)}
	expect(t, d, "endpoint", doctor.Fail, "E_SCOPE_MISSING")
	d = &doctor.Doctor{Endpoint: url, Token: mint(t, "wrong-secret-0123456789abcdef012345", "mine", time.Hour, token.ScopeSandboxUse)}
	expect(t, d, "endpoint", doctor.Fail, "E_TOKEN_SIGNATURE")

	// An unpinned use-only token cannot destroy the throwaway: a warning
	// naming it, so nothing leaks silently.
	d = &doctor.Doctor{Endpoint: url, Token: mint(t, secret, "", time.Hour, token.ScopeSandboxUse)}
	expect(t, d, "endpoint", doctor.Warn, "could not be destroyed (the token lacks session:destroy)", "nimbus sandbox destroy doctor-")

	// No credential: the API answers 401, which proves it is enabled.
	expect(t, &doctor.Doctor{Endpoint: url}, "endpoint", doctor.Pass, "requires a token")

	// Failures, each with its cause.
	d = &doctor.Doctor{Endpoint: url, Token: mint(t, "wrong-secret-0123456789abcdef012345", "", time.Hour, token.ScopeSandboxUse)}
	expect(t, d, "endpoint", doctor.Fail, "E_TOKEN_SIGNATURE", "JWT_SECRET")
	d = &doctor.Doctor{Endpoint: url, Token: mint(t, secret, "", time.Hour, token.ScopeSessionAttach)}
	expect(t, d, "endpoint", doctor.Fail, "E_SCOPE_MISSING")
	noSecret, _ := dev(t, "")
	expect(t, &doctor.Doctor{Endpoint: noSecret, Secret: secret, Tenant: "acme"}, "endpoint", doctor.Fail, "E_AUTH_CONFIG_MISSING", "--set-secret")
	expect(t, &doctor.Doctor{Endpoint: url, BasePath: "/other", Secret: secret, Tenant: "acme"}, "endpoint", doctor.Fail, "not as the Nimbus remote API")
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/", http.StatusFound) }))
	defer redirect.Close()
	expect(t, &doctor.Doctor{Endpoint: redirect.URL, Secret: secret, Tenant: "acme"}, "endpoint", doctor.Fail, "HTTP 302", "createNimbusHandler")
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	expect(t, &doctor.Doctor{Endpoint: closed.URL, Secret: secret, Tenant: "acme"}, "endpoint", doctor.Fail, "cannot reach", "connection refused")
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer slow.Close()
	defer close(hang)
	expect(t, &doctor.Doctor{Endpoint: slow.URL, Secret: secret, Tenant: "acme", Timeout: 300 * time.Millisecond}, "endpoint", doctor.Fail, "did not answer within 300ms")
}

// The endpoint and clock checks ask the Worker at once: one after the
// other, an endpoint that did not answer held the report for the probe's
// timeout and then the clock's, twice the bound the report names. Here
// the probe is answered only once the clock's preflight has arrived: run
// in turn, the probe times out instead (after the 15s given).
func TestEndpointAndClockAskAtOnce(t *testing.T) {
	seen := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			once.Do(func() { close(seen) })
			w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		select {
		case <-seen:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":"answered after the clock's preflight","code":"E_AUTH_UNKNOWN"}`)
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	d := &doctor.Doctor{Endpoint: srv.URL, Secret: secret, Tenant: "acme", Timeout: 15 * time.Second}
	r := d.Run(context.Background())
	if c := find(t, r, "endpoint"); !strings.Contains(c.Detail, "answered after the clock's preflight") {
		t.Errorf("endpoint: %+v", c)
	}
	if c := find(t, r, "clock"); c.Status != doctor.Pass {
		t.Errorf("clock: %+v", c)
	}
}

func TestClock(t *testing.T) {
	url, _ := dev(t, secret)
	for _, c := range []struct {
		offset time.Duration
		status doctor.Status
		text   string
	}{
		{0, doctor.Pass, "in step"},
		{-40 * time.Second, doctor.Warn, "(39|40|41)s behind"},
		{40 * time.Second, doctor.Warn, "(39|40|41)s ahead of"},
		{-20 * time.Minute, doctor.Fail, "(19m5[89]s|20m1s|20m) behind the Worker's: tokens minted here are rejected"},
	} {
		d := &doctor.Doctor{Endpoint: url, Now: func() time.Time { return time.Now().Add(c.offset) }}
		ch := expect(t, d, "clock", c.status)
		if !regexp.MustCompile(c.text).MatchString(ch.Detail) {
			t.Errorf("offset %s: %q does not match %q", c.offset, ch.Detail, c.text)
		}
	}
	noDate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil
		w.WriteHeader(204)
	}))
	defer noDate.Close()
	expect(t, &doctor.Doctor{Endpoint: noDate.URL}, "clock", doctor.Skip, "no usable Date")
	// Something else answers at the endpoint (a proxy, a wrong host): its
	// Date is not the Worker's clock.
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	expect(t, &doctor.Doctor{Endpoint: other.URL}, "clock", doctor.Skip, "does not answer as the Nimbus remote API", "no Worker clock")
}

// project returns a project directory with a wrangler.jsonc built from
// the given members.
func projectFS(wrangler string) fstest.MapFS {
	return fstest.MapFS{"wrangler.jsonc": &fstest.MapFile{Data: []byte(wrangler)}}
}

const goodWrangler = `{
  // nimbus init
  "name": "my-box",
  "account_id": "` + account + `",
  "r2_buckets": [
    { "binding": "NPM_TARBALL_CACHE", "bucket_name": "my-box-npm-cache" },
    { "binding": "NPM_PACKUMENT_CACHE", "bucket_name": "my-box-npm-packument-cache" },
    { "binding": "NIMBUS_RUNTIME_CACHE", "bucket_name": "my-box-runtime-cache" },
  ],
  "vars": { "NIMBUS_RUNTIME_CATALOG_SHA256": "PIN" },
}`

func cloudflare(t *testing.T) (*cftest.Server, *provision.Client) {
	t.Helper()
	cf := cftest.New()
	t.Cleanup(cf.Close)
	cf.AddAccount(account, "Acme")
	cf.AddToken(cfToken, &cftest.Token{Accounts: []string{account}})
	c, err := provision.NewClient(provision.ClientOptions{Token: cfToken, BaseURL: cf.BaseURL()})
	if err != nil {
		t.Fatal(err)
	}
	return cf, c
}

// publish stores a catalog in the runtime bucket as runtime sync does and
// returns its digest.
func publish(cf *cftest.Server, bucket, version string) string {
	cat := runtimesync.NewCatalog()
	cat.Set("cpython", version, runtimesync.CatalogEntry{Manifest: "manifests/cpython-" + version + ".json", ManifestSHA256: strings.Repeat("a", 64), SizeBytes: 1 << 20, License: "PSF-2.0"})
	b := cat.Bytes()
	digest := runtimesync.Digest(b)
	cf.PutObject(account, bucket, runtimesync.CatalogKey, b, "application/json")
	cf.PutObject(account, bucket, runtimesync.PinKey(digest), b, "application/json")
	return digest
}

func TestProjectWithoutCloudflare(t *testing.T) {
	pin := strings.Repeat("ab", 32)
	good := strings.Replace(goodWrangler, "PIN", pin, 1)
	d := &doctor.Doctor{}
	for _, n := range []string{"wrangler", "buckets", "runtime-catalog", "worker-secret"} {
		expect(t, d, n, doctor.Skip, "no project directory")
	}
	d.Project = fstest.MapFS{}
	expect(t, d, "wrangler", doctor.Skip, "no wrangler.jsonc")

	d.Project = projectFS(good)
	expect(t, d, "wrangler", doctor.Pass, "Worker my-box on account "+account)
	expect(t, d, "buckets", doctor.Pass, "NPM_TARBALL_CACHE=my-box-npm-cache", "no CLOUDFLARE_API_TOKEN")
	expect(t, d, "runtime-catalog", doctor.Pass, "pinned to abababababab", "no CLOUDFLARE_API_TOKEN")
	expect(t, d, "worker-secret", doctor.Skip, "no CLOUDFLARE_API_TOKEN")

	d.Project = projectFS(`{ "name": "my-box", `)
	expect(t, d, "wrangler", doctor.Fail, "not valid JSONC")
	d.Project = projectFS(`{ "account_id": "x" }`)
	expect(t, d, "wrangler", doctor.Fail, "has no name")
	d.Project = projectFS(strings.Replace(good, `"account_id": "`+account+`",`, "", 1))
	expect(t, d, "wrangler", doctor.Warn, "no account_id", "nimbus setup cloudflare")

	d.Project = projectFS(strings.Replace(good, `{ "binding": "NPM_PACKUMENT_CACHE", "bucket_name": "my-box-npm-packument-cache" },`, "", 1))
	expect(t, d, "buckets", doctor.Fail, "no bucket for NPM_PACKUMENT_CACHE")
	d.Project = projectFS(strings.Replace(good, "my-box-runtime-cache", "My_Bucket", 1))
	expect(t, d, "buckets", doctor.Fail, "NIMBUS_RUNTIME_CACHE = My_Bucket")
	d.Project = projectFS(strings.Replace(good, "my-box-npm-packument-cache", "other-npm-packument-cache", 1))
	expect(t, d, "buckets", doctor.Warn, "not named <prefix>-npm-cache")
	d.Project = projectFS(strings.Replace(good, "my-box-runtime-cache", "my-box-npm-cache", 1))
	expect(t, d, "buckets", doctor.Fail, "the same bucket")

	d.Project = projectFS(strings.Replace(good, `"vars": { "NIMBUS_RUNTIME_CATALOG_SHA256": "`+pin+`" },`, "", 1))
	expect(t, d, "runtime-catalog", doctor.Warn, "does not set vars.NIMBUS_RUNTIME_CATALOG_SHA256", "nimbus runtime sync --write-config")
	d.Project = projectFS(strings.Replace(goodWrangler, "PIN", "latest", 1))
	expect(t, d, "runtime-catalog", doctor.Fail, `"latest", not a SHA-256 digest`)
}

func TestProjectWithCloudflare(t *testing.T) {
	cf, c := cloudflare(t)
	for _, b := range []string{"my-box-npm-cache", "my-box-npm-packument-cache", "my-box-runtime-cache"} {
		cf.AddBucket(account, b)
	}
	pin := publish(cf, "my-box-runtime-cache", "3.13.0")
	cf.DeployWorker(account, "my-box")
	cf.SetSecret(account, "my-box", "JWT_SECRET", secret)
	d := &doctor.Doctor{Project: projectFS(strings.Replace(goodWrangler, "PIN", pin, 1)), Cloudflare: c}
	r := d.Run(context.Background())
	if !r.OK {
		t.Fatalf("healthy project: %+v", r.Checks)
	}
	expect(t, d, "buckets", doctor.Pass, "all exist on account "+account)
	expect(t, d, "runtime-catalog", doctor.Pass, "pinned to "+pin[:12], "my-box-runtime-cache holds (1 runtimes)", "the current one")
	expect(t, d, "worker-secret", doctor.Pass, "has JWT_SECRET")
	// The secret's value never reaches the report.
	for _, ch := range r.Checks {
		if strings.Contains(ch.Detail+ch.Hint, secret) || strings.Contains(ch.Detail+ch.Hint, cfToken) {
			t.Fatalf("a secret in %+v", ch)
		}
	}

	// A newer catalog: the pin is stale but still works.
	publish(cf, "my-box-runtime-cache", "3.14.0")
	expect(t, d, "runtime-catalog", doctor.Warn, "the bucket's current catalog is", "redeploy")
	// A pin the bucket does not have: the Worker cannot install runtimes.
	d.Project = projectFS(strings.Replace(goodWrangler, "PIN", strings.Repeat("cd", 32), 1))
	expect(t, d, "runtime-catalog", doctor.Fail, "has no catalog cdcdcdcdcd")
	d.Project = projectFS(strings.Replace(goodWrangler, "PIN", pin, 1))

	cf.DeleteObject(account, "my-box-runtime-cache", runtimesync.CatalogKey)
	cf.SetSecret(account, "my-box", "JWT_SECRET", "")
	cf2, c2 := cloudflare(t)
	cf2.AddBucket(account, "my-box-npm-cache")
	cf2.DeployWorker(account, "my-box")
	d2 := &doctor.Doctor{Project: d.Project, Cloudflare: c2}
	expect(t, d2, "buckets", doctor.Fail, "not on account "+account+": my-box-npm-packument-cache, my-box-runtime-cache", "nimbus setup cloudflare")
	expect(t, d2, "worker-secret", doctor.Fail, "has no JWT_SECRET", "--set-secret")
	cf3, c3 := cloudflare(t)
	_ = cf3
	expect(t, &doctor.Doctor{Project: d.Project, Cloudflare: c3}, "worker-secret", doctor.Warn, "not deployed", "wrangler deploy")

	// A token without R2 read: the checks say so instead of failing.
	cf.AddToken("weak", &cftest.Token{Accounts: []string{account}, Denied: []string{cftest.PermR2Read, cftest.PermR2Write, cftest.PermScriptsRead}})
	weak, _ := provision.NewClient(provision.ClientOptions{Token: "weak", BaseURL: cf.BaseURL()})
	d.Cloudflare = weak
	expect(t, d, "buckets", doctor.Warn, "could not check the buckets")
	expect(t, d, "worker-secret", doctor.Warn, "could not list the Worker's secrets")
}

// Run's report: ok only when nothing fails; check names in a fixed order.
func TestReport(t *testing.T) {
	url, _ := dev(t, secret)
	d := &doctor.Doctor{Endpoint: url, Secret: secret, Tenant: "acme", Credentials: []doctor.Credential{{Name: "JWT_SECRET", Source: "environment"}}, Version: "1.0.0"}
	r := d.Run(context.Background())
	var names []string
	for _, c := range r.Checks {
		names = append(names, c.Name)
	}
	want := "version config credentials token endpoint clock wrangler buckets runtime-catalog worker-secret"
	if strings.Join(names, " ") != want || !r.OK {
		t.Fatalf("report %v ok=%v: %+v", names, r.OK, r.Checks)
	}
	d.Token = mint(t, secret, "", -time.Minute, token.ScopeSandboxUse)
	if d.Run(context.Background()).OK {
		t.Fatal("ok with an expired token")
	}
}

// TestEndpointFailuresAlwaysHaveAHint: an endpoint that fails in a way
// the check has no special case for (a Worker error it does not know, an
// answer that is not the remote API's envelope, a Worker that refuses the
// request with a 4xx of its own) still gets a hint saying what to do.
func TestEndpointFailuresAlwaysHaveAHint(t *testing.T) {
	for _, c := range []struct {
		name, want string
		status     int
		body       string
	}{
		{"unknown Worker error", "E_BOOM", http.StatusInternalServerError, `{"ok":false,"error":"boom","code":"E_BOOM"}`},
		{"unknown refusal", "E_NOPE", http.StatusBadRequest, `{"ok":false,"error":"nope","code":"E_NOPE"}`},
		{"not an envelope", "not a Nimbus JSON envelope", http.StatusOK, `{"ok":tru`},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.body))
			}))
			defer srv.Close()
			expect(t, &doctor.Doctor{Endpoint: srv.URL, Secret: secret, Tenant: "acme"}, "endpoint", doctor.Fail, c.want)
		})
	}
}

// TestTokenWorkerRules: the token check applies the Worker's rules
// (token.CheckUsable), not a looser copy of them. It passed tokens whose
// claims the Worker refuses (another product's scope, ids that are not
// ids, a scopes claim that is not a list, which it even called full
// trust) and failed a token in the second of its exp, which the Worker
// still accepts, as "expired 0s ago".
func TestTokenWorkerRules(t *testing.T) {
	now := time.Unix(1796290000, 0)
	d := &doctor.Doctor{Now: func() time.Time { return now }, TokenSource: "NIMBUS_TOKEN"}
	for _, c := range []struct{ payload, want string }{
		{`{"scope":"vfs","tn":"acme","scopes":["sandbox:use"],"iat":1796290000,"exp":1796299999}`, `Invalid claims: scope must be "nimbus" (got: "vfs") (E_TOKEN_CLAIMS)`},
		{`{"scope":"nimbus","tn":"ac:me","scopes":["sandbox:use"],"iat":1796290000,"exp":1796299999}`, `Invalid claims: tn must match /^[A-Za-z0-9._-]{1,128}$/ (got: "ac:me") (E_TOKEN_CLAIMS)`},
		{`{"scope":"nimbus","tn":"acme","sid":"job 1","scopes":["sandbox:use"],"iat":1796290000,"exp":1796299999}`, `Invalid claims: sid must match /^[A-Za-z0-9._-]{1,128}$/ (got: "job 1") (E_TOKEN_CLAIMS)`},
		{`{"scope":"nimbus","tn":"acme","scopes":"sandbox:use","iat":1796290000,"exp":1796299999}`, `Invalid claims: scopes must be an array of strings (E_TOKEN_CLAIMS)`},
	} {
		d.Token = signed(secret, c.payload)
		c := expect(t, d, "token", doctor.Fail, "the token from NIMBUS_TOKEN is one the Worker refuses: "+c.want, "nimbus token mint")
		if strings.Contains(c.Detail, "full trust") {
			t.Errorf("%s", c.Detail)
		}
	}
	// exp is the current second (and half of it has passed): the Worker
	// accepts the token for that second.
	for _, at := range []time.Time{now, now.Add(500 * time.Millisecond)} {
		d := &doctor.Doctor{Now: func() time.Time { return at }, Token: signed(secret, `{"scope":"nimbus","tn":"acme","scopes":["sandbox:use"],"iat":1796280000,"exp":1796290000}`)}
		expect(t, d, "token", doctor.Warn, "expires in 0s", "expires soon")
	}
	d.Token = signed(secret, `{"scope":"nimbus","tn":"acme","scopes":["sandbox:use"],"iat":1796280000,"exp":1796289999}`)
	expect(t, d, "token", doctor.Fail, "expired 1s ago")
}

// TestTokenHeaderAndSignature: a token whose header does not say alg
// HS256 fails the check (nimbus dev refuses it), even with JWT_SECRET and
// a right MAC, and so does one whose signature cannot be an HS256 one.
// Both passed: CheckUsable looked at the claims only.
func TestTokenHeaderAndSignature(t *testing.T) {
	now := time.Unix(1796290000, 0)
	enc := base64.RawURLEncoding.EncodeToString
	payload := enc([]byte(`{"scope":"nimbus","tn":"acme","scopes":["sandbox:use"],"sid":"box","iat":1796290000,"exp":1796299999}`))
	withMAC := func(header string) string {
		in := enc([]byte(header)) + "." + payload
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(in))
		return in + "." + enc(mac.Sum(nil))
	}
	for _, c := range []struct{ tok, want string }{
		{withMAC(`{"alg":"HS512","typ":"JWT"}`), "has a header whose alg is not HS256, which no Nimbus issuer writes; nimbus dev refuses it (E_TOKEN_MALFORMED)"},
		{withMAC(`{"alg":"none"}`), "has a header whose alg is not HS256"},
		{withMAC(`{"typ":"JWT"}`), "has a header whose alg is not HS256"},
		{enc([]byte(`{"alg":"none"}`)) + "." + payload + ".", "has a 0-byte signature, where an HS256 one is 32 bytes, so no secret verifies it; the Worker refuses it (E_TOKEN_SIGNATURE)"},
	} {
		for _, sec := range []string{"", secret} {
			d := &doctor.Doctor{Now: func() time.Time { return now }, Token: c.tok, TokenSource: "NIMBUS_TOKEN", Secret: sec}
			expect(t, d, "token", doctor.Fail, "the token from NIMBUS_TOKEN "+c.want, "mint a fresh one: nimbus token mint --tenant acme --scopes sandbox:use --sid box")
		}
	}
}
