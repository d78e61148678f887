//go:build unix

package localsandbox_test

import (
	"encoding/json"
	"strconv"
	"testing"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// TestFractionalPIDsMatchNoProcess pins that a pid which is no integer
// names no process, as on a Worker (its process table is keyed by the
// number as sent): killProcess, signalProcess and writeProcessInput of
// pid+0.5 answer ok:false with that pid and leave process pid alone,
// rather than acting on the pid it truncates to.
func TestFractionalPIDsMatchNoProcess(t *testing.T) {
	_, hs := newServer(t)
	sb := box(t, hs.URL, "pids")
	p, err := sb.StartProcess(ctx(t), "cat", sc.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	half := json.Number(strconv.FormatInt(p.PID, 10) + ".5")
	for _, call := range [][]any{
		{"killProcess", half},
		{"signalProcess", half, "SIGTERM"},
		{"writeProcessInput", half, "x"},
		{"endProcessInput", half},
		{"killProcess", json.Number("1e300")},
	} {
		st, body := rawRPC(t, hs.URL, "pids", call[0].(string), call[1:]...)
		want := `{"ok":true,"result":{"ok":false,"pid":` + string(call[1].(json.Number)) + `}}`
		if call[1] == json.Number("1e300") {
			want = `{"ok":true,"result":{"ok":false,"pid":1e+300}}`
		}
		if st != 200 || body != want {
			t.Errorf("%v: %d %s, want %s", call, st, body, want)
		}
	}
	ps, err := sb.ListProcesses(ctx(t))
	if err != nil || len(ps) != 1 || ps[0].State != "running" {
		t.Fatalf("%+v %v", ps, err)
	}
}
