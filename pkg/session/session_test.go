package session_test

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/session"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

type urlVector struct {
	Endpoint      string  `json:"endpoint"`
	SessionID     *string `json:"sessionId"`
	Token         string  `json:"token"`
	NewestURL     string  `json:"newest_url"`
	MintAndAttach *struct {
		Env   map[string]string `json:"env"`
		Input struct {
			Tn  string `json:"tn"`
			Sub string `json:"sub"`
		} `json:"input"`
		Opts struct {
			Endpoint  string  `json:"endpoint"`
			SessionID string  `json:"sessionId"`
			TTLMs     float64 `json:"ttlMs"`
		} `json:"opts"`
		NowMs int64 `json:"now_ms"`
	} `json:"mintAndAttach"`
	Expect struct {
		Token string `json:"token"`
		URL   string `json:"url"`
	} `json:"expect"`
}

func TestSessionURLVectors(t *testing.T) {
	data, err := os.ReadFile("../../testdata/token-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		SessionURL []urlVector `json:"session_url"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.SessionURL) != 8 {
		t.Fatalf("got %d session_url vectors, want 8", len(v.SessionURL))
	}
	for i, c := range v.SessionURL {
		if m := c.MintAndAttach; m != nil {
			ttl := time.Duration(m.Opts.TTLMs) * time.Millisecond
			is := token.Issuer{Secret: m.Env["JWT_SECRET"], Now: func() time.Time { return time.UnixMilli(m.NowMs) }}
			got, err := session.MintAndAttach(is, token.Input{Tenant: &m.Input.Tn, Subject: &m.Input.Sub, TTL: &ttl}, m.Opts.Endpoint, m.Opts.SessionID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Token != c.Expect.Token || got.URL != c.Expect.URL {
				t.Errorf("#%d mintAndAttach = %+v, want %+v", i, got, c.Expect)
			}
			continue
		}
		id := ""
		if c.SessionID != nil {
			id = *c.SessionID
		}
		got, err := session.AttachURL(c.Endpoint, id, c.Token)
		if err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		if got != c.NewestURL {
			t.Errorf("#%d AttachURL(%q, %q)\n got %s\nwant %s", i, c.Endpoint, id, got, c.NewestURL)
		}
	}
}

func TestAttachURLEdgeCases(t *testing.T) {
	for _, c := range []struct{ endpoint, id, want string }{
		{"https://Example.COM:443/x", "a", "https://example.com/s/a/?nimbus_token=t"},
		{"http://127.0.0.1:80", "..", "http://127.0.0.1/?nimbus_token=t"},
		{"http://[::1]:8787", "j", "http://[::1]:8787/s/j/?nimbus_token=t"},
		// The URL goes to a browser, often someone else's: a basic-auth
		// userinfo of the endpoint stays out of it (upstream copies it).
		{"https://alice:s3cret-pw@example.com", "a", "https://example.com/s/a/?nimbus_token=t"},
	} {
		got, err := session.AttachURL(c.endpoint, c.id, "t")
		if err != nil || got != c.want {
			t.Errorf("AttachURL(%q, %q) = %q, %v; want %q", c.endpoint, c.id, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "example.com", "ftp://x/", "https://"} {
		if _, err := session.AttachURL(bad, "a", "t"); !errors.Is(err, session.ErrInvalidEndpoint) {
			t.Errorf("AttachURL(%q) err = %v, want ErrInvalidEndpoint", bad, err)
		}
	}
}
