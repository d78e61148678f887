package cmd_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
)

// `logs -f` of a process whose output outran the sandbox's log ring
// between two polls says once that output was lost (the exit code stays
// the process's): a CI log must not look whole when it is not.
func TestLogsFollowWarnsOfLostOutput(t *testing.T) {
	lost := lostLogsServer(t)
	code, stdout, stderr := runTTY(t, nil, "", "sandbox", "logs", "job-1", strconv.FormatInt(lost.PID, 10), "-f", "--interval", "25ms", "--no-color")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if err := lost.Followed(stdout); err != nil {
		t.Fatal(err)
	}
	if strings.Count(stderr, fmt.Sprintf("output of process %d was lost", lost.PID)) != 1 || !strings.Contains(stderr, "--interval") {
		t.Fatalf("stderr %q", stderr)
	}
}

// `attach` follows logs as `logs -f` does, and says the same, once, when
// output was lost between two polls, with --json too.
func TestAttachWarnsOfLostOutput(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		lost := lostLogsServer(t)
		args := []string{"sandbox", "attach", "job-1", strconv.FormatInt(lost.PID, 10), "--no-stdin", "--interval", "25ms", "--no-color"}
		if asJSON {
			args = append(args, "--json")
		}
		code, stdout, stderr := runTTY(t, nil, "", args...)
		if code != 0 {
			t.Fatalf("json %v: exit %d, stderr %q", asJSON, code, stderr)
		}
		output := stdout
		if asJSON {
			// One object per chunk, then the exit.
			var data strings.Builder
			lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			for _, line := range lines[:len(lines)-1] {
				var c struct {
					Data string `json:"data"`
				}
				if err := json.Unmarshal([]byte(line), &c); err != nil {
					t.Fatalf("json: line %q: %v", line, err)
				}
				data.WriteString(c.Data)
			}
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, `{"exit":{"code":0,`) {
				t.Fatalf("json: last line %q", last)
			}
			output = data.String()
		}
		if err := lost.Followed(output); err != nil {
			t.Fatalf("json %v: %v", asJSON, err)
		}
		if strings.Count(stderr, fmt.Sprintf("output of process %d was lost", lost.PID)) != 1 || !strings.Contains(stderr, "--interval") {
			t.Fatalf("json %v: stderr %q", asJSON, stderr)
		}
	}
}

// lostLogsServer starts the local backend with a 1 KiB log ring and, in
// sandbox job-1, a process whose output outruns the ring between the
// first and second and the second and third polls (sandboxtest.LoseLogs),
// and points the CLI at it.
func lostLogsServer(t *testing.T) *sandboxtest.LostLogs {
	t.Helper()
	srv := sandboxtest.New(sandboxtest.Options{ProcessLogBytes: 1 << 10})
	t.Cleanup(srv.Close)
	tok := srv.Token(scriptIDs["use"])
	lost, err := srv.LoseLogs(tok, "job-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("NIMBUS_ENDPOINT", srv.URL)
	t.Setenv("NIMBUS_TOKEN", tok)
	t.Chdir(t.TempDir())
	return lost
}
