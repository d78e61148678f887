//go:build unix

package localdev_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/cmd/internal/localdev"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDataDir(t *testing.T) {
	if d, _ := localdev.DataDir(env(map[string]string{"NIMBUS_DEV_DATA": "/x/y", "HOME": "/h"})); d != "/x/y" {
		t.Fatal(d)
	}
	want := "/c/nimbus/dev"
	if runtime.GOOS == "darwin" {
		want = "/h/Library/Caches/nimbus/dev"
	}
	if d, _ := localdev.DataDir(env(map[string]string{"XDG_CACHE_HOME": "/c", "HOME": "/h"})); d != want {
		t.Fatalf("%s, want %s", d, want)
	}
	if runtime.GOOS == "linux" {
		// As os.UserCacheDir: a relative XDG_CACHE_HOME is an error.
		if d, err := localdev.DataDir(env(map[string]string{"XDG_CACHE_HOME": "relative", "HOME": "/h"})); err == nil {
			t.Fatal(d)
		}
	}
	_, err := localdev.DataDir(env(nil))
	var ce *clierr.Error
	if !errors.As(err, &ce) || ce.Exit != 78 {
		t.Fatalf("%v", err)
	}
}

func TestHostEnvKeepsSecretsOut(t *testing.T) {
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, ".pyenv"), 0o755); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(localdev.HostEnv(env(map[string]string{
		"PATH": "/usr/bin", "LANG": "C.UTF-8", "HOME": home,
		"JWT_SECRET": "s1", "JWT_SECRET_PREVIOUS": "s2", "NIMBUS_TOKEN": "t", "CLOUDFLARE_API_TOKEN": "c", "AWS_SECRET_ACCESS_KEY": "a",
	})), "\n")
	for _, want := range []string{"PATH=/usr/bin", "LANG=C.UTF-8", "PYENV_ROOT=" + filepath.Join(home, ".pyenv")} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in %q", want, got)
		}
	}
	for _, leak := range []string{"s1", "s2", "=t\n", "CLOUDFLARE", "AWS", "HOME="} {
		if strings.Contains(got+"\n", leak) {
			t.Errorf("%q leaked into %q", leak, got)
		}
	}
}

func TestLoadSecret(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s1, created, err := localdev.LoadSecret(dir)
	if err != nil || !created || len(s1) != 64 {
		t.Fatalf("%q %v %v", s1, created, err)
	}
	fi, err := os.Stat(filepath.Join(dir, localdev.SecretFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%v %v", fi.Mode(), err)
	}
	s2, created, err := localdev.LoadSecret(dir)
	if err != nil || created || s2 != s1 {
		t.Fatalf("reuse: %v %v", created, err)
	}
	if err := os.Chmod(filepath.Join(dir, localdev.SecretFile), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = localdev.LoadSecret(dir)
	var ce *clierr.Error
	if !errors.As(err, &ce) || ce.Code != localdev.CodeSecretFile || !strings.Contains(ce.Hint, "chmod 600") || strings.Contains(err.Error(), s1) {
		t.Fatalf("%v", err)
	}
}

func TestListenRefusesRemoteAddresses(t *testing.T) {
	for addr, loop := range map[string]bool{"127.0.0.1:0": true, "[::1]:0": true, "localhost:0": true, "0.0.0.0:0": false, ":0": false, "[::]:0": false, "192.0.2.1:80": false} {
		if got := localdev.IsLoopback(addr); got != loop {
			t.Errorf("IsLoopback(%s) = %v", addr, got)
		}
	}
	_, err := localdev.Listen("0.0.0.0:0", false)
	var ce *clierr.Error
	if !errors.As(err, &ce) || ce.Code != localdev.CodeRemoteRefused || ce.Exit != 64 {
		t.Fatalf("%v", err)
	}
	ln, err := localdev.Listen("0.0.0.0:0", true)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	ln, err = localdev.Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// A taken port stays taken until its owner stops: 73, not 69 (retry).
	if _, err := localdev.Listen(ln.Addr().String(), false); !errors.As(err, &ce) || ce.Code != localdev.CodeListen || ce.Exit != 73 {
		t.Fatalf("busy port: %v", err)
	}
}

// TestListenResolvesOnce: a host name is resolved once, and the address
// checked is the one listened on: a name whose DNS answers loopback to the
// check and another machine's address next (rebinding) cannot make nimbus
// dev listen where other machines reach it.
func TestListenResolvesOnce(t *testing.T) {
	var lookups []string
	answers := map[string][][]net.IP{
		"rebind.test": {{net.IPv6loopback, net.IPv4(127, 0, 0, 1)}, {net.IPv4(192, 0, 2, 1)}},
		"mixed.test":  {{net.IPv4(127, 0, 0, 1), net.IPv4(192, 0, 2, 1)}},
	}
	localdev.SetLookupIP(t, func(host string) ([]net.IP, error) {
		lookups = append(lookups, host)
		n := 0
		for _, h := range lookups {
			if h == host {
				n++
			}
		}
		if a := answers[host]; n <= len(a) {
			return a[n-1], nil
		}
		return []net.IP{net.IPv4(192, 0, 2, 1)}, nil
	})
	ln, err := localdev.Listen("rebind.test:0", false)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.Equal(net.IPv4(127, 0, 0, 1)) || len(lookups) != 1 {
		t.Fatalf("listening on %s after %d lookups (%v)", ln.Addr(), len(lookups), lookups)
	}
	// A name with one address of another machine is refused, as before.
	var ce *clierr.Error
	if _, err := localdev.Listen("mixed.test:0", false); !errors.As(err, &ce) || ce.Code != localdev.CodeRemoteRefused {
		t.Fatalf("%v", err)
	}
}

func TestServeStopsOnCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p, err := localdev.NewInProcess(localdev.InProcessOptions{DataDir: t.TempDir(), Getenv: env(map[string]string{"PATH": os.Getenv("PATH")})})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- localdev.Serve(ctx, ln, p.Server) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not stop")
	}
}

