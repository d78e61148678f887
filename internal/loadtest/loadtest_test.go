package loadtest

import (
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCountsAndBounds(t *testing.T) {
	var calls atomic.Int64
	var running, most atomic.Int64
	op := func(ctx context.Context, w int) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		if calls.Add(1)%10 == 0 {
			return errors.New("every tenth fails")
		}
		return nil
	}
	r := Run(context.Background(), 4, time.Minute, 100, op)
	if calls.Load() != 100 || r.Ops != 90 || r.Errors != 10 || r.FirstErr == nil || len(r.Latencies) != 90 {
		t.Fatalf("calls %d, %+v", calls.Load(), r)
	}
	if most.Load() > 4 || r.Concurrency != 4 {
		t.Fatalf("%d at once", most.Load())
	}
	if r.Quantile(0.5) < time.Millisecond || r.Quantile(0.99) < r.Quantile(0.5) || r.OpsPerSec() <= 0 {
		t.Fatalf("p50 %v p99 %v %v/s", r.Quantile(0.5), r.Quantile(0.99), r.OpsPerSec())
	}
	// A duration ends the run when no count does.
	start := time.Now()
	if r := Run(context.Background(), 2, 50*time.Millisecond, 0, func(context.Context, int) error { return nil }); r.Ops == 0 || time.Since(start) > 10*time.Second {
		t.Fatalf("%+v after %v", r, time.Since(start))
	}
}

func TestQuantileNearestRank(t *testing.T) {
	r := Result{}
	for i := 1; i <= 100; i++ {
		r.Latencies = append(r.Latencies, time.Duration(i))
	}
	for q, want := range map[float64]time.Duration{0.5: 50, 0.99: 99, 1: 100, 0: 1} {
		if got := r.Quantile(q); got != want {
			t.Errorf("q%v = %v, want %v", q, got, want)
		}
	}
	if (Result{}).Quantile(0.5) != 0 {
		t.Error("empty result")
	}
}

func TestTableRatiosWithinRounds(t *testing.T) {
	tab := NewTable()
	tab.Rows("floor", "op")
	tab.Compare("op", "floor")
	res := func(c, ops int) Result {
		return Result{Concurrency: c, Ops: ops, Elapsed: time.Second, Latencies: []time.Duration{time.Millisecond}}
	}
	// Round 1: the machine is fast; round 2: slow. The ratio is the same.
	tab.Add("floor", res(16, 1000))
	tab.Add("op", res(16, 800))
	tab.Add("floor", res(16, 500))
	tab.Add("op", res(16, 400))
	m, lo, hi, ok := tab.Ratio("op", "floor", 16)
	if !ok || m != 0.8 || lo != 0.8 || hi != 0.8 {
		t.Fatalf("%v %v %v %v", m, lo, hi, ok)
	}
	var b strings.Builder
	if err := tab.Write(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "floor") || !strings.Contains(lines[2], "0.80x floor (0.80-0.80)") || !strings.Contains(lines[2], "600") {
		t.Fatalf("%s", b.String())
	}
}

func TestTargetOpsAgainstTheWireFormat(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		paths = append(paths, r.URL.Path)
		body := make([]byte, r.ContentLength)
		_, _ = r.Body.Read(body)
		switch {
		case strings.Contains(string(body), `"op":"execStream"`):
			w.Header().Set("Content-Type", "application/vnd.nimbus.exec-stream")
			out := []byte("\x01\x00\x00\x00\x02hi")
			exit := `{"command":"true","exitCode":0,"success":true}`
			out = append(out, 3)
			out = binary.BigEndian.AppendUint32(out, uint32(len(exit)))
			_, _ = w.Write(append(out, exit...))
		case strings.Contains(string(body), `"op":"exec"`):
			_, _ = w.Write([]byte(`{"ok":true,"result":{"exitCode":0,"stdout":""}}`))
		case strings.Contains(string(body), `"op":"readFile"`):
			_, _ = w.Write([]byte(`{"ok":true,"result":"` + strings.Repeat("0123456789abcdef", 2) + `"}`))
		default:
			_, _ = w.Write([]byte(`{"ok":true,"result":1}`))
		}
	}))
	defer srv.Close()
	tg := &Target{Endpoint: srv.URL, Token: "tok", Client: NewClient(2)}
	ids := IDs("box", 2)
	ctx := context.Background()
	for name, op := range map[string]Op{"ready": tg.ReadyOp(ids), "exec": tg.ExecOp(ids, "true"), "execStream": tg.ExecStreamOp(ids, "true"), "write+read": tg.WriteReadOp(ids, 32)} {
		if err := op(ctx, 1); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if paths[0] != "/api/nimbus/v1/sandboxes/box-1/rpc" {
		t.Fatalf("%v", paths)
	}
	bad := &Target{Endpoint: srv.URL, Token: "wrong", Client: NewClient(1)}
	if err := bad.ReadyOp(ids)(ctx, 0); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("%v", err)
	}
}

func TestFloorHandlerAndSpawnFloor(t *testing.T) {
	srv := httptest.NewServer(FloorHandler())
	defer srv.Close()
	tg := &Target{Endpoint: srv.URL, Client: NewClient(1)}
	if err := tg.ReadyOp([]string{"x"})(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if err := SpawnOp()(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
}

// TestEachIDOnce: WriteOp and ExecEachOp load each sandbox once, whatever
// the number of workers.
func TestEachIDOnce(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path]++
		mu.Unlock()
		_, _ = w.Write([]byte(`{"ok":true,"result":{"exitCode":0,"stdout":""}}`))
	}))
	defer srv.Close()
	tg := &Target{Endpoint: srv.URL, Token: "tok", Client: NewClient(4)}
	ids := IDs("each", 50)
	for name, op := range map[string]Op{"write": tg.WriteOp(ids), "exec": tg.ExecEachOp(ids, "true")} {
		clear(seen)
		if r := Run(context.Background(), 4, 0, len(ids), op); r.Errors > 0 || r.Ops != len(ids) {
			t.Fatalf("%s: %d ops, %d errors: %v", name, r.Ops, r.Errors, r.FirstErr)
		}
		for _, id := range ids {
			if n := seen["/api/nimbus/v1/sandboxes/"+id+"/rpc"]; n != 1 {
				t.Fatalf("%s: %s loaded %d times", name, id, n)
			}
		}
	}
}
