// Package testh2 holds the test Workers that break the protocol as
// net/http's server never would: raw HTTP/1.1 on a TCP socket, raw HTTP/2
// frame by frame on TLS, and Go's own HTTP/2 server with the client
// settings to reach it. The clients of a Worker (pkg/sandboxclient,
// pkg/forward) test their handling of broken answers against them. It is
// imported by tests only.
package testh2

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Listen serves each connection to a new listener on 127.0.0.1 with
// serve, in its own goroutine, and closes the connection after it; the
// listener is closed when the test ends. It returns the listener's
// address.
func Listen(t testing.TB, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return accept(t, ln, serve)
}

func accept(t testing.TB, ln net.Listener, serve func(c net.Conn)) string {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// RawHTTP1 is a Worker speaking HTTP/1.1 by hand: on each connection it
// reads one request, body included, and leaves the answer to answer,
// which may break the protocol. It returns the Worker's URL.
func RawHTTP1(t testing.TB, answer func(c net.Conn)) string {
	t.Helper()
	return "http://" + Listen(t, func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		answer(c)
	})
}

// Server is Go's HTTP/2 server over TLS running h, closed when the test
// ends.
func Server(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TLSConfig trusts the certificate of srv (a Server).
func TLSConfig(srv *httptest.Server) *tls.Config {
	return &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
}

// Client is an HTTP client for srv's certificate speaking HTTP/2, whose
// bound on answer headers is maxHeaderBytes.
func Client(srv *httptest.Server, maxHeaderBytes int64) *http.Client {
	hc := srv.Client()
	tr := hc.Transport.(*http.Transport).Clone()
	tr.MaxResponseHeaderBytes = maxHeaderBytes
	hc.Transport = tr
	return hc
}

// Frame is one HTTP/2 frame.
func Frame(typ, flags byte, stream uint32, payload []byte) []byte {
	n := len(payload)
	b := []byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags, byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}
	return append(b, payload...)
}

// RawHTTP2 is a Worker speaking HTTP/2 frame by frame with the
// certificate of certs (a Server): on each connection it answers the
// client's first request with raw, then hangs up when hangUp is set, or
// reads on until the client does. It returns the Worker's URL.
func RawHTTP2(t testing.TB, certs *httptest.Server, raw []byte, hangUp bool) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: certs.TLS.Certificates, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	return "https://" + accept(t, ln, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := io.ReadFull(br, make([]byte, len("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))); err != nil {
			return
		}
		// An empty SETTINGS, then read frames until the first request's
		// HEADERS ends (END_HEADERS, 0x4).
		if _, err := c.Write(Frame(0x4, 0, 0, nil)); err != nil {
			return
		}
		for {
			var h [9]byte
			if _, err := io.ReadFull(br, h[:]); err != nil {
				return
			}
			if _, err := io.ReadFull(br, make([]byte, int(h[0])<<16|int(h[1])<<8|int(h[2]))); err != nil {
				return
			}
			if h[3] == 0x4 && h[4]&0x1 == 0 { // the client's SETTINGS: acknowledged
				if _, err := c.Write(Frame(0x4, 0x1, 0, nil)); err != nil {
					return
				}
			}
			if (h[3] == 0x1 || h[3] == 0x9) && h[4]&0x4 != 0 {
				break
			}
		}
		if _, err := c.Write(raw); err != nil || hangUp {
			return
		}
		_, _ = io.Copy(io.Discard, br) // until the client hangs up
	})
}

// The three ways answer headers pass a bound over HTTP/2, which net/http
// reports differently (see internal/headerbound).

// PadSameField adds the same 1,000-byte field until the fields pass n
// bytes: HPACK sends each again as one byte, and the encoded block ends
// in the frame that passes the bound (a stream error).
func PadSameField(h http.Header, n int) {
	v := strings.Repeat("a", 1000)
	for size := 0; size < n; size += 1000 {
		h.Add("X-Pad", v)
	}
}

// PadManyFrames adds about 3 MiB of fields HPACK cannot index, so the
// encoded block goes on in further frames past a bound of 1 MiB (the
// connection's PROTOCOL_ERROR).
func PadManyFrames(h http.Header) {
	for i := 0; i < 2<<10; i++ {
		h.Add("X-Pad", strings.Repeat(string(rune('a'+i%26)), 1000+i))
	}
}

// PadOneField sets one field of n bytes (over a bound of n or less, the
// connection's COMPRESSION_ERROR).
func PadOneField(h http.Header, n int) {
	h.Set("X-Pad", strings.Repeat("a", n))
}
