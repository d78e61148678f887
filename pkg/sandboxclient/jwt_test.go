package sandboxclient_test

import (
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/sandboxtest"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

func mint(t *testing.T, secret string, now time.Time, tn, sub, sid string, ttl time.Duration, scopes ...string) string {
	t.Helper()
	in := token.Input{Tenant: &tn, Scopes: scopes, TTL: &ttl}
	if sub != "" {
		in.Subject = &sub
	}
	if sid != "" {
		in.SessionID = &sid
	}
	tok, err := token.Issuer{Secret: secret, Now: func() time.Time { return now }}.Mint(in)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Real tokens through the backend's verification: signature with the
// current or the previous secret, expiry on the backend's clock, scopes,
// pins and DO names.
func TestRealTokens(t *testing.T) {
	now := time.Unix(1767225600, 0)
	clock := func() time.Time { return now }
	srv := newFake(t, sandboxtest.Options{Secret: "s3cret", PreviousSecret: "old", Now: clock})
	good := mint(t, "s3cret", now, "acme", "alice", "job-1", time.Minute, "sandbox:use")
	rotated := mint(t, "old", now, "acme", "", "", time.Minute, "sandbox:use")
	cases := []struct {
		tok, id, code string
	}{
		{good, "job-1", ""},
		{rotated, "job-9", ""},
		{mint(t, "wrong", now, "acme", "", "", time.Minute, "sandbox:use"), "job-1", "E_TOKEN_SIGNATURE"},
		{mint(t, "s3cret", now.Add(-time.Hour), "acme", "", "", time.Minute, "sandbox:use"), "job-1", "E_TOKEN_EXPIRED"},
		{mint(t, "s3cret", now, "acme", "", "", time.Minute, "session:attach"), "job-1", "E_SCOPE_MISSING"},
		{good, "job-2", "E_SESSION_PIN_MISMATCH"},
		{"only-one-part", "job-1", "E_TOKEN_MALFORMED"},
	}
	for i, tc := range cases {
		_, err := box(t, newClient(t, srv.URL, tc.tok), tc.id).Ready(ctx(t))
		if codeOf(err) != tc.code {
			t.Fatalf("case %d: err = %v, want %s", i, err, tc.code)
		}
	}
	if _, ok := findDO(srv, "acme:alice:job-1"); !ok {
		t.Fatalf("DO names: %v", srv.Sandboxes())
	}
	if _, ok := findDO(srv, "acme:_:job-9"); !ok {
		t.Fatalf("DO names: %v", srv.Sandboxes())
	}
	// destroy needs session:destroy on top of sandbox:use.
	weak := box(t, newClient(t, srv.URL, good), "job-1")
	if _, err := weak.Destroy(ctx(t), ""); codeOf(err) != "E_SCOPE_MISSING" {
		t.Fatalf("destroy: %v", err)
	}
	strong := box(t, newClient(t, srv.URL, mint(t, "s3cret", now, "acme", "alice", "job-1", time.Minute, "sandbox:use", "session:destroy")), "job-1")
	if _, err := strong.Destroy(ctx(t), ""); err != nil {
		t.Fatal(err)
	}
	// /new hands out a real single-use bootstrap token pinned to the session.
	s, err := newClient(t, srv.URL, mint(t, "s3cret", now, "acme", "", "", time.Minute, "session:create")).CreateSession(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	q := s.URL[len(srv.URL+"/s/"+s.SessionID+"/?nimbus_token="):]
	v, err := token.Verifier{Secret: "s3cret", Now: clock}.Verify(q)
	if err != nil {
		t.Fatal(err)
	}
	if sid, _ := v.Claims.SessionID(); sid != s.SessionID {
		t.Fatalf("bootstrap sid %q", sid)
	}
	if _, ok := v.Claims.JTI(); !ok {
		t.Fatal("bootstrap token lacks jti")
	}
}

func findDO(srv *sandboxtest.Server, name string) (string, bool) {
	for _, d := range srv.Sandboxes() {
		if d == name {
			return d, true
		}
	}
	return "", false
}
