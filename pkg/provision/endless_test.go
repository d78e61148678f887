package provision_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/provision"
)

// TestEndlessAnswerIsBounded: an HTTP 200 from the Cloudflare API (or a
// proxy in front of it) whose body does not end is read up to the
// envelope bound and refused, not handed to cloudflare-go, which reads a
// whole answer into memory for as long as the request's timeout lets it
// (gigabytes a minute on a fast link).
func TestEndlessAnswerIsBounded(t *testing.T) {
	const sent = 128 << 20 // endless enough: 32 times the envelope bound
	var wrote atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		n, _ := io.WriteString(w, `{"success":true,"errors":[],"messages":[],"result":{"name":"`)
		wrote.Add(int64(n))
		chunk := strings.Repeat("a", 64<<10)
		for wrote.Load() < sent {
			n, err := io.WriteString(w, chunk)
			wrote.Add(int64(n))
			if err != nil {
				return
			}
		}
		<-r.Context().Done()
	}))
	defer srv.Close()
	c, err := provision.NewClient(provision.ClientOptions{Token: "tok", BaseURL: srv.URL, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	// The bound that catches a hang; far above what 4 MiB of loopback take.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = c.BucketExists(ctx, "0123456789abcdef0123456789abcdef", "bucket")
	pe, ok := err.(*provision.Error)
	if !ok || ctx.Err() != nil || pe.Code != provision.CodeUnavailable || !strings.Contains(pe.Message, "not a Cloudflare API answer") {
		t.Fatalf("err = %v (%T), want %s: not a Cloudflare API answer", err, err, provision.CodeUnavailable)
	}
	if n := wrote.Load(); n >= sent {
		t.Fatalf("the client took all %d bytes of an endless answer", n)
	}
	t.Log(err)
}
