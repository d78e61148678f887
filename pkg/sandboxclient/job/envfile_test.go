package job_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/job"
)

func TestParseEnvFile(t *testing.T) {
	data := "\xef\xbb\xbf# comment\r\n\nA=1\nexport B = two words  # trailing comment\nC='single # kept'\nD=\"line\\none \\\"q\\\" \\$HOME\"\nE=\"multi\nline\" # after\nF=\n G=x=y\nH=a#b\n"
	env, err := job.ParseEnvFile("ci.env", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "two words", "C": "single # kept", "D": "line\none \"q\" $HOME", "E": "multi\nline", "F": "", "G": "x=y", "H": "a#b"}
	if len(env) != len(want) {
		t.Fatalf("%q", env)
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for name, bad := range map[string]struct {
		data string
		line int
	}{
		"no equals":     {"A=1\nsk_live_SECRET\n", 2},
		"bad name":      {"1A=x\n", 1},
		"open single":   {"A='SECRET\n", 1},
		"open double":   {"A=\"SECRET\nmore\n", 1},
		"after quote":   {"A='x'SECRET\n", 1},
		"after dquote":  {"B=1\nA=\"x\nx\"SECRET\nC=2\n", 2},
		"space in name": {"MY VAR=x\n", 1},
		"too big":       {strings.Repeat("A=1\n", job.MaxEnvFile/4+1), 0},
	} {
		_, err := job.ParseEnvFile("ci.env", []byte(bad.data))
		var fe *job.EnvFileError
		if !errors.As(err, &fe) {
			t.Errorf("%s: %v, want an *EnvFileError", name, err)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: the error shows a value: %v", name, err)
		}
		if fe.Name != "ci.env" || fe.Line != bad.line || fe.ErrorCode() != job.CodeEnvFile {
			t.Errorf("%s: %+v (code %s), want line %d of ci.env", name, fe, fe.ErrorCode(), bad.line)
		}
	}
	if _, err := job.ParseEnvFile("ci.env", []byte("A=1\nsk_live\n")); err == nil || !strings.HasPrefix(err.Error(), "ci.env:2: ") {
		t.Errorf("line number missing: %v", err)
	}
}

func TestValidEnvName(t *testing.T) {
	for k, want := range map[string]bool{"A": true, "_": true, "a_1": true, "PATH": true, "": false, "1A": false, "A-B": false, "A B": false, "É": false} {
		if got := job.ValidEnvName(k); got != want {
			t.Errorf("ValidEnvName(%q) = %v, want %v", k, got, want)
		}
	}
}
