package provision_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/cftest"
	"github.com/nimbus-sh/nimbus/pkg/provision"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

const (
	acct     = "0123456789abcdef0123456789abcdef"
	acct2    = "fedcba9876543210fedcba9876543210"
	userTok  = "user-token-0123456789"
	worker   = "demo"
	bkTar    = "demo-npm-cache"
	bkPack   = "demo-npm-packument-cache"
	bkRT     = "nimbus-runtime-cache-public"
	secretV  = "0123456789abcdef0123456789abcdef0123456789abcdef"
	subdomai = "acme"
)

// fixture is a fake Cloudflare with one account, a user token for it and a
// workers.dev subdomain, plus a project directory holding wrangler.jsonc.
type fixture struct {
	t       testing.TB
	cf      *cftest.Server
	dir     string
	events  []provision.Event
	wrangle string
	yaml    string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	cf := cftest.New()
	t.Cleanup(cf.Close)
	cf.AddAccount(acct, "Acme Corp")
	cf.AddToken(userTok, &cftest.Token{Scope: "user", Accounts: []string{acct}})
	cf.SetSubdomain(acct, subdomai)
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/wrangler.jsonc")
	if err != nil {
		t.Fatal(err)
	}
	w := filepath.Join(dir, "wrangler.jsonc")
	if err := os.WriteFile(w, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, cf: cf, dir: dir, wrangle: w, yaml: filepath.Join(dir, "nimbus.yaml")}
}

func (f *fixture) plan() provision.Plan {
	return provision.Plan{
		Worker: worker, AccountID: acct,
		Buckets: []provision.Bucket{
			{Binding: "NPM_TARBALL_CACHE", Name: bkTar},
			{Binding: "NPM_PACKUMENT_CACHE", Name: bkPack},
			{Binding: "NIMBUS_RUNTIME_CACHE", Name: bkRT},
		},
		RuntimeBucket:  bkRT,
		WranglerConfig: f.wrangle,
		NimbusConfig:   f.yaml,
	}
}

