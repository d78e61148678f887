//go:build unix

package localsandbox_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

func TestHostPolicy(t *testing.T) {
	loop := localsandbox.NewHostPolicy(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8787}, []string{"Dev.Example."})
	all := localsandbox.NewHostPolicy(&net.TCPAddr{IP: net.IPv4zero, Port: 8787}, nil)
	lan := localsandbox.NewHostPolicy(&net.TCPAddr{IP: net.IPv4(192, 168, 1, 5), Port: 8787}, nil)
	for host, want := range map[string][3]bool{
		"127.0.0.1:8787":        {true, true, true},
		"127.0.0.1":             {true, true, true},
		"127.0.0.2:9000":        {true, true, true},
		"[::1]:8787":            {true, true, true},
		"localhost:8787":        {true, true, true},
		"LOCALHOST.:1":          {true, true, true},
		"app.localhost:8787":    {true, true, true},
		"dev.example:8787":      {true, false, false},
		"evil.example:8787":     {false, false, false},
		"127.0.0.1.nip.io:8787": {false, false, false},
		"localhost.evil:8787":   {false, false, false},
		"192.168.1.5:8787":      {false, true, true},
		"10.0.0.9:8787":         {false, true, false},
		"":                      {false, false, false},
	} {
		for i, p := range []*localsandbox.HostPolicy{loop, all, lan} {
			if got := p.Allow(host); got != want[i] {
				t.Errorf("policy %d, Host %q: %v", i, host, got)
			}
		}
	}
}

// TestHostGuard: a server with a host policy refuses a rebound name on
// every route before anything else, and answers its own names.
func TestHostGuard(t *testing.T) {
	hs := httptest.NewUnstartedServer(nil)
	s, err := localsandbox.New(localsandbox.Options{
		DataDir: t.TempDir(), Secret: secret, HostEnv: []string{"PATH=" + os.Getenv("PATH")},
		Hosts: localsandbox.NewHostPolicy(hs.Listener.Addr(), []string{"dev.example"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = s
	hs.Start()
	t.Cleanup(func() { hs.Close(); s.Close() })
	tok := mint(t, "", token.ScopeSandboxUse, token.ScopeSessionDestroy)
	send := func(method, path, host string) (int, string) {
		req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(`{"op":"exec","args":["echo hi"]}`))
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String()
	}
	for _, route := range [][2]string{{"POST", "/api/nimbus/v1/sandboxes/box/rpc"}, {"DELETE", "/s/box/"}, {"GET", "/s/box/port/3000/"}, {"GET", "/s/box"}} {
		status, body := send(route[0], route[1], "evil.example:8787")
		if status != 403 || !strings.Contains(body, `"code":"E_HOST_NOT_ALLOWED"`) || !strings.Contains(body, `Host \"evil.example:8787\" is not allowed`) {
			t.Errorf("%v: %d %s", route, status, body)
		}
	}
	for _, host := range []string{strings.TrimPrefix(hs.URL, "http://"), "localhost", "dev.example:1234"} {
		if status, body := send("POST", "/api/nimbus/v1/sandboxes/box/rpc", host); status != 200 || !strings.Contains(body, `"stdout":"hi\n"`) {
			t.Errorf("Host %s: %d %s", host, status, body)
		}
	}
}
