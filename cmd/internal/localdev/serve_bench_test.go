//go:build unix

package localdev_test

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/cmd/internal/localdev"
	"github.com/nimbus-sh/nimbus/internal/loadtest"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// BenchmarkServe sends requests over loopback HTTP to the local backend
// served as `nimbus dev` serves it (ServeOptions, the Host policy), from
// 16 clients per processor, each with its own sandbox and kept-alive
// connection, beside the HTTP floor (a bare net/http server answering
// fixed JSON) served and loaded the same way. Client and server share the
// process, so ns/op and allocs/op are both sides' together: what matters
// is the difference to http-floor, which is what the server spends above
// HTTP itself. BenchmarkDevLoad (cmd) measures the same with the server in
// its own process; this one is quick to run and to profile:
//
//	go test ./cmd/internal/localdev -run '^$' -bench Serve -benchmem -cpuprofile /tmp/cpu.prof
func BenchmarkServe(b *testing.B) {
	floorAddr := func(b *testing.B) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: loadtest.FloorHandler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		b.Cleanup(func() { _ = srv.Close() })
		return "http://" + ln.Addr().String()
	}
	cases := []struct {
		name  string
		floor bool
		op    func(t *loadtest.Target, ids []string) loadtest.Op
	}{
		{"http-floor", true, func(t *loadtest.Target, ids []string) loadtest.Op { return t.ReadyOp(ids) }},
		{"ready", false, func(t *loadtest.Target, ids []string) loadtest.Op { return t.ReadyOp(ids) }},
		{"write+read", false, func(t *loadtest.Target, ids []string) loadtest.Op { return t.WriteReadOp(ids, 4096) }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			const perProc = 16
			ids := loadtest.IDs("bench", 64*perProc)
			tg := &loadtest.Target{Client: loadtest.NewClient(len(ids))}
			if tc.floor {
				tg.Endpoint = floorAddr(b)
			} else {
				tg.Endpoint = "http://" + devServer(b, localdev.ServeOptions{})
				tg.Token = devToken(b, token.ScopeSandboxUse)
			}
			b.Cleanup(tg.Client.CloseIdleConnections)
			op := tc.op(tg, ids)
			ctx := context.Background()
			for w := range ids {
				if err := op(ctx, w); err != nil { // every sandbox exists
					b.Fatal(err)
				}
			}
			var next atomic.Int64
			b.SetParallelism(perProc)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := int(next.Add(1)-1) % len(ids)
				for pb.Next() {
					if err := op(ctx, w); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
