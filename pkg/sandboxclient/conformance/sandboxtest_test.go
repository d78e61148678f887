package conformance_test

import (
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/conformance"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// TestThroughSplitFrames runs the client's end-to-end suite against the
// local backend behind package sandboxtest's middleware, with every exec
// stream written in pieces of 1 to 64 bytes: frames split at any byte
// must not change a result.
func TestThroughSplitFrames(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Backend {
		srv := sandboxtest.New(sandboxtest.Options{MaxPiece: 64})
		t.Cleanup(srv.Close)
		return conformance.Backend{URL: srv.URL, Secret: srv.Secret(), PreviewHosts: true}
	})
}