func (f *fixture) provisioner(token string) *provision.Provisioner {
	f.t.Helper()
	c, err := provision.NewClient(provision.ClientOptions{
		Token: token, BaseURL: f.cf.BaseURL(), MaxRetries: 2, RetryBackoff: time.Millisecond,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return &provision.Provisioner{Client: c, Observer: provision.ObserverFunc(func(e provision.Event) {
		f.events = append(f.events, e)
	})}
}

func (f *fixture) run(plan provision.Plan) (*provision.Result, error) {
	f.t.Helper()
	f.cf.ResetRequests()
	f.events = nil
	return f.provisioner(userTok).Run(context.Background(), plan)
}

func (f *fixture) mustRun(plan provision.Plan) *provision.Result {
	f.t.Helper()
	res, err := f.run(plan)
	if err != nil {
		f.t.Fatalf("Run: %v\nrequests:\n%s", err, f.cf.Summary())
	}
	return res
}

func statuses(res *provision.Result) string {
	var parts []string
	for _, b := range res.Buckets {
		parts = append(parts, b.Name+"="+string(b.Status))
	}
	return strings.Join(parts, " ")
}

func wantErr(t *testing.T, err error, kind provision.Kind, code string, hintHas string) *provision.Error {
	t.Helper()
	pe, ok := provision.AsError(err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *provision.Error", err, err)
	}
	if pe.Kind != kind || pe.Code != code {
		t.Fatalf("got kind %d code %s (%q), want kind %d code %s", pe.Kind, pe.Code, pe.Message, kind, code)
	}
	if !strings.Contains(pe.Hint, hintHas) {
		t.Fatalf("hint %q lacks %q", pe.Hint, hintHas)
	}
	return pe
}

func TestFreshAccountCreatesThreeBuckets(t *testing.T) {
	f := newFixture(t)
	res := f.mustRun(f.plan())
	if got, want := f.cf.Summary(), `GET /user/tokens/verify
GET /accounts/`+acct+`
GET /accounts/`+acct+`/r2/buckets/demo-npm-cache
POST /accounts/`+acct+`/r2/buckets
GET /accounts/`+acct+`/r2/buckets/demo-npm-packument-cache
POST /accounts/`+acct+`/r2/buckets
GET /accounts/`+acct+`/r2/buckets/nimbus-runtime-cache-public
POST /accounts/`+acct+`/r2/buckets
GET /accounts/`+acct+`/workers/subdomain
`; got != want {
		t.Fatalf("requests:\n%s\nwant:\n%s", got, want)
	}
	if got := f.cf.Buckets(acct); strings.Join(got, ",") != "demo-npm-cache,demo-npm-packument-cache,nimbus-runtime-cache-public" {
		t.Fatalf("buckets on the account: %v", got)
	}
	if s := statuses(res); s != "demo-npm-cache=created demo-npm-packument-cache=created nimbus-runtime-cache-public=created" {
		t.Fatalf("statuses: %s", s)
	}
	if res.Mutations != 3 || f.cf.Mutations() != 3 {
		t.Fatalf("mutations: result %d, server %d", res.Mutations, f.cf.Mutations())
	}
	if res.AccountID != acct || res.AccountName != "Acme Corp" || res.TokenScope != "user" {
		t.Fatalf("account: %+v", res)
	}
	if res.WorkersDevURL != "https://demo.acme.workers.dev" || res.WranglerConfig != provision.FileUpdated || res.Endpoint != provision.FileUpdated {
		t.Fatalf("result: %+v", res)
	}
	if res.Secret != provision.SecretSkipped {
		t.Fatalf("secret: %s", res.Secret)
	}
	y, _ := os.ReadFile(f.yaml)
	if string(y) != "endpoint: https://demo.acme.workers.dev\n" {
		t.Fatalf("nimbus.yaml: %q", y)
	}
	w, _ := os.ReadFile(f.wrangle)
	if !bytes.Contains(w, []byte(`"name": "demo", // the deployed Worker name
  "account_id": "`+acct+`",
  "main"`)) || !bytes.Contains(w, []byte("/* R2 caches: setup creates these */")) {
		t.Fatalf("wrangler.jsonc:\n%s", w)
	}
	// Every request carried the token and nothing else for auth.
	for _, r := range f.cf.Requests() {
		if r.Header.Get("Authorization") != "Bearer "+userTok || r.Header.Get("X-Auth-Key") != "" || r.Header.Get("X-Auth-Email") != "" {
			t.Fatalf("auth headers on %s %s: %v", r.Method, r.Path, r.Header)
		}
	}
	// The create bodies are exactly the bucket names.
	var bodies []string
	for _, r := range f.cf.Requests() {
		if r.Method == http.MethodPost {
			bodies = append(bodies, string(r.Body))
		}
	}
	if strings.Join(bodies, "") != `{"name":"demo-npm-cache"}{"name":"demo-npm-packument-cache"}{"name":"nimbus-runtime-cache-public"}` {
		t.Fatalf("create bodies: %q", bodies)
	}
	// Progress: each bucket reported done.
	done := 0
	for _, e := range f.events {
		if e.Step == provision.StepBucket && e.State == provision.StateDone && strings.HasSuffix(e.Message, "created") {
			done++
		}
	}
	if done != 3 {
		t.Fatalf("bucket done events: %d (%+v)", done, f.events)
	}
}

func TestSecondRunMakesNoMutation(t *testing.T) {
	f := newFixture(t)
	f.mustRun(f.plan())
	w1, _ := os.ReadFile(f.wrangle)
	st1, _ := os.Stat(f.wrangle)
	y1, _ := os.ReadFile(f.yaml)
	time.Sleep(10 * time.Millisecond)

	res := f.mustRun(f.plan())
	if n := f.cf.Mutations(); n != 0 {
		t.Fatalf("second run made %d mutations:\n%s", n, f.cf.Summary())
	}
	if n := len(f.cf.Requests()); n != 6 {
		t.Fatalf("second run made %d requests, want 6 GETs:\n%s", n, f.cf.Summary())
	}
	if s := statuses(res); s != "demo-npm-cache=exists demo-npm-packument-cache=exists nimbus-runtime-cache-public=exists" {
		t.Fatalf("statuses: %s", s)
	}
	if res.WranglerConfig != provision.FileUnchanged || res.Endpoint != provision.FileUnchanged {
		t.Fatalf("files: %s %s", res.WranglerConfig, res.Endpoint)
	}
	w2, _ := os.ReadFile(f.wrangle)
	st2, _ := os.Stat(f.wrangle)
	y2, _ := os.ReadFile(f.yaml)
	if !bytes.Equal(w1, w2) || !bytes.Equal(y1, y2) || !st1.ModTime().Equal(st2.ModTime()) {
		t.Fatal("second run touched a file")
	}
}

func TestDryRunMakesNoMutation(t *testing.T) {
	f := newFixture(t)
	before, _ := os.ReadFile(f.wrangle)
	p := f.plan()
	p.DryRun = true
	p.Secret = &provision.SecretSpec{Name: "JWT_SECRET", File: filepath.Join(f.dir, "secret")}
	f.cf.DeployWorker(acct, worker)
	res := f.mustRun(p)
	for _, r := range f.cf.Requests() {
		if r.Method != http.MethodGet {
			t.Fatalf("dry run sent %s %s", r.Method, r.Path)
		}
	}
	if len(f.cf.Buckets(acct)) != 0 {
		t.Fatal("dry run created buckets")
	}
	if s := statuses(res); s != "demo-npm-cache=planned demo-npm-packument-cache=planned nimbus-runtime-cache-public=planned" {
		t.Fatalf("statuses: %s", s)
	}
	if res.WranglerConfig != provision.FilePlanned || res.Endpoint != provision.FilePlanned || res.Secret != provision.SecretPlanned || res.Mutations != 0 {
		t.Fatalf("result: %+v", res)
	}
	after, _ := os.ReadFile(f.wrangle)
	if !bytes.Equal(before, after) {
		t.Fatal("dry run edited wrangler.jsonc")
	}
	for _, p := range []string{f.yaml, filepath.Join(f.dir, "secret")} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("dry run wrote %s", p)
		}
	}
}

func TestPartialPreviousRunConverges(t *testing.T) {
	f := newFixture(t)
	// A previous run created the first bucket and wrote account_id, then died.
	f.cf.AddBucket(acct, bkTar)
	data, _ := os.ReadFile(f.wrangle)
	data = bytes.Replace(data, []byte(`"main"`), []byte(`"account_id": "`+acct+`",
  "main"`), 1)
	if err := os.WriteFile(f.wrangle, data, 0o644); err != nil {
		t.Fatal(err)
	}
	res := f.mustRun(f.plan())
	if s := statuses(res); s != "demo-npm-cache=exists demo-npm-packument-cache=created nimbus-runtime-cache-public=created" {
		t.Fatalf("statuses: %s", s)
	}
	if f.cf.Mutations() != 2 || res.WranglerConfig != provision.FileUnchanged {
		t.Fatalf("mutations %d, wrangler %s", f.cf.Mutations(), res.WranglerConfig)
	}
	after, _ := os.ReadFile(f.wrangle)
	if !bytes.Equal(data, after) {
		t.Fatal("a correct wrangler.jsonc was rewritten")
	}
}

