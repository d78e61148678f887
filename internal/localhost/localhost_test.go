package localhost

import "testing"

func TestIs(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LocalHost.": true, "app.localhost": true, "localhost:8787": true,
		"127.0.0.1": true, "127.9.9.9:80": true, "::1": true, "[::1]": true, "[::1]:8787": true,
		"": false, "example.com": false, "localhost.example.com": false, "notlocalhost": false,
		"10.0.0.1": false, "0.0.0.0": false, "[::]:80": false, "192.168.1.1:8787": false,
	} {
		if got := Is(host); got != want {
			t.Errorf("Is(%q) = %v, want %v", host, got, want)
		}
	}
}
