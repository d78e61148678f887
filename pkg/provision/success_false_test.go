package provision_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/internal/cftest"
	"github.com/nimbus-sh/nimbus/pkg/provision"
)

// TestSuccessFalseIsAFailure: an HTTP 200 whose v4 envelope says
// "success": false is a failure at every step, never a step done (a bucket
// "created" that Cloudflare refused to create).
func TestSuccessFalseIsAFailure(t *testing.T) {
	for _, tc := range []struct{ method, suffix, what string }{
		{"GET", "/user/tokens/verify", "verify the API token"},
		{"GET", "/accounts/" + acct, "read account"},
		{"GET", "/r2/buckets/" + bkTar, "check R2 bucket"},
		{"POST", "/r2/buckets", "create R2 bucket"},
		{"GET", "/workers/subdomain", "workers.dev subdomain"},
	} {
		t.Run(tc.method+tc.suffix, func(t *testing.T) {
			f := newFixture(t)
			f.cf.AddFault(cftest.Fault{Method: tc.method, PathSuffix: tc.suffix, Status: http.StatusOK, Code: 10000, Message: "internal"})
			res, err := f.run(f.plan())
			if err == nil {
				t.Fatalf("Run succeeded on a success=false answer: %+v\n%s", res, f.cf.Summary())
			}
			pe := wantErr(t, err, provision.KindInternal, provision.CodeAPI, "rerun")
			if !strings.Contains(pe.Message, tc.what) || !strings.Contains(pe.Message, "10000 internal") || pe.CloudflareCode != 10000 {
				t.Fatalf("message %q (cloudflare code %d) does not name the step and Cloudflare's error", pe.Message, pe.CloudflareCode)
			}
			for _, b := range res.Buckets {
				if strings.Contains(tc.suffix, "/r2/") && b.Name == bkTar {
					t.Fatalf("bucket %s reported %s after Cloudflare refused the call on it", b.Name, b.Status)
				}
			}
		})
	}
}

// TestMalformedAnswerIsAFailure: a 2xx answer that is not a v4 envelope
// with "success": true (an object without "success", a proxy's or captive
// portal's HTML page, JSON cut short) is a failure at every step. Before,
// an answer without "success" to the bucket GET read as "the bucket
// exists", so setup reported a bucket that was never created; garbage read
// as "cannot reach the Cloudflare API, check the network", though
// something had answered.
func TestMalformedAnswerIsAFailure(t *testing.T) {
	steps := []struct{ method, suffix, what string }{
		{"GET", "/user/tokens/verify", "verify the API token"},
		{"GET", "/accounts/" + acct, "read account"},
		{"GET", "/r2/buckets/" + bkTar, "check R2 bucket"},
		{"POST", "/r2/buckets", "create R2 bucket"},
		{"GET", "/workers/subdomain", "workers.dev subdomain"},
		{"PUT", "/secrets", "set secret"},
	}
	answers := []struct{ name, body, contentType string }{
		{"no success key", `{"result":{"id":"x","name":"x","status":"active","subdomain":"acme"},"errors":[]}`, ""},
		{"empty object", `{}`, ""},
		{"cut short", `{"success":true,"result":{"na`, ""},
		{"html page", `<html><body>Sign in to continue</body></html>`, "text/html; charset=utf-8"},
	}
	for _, st := range steps {
		for _, a := range answers {
			t.Run(st.method+st.suffix+"/"+a.name, func(t *testing.T) {
				f := newFixture(t)
				f.cf.DeployWorker(acct, worker)
				f.cf.AddFault(cftest.Fault{Method: st.method, PathSuffix: st.suffix, Status: http.StatusOK, Body: a.body, ContentType: a.contentType})
				plan := f.plan()
				plan.Secret = &provision.SecretSpec{Name: "JWT_SECRET", Value: secretV}
				res, err := f.run(plan)
				if err == nil {
					t.Fatalf("Run succeeded on a malformed answer to %s %s: buckets %s, secret %s\n%s", st.method, st.suffix, statuses(res), res.Secret, f.cf.Summary())
				}
				pe := wantErr(t, err, provision.KindUnavailable, provision.CodeUnavailable, "proxy")
				if !strings.Contains(pe.Message, st.what) || !strings.Contains(pe.Message, "not a Cloudflare API answer") || strings.Contains(pe.Message, "cannot reach") {
					t.Fatalf("message %q does not name the step and say the answer was not Cloudflare's", pe.Message)
				}
				if strings.Contains(pe.Message, "Sign in") || strings.Contains(pe.Hint, "Sign in") {
					t.Fatalf("the answer's body is echoed: %q / %q", pe.Message, pe.Hint)
				}
				for _, b := range res.Buckets {
					if strings.Contains(st.suffix, "/r2/") && b.Name == bkTar {
						t.Fatalf("bucket %s reported %s after a malformed answer about it", b.Name, b.Status)
					}
				}
			})
		}
	}
}
