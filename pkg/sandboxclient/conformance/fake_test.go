package conformance_test

import (
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/conformance"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

const secret = "conformance-secret-0123456789abcdef"

// TestFakeWorker runs the client's end-to-end suite against the fake
// Worker, verifying real JWTs.
func TestFakeWorker(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Backend {
		srv := sandboxtest.New(sandboxtest.Options{Verifier: sandboxtest.JWT{Secret: secret}, MaxPiece: 64})
		t.Cleanup(srv.Close)
		return conformance.Backend{URL: srv.URL, Secret: secret}
	})
}
