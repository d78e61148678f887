package npmregistry_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/npmtest"
	"github.com/nimbus-sh/nimbus/pkg/npmregistry"
)

func fakeRegistry(t *testing.T) (*npmtest.Server, *npmregistry.Client, []byte) {
	t.Helper()
	srv := npmtest.New()
	t.Cleanup(srv.Close)
	rt := npmtest.Runtime{Name: "bash", Version: "5.2.37", License: "GPL-3.0-or-later",
		Files: []npmtest.RuntimeFile{{Path: "bin/bash", Src: "bash.wasm", Data: []byte("\x00asm bash"), Exec: true}}}
	tgz := rt.Tarball()
	srv.Publish("@nimbus-sh/runtime-bash", "5.2.37", tgz)
	return srv, &npmregistry.Client{Registry: srv.Registry(), RetryBackoff: time.Millisecond}, tgz
}

func TestPackumentAndDownload(t *testing.T) {
	srv, c, tgz := fakeRegistry(t)
	ctx := context.Background()
	p, err := c.Packument(ctx, "@nimbus-sh/runtime-bash")
	if err != nil {
		t.Fatal(err)
	}
	v, ok := p.Versions["5.2.37"]
	if !ok || p.DistTags["latest"] != "5.2.37" {
		t.Fatalf("packument %+v", p)
	}
	reqs := srv.Requests()
	if reqs[0].Path != "/@nimbus-sh%2fruntime-bash" || !strings.Contains(reqs[0].Accept, "application/vnd.npm.install-v1+json") {
		t.Fatalf("packument request %+v: want the escaped scoped name and the abbreviated form", reqs[0])
	}
	integ, err := npmregistry.ParseIntegrity(v.Dist.Integrity)
	if err != nil || integ.Algorithm != "sha512" {
		t.Fatalf("integrity %q: %v", v.Dist.Integrity, err)
	}
	var buf bytes.Buffer
	var progressed, announced int64
	n, err := c.Download(ctx, v.Dist.Tarball, integ, &buf, func(done, total int64) { progressed, announced = done, total })
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(tgz)) || progressed != n || announced != n || !bytes.Equal(buf.Bytes(), tgz) {
		t.Fatalf("downloaded %d bytes (progress %d of %d), want %d", n, progressed, announced, len(tgz))
	}
}

func TestDownloadRejectsWrongIntegrity(t *testing.T) {
	srv, c, _ := fakeRegistry(t)
	srv.Publish("@nimbus-sh/runtime-bash", "5.2.37", []byte("tampered"), npmtest.WithIntegrity(npmtest.Integrity([]byte("original"))))
	p, err := c.Packument(context.Background(), "@nimbus-sh/runtime-bash")
	if err != nil {
		t.Fatal(err)
	}
	v := p.Versions["5.2.37"]
	integ, _ := npmregistry.ParseIntegrity(v.Dist.Integrity)
	_, err = c.Download(context.Background(), v.Dist.Tarball, integ, &bytes.Buffer{}, nil)
	e, ok := npmregistry.AsError(err)
	if !ok || e.Kind != npmregistry.KindIntegrity || !strings.Contains(e.Message, "integrity mismatch") {
		t.Fatalf("err = %v, want an integrity error", err)
	}
}

func TestDownloadTruncatedIsNotIntegrityOK(t *testing.T) {
	srv, c, _ := fakeRegistry(t)
	p, _ := c.Packument(context.Background(), "@nimbus-sh/runtime-bash")
	v := p.Versions["5.2.37"]
	srv.AddFault(npmtest.Fault{PathSuffix: ".tgz", Truncate: true})
	integ, _ := npmregistry.ParseIntegrity(v.Dist.Integrity)
	_, err := c.Download(context.Background(), v.Dist.Tarball, integ, &bytes.Buffer{}, nil)
	e, ok := npmregistry.AsError(err)
	if !ok || e.Kind != npmregistry.KindUnavailable {
		t.Fatalf("err = %v, want unavailable", err)
	}
}

