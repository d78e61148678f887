//go:build unix

package localsandbox_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/metrics"
	"strconv"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// benchBox returns a sandbox handle over the in-process transport (as
// --local uses) or over loopback HTTP (as nimbus dev serves), in the
// machine's isolation mode unless iso says otherwise.
func benchBox(b *testing.B, overHTTP bool, iso ...localsandbox.Isolation) *sc.Sandbox {
	o := localsandbox.Options{DataDir: b.TempDir(), Secret: secret, HostEnv: []string{"PATH=" + os.Getenv("PATH")}}
	if len(iso) > 0 {
		o.Isolation = iso[0]
	}
	s, err := localsandbox.New(o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	co := sc.Options{Endpoint: "http://local.invalid", Tokens: sc.StaticToken(mint(b, "bench", token.ScopeSandboxUse)),
		HTTPClient: &http.Client{Transport: &localsandbox.Transport{Handler: s}}}
	if overHTTP {
		hs := httptest.NewServer(s)
		b.Cleanup(hs.Close)
		co.Endpoint, co.HTTPClient = hs.URL, nil
	}
	c, err := sc.New(co)
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

// benchTrue measures one `true` round trip (start the init and /bin/sh,
// stream, exit). goroutines/op counts the goroutines started per round
// trip, the client's included (over HTTP, net/http's): each starts with a
// stack of the running average size, so they are memory at a peak.
func benchTrue(b *testing.B, overHTTP bool, iso ...localsandbox.Isolation) {
	sb := benchBox(b, overHTTP, iso...)
	created := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(created)
	before := created[0].Value.Uint64()
	b.ResetTimer()
	for b.Loop() {
		if _, err := sb.Run(context.Background(), "true", sc.ExecOptions{}, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	metrics.Read(created)
	b.ReportMetric(float64(created[0].Value.Uint64()-before)/float64(b.N), "goroutines/op")
}

func BenchmarkExecTrueInProcess(b *testing.B) { benchTrue(b, false) }
func BenchmarkExecTrueHTTP(b *testing.B)      { benchTrue(b, true) }

// BenchmarkExecTrueHostPaths is BenchmarkExecTrueInProcess without
// namespaces (on Linux: the init, as a subreaper): the difference is what
// namespaces cost.
func BenchmarkExecTrueHostPaths(b *testing.B) {
	benchTrue(b, false, localsandbox.IsolationHostPaths)
}

// BenchmarkShellFloor is the cost of starting /bin/sh -c true directly,
// the floor of the benchmarks above (the difference is the init, the
// client and the stream).
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

// BenchmarkExecBuffered measures buffered exec round trips, whose output
// is kept in blocks charged to the server's memory for buffered output: a
// line (the common case) and 4 MiB.
func BenchmarkExecBuffered(b *testing.B) {
	for _, c := range []struct{ name, cmd string }{{"line", "echo hi"}, {"4MiB", "head -c 4194304 /dev/zero | tr '\\0' a"}} {
		b.Run(c.name, func(b *testing.B) {
			sb := benchBox(b, false)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if r, err := sb.Exec(context.Background(), c.cmd, sc.ExecOptions{}); err != nil || r.ExitCode != 0 {
					b.Fatal(r, err)
				}
			}
		})
	}
}
