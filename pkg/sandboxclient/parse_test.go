package sandboxclient_test

import (
	"reflect"
	"strings"
	"testing"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]string{
		"TERM": "SIGTERM", "SIGTERM": "SIGTERM", "term": "SIGTERM", "sigterm": "SIGTERM", "-TERM": "SIGTERM",
		"15": "SIGTERM", "-15": "SIGTERM", " int ": "SIGINT", "9": "SIGKILL", "KILL": "SIGKILL",
		"hup": "SIGHUP", "1": "SIGHUP", "usr1": "SIGUSR1", "10": "SIGUSR1", "31": "SIGSYS",
		"iot": "SIGABRT", "SIGPOLL": "SIGIO", "cld": "SIGCHLD", "winch": "SIGWINCH", "Cont": "SIGCONT",
	} {
		got, err := sc.ParseSignal(in)
		if err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "32", "64", "-", "SIG", "BOGUS", "SIGBOGUS", "15x", "1.5", "99999999999999999999", "--15", "+15"} {
		if got, err := sc.ParseSignal(in); err == nil || !sc.HasCode(err, sc.CodeInvalidArgument) {
			t.Errorf("ParseSignal(%q) = %q, %v; want an invalid-argument error", in, got, err)
		}
	}
	names := sc.SignalNames()
	if len(names) != 31 || names[0] != "SIGHUP" || names[14] != "SIGTERM" {
		t.Errorf("SignalNames() = %v", names)
	}
}

func TestParseAppTarget(t *testing.T) {
	for in, want := range map[string]sc.AppTarget{
		"3000":                            int64(3000),
		"web":                             "web",
		"port:3000":                       map[string]any{"port": int64(3000)},
		"pid:12":                          map[string]any{"pid": int64(12)},
		"name:web":                        map[string]any{"name": "web"},
		"owner:auto:/home/user:npm start": map[string]any{"owner": "auto:/home/user:npm start"},
		"auto:/home/user:npm start":       "auto:/home/user:npm start",
		"-1":                              "-1",
		"0":                               "0",
	} {
		got, err := sc.ParseAppTarget(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseAppTarget(%q) = %#v, %v; want %#v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "port:", "port:0", "port:65536", "port:x", "pid:0", "pid:-3", "name:", "owner:"} {
		if got, err := sc.ParseAppTarget(in); !sc.HasCode(err, sc.CodeInvalidArgument) {
			t.Errorf("ParseAppTarget(%q) = %#v, %v; want an invalid-argument error", in, got, err)
		}
	}
}

// The parsers never panic, and what they accept is what the wire takes.
func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{"TERM", "-15", "sigkill", "", "99", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := sc.ParseSignal(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(name, "SIG") {
			t.Fatalf("%q -> %q", s, name)
		}
		again, err := sc.ParseSignal(name)
		if err != nil || again != name {
			t.Fatalf("%q -> %q -> %q, %v", s, name, again, err)
		}
	})
}

func FuzzParseAppTarget(f *testing.F) {
	for _, s := range []string{"3000", "port:3000", "pid:1", "name:web", "owner:a:b", "web", ":", "port:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := sc.ParseAppTarget(s)
		if err != nil {
			return
		}
		switch v := tg.(type) {
		case int64:
			if v <= 0 {
				t.Fatalf("%q -> %d", s, v)
			}
		case string:
			if v != s {
				t.Fatalf("%q -> %q", s, v)
			}
		case map[string]any:
			if len(v) != 1 {
				t.Fatalf("%q -> %v", s, v)
			}
		default:
			t.Fatalf("%q -> %T", s, tg)
		}
	})
}