func TestPackumentErrors(t *testing.T) {
	srv, c, _ := fakeRegistry(t)
	ctx := context.Background()
	_, err := c.Packument(ctx, "@nimbus-sh/runtime-ruby")
	if e, ok := npmregistry.AsError(err); !ok || e.Kind != npmregistry.KindNotFound {
		t.Fatalf("missing package: %v", err)
	}
	// 5xx is retried, then reported as unavailable.
	srv.ResetRequests()
	srv.AddFault(npmtest.Fault{PathSuffix: "runtime-bash", Status: http.StatusBadGateway})
	_, err = c.Packument(ctx, "@nimbus-sh/runtime-bash")
	if e, ok := npmregistry.AsError(err); !ok || e.Kind != npmregistry.KindUnavailable || e.Status != 502 {
		t.Fatalf("502: %v", err)
	}
	if got := len(srv.Requests()); got != 1+npmregistry.DefaultMaxRetries {
		t.Fatalf("%d requests, want %d (retries)", got, 1+npmregistry.DefaultMaxRetries)
	}
	for _, bad := range []string{"", "../x", "@scope/../x", "A", "@nimbus-sh/runtime bash"} {
		if _, err := c.Packument(ctx, bad); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.Packument(ctx2, "@nimbus-sh/runtime-bash")
	if e, ok := npmregistry.AsError(err); !ok || e.Kind != npmregistry.KindInterrupted {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestPackumentRecoversFromTransientFailure(t *testing.T) {
	srv, c, _ := fakeRegistry(t)
	srv.AddFault(npmtest.Fault{PathSuffix: "runtime-bash", Status: http.StatusServiceUnavailable, Times: 1})
	if _, err := c.Packument(context.Background(), "@nimbus-sh/runtime-bash"); err != nil {
		t.Fatalf("one 503 then success: %v", err)
	}
}

// A Retry-After in the HTTP-date form is honoured (a date that has passed
// is no wait); it used to be read with Sscanf("%d"), which fails on a date,
// so the client's own backoff applied: an hour here, so only the header can
// make the retry come before the guard.
func TestPackumentRetryAfterDate(t *testing.T) {
	srv, c, _ := fakeRegistry(t)
	c.RetryBackoff = time.Hour
	srv.AddFault(npmtest.Fault{PathSuffix: "runtime-bash", Status: http.StatusTooManyRequests, Times: 1, RetryAfter: "Wed, 21 Oct 2015 07:28:00 GMT"})
	// The guard only keeps the old behaviour from hanging for an hour.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Packument(ctx, "@nimbus-sh/runtime-bash"); err != nil {
		t.Fatalf("429 with a past Retry-After date, then success: %v\n%s", err, srv.Summary())
	}
	if n := len(srv.Requests()); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
}

// A Retry-After that is not delay-seconds or an HTTP date (RFC 9110
// §10.2.3) is no wait, and the backoff applies: Sscanf("%d") used to read
// "0abc" and "0 s" as 0 and "+0" as 0, and retry at once (and "5abc" as
// 5 s). With an hour of backoff the one retry is not due before the
// context ends, so exactly one request is made.
func TestPackumentRetryAfterWithTrailingTextIsNoWait(t *testing.T) {
	for _, ra := range []string{"0abc", "0 s", "+0", "0.0"} {
		t.Run(ra, func(t *testing.T) {
			t.Parallel()
			srv, c, _ := fakeRegistry(t)
			c.RetryBackoff = time.Hour
			srv.AddFault(npmtest.Fault{PathSuffix: "runtime-bash", Status: http.StatusServiceUnavailable, Times: 1, RetryAfter: ra})
			// Ends the hour of backoff; the old parser retried at once,
			// long before it.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if _, err := c.Packument(ctx, "@nimbus-sh/runtime-bash"); err == nil {
				t.Fatalf("Retry-After %q was read as a wait of 0:\n%s", ra, srv.Summary())
			}
			// At most one: a machine slow enough to spend the whole second
			// before the first answer sends none, which is no retry either.
			if n := len(srv.Requests()); n > 1 {
				t.Fatalf("%d requests, want 1 (the backoff, not the header, sets the wait)", n)
			}
		})
	}
}

func TestParseIntegrity(t *testing.T) {
	sha512 := npmtest.Integrity([]byte("x"))
	cases := []struct {
		in, algo string
		ok       bool
	}{
		{sha512, "sha512", true},
		{"sha1-AAAA " + sha512 + "?foo", "sha512", true},
		{"sha256-LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564=", "sha256", true},
		{"sha1-C+7Hteo/D9vJXQ3UfzxbwnXaijM=", "", false},
		{"sha512-short", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		got, err := npmregistry.ParseIntegrity(c.in)
		if (err == nil) != c.ok || got.Algorithm != c.algo {
			t.Errorf("ParseIntegrity(%q) = %v, %v", c.in, got.Algorithm, err)
		}
	}
	i, _ := npmregistry.ParseIntegrity(sha512)
	if i.String() != sha512 || !strings.HasPrefix(i.Name(), "sha512-") || len(i.Name()) != 7+128 {
		t.Fatalf("String %q Name %q", i.String(), i.Name())
	}
}

func TestResolveRegistry(t *testing.T) {
	env := map[string]string{"TOKEN": "secret", "MIRROR": "https://mirror.example/npm"}
	getenv := func(k string) string { return env[k] }
	user := npmregistry.ParseNpmrc([]byte("; user config\nregistry = \"https://user.example/\"\n//user.example/:_authToken=${TOKEN}\n"), getenv)
	project := npmregistry.ParseNpmrc([]byte("# project\r\n@nimbus-sh:registry=${MIRROR}\r\n"), getenv)
	fromEnv := npmregistry.EnvSettings(func(k string) string {
		if k == "NPM_CONFIG_REGISTRY" {
			return "http://env.example:4873"
		}
		return ""
	})
	cases := []struct {
		pkg     string
		sources []npmregistry.Settings
		want    string
	}{
		{"@nimbus-sh/runtime-bash", nil, npmregistry.DefaultRegistry},
		{"@nimbus-sh/runtime-bash", []npmregistry.Settings{user}, "https://user.example/"},
		{"@nimbus-sh/runtime-bash", []npmregistry.Settings{project, user}, "https://mirror.example/npm/"},
		{"left-pad", []npmregistry.Settings{project, user}, "https://user.example/"},
		{"@nimbus-sh/runtime-bash", []npmregistry.Settings{fromEnv, project, user}, "http://env.example:4873/"},
	}
	for _, c := range cases {
		got, err := npmregistry.ResolveRegistry(c.pkg, c.sources...)
		if err != nil || got != c.want {
			t.Errorf("ResolveRegistry(%s) = %q, %v; want %q", c.pkg, got, err, c.want)
		}
	}
	if user["//user.example/:_authToken"] != "secret" {
		t.Errorf("${TOKEN} not expanded: %q", user["//user.example/:_authToken"])
	}
	_, err := npmregistry.ResolveRegistry("x", npmregistry.Settings{"registry": "ftp://nope"})
	if e, ok := npmregistry.AsError(err); !ok || e.Kind != npmregistry.KindInvalid {
		t.Fatalf("ftp registry: %v", err)
	}
	if got, _ := npmregistry.ResolveRegistry("x", npmregistry.Settings{"registry": "https://u:p@host/r"}); got != "https://host/r/" {
		t.Fatalf("credentials kept in %q", got)
	}
}

// TestTokenGoesToTheRegistryOnly: a private registry refuses requests
// without its token; with Client.Token the packument and a tarball on the
// registry's origin get "Authorization: Bearer", while a tarball on another
// origin (a CDN) and a redirect away from the registry (even to the same
// host on another port, which net/http would still trust) get nothing.
func TestTokenGoesToTheRegistryOnly(t *testing.T) {
	const tok = "npm_private-t0ken"
	srv, c, tgz := fakeRegistry(t)
	srv.RequireToken(tok)
	ctx := context.Background()
	_, err := c.Packument(ctx, "@nimbus-sh/runtime-bash")
	if e, ok := npmregistry.AsError(err); !ok || e.Status != http.StatusUnauthorized || !strings.Contains(e.Hint, "NIMBUS_NPM_TOKEN") {
		t.Fatalf("without the token: %v (%+v)", err, e)
	}

	c.Token = tok
	p, err := c.Packument(ctx, "@nimbus-sh/runtime-bash")
	if err != nil {
		t.Fatal(err)
	}
	v := p.Versions["5.2.37"]
	integ, err := npmregistry.ParseIntegrity(v.Dist.Integrity)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := c.Download(ctx, v.Dist.Tarball, integ, &buf, nil); err != nil || !bytes.Equal(buf.Bytes(), tgz) {
		t.Fatalf("tarball on the registry: %v", err)
	}
	for _, r := range srv.Requests()[1:] {
		if r.Authorization != "Bearer "+tok {
			t.Errorf("%s %s: Authorization %q", r.Method, r.Path, r.Authorization)
		}
	}

	// Another origin: a CDN serving the tarball, and one the registry
	// redirects to.
	var seen []string
	var mu sync.Mutex
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		_, _ = w.Write(tgz)
	}))
	t.Cleanup(cdn.Close)
	buf.Reset()
	if _, err := c.Download(ctx, cdn.URL+"/bash.tgz", integ, &buf, nil); err != nil {
		t.Fatal(err)
	}
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+tok {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, cdn.URL+"/redirected.tgz", http.StatusFound)
	}))
	t.Cleanup(redirector.Close)
	c.Registry = redirector.URL + "/"
	buf.Reset()
	if _, err := c.Download(ctx, redirector.URL+"/bash/-/bash-5.2.37.tgz", integ, &buf, nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"/bash.tgz ", "/redirected.tgz "}; !slices.Equal(seen, want) {
		t.Errorf("the other origin saw %q, want no Authorization: %q", seen, want)
	}
}

