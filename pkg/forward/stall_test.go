//go:build unix

package forward_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/forward"
)

// TestStalledUpstreamIsReleasedWithTheLocalClient: the forward puts no
// bound of its own on the app's answer (a long poll may take minutes), so
// the local client decides how long to wait; when it gives up, the
// request to the Worker must end too, not hold a goroutine and a
// connection for each stalled request for as long as the forward runs.
// The Worker here accepts the request and then sends nothing, or the
// headers and part of the body, or a refusal whose body stalls while the
// forward peeks at it.
func TestStalledUpstreamIsReleasedWithTheLocalClient(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer string // what the Worker sends before it goes silent
	}{
		{"nothing", ""},
		{"headers", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nhalf"},
		{"refusal", "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"error\":"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			got := make(chan struct{})
			closed := make(chan struct{})
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				_, _ = io.WriteString(c, tc.answer)
				close(got)
				// Silent from here on; the read ends when the forward
				// closes its side.
				_, _ = io.Copy(io.Discard, br)
				close(closed)
			}()
			local := forwardTo(t, forward.Options{Endpoint: "http://" + ln.Addr().String(), SandboxID: "job-1", Port: 3000,
				OnError: func(*http.Request, error) {}})
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, local+"/", nil)
			errc := make(chan error, 1)
			go func() {
				resp, err := http.DefaultTransport.RoundTrip(req)
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				errc <- err
			}()
			hang := time.After(20 * time.Second) // catches a hang only
			select {
			case <-got:
			case <-hang:
				t.Fatal("the request never reached the Worker")
			}
			cancel() // the local client gives up
			if err := <-errc; err == nil {
				t.Fatal("the local client got a whole answer from a stalled Worker")
			}
			select {
			case <-closed:
			case <-hang:
				t.Fatal("the connection to the stalled Worker is still open after the local client went away")
			}
		})
	}
}
