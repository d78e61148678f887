//go:build unix

package localsandbox_test

import (
	"encoding/json"
	"testing"
)

// TestDeleteFileRecursiveIsTruthy pins deleteFile's recursive option to
// the session's `if (!options.recursive)`: any JavaScript-truthy value
// removes a directory and its contents, a falsy one removes it as rmdir.
func TestDeleteFileRecursiveIsTruthy(t *testing.T) {
	_, hs := newServer(t)
	const id = "truthy"
	for _, tc := range []struct {
		recursive any
		removed   bool
	}{
		{true, true}, {json.Number("1"), true}, {"yes", true}, {map[string]any{}, true}, {[]any{}, true},
		{false, false}, {json.Number("0"), false}, {"", false}, {nil, false},
	} {
		if st, body := rawRPC(t, hs.URL, id, "mkdir", "/home/user/d/sub"); st != 200 {
			t.Fatalf("%d %s", st, body)
		}
		st, body := rawRPC(t, hs.URL, id, "deleteFile", "/home/user/d", map[string]any{"recursive": tc.recursive})
		_, exists := rawRPC(t, hs.URL, id, "exists", "/home/user/d")
		if tc.removed && (st != 200 || exists != `{"ok":true,"result":false}`) ||
			!tc.removed && (st != 500 || exists != `{"ok":true,"result":true}`) {
			t.Errorf("recursive %#v: %d %s, then exists %s", tc.recursive, st, body, exists)
		}
	}
}
