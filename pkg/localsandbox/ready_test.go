//go:build unix

package localsandbox_test

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestReadyPreinstallListAsTheWorker pins how ready reads the client's
// preinstall list, as the session does (ensureProgrammaticReady): repeated
// specs count once, each spec is trimmed after that, and empty ones are
// dropped, so a list from a config with a stray "" or a repeated name
// does not fail where a Worker succeeds.
func TestReadyPreinstallListAsTheWorker(t *testing.T) {
	_, hs := newServer(t)
	for _, tc := range []struct {
		in   []any
		want []string
	}{
		{[]any{"shell", "shell"}, []string{"shell"}},
		{[]any{""}, []string{}},
		{[]any{" shell\n", "", "shell", "  ", "shell"}, []string{"shell", "shell"}},
	} {
		st, body := rawRPC(t, hs.URL, "ready-1", "ready", map[string]any{"preinstall": tc.in})
		var r struct {
			OK     bool `json:"ok"`
			Result struct {
				Preinstalled []string `json:"preinstalled"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil || st != 200 || !r.OK || !reflect.DeepEqual(r.Result.Preinstalled, tc.want) {
			t.Errorf("preinstall %q: %d %s, want preinstalled %q", tc.in, st, body, tc.want)
		}
	}
}