func TestInProcessClient(t *testing.T) {
	data := t.TempDir()
	p, err := localdev.NewInProcess(localdev.InProcessOptions{DataDir: data, Getenv: env(map[string]string{"PATH": os.Getenv("PATH")}), Subject: "me"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := p.Client([]string{token.ScopeSandboxUse})
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := c.Sandbox("demo", sc.SandboxOptions{})
	var out strings.Builder
	r, err := sb.Run(context.Background(), "echo hi", sc.ExecOptions{}, &out, &out)
	if err != nil || r.ExitCode != 0 || out.String() != "hi\n" {
		t.Fatalf("%+v %q %v", r, out.String(), err)
	}
	if _, err := os.Stat(filepath.Join(data, "sandboxes", "local:me:demo", "home", "user")); err != nil {
		t.Fatal(err)
	}
	// Its tokens carry only the scopes asked for.
	if _, err := sb.Destroy(context.Background(), ""); !sc.HasCode(err, "E_SCOPE_MISSING") {
		t.Fatalf("%v", err)
	}
	if _, err := sb.StartProcess(context.Background(), "sleep 1", sc.StartOptions{}); err == nil || !strings.Contains(err.Error(), "nimbus dev") {
		t.Fatalf("%v", err)
	}
	// Mint makes tokens the backend accepts.
	tok, err := localdev.Mint(localdev.TokenOptions{Secret: "s", Scopes: localdev.DefaultScopes, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	v, err := token.Verifier{Secret: "s"}.Verify(tok)
	if err != nil || v.DOInstanceName != "local:_" {
		t.Fatalf("%+v %v", v, err)
	}
}

// TestSecretCreatedWhileAnotherReadsIt runs what the README's first lines
// do (`nimbus dev &` then `$(nimbus dev token)`): several nimbus processes
// find no secret file and create it at once. Every one must end with the
// same secret; none may read the file between its creation and its
// content ("is empty", whose hint to delete the file would split the
// secret between the server and its tokens).
func TestSecretCreatedWhileAnotherReadsIt(t *testing.T) {
	dir := t.TempDir()
	for round := range 200 {
		path := filepath.Join(dir, "r", strings.Repeat("x", round%3+1), "dev-secret")
		const n = 4
		type result struct {
			secret string
			err    error
		}
		results := make(chan result, n)
		start := make(chan struct{})
		for range n {
			go func() {
				<-start
				s, _, err := localdev.LoadOrCreateSecret(path, "the dev secret", "E_DEV_SECRET")
				results <- result{s, err}
			}()
		}
		close(start)
		var first string
		for range n {
			r := <-results
			if r.err != nil {
				t.Fatalf("round %d: %v", round, r.err)
			}
			if first == "" {
				first = r.secret
			} else if r.secret != first {
				t.Fatalf("round %d: two secrets for one file", round)
			}
		}
		if err := os.RemoveAll(filepath.Join(dir, "r")); err != nil {
			t.Fatal(err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}
