package cmd_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestDoctorQuotesNonEnvelopeAnswersSafely: an endpoint whose answer is
// not the remote API's JSON envelope (a proxy, a misconfigured server, a
// hostile one) is quoted in the endpoint check, briefly: its escape
// sequences must not reach the terminal (retitle the window, clear the
// screen, write the clipboard), nor a JSON reader's, and a long answer is
// cut.
func TestDoctorQuotesNonEnvelopeAnswersSafely(t *testing.T) {
	const evil = "\x1b]0;owned\x07\x1b[2J\r\u202e\u009b31m\x1b]52;c;cHduZWQ=\x07\u00a0\u2028"
	for _, tc := range []struct {
		name   string
		status int
		ctype  string
		body   string
	}{
		{"text 500", 500, "text/plain", "upstream failed" + evil + strings.Repeat("x", 400)},
		{"json, not an envelope", 200, "application/json", `"` + strings.ReplaceAll(evil, "\x1b", `\u001b`) + `"` + strings.Repeat(" ", 10)},
		{"junk 200", 200, "text/plain", evil + "junk" + strings.Repeat("y", 400)},
		{"gateway 502", 502, "text/plain", "bad gateway" + evil + strings.Repeat("z", 400)},
		{"html title", 500, "text/html", "<html><title>Oops" + evil + strings.Repeat("t", 400) + "</title></html>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			t.Chdir(t.TempDir())
			env := map[string]string{"HOME": t.TempDir(), "NIMBUS_TOKEN": "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"}
			_, stdout, stderr := runTTY(t, env, "", "doctor", "--no-version-check", "--no-color", "--endpoint", srv.URL, "--timeout", "5s")
			out := stdout + stderr
			if strings.ContainsAny(out, "\x1b\x07\r\u202e\u009b\u00a0\u2028") {
				t.Errorf("terminal output keeps control characters:\n%q", out)
			}
			var line string
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "endpoint") && strings.Contains(l, srv.URL) {
					line = l
				}
			}
			if line == "" {
				t.Fatalf("no endpoint check:\n%s", out)
			}
			// The answer is quoted after the status and media type, at
			// most 120 characters of it (JSON-quoted, so a little more).
			if i := strings.Index(line, `: "`); i >= 0 {
				if n := utf8.RuneCountInString(line[i+2:]); n > 160 {
					t.Errorf("the endpoint check quotes %d characters of the answer:\n%s", n, line)
				}
			} else if utf8.RuneCountInString(line) > 200 {
				t.Errorf("a long endpoint check:\n%s", line)
			}
		})
	}
}
