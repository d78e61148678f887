//go:build unix

package localsandbox_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// benchBox returns a sandbox handle over the in-process transport (as
// --local uses) or over loopback HTTP (as nimbus dev serves).
func benchBox(b *testing.B, overHTTP bool) *sc.Sandbox {
	s, err := localsandbox.New(localsandbox.Options{DataDir: b.TempDir(), Secret: secret, HostEnv: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	o := sc.Options{Endpoint: "http://local.invalid", Tokens: sc.StaticToken(mint(b, "bench", token.ScopeSandboxUse)),
		HTTPClient: &http.Client{Transport: &localsandbox.Transport{Handler: s}}}
	if overHTTP {
		hs := httptest.NewServer(s)
		b.Cleanup(hs.Close)
		o.Endpoint, o.HTTPClient = hs.URL, nil
	}
	c, err := sc.New(o)
	if err != nil {
		b.Fatal(err)
	}
	sb, err := c.Sandbox("bench", sc.SandboxOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := sb.Ready(context.Background()); err != nil {
		b.Fatal(err)
	}
	return sb
}

// benchStream measures stdout throughput of one 64 MiB command through
// the exec stream to the client; the figure to compare is MB/s.
func benchStream(b *testing.B, overHTTP bool) {
	sb := benchBox(b, overHTTP)
	const n = 64 << 20
	b.SetBytes(n)
	b.ResetTimer()
	for b.Loop() {
		r, err := sb.Run(context.Background(), "head -c "+strconv.Itoa(n)+" /dev/zero", sc.ExecOptions{}, io.Discard, io.Discard)
		if err != nil || r.ExitCode != 0 {
			b.Fatal(r, err)
		}
	}
}

func BenchmarkExecStreamInProcess(b *testing.B) { benchStream(b, false) }
func BenchmarkExecStreamHTTP(b *testing.B)      { benchStream(b, true) }

// benchTrue measures one `true` round trip (spawn /bin/sh, stream, exit).
func benchTrue(b *testing.B, overHTTP bool) {
	sb := benchBox(b, overHTTP)
	b.ResetTimer()
	for b.Loop() {
		if _, err := sb.Run(context.Background(), "true", sc.ExecOptions{}, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExecTrueInProcess(b *testing.B) { benchTrue(b, false) }
func BenchmarkExecTrueHTTP(b *testing.B)      { benchTrue(b, true) }

// BenchmarkShellFloor is the cost of starting /bin/sh -c true directly,
// the floor of the two benchmarks above.
func BenchmarkShellFloor(b *testing.B) {
	for b.Loop() {
		p, err := os.StartProcess("/bin/sh", []string{"sh", "-c", "true"}, &os.ProcAttr{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}
