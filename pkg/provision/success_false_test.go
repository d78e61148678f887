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
