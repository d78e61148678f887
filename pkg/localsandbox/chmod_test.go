//go:build unix

package localsandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// TestChmodRangeChecksTheMode sends modes the typed client cannot (it
// takes a uint32) as raw rpc bodies: a negative, fractional or too large
// mode is refused and leaves the file as it was, where a conversion would
// have turned -1 into setuid+setgid+sticky+0777.
func TestChmodRangeChecksTheMode(t *testing.T) {
	s, hs := newServer(t)
	sb := box(t, hs.URL, "job-1")
	if err := sb.WriteFile(ctx(t), "/home/user/f.sh", []byte("echo hi\n")); err != nil {
		t.Fatal(err)
	}
	host := filepath.Join(s.SandboxDir("acme:alice:job-1"), "home", "user", "f.sh")
	tok := mint(t, "job-1", token.ScopeSandboxUse)
	chmod := func(mode string) (int, string) {
		t.Helper()
		body := `{"op":"chmod","args":["/home/user/f.sh",` + mode + `]}`
		req, err := http.NewRequest(http.MethodPost, hs.URL+"/api/nimbus/v1/sandboxes/job-1/rpc", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	perm := func() os.FileMode {
		t.Helper()
		fi, err := os.Stat(host)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
	}

	if status, body := chmod("416"); status != http.StatusOK { // 0o640
		t.Fatalf("chmod 0o640: %d %s", status, body)
	}
	if got := perm(); got != 0o640 {
		t.Fatalf("mode after chmod 0o640 = %v", got)
	}
	for _, bad := range []string{"-1", "4096", "4294967295", "4294967789", "420.5", "1e300"} {
		status, body := chmod(bad)
		var fail struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
			Code  string `json:"code"`
		}
		if err := json.Unmarshal([]byte(body), &fail); err != nil {
			t.Fatalf("mode %s: %d %s", bad, status, body)
		}
		if status != http.StatusInternalServerError || fail.OK || fail.Code != "E_NIMBUS_REMOTE_RPC" ||
			!strings.HasPrefix(fail.Error, "EINVAL: invalid argument, chmod '/home/user/f.sh'") {
			t.Errorf("mode %s: %d %s", bad, status, body)
		}
		if got := perm(); got != 0o640 {
			t.Fatalf("mode %s changed the file to %v", bad, got)
		}
	}
	// The top of the range is a mode: setuid, setgid, sticky and 0777.
	if status, body := chmod("4095"); status != http.StatusOK {
		t.Fatalf("chmod 0o7777: %d %s", status, body)
	}
	if got := perm(); got != os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky {
		t.Fatalf("mode after chmod 0o7777 = %v", got)
	}
}