// TestDownloadErrorsRedactTheURL: a private registry's tarball URL may
// hold a user:password and a signed or token query; however Download
// fails, its message (what the CLI prints and logs) holds neither.
func TestDownloadErrorsRedactTheURL(t *testing.T) {
	srv, c, tgz := fakeRegistry(t)
	base := srv.URL + "/@nimbus-sh/runtime-bash/-/runtime-bash-5.2.37.tgz"
	secretURL := strings.Replace(base, "http://", "http://u:pw-SECRET@", 1) + "?token=tok-SECRET&sig=sig-SECRET"
	good, _ := npmregistry.ParseIntegrity(npmtest.Integrity(tgz))
	wrong, _ := npmregistry.ParseIntegrity(npmtest.Integrity([]byte("other")))
	srv.AddFault(npmtest.Fault{PathSuffix: "missing.tgz", Status: http.StatusNotFound})
	srv.AddFault(npmtest.Fault{PathSuffix: "refused.tgz", Status: http.StatusForbidden})
	srv.AddFault(npmtest.Fault{PathSuffix: "down.tgz", Status: http.StatusServiceUnavailable})
	other := func(name string) string {
		return strings.Replace(secretURL, "runtime-bash-5.2.37.tgz", name, 1)
	}
	for name, tc := range map[string]struct {
		url   string
		integ npmregistry.Integrity
	}{
		"no integrity":  {secretURL, npmregistry.Integrity{}},
		"unparsable":    {"http://u:pw-SECRET%zz@" + strings.TrimPrefix(base, "http://") + "?token=tok-SECRET", good},
		"not http":      {strings.Replace(secretURL, "http://", "ftp://", 1), good},
		"no host":       {"http://u:pw-SECRET@/x.tgz?token=tok-SECRET", good},
		"mismatch":      {secretURL, wrong},
		"404":           {other("missing.tgz"), good},
		"403":           {other("refused.tgz"), good},
		"503":           {other("down.tgz"), good},
		"unreachable":   {"http://u:pw-SECRET@127.0.0.1:9/x.tgz?token=tok-SECRET", good},
		"downloaded ok": {secretURL, good},
	} {
		_, err := c.Download(context.Background(), tc.url, tc.integ, &bytes.Buffer{}, nil)
		if name == "downloaded ok" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		e, ok := npmregistry.AsError(err)
		if !ok || strings.Contains(e.Message, "SECRET") || strings.Contains(e.Hint, "SECRET") || !strings.Contains(e.Message, "redacted") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
