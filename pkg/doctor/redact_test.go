//go:build unix

package doctor_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/doctor"
)

// TestEndpointCredentialsAreNotPrinted: an endpoint URL carrying
// credentials (https://user:password@host, for a Worker behind basic auth)
// never shows the password in any check, whether the endpoint answers or
// cannot be reached.
func TestEndpointCredentialsAreNotPrinted(t *testing.T) {
	url, _ := dev(t, secret)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, base := range []string{url, closed.URL} {
		ep := strings.Replace(base, "://", "://alice:s3cret-pw@", 1)
		r := (&doctor.Doctor{Endpoint: ep, Secret: secret, Tenant: "acme"}).Run(context.Background())
		for _, c := range r.Checks {
			if strings.Contains(c.Detail+c.Hint, "s3cret-pw") {
				t.Errorf("%s prints the endpoint's password: %+v", c.Name, c)
			}
		}
		if c := find(t, r, "endpoint"); !strings.Contains(c.Detail, "alice") && !strings.Contains(c.Detail, "127.0.0.1") {
			t.Errorf("endpoint check does not name the endpoint: %+v", c)
		}
	}
}
