//go:build unix

package cmd_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// transferEnvKeys are passed to programs run by signalrun.
var transferEnvKeys = append(devEnvKeys, "WORK")

var transferCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	// mkrand FILE SIZE: SIZE random bytes (seeded by SIZE).
	"mkrand": func(ts *testscript.TestScript, neg bool, args []string) {
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		b := make([]byte, n)
		r := rand.New(rand.NewPCG(uint64(n), 13))
		for i := 0; i+8 <= n; i += 8 {
			v := r.Uint64()
			for j := range 8 {
				b[i+j] = byte(v >> (8 * j))
			}
		}
		ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
	},
	// faultproxy VAR OP N: start a proxy in front of $NIMBUS_ENDPOINT whose
	// Nth request for OP answers a full disk, and set VAR to its URL.
	"faultproxy": func(ts *testscript.TestScript, neg bool, args []string) {
		target, err := url.Parse(ts.Getenv("NIMBUS_ENDPOINT"))
		ts.Check(err)
		nth, err := strconv.Atoi(args[2])
		ts.Check(err)
		op := args[1]
		var seen atomic.Int32
		rp := httputil.NewSingleHostReverseProxy(target)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			var env struct {
				Op   string            `json:"op"`
				Args []json.RawMessage `json:"args"`
			}
			_ = json.Unmarshal(body, &env)
			if env.Op == op && int(seen.Add(1)) == nth {
				var p string
				if len(env.Args) > 0 {
					_ = json.Unmarshal(env.Args[0], &p)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(500)
				_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "code": "E_NIMBUS_REMOTE_RPC", "error": "ENOSPC: no space left on device, write '" + p + "'"})
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			rp.ServeHTTP(w, r)
		}))
		ts.Defer(srv.Close)
		ts.Setenv(args[0], srv.URL)
	},
	// noparts DIR: no temporary file of a transfer is left under DIR.
	"noparts": func(ts *testscript.TestScript, neg bool, args []string) {
		var found []string
		_ = filepath.WalkDir(ts.MkAbs(args[0]), func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.Contains(d.Name(), ".nimbus-") {
				found = append(found, p)
			}
			return nil
		})
		if len(found) > 0 {
			ts.Fatalf("temporary files left: %v", found)
		}
	},
	// linkto LINK TARGET: LINK is a symlink whose text is TARGET.
	"linkto": func(ts *testscript.TestScript, neg bool, args []string) {
		got, err := os.Readlink(ts.MkAbs(args[0]))
		ts.Check(err)
		if got != args[1] {
			ts.Fatalf("%s -> %s, want %s", args[0], got, args[1])
		}
	},
	// signalrun SIG WANT FILE PROGRAM ARGS...: start PROGRAM, wait until
	// FILE exists, send SIG (INT or TERM), and require exit code WANT.
	"signalrun": func(ts *testscript.TestScript, neg bool, args []string) {
		sig := map[string]syscall.Signal{"INT": syscall.SIGINT, "TERM": syscall.SIGTERM}[args[0]]
		want, err := strconv.Atoi(args[1])
		ts.Check(err)
		file := ts.MkAbs(args[2])
		path := ""
		for _, dir := range strings.Split(ts.Getenv("PATH"), string(os.PathListSeparator)) {
			if p := dir + "/" + args[3]; fileExists(p) {
				path = p
				break
			}
		}
		c := exec.Command(path, args[4:]...)
		c.Dir = ts.MkAbs(".")
		for _, k := range transferEnvKeys {
			if v := ts.Getenv(k); v != "" {
				c.Env = append(c.Env, k+"="+v)
			}
		}
		var out, errOut bytes.Buffer
		c.Stdout, c.Stderr = &out, &errOut
		ts.Check(c.Start())
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		deadline := time.After(60 * time.Second)
	wait:
		for !fileExists(file) {
			select {
			case err := <-done:
				ts.Fatalf("%s exited before %s appeared: %v\n%s", args[3], args[2], err, errOut.String())
			case <-deadline:
				_ = c.Process.Kill()
				ts.Fatalf("%s never appeared", args[2])
			case <-time.After(20 * time.Millisecond):
				continue wait
			}
		}
		ts.Check(c.Process.Signal(sig))
		select {
		case err = <-done:
		case <-time.After(60 * time.Second):
			_ = c.Process.Kill()
			ts.Fatalf("%s did not exit after SIG%s", args[3], args[0])
		}
		got := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			got = ee.ExitCode()
		} else {
			ts.Check(err)
		}
		_, _ = ts.Stdout().Write(out.Bytes())
		_, _ = ts.Stderr().Write(errOut.Bytes())
		if got != want {
			ts.Fatalf("%s exited %d after SIG%s, want %d\n%s", args[3], got, args[0], want, errOut.String())
		}
	},
}

// TestTransferScripts moves files, trees and CI steps through the real
// binary against `nimbus dev`, the local backend over HTTP.
func TestTransferScripts(t *testing.T) {
	cmds := map[string]func(ts *testscript.TestScript, neg bool, args []string){}
	for k, v := range devCmds {
		cmds[k] = v
	}
	for k, v := range transferCmds {
		cmds[k] = v
	}
	testscript.Run(t, testscript.Params{
		Dir:  "testdata/transfer",
		Cmds: cmds,
		Setup: func(env *testscript.Env) error {
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/.config")
			env.Setenv("XDG_CACHE_HOME", env.WorkDir+"/.cache")
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("NO_COLOR", "")
			env.Setenv("NIMBUS_DEV_DATA", env.WorkDir+"/devdata")
			env.Setenv("NIMBUS_TOKEN_FILE", env.WorkDir+"/tok")
			port, err := freePort()
			if err != nil {
				return err
			}
			env.Setenv("DEV_PORT", port)
			env.Setenv("NIMBUS_ENDPOINT", "http://127.0.0.1:"+port)
			return nil
		},
	})
}