func TestConflictOnCreateCountsAsExistsAfterGET(t *testing.T) {
	f := newFixture(t)
	f.cf.SetConflictOnCreate(true)
	res := f.mustRun(f.plan())
	if s := statuses(res); s != "demo-npm-cache=exists demo-npm-packument-cache=exists nimbus-runtime-cache-public=exists" {
		t.Fatalf("statuses: %s", s)
	}
	// One POST per bucket (409 is never retried) and a confirming GET each.
	posts, gets := 0, 0
	for _, r := range f.cf.Requests() {
		if strings.Contains(r.Path, "/r2/buckets") {
			if r.Method == http.MethodPost {
				posts++
			} else {
				gets++
			}
		}
	}
	if posts != 3 || gets != 6 {
		t.Fatalf("posts %d gets %d:\n%s", posts, gets, f.cf.Summary())
	}
}

func TestServerErrorThenSuccessIsRetried(t *testing.T) {
	f := newFixture(t)
	f.cf.AddFault(cftest.Fault{Method: http.MethodPost, PathSuffix: "/r2/buckets", Status: 502, Code: 10001, Message: "bad gateway", Times: 2})
	f.cf.AddFault(cftest.Fault{Method: http.MethodGet, PathSuffix: "/user/tokens/verify", Status: 503, Message: "unavailable", Times: 1})
	res := f.mustRun(f.plan())
	if s := statuses(res); s != "demo-npm-cache=created demo-npm-packument-cache=created nimbus-runtime-cache-public=created" {
		t.Fatalf("statuses: %s", s)
	}
	if n := len(f.cf.Requests()); n != 12 {
		t.Fatalf("%d requests, want 9 + 3 retries:\n%s", n, f.cf.Summary())
	}
}

func TestServerErrorBeyondRetriesIsUnavailable(t *testing.T) {
	f := newFixture(t)
	f.cf.AddFault(cftest.Fault{Method: http.MethodGet, PathSuffix: "/r2/buckets/" + bkTar, Status: 500, Code: 10001, Message: "internal error"})
	_, err := f.run(f.plan())
	wantErr(t, err, provision.KindUnavailable, provision.CodeUnavailable, "rerun")
	n := 0
	for _, r := range f.cf.Requests() {
		if strings.HasSuffix(r.Path, bkTar) {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d attempts, want 1 + 2 retries", n)
	}
}

func TestFailureModes(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(f *fixture, p *provision.Plan) string // returns the token to use
		kind     provision.Kind
		code     string
		hint     string
		msg      string
		nonGET   int
		wrangler bool // wrangler.jsonc must be unchanged
		early    bool // refused before any request or step
	}{
		{
			name: "R2 not enabled",
			setup: func(f *fixture, p *provision.Plan) string {
				f.cf.DisableR2(acct)
				return userTok
			},
			kind: provision.KindConfig, code: "10042", hint: "enable R2", msg: "R2 is not enabled",
		},
		{
			name:  "bad token",
			setup: func(f *fixture, p *provision.Plan) string { return "not-a-token" },
			kind:  provision.KindPermission, code: provision.CodeTokenInvalid, hint: "CLOUDFLARE_API_TOKEN", msg: "invalid",
		},
		{
			name: "disabled token",
			setup: func(f *fixture, p *provision.Plan) string {
				f.cf.AddToken("off", &cftest.Token{Status: "disabled", Accounts: []string{acct}})
				return "off"
			},
			kind: provision.KindPermission, code: provision.CodeTokenInactive, hint: "roll a new one", msg: "disabled",
		},
		{
			name: "missing R2 write permission",
			setup: func(f *fixture, p *provision.Plan) string {
				f.cf.AddToken("ro", &cftest.Token{Accounts: []string{acct}, Denied: []string{cftest.PermR2Write}})
				return "ro"
			},
			kind: provision.KindPermission, code: provision.CodePermission, hint: "Workers R2 Storage Write", msg: `lacks the "Workers R2 Storage Write" permission`, nonGET: 1,
		},
		{
			name: "missing scripts write permission for the secret",
			setup: func(f *fixture, p *provision.Plan) string {
				f.cf.AddToken("nosec", &cftest.Token{Accounts: []string{acct}, Denied: []string{cftest.PermScriptsWrite}})
				f.cf.DeployWorker(acct, worker)
				p.Secret = &provision.SecretSpec{Name: "JWT_SECRET", Value: secretV}
				return "nosec"
			},
			kind: provision.KindPermission, code: provision.CodePermission, hint: "Workers Scripts Write", msg: "Workers Scripts Write", nonGET: 4,
		},
		{
			name: "wrong account id",
			setup: func(f *fixture, p *provision.Plan) string {
				p.AccountID = acct2
				return userTok
			},
			kind: provision.KindConfig, code: provision.CodeAccountNotFound, hint: "--account-id", msg: acct2, wrangler: true,
		},
		{
			name: "malformed account id",
			setup: func(f *fixture, p *provision.Plan) string {
				p.AccountID = "../../user"
				return userTok
			},
			kind: provision.KindConfig, code: provision.CodeAccountInvalid, hint: "32 hexadecimal", msg: "invalid", wrangler: true, early: true,
		},
		{
			name: "worker not deployed",
			setup: func(f *fixture, p *provision.Plan) string {
				p.Secret = &provision.SecretSpec{Name: "JWT_SECRET", Value: secretV}
				return userTok
			},
			kind: provision.KindConfig, code: "10007", hint: "deploy first (`npx wrangler deploy`), then rerun with --set-secret", msg: "does not exist", nonGET: 3, // the list of its secrets finds it missing: no PUT is sent
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			p := f.plan()
			tok := tc.setup(f, &p)
			before, _ := os.ReadFile(f.wrangle)
			f.cf.ResetRequests()
			_, err := f.provisioner(tok).Run(context.Background(), p)
			pe := wantErr(t, err, tc.kind, tc.code, tc.hint)
			if !strings.Contains(pe.Message, tc.msg) {
				t.Fatalf("message %q lacks %q", pe.Message, tc.msg)
			}
			if strings.Contains(pe.Message+pe.Hint, secretV) || strings.Contains(pe.Message+pe.Hint, tok) && tok != "" && len(tok) > 4 {
				t.Fatalf("error leaks a secret: %q", pe.Message)
			}
			if n := f.cf.Mutations(); n != tc.nonGET {
				t.Fatalf("mutations %d, want %d:\n%s", n, tc.nonGET, f.cf.Summary())
			}
			after, _ := os.ReadFile(f.wrangle)
			if tc.wrangler && !bytes.Equal(before, after) {
				t.Fatal("wrangler.jsonc changed on failure")
			}
			failed := false
			for _, e := range f.events {
				failed = failed || e.State == provision.StateFailed
			}
			if tc.early {
				if len(f.cf.Requests()) != 0 || len(f.events) != 0 {
					t.Fatal("an invalid plan reached the API")
				}
			} else if !failed {
				t.Fatal("no failed step reported")
			}
		})
	}
}

