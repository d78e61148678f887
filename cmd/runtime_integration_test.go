//go:build npmintegration

// The opt-in integration test: `go test -tags npmintegration -run
// TestRuntimeSyncRealRegistry -v ./cmd` syncs the three real runtime
// packages from the public npm registry into the fake Cloudflare API, twice,
// with the built binary, and reports wall time, peak RSS and request counts.
// CI does not run it (it needs the registry and ~35 MB of downloads).

package cmd_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/cftest"
)

const realRegistry = "https://registry.npmjs.org"

// countingMirror forwards to the real registry, rewriting tarball URLs in
// packuments to itself (as registry mirrors do) so every request of a sync
// is counted.
type countingMirror struct {
	*httptest.Server
	packuments, tarballs atomic.Int64
	bytes                atomic.Int64
}

func newCountingMirror(t *testing.T) *countingMirror {
	m := &countingMirror{}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, realRegistry+r.URL.EscapedPath(), nil)
		req.Header.Set("Accept", r.Header.Get("Accept"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		if strings.HasSuffix(r.URL.Path, ".tgz") {
			m.tarballs.Add(1)
			w.Header().Set("Content-Length", res.Header.Get("Content-Length"))
			w.WriteHeader(res.StatusCode)
			n, _ := io.Copy(w, res.Body)
			m.bytes.Add(n)
			return
		}
		m.packuments.Add(1)
		data, _ := io.ReadAll(res.Body)
		data = bytes.ReplaceAll(data, []byte(realRegistry), []byte(m.URL))
		w.Header().Set("Content-Type", res.Header.Get("Content-Type"))
		w.WriteHeader(res.StatusCode)
		w.Write(data)
	}))
	t.Cleanup(m.Close)
	return m
}

func TestRuntimeSyncRealRegistry(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "nimbus")
	build := exec.Command("go", "build", "-o", bin, "..")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatal(err)
	}
	cf := cftest.New()
	defer cf.Close()
	cf.AddAccount(cfAccount, "Acme")
	cf.AddToken(cfToken, &cftest.Token{Accounts: []string{cfAccount}})
	cf.AddBucket(cfAccount, "nimbus-runtime-cache-public")
	mirror := newCountingMirror(t)
	env := append(os.Environ(),
		"CLOUDFLARE_API_TOKEN="+cfToken, "CLOUDFLARE_ACCOUNT_ID="+cfAccount,
		"CLOUDFLARE_API_BASE_URL="+cf.BaseURL(), "NPM_CONFIG_REGISTRY="+mirror.URL,
		"XDG_CACHE_HOME="+filepath.Join(dir, "cache"), "HOME="+dir)

	type run struct {
		wall             time.Duration
		rssKiB           int64
		cf, cfWrites     int
		packuments, tgzs int64
		stdout           string
	}
	sync := func() run {
		cf.ResetRequests()
		mirror.packuments.Store(0)
		mirror.tarballs.Store(0)
		// ru_maxrss of a child of this (large) test process counts the
		// pages it shared before exec; GNU time, a small parent, does not.
		args := []string{bin, "runtime", "sync", "--json"}
		timed := false
		if _, err := os.Stat("/usr/bin/time"); err == nil {
			args = append([]string{"/usr/bin/time", "-f", "maxrss-kib=%M"}, args...)
			timed = true
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env, cmd.Dir = env, dir
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("sync: %v\n%s", err, errb.String())
		}
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
		if timed {
			_, after, _ := strings.Cut(errb.String(), "maxrss-kib=")
			rss, _ = strconv.ParseInt(strings.TrimSpace(after), 10, 64)
		}
		r := run{wall: time.Since(start), rssKiB: rss,
			cf: len(cf.Requests()), cfWrites: cf.Mutations(), packuments: mirror.packuments.Load(), tgzs: mirror.tarballs.Load(), stdout: out.String()}
		t.Logf("wall %v, peak RSS %.1f MiB, Cloudflare requests %d (%d writes), npm packuments %d, tarballs %d\n%s",
			r.wall.Round(time.Millisecond), float64(r.rssKiB)/1024, r.cf, r.cfWrites, r.packuments, r.tgzs, r.stdout)
		return r
	}
	first := sync()
	t.Logf("downloaded %.1f MiB from the registry", float64(mirror.bytes.Load())/(1<<20))
	second := sync()
	if first.tgzs != 3 || second.tgzs != 0 || second.cfWrites != 0 {
		t.Fatalf("first run %d tarballs, second run %d tarballs and %d writes", first.tgzs, second.tgzs, second.cfWrites)
	}
	if first.rssKiB > 64<<10 || second.rssKiB > 64<<10 {
		t.Errorf("peak RSS %d / %d KiB, goal under 64 MiB", first.rssKiB, second.rssKiB)
	}
	if second.wall > time.Second {
		t.Errorf("second sync took %v, goal under 1s", second.wall)
	}
	for _, k := range []string{"manifests/clang-binji-2020.json", "manifests/cpython-3.13.14.json", "manifests/bash-5.2.37.json", "catalog/v1.json"} {
		if _, _, ok := cf.Object(cfAccount, "nimbus-runtime-cache-public", k); !ok {
			t.Errorf("%s missing", k)
		}
	}
}
