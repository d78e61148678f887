package doctorcli

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
	"github.com/nimbus-sh/nimbus/pkg/doctor"
)

// On a terminal each check is a line with its hint under it, then a
// summary; a failing check makes the command exit 1 without an error
// message of its own.
func TestRunOnATerminal(t *testing.T) {
	ios, _, out, errOut := iostreams.Test()
	ios.SetStdoutTTY(true)
	f := &cmdutil.Factory{IOStreams: ios}
	d := &doctor.Doctor{KnownKeys: []string{"endpoint"}, ConfigFiles: []doctor.ConfigFile{{Path: "nimbus.yaml", Err: errors.New("yaml: bad")}}}
	err := Run(context.Background(), f, d)
	var ce *clierr.Error
	if !errors.As(err, &ce) || ce.Exit != 1 || !ce.Silent() {
		t.Fatalf("err %v", err)
	}
	got := out.String()
	for _, want := range []string{
		"- version          nimbus ; the release check is turned off\n",
		"✗ config           nimbus.yaml: yaml: bad\n                   hint: fix the YAML in nimbus.yaml, or remove the file\n",
		"! credentials      Worker: none",
		"\n0 passed, 1 warning, 1 failed, 8 skipped\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr: %s", errOut)
	}

	// For machines: the JSON report only, compact in a pipe.
	ios, _, out, _ = iostreams.Test()
	f = &cmdutil.Factory{IOStreams: ios}
	if err := Run(context.Background(), f, &doctor.Doctor{}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), `{"ok":true,"checks":[{"name":"version","status":"skip",`) || !strings.HasSuffix(out.String(), "}]}\n") {
		t.Fatalf("json: %s", out)
	}
}

// What a server says (a release endpoint's tag, a Worker's error message)
// reaches the terminal without its control characters: an escape sequence
// in it could set the clipboard (OSC 52), retitle the window or hide text.
func TestRunOnATerminalShowsNoServerControlCharacters(t *testing.T) {
	const evil = "\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J\r"
	releases := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"tag_name":"v9.9.9-rc.1` + jsonEscape(evil) + `","html_url":"https://example.com/` + jsonEscape(evil) + `"}`))
	}))
	defer releases.Close()
	worker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"ok":false,"error":"boom` + jsonEscape(evil) + `","code":"E_BOOM"}`))
	}))
	defer worker.Close()
	for _, version := range []string{"(devel)", "v1.0.0"} {
		ios, _, out, _ := iostreams.Test()
		ios.SetStdoutTTY(true)
		f := &cmdutil.Factory{IOStreams: ios}
		d := &doctor.Doctor{Version: version, ReleaseURL: releases.URL, Endpoint: worker.URL, Token: "x"}
		_ = Run(context.Background(), f, d)
		got := out.String()
		if strings.ContainsAny(got, "\x1b\x07\r") {
			t.Errorf("%s: control characters from a server reach the terminal:\n%q", version, got)
		}
		if !strings.Contains(got, "9.9.9-rc.1") {
			t.Errorf("%s: the release is not named:\n%s", version, got)
		}
	}
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