func TestAccountAutoPick(t *testing.T) {
	f := newFixture(t)
	p := f.plan()
	p.AccountID = ""
	res := f.mustRun(p)
	if res.AccountID != acct || res.AccountName != "Acme Corp" {
		t.Fatalf("picked %q %q", res.AccountID, res.AccountName)
	}
	if !strings.Contains(f.cf.Summary(), "GET /accounts\n") {
		t.Fatalf("accounts not listed:\n%s", f.cf.Summary())
	}
	var q string
	for _, r := range f.cf.Requests() {
		if r.Path == "/accounts" {
			q = r.Query
		}
	}
	if q != "per_page=50" {
		t.Fatalf("list query %q", q)
	}
}

func TestAccountAmbiguity(t *testing.T) {
	f := newFixture(t)
	f.cf.AddAccount(acct2, "Other Ltd")
	f.cf.AddToken("two", &cftest.Token{Accounts: []string{acct, acct2}})
	p := f.plan()
	p.AccountID = ""
	f.cf.ResetRequests()
	_, err := f.provisioner("two").Run(context.Background(), p)
	pe := wantErr(t, err, provision.KindConfig, provision.CodeAccountAmbiguous, "--account-id")
	for _, s := range []string{acct, "Acme Corp", acct2, "Other Ltd", "2 accounts"} {
		if !strings.Contains(pe.Message, s) {
			t.Fatalf("message %q lacks %q", pe.Message, s)
		}
	}
	if f.cf.Mutations() != 0 {
		t.Fatal("mutated despite ambiguity")
	}
}

func TestNoAccountVisible(t *testing.T) {
	f := newFixture(t)
	f.cf.AddToken("lonely", &cftest.Token{})
	p := f.plan()
	p.AccountID = ""
	_, err := f.provisioner("lonely").Run(context.Background(), p)
	wantErr(t, err, provision.KindConfig, provision.CodeNoAccount, "--account-id")
}

func TestAccountOwnedToken(t *testing.T) {
	f := newFixture(t)
	f.cf.AddToken("acct-tok", &cftest.Token{Scope: "account", Accounts: []string{acct}})
	for _, id := range []string{acct, ""} {
		p := f.plan()
		p.AccountID = id
		f.cf.ResetRequests()
		res, err := f.provisioner("acct-tok").Run(context.Background(), p)
		if err != nil {
			t.Fatalf("account id %q: %v\n%s", id, err, f.cf.Summary())
		}
		if res.TokenScope != "account" || res.AccountID != acct {
			t.Fatalf("result %+v", res)
		}
		if !strings.Contains(f.cf.Summary(), "GET /accounts/"+acct+"/tokens/verify\n") {
			t.Fatalf("account verify not used:\n%s", f.cf.Summary())
		}
	}
}

func TestSecretFromValue(t *testing.T) {
	f := newFixture(t)
	f.cf.DeployWorker(acct, worker)
	p := f.plan()
	p.Secret = &provision.SecretSpec{Name: "JWT_SECRET", Value: secretV}
	res := f.mustRun(p)
	if res.Secret != provision.SecretSet || res.SecretFile != "" || res.SecretGenerated {
		t.Fatalf("result %+v", res)
	}
	if v, ok := f.cf.Secret(acct, worker, "JWT_SECRET"); !ok || v != secretV {
		t.Fatalf("secret on worker: %q %v", v, ok)
	}
	for _, e := range f.events {
		if strings.Contains(e.Message, secretV) {
			t.Fatalf("event leaks the secret: %q", e.Message)
		}
	}
}

func TestSecretGeneratedIntoFileAndReused(t *testing.T) {
	f := newFixture(t)
	f.cf.DeployWorker(acct, worker)
	p := f.plan()
	file := filepath.Join(f.dir, "secrets", "jwt")
	p.Secret = &provision.SecretSpec{Name: "JWT_SECRET", File: file}
	res := f.mustRun(p)
	if !res.SecretGenerated || res.SecretFile != file || res.Secret != provision.SecretSet {
		t.Fatalf("result %+v", res)
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", st, err)
	}
	data, _ := os.ReadFile(file)
	v, _ := f.cf.Secret(acct, worker, "JWT_SECRET")
	if len(v) != 64 || strings.TrimSpace(string(data)) != v {
		t.Fatalf("stored %q, on worker %q", data, v)
	}
	// A rerun reuses the file instead of rotating the secret.
	res = f.mustRun(p)
	v2, _ := f.cf.Secret(acct, worker, "JWT_SECRET")
	if res.SecretGenerated || v2 != v {
		t.Fatalf("rerun rotated the secret: generated=%v", res.SecretGenerated)
	}
}

// TestSecretLeftAsIsAfterRotation: the API never returns a secret's value,
// so a rerun cannot tell the stored secret from the Worker's: after a
// rotation by hand, putting the stored one again would revert it. The
// Worker keeps its secret, and the step says so; Replace puts over it.
func TestSecretLeftAsIsAfterRotation(t *testing.T) {
	f := newFixture(t)
	f.cf.DeployWorker(acct, worker)
	p := f.plan()
	dir := filepath.Join(f.dir, "secrets")
	p.Secret = &provision.SecretSpec{Name: "JWT_SECRET", Dir: dir}
	file := provision.GeneratedSecretFile(dir, acct, worker)
	f.mustRun(p)
	rotated := strings.Repeat("r", 40)
	f.cf.SetSecret(acct, worker, "JWT_SECRET", rotated)

	f.cf.ResetRequests()
	f.events = nil
	res := f.mustRun(p)
	if v, _ := f.cf.Secret(acct, worker, "JWT_SECRET"); v != rotated {
		t.Fatal("the rerun reverted the rotated secret")
	}
	if res.Secret != provision.SecretExists || res.Mutations != 0 || f.cf.Mutations() != 0 || res.SecretGenerated || len(res.Warnings) != 0 {
		t.Fatalf("result %+v; requests:\n%s", res, f.cf.Summary())
	}
	var step provision.Event
	for _, e := range f.events {
		if e.Step == provision.StepSecret && e.State != provision.StateRunning {
			step = e
		}
	}
	if step.State != provision.StateDone || step.Message != `JWT_SECRET already set on Worker "demo": left as is` {
		t.Fatalf("secret step %+v", step)
	}

	p.Secret.Replace = true
	f.events = nil
	res = f.mustRun(p)
	data, _ := os.ReadFile(file)
	if v, _ := f.cf.Secret(acct, worker, "JWT_SECRET"); res.Secret != provision.SecretSet || v != strings.TrimSpace(string(data)) {
		t.Fatalf("Replace did not put the secret: %+v", res)
	}
}

// TestGeneratedSecretIsPerAccount: the Worker name is unique only within
// an account, so a secret generated into SecretSpec.Dir is kept per account
// and Worker; the old per-name file is never taken for this account's.
func TestGeneratedSecretIsPerAccount(t *testing.T) {
	f := newFixture(t)
	f.cf.AddAccount(acct2, "Other Corp")
	f.cf.AddToken(userTok, &cftest.Token{Scope: "user", Accounts: []string{acct, acct2}})
	f.cf.DeployWorker(acct, worker)
	f.cf.DeployWorker(acct2, worker)
	dir := filepath.Join(f.dir, "secrets")
	values := map[string]string{}
	for _, a := range []string{acct, acct2} {
		p := f.plan()
		p.AccountID, p.WranglerConfig = a, ""
		p.Secret = &provision.SecretSpec{Name: "JWT_SECRET", Dir: dir}
		res := f.mustRun(p)
		want := provision.GeneratedSecretFile(dir, a, worker)
		if want != filepath.Join(dir, a, worker+".jwt-secret") || res.SecretFile != want || !res.SecretGenerated {
			t.Fatalf("account %s: secret file %q (generated %v), want %q", a, res.SecretFile, res.SecretGenerated, want)
		}
		values[a], _ = f.cf.Secret(a, worker, "JWT_SECRET")
	}
	if values[acct] == values[acct2] {
		t.Fatal("two accounts' Workers share one generated secret")
	}

	// The old layout's file: a Worker without the secret gets a new one
	// (and a warning); one with the secret stops the run untouched.
	legacy := provision.LegacySecretFile(dir, "app")
	if err := os.WriteFile(legacy, []byte(secretV+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.cf.DeployWorker(acct2, "app")
	p := f.plan()
	p.Worker, p.AccountID, p.WranglerConfig = "app", acct2, ""
	p.Secret = &provision.SecretSpec{Name: "JWT_SECRET", Dir: dir}
	res := f.mustRun(p)
	if v, _ := f.cf.Secret(acct2, "app", "JWT_SECRET"); v == secretV || len(res.Warnings) == 0 || !strings.Contains(res.Warnings[len(res.Warnings)-1], legacy) {
		t.Fatalf("old-layout file reused for another account (or no warning): %q", res.Warnings)
	}
	f.cf.DeployWorker(acct, "app")
	f.cf.SetSecret(acct, "app", "JWT_SECRET", "set-by-hand-0123456789abcdef0123456789")
	p.AccountID = acct
	_, err := f.run(p)
	wantErr(t, err, provision.KindConfig, provision.CodeSecretLegacyFile, "--secret-file "+legacy+": setup then keeps a copy in "+provision.GeneratedSecretFile(dir, acct, "app"))
	if v, _ := f.cf.Secret(acct, "app", "JWT_SECRET"); v != "set-by-hand-0123456789abcdef0123456789" || f.cf.Mutations() != 0 {
		t.Fatalf("the Worker's own secret was replaced (%d mutations)", f.cf.Mutations())
	}
}

// TestAccountIDMismatch: another account than the wrangler config's is
// refused before any request unless asked for, and replacing it is said.
func TestAccountIDMismatch(t *testing.T) {
	f := newFixture(t)
	f.cf.AddAccount(acct2, "Other Corp")
	f.cf.AddToken(userTok, &cftest.Token{Scope: "user", Accounts: []string{acct, acct2}})
	f.mustRun(f.plan()) // writes account_id acct
	before, _ := os.ReadFile(f.wrangle)

	p := f.plan()
	p.AccountID, p.AccountIDFrom = acct2, "CLOUDFLARE_ACCOUNT_ID"
	_, err := f.run(p)
	pe := wantErr(t, err, provision.KindConfig, provision.CodeAccountMismatch, "unset CLOUDFLARE_ACCOUNT_ID or pass --account-id "+acct)
	if !strings.Contains(pe.Message, acct) || !strings.Contains(pe.Message, acct2) || len(f.cf.Requests()) != 0 {
		t.Fatalf("message %q (%d requests)", pe.Message, len(f.cf.Requests()))
	}
	if after, _ := os.ReadFile(f.wrangle); !bytes.Equal(after, before) {
		t.Fatal("the wrangler config changed")
	}

	// No account id: the file's, not the token's first.
	p.AccountID = ""
	if res := f.mustRun(p); res.AccountID != acct {
		t.Fatalf("account %s, want the file's %s", res.AccountID, acct)
	}

	p.AccountID, p.AccountIDFrom, p.ReplaceAccountID = acct2, "--account-id", true
	res := f.mustRun(p)
	if res.ReplacedAccountID != acct || len(res.Warnings) == 0 || !strings.Contains(res.Warnings[0], "account_id "+acct) {
		t.Fatalf("replaced %q, warnings %q", res.ReplacedAccountID, res.Warnings)
	}
	if after, _ := os.ReadFile(f.wrangle); !bytes.Contains(after, []byte(acct2)) {
		t.Fatalf("account_id not replaced:\n%s", after)
	}
}

// TestTimeoutBoundsTheRunAndNamesTheStep: Plan.Timeout ends a run whose
// API stalls, in the step it was in, keeping what was done; the rerun
// converges.
func TestTimeoutBoundsTheRunAndNamesTheStep(t *testing.T) {
	f := newFixture(t)
	f.cf.AddFault(cftest.Fault{Method: http.MethodGet, PathSuffix: "/workers/subdomain", Times: 1, Hang: true})
	p := f.plan()
	p.Timeout = 300 * time.Millisecond
	res, err := f.run(p)
	pe := wantErr(t, err, provision.KindUnavailable, provision.CodeTimeout, "--timeout")
	if !strings.Contains(pe.Message, "within 300ms") || !strings.Contains(pe.Message, "stopped while reading the workers.dev subdomain") ||
		!strings.Contains(pe.Message, "safe to rerun") {
		t.Fatalf("message %q", pe.Message)
	}
	if got := strings.Join(res.Changes(), ", "); !strings.Contains(got, "created R2 bucket "+bkRT) || !strings.Contains(got, "updated the wrangler config") {
		t.Fatalf("changes before the timeout: %q", got)
	}
	res = f.mustRun(p)
	if got := statuses(res); got != bkTar+"=exists "+bkPack+"=exists "+bkRT+"=exists" || res.WorkersDevURL == "" {
		t.Fatalf("rerun: %s, %q", got, res.WorkersDevURL)
	}
	// Without a Timeout the caller's own deadline is not reported as the
	// run's.
	f.cf.AddFault(cftest.Fault{Method: http.MethodGet, PathSuffix: "/workers/subdomain", Times: 1, Hang: true})
	p.Timeout = 0
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = f.provisioner(userTok).Run(ctx, p)
	wantErr(t, err, provision.KindUnavailable, provision.CodeUnavailable, "")
}

// TestAccountIDChangedDuringRun: a wrangler config whose account_id
// changes while setup runs (another tool, an editor) is not overwritten
// with the account provisioned, and the hint does not ask to "unset" a
// file.
func TestAccountIDChangedDuringRun(t *testing.T) {
	f := newFixture(t)
	f.mustRun(f.plan()) // writes account_id acct
	p := f.plan()
	p.AccountIDFrom = f.wrangle
	f.cf.Before(http.MethodGet, "/r2/buckets/"+bkRT, func() {
		data, _ := os.ReadFile(f.wrangle)
		if err := os.WriteFile(f.wrangle, bytes.Replace(data, []byte(acct), []byte(acct2), 1), 0o644); err != nil {
			t.Error(err)
		}
	})
	_, err := f.run(p)
	pe := wantErr(t, err, provision.KindConfig, provision.CodeAccountMismatch, "to keep account "+acct2+", pass --account-id "+acct2+";")
	if strings.Contains(pe.Hint, "unset") {
		t.Fatalf("hint %q", pe.Hint)
	}
	if data, _ := os.ReadFile(f.wrangle); !bytes.Contains(data, []byte(acct2)) {
		t.Fatalf("the changed account_id was overwritten:\n%s", data)
	}
}

func TestShortSecretRefused(t *testing.T) {
	f := newFixture(t)
	f.cf.DeployWorker(acct, worker)
	p := f.plan()
	p.Secret = &provision.SecretSpec{Name: "JWT_SECRET", Value: "short"}
	_, err := f.run(p)
	pe := wantErr(t, err, provision.KindData, provision.CodeSecretInvalid, "nimbus token secret")
	if strings.Contains(pe.Message, "short") {
		t.Fatal("message echoes the secret")
	}
	// The boundary is the one nimbus token mints with.
	p.Secret.Value = strings.Repeat("s", token.MinSecretLength-1)
	if _, err := f.run(p); err == nil {
		t.Fatalf("a %d-byte secret was accepted", token.MinSecretLength-1)
	}
	p.Secret.Value = strings.Repeat("s", token.MinSecretLength)
	f.mustRun(p)
}

func TestNoWorkersDevSubdomainIsAWarning(t *testing.T) {
	f := newFixture(t)
	f.cf.SetSubdomain(acct, "")
	res := f.mustRun(f.plan())
	if res.WorkersDevURL != "" || len(res.Warnings) != 1 || res.Endpoint != provision.FileSkipped {
		t.Fatalf("result %+v", res)
	}
	if _, err := os.Stat(f.yaml); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("nimbus.yaml written without a URL")
	}
}

func TestInvalidPlanMakesNoRequest(t *testing.T) {
	f := newFixture(t)
	p := f.plan()
	p.Buckets = append(p.Buckets, provision.Bucket{Name: "Bad_Name"})
	_, err := f.run(p)
	wantErr(t, err, provision.KindUsage, provision.CodeBucketName, "3-63")
	if n := len(f.cf.Requests()); n != 0 {
		t.Fatalf("%d requests for an invalid plan", n)
	}
}

func TestStrayCloudflareEnvironmentIsIgnored(t *testing.T) {
	f := newFixture(t)
	t.Setenv("CLOUDFLARE_API_KEY", "stray-key")
	t.Setenv("CLOUDFLARE_EMAIL", "stray@example.com")
	t.Setenv("CLOUDFLARE_BASE_URL", "http://127.0.0.1:1/client/v4")
	t.Setenv("CLOUDFLARE_API_TOKEN", "stray-token")
	f.mustRun(f.plan())
	for _, r := range f.cf.Requests() {
		if r.Header.Get("Authorization") != "Bearer "+userTok {
			t.Fatalf("%s %s sent %q", r.Method, r.Path, r.Header.Get("Authorization"))
		}
	}
}

func TestWranglerConfigUnreadable(t *testing.T) {
	f := newFixture(t)
	if err := os.WriteFile(f.wrangle, []byte("{ not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := f.run(f.plan())
	wantErr(t, err, provision.KindData, provision.CodeWranglerConfig, "fix the file")
}

func TestContextCancelled(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.provisioner(userTok).Run(ctx, f.plan())
	wantErr(t, err, provision.KindInterrupted, provision.CodeInterrupted, "rerun")
}

// TestRetryAfterBeyondTheCapIsNotWaitedOut: a 429 whose Retry-After asks
// for longer than nimbus waits (in seconds or as an HTTP date) is not
// retried early, which would only spend the rate limit again: the run
// stops at once and says when to rerun. A Retry-After within the cap is
// waited out, in either form (the client's own backoff here is an hour,
// so only the header can make the retry come).
func TestRetryAfterBeyondTheCapIsNotWaitedOut(t *testing.T) {
	// 10^20 seconds is beyond the cap too: it used to overflow ParseInt and
	// count as no header, so the rate limit was spent again at once.
	for _, ra := range []string{"3600", "99999999999999999999", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)} {
		t.Run(ra, func(t *testing.T) {
			f := newFixture(t)
			f.cf.AddFault(cftest.Fault{Method: http.MethodGet, PathSuffix: "/user/tokens/verify", Status: http.StatusTooManyRequests, Code: 971, Message: "Please wait and consider throttling your request speed", RetryAfter: ra})
			_, err := f.run(f.plan())
			pe := wantErr(t, err, provision.KindUnavailable, provision.CodeUnavailable, "rerun in")
			if !strings.Contains(pe.Message, "asks to wait") {
				t.Fatalf("message %q does not say how long Cloudflare asks to wait", pe.Message)
			}
			if n := len(f.cf.Requests()); n != 1 {
				t.Fatalf("%d requests, want 1 (no retry before the Retry-After):\n%s", n, f.cf.Summary())
			}
		})
	}
	for _, ra := range []string{"0", "Wed, 21 Oct 2015 07:28:00 GMT"} {
		t.Run(ra, func(t *testing.T) {
			f := newFixture(t)
			f.cf.AddFault(cftest.Fault{Method: http.MethodGet, PathSuffix: "/user/tokens/verify", Status: http.StatusTooManyRequests, Code: 971, Message: "slow down", Times: 1, RetryAfter: ra})
			c, err := provision.NewClient(provision.ClientOptions{Token: userTok, BaseURL: f.cf.BaseURL(), MaxRetries: 2, RetryBackoff: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			// The guard only keeps a broken build from hanging for an hour.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := (&provision.Provisioner{Client: c}).Run(ctx, f.plan()); err != nil {
				t.Fatalf("Run: %v\n%s", err, f.cf.Summary())
			}
		})
	}
}

// TestRetryAfterOutsideRFC9110IsNoHeader: a Retry-After that is neither
// delay-seconds (digits only) nor an HTTP date in GMT is not a wait, as no
// nimbus client reads it as one: the client's own backoff applies and the
// request is retried. "+3600" (which ParseInt took for an hour, so the run
// stopped and said to rerun in 1h0m0s) and an RFC 850 date in another
// zone than GMT used to be honoured.
func TestRetryAfterOutsideRFC9110IsNoHeader(t *testing.T) {
	inAnHour := time.Now().Add(time.Hour).UTC()
	for _, ra := range []string{"+3600", "3600.5", "3600abc", "1.5", inAnHour.Format("Monday, 02-Jan-06 15:04:05") + " PST"} {
		t.Run(ra, func(t *testing.T) {
			f := newFixture(t)
			f.cf.AddFault(cftest.Fault{Method: http.MethodGet, PathSuffix: "/user/tokens/verify", Status: http.StatusTooManyRequests, Code: 971, Message: "slow down", Times: 1, RetryAfter: ra})
			if _, err := f.run(f.plan()); err != nil {
				t.Fatalf("Run: %v\n%s", err, f.cf.Summary())
			}
			n := 0
			for _, r := range f.cf.Requests() {
				if strings.HasSuffix(r.Path, "/user/tokens/verify") {
					n++
				}
			}
			if n != 2 {
				t.Fatalf("%d token verifications, want 2 (one retry after the backoff):\n%s", n, f.cf.Summary())
			}
		})
	}
}

// TestGeneratedSecretIsNotCommitted: --secret-file .secrets/jwt (setup's
// own example) in a project generates the secret inside the work tree,
// and the scaffold's .gitignore does not cover it, so `git add -A` used to
// stage the secret. A directory setup creates for a secret now ignores its
// contents; a directory that existed is the user's and is left alone.
func TestGeneratedSecretIsNotCommitted(t *testing.T) {
	f := newFixture(t)
	f.cf.DeployWorker(acct, worker)
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", f.dir}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	git("init", "-q")
	p := f.plan()
	p.Secret = &provision.SecretSpec{Name: "JWT_SECRET", File: filepath.Join(f.dir, ".secrets", "jwt")}
	if res := f.mustRun(p); !res.SecretGenerated {
		t.Fatalf("no secret generated: %+v", res)
	}
	if st := git("status", "--porcelain", "--untracked-files=all"); strings.Contains(st, ".secrets") {
		t.Fatalf("the generated secret would be committed:\n%s", st)
	}

	// An existing directory gets nothing but the secret.
	own := filepath.Join(f.dir, "own")
	if err := os.Mkdir(own, 0o700); err != nil {
		t.Fatal(err)
	}
	f.cf.DeployWorker(acct, "other")
	p.Worker = "other"
	p.Secret = &provision.SecretSpec{Name: "JWT_SECRET", File: filepath.Join(own, "jwt")}
	f.mustRun(p)
	if entries, _ := os.ReadDir(own); len(entries) != 1 {
		t.Fatalf("%s holds %v, want the secret only", own, entries)
	}
}

// TestSlowAnswerIsRetried: an attempt that outlives the HTTP client's
// timeout (Cloudflare never answers it) is a transport failure like a
// reset connection and is retried; it used to end the run at once
// ("timed out"), as if the caller's own deadline had passed. The caller's
// deadline and cancellation still stop at once (TestContextCancelled).
func TestSlowAnswerIsRetried(t *testing.T) {
	f := newFixture(t)
	t.Cleanup(f.cf.ReleaseHangs)
	f.cf.AddFault(cftest.Fault{Method: http.MethodGet, PathSuffix: "/r2/buckets/" + bkTar, Hang: true, Times: 1})
	c, err := provision.NewClient(provision.ClientOptions{Token: userTok, BaseURL: f.cf.BaseURL(), MaxRetries: 2, RetryBackoff: time.Millisecond,
		// The fake holds the first GET until the client gives up.
		HTTPClient: &http.Client{Timeout: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&provision.Provisioner{Client: c}).Run(context.Background(), f.plan())
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, f.cf.Summary())
	}
	if s := statuses(res); s != "demo-npm-cache=created demo-npm-packument-cache=created nimbus-runtime-cache-public=created" {
		t.Fatalf("statuses: %s", s)
	}
}

// TestAccountReadBackAsAnotherID: every request path, and the generated
// secret's directory, are made of the account id, so an account that
// Cloudflare (or whatever answers in its place) returns under another id
// than the one asked for is an API error, not an id to use: "../../escaped"
// sent POST /client/escaped/r2/buckets, and another account's id sent the
// run there (reported as an account the token cannot access).
func TestAccountReadBackAsAnotherID(t *testing.T) {
	for _, id := range []string{"../../escaped", acct2} {
		f := newFixture(t)
		f.cf.DeployWorker(acct, worker)
		f.cf.AddFault(cftest.Fault{Method: http.MethodGet, PathSuffix: "/accounts/" + acct, Status: http.StatusOK,
			Body: `{"success":true,"errors":[],"messages":[],"result":{"id":"` + id + `","name":"Acme Corp"}}`})
		dir := filepath.Join(f.dir, "config", "secrets")
		p := f.plan()
		p.WranglerConfig, p.NimbusConfig = "", ""
		p.Secret = &provision.SecretSpec{Name: "JWT_SECRET", Dir: dir}
		_, err := f.run(p)
		wantErr(t, err, provision.KindInternal, provision.CodeAPI, "")
		if f.cf.Mutations() != 0 {
			t.Errorf("%s: %d mutations after the account was read back as another:\n%s", id, f.cf.Mutations(), f.cf.Summary())
		}
		if _, err := os.Stat(filepath.Join(dir, id, worker+".jwt-secret")); err == nil {
			t.Errorf("%s: a secret was generated for the account read back", id)
		}
	}
}
