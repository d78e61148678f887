package mcpcli

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// fakeSig is a signature of the length of an HS256 one (32 bytes), right
// for no secret: checkToken does not see the secret.
var fakeSig = base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("x", 32)))

func claims(t *testing.T, now time.Time, ttl time.Duration, sid string, scopes ...string) *token.Decoded {
	t.Helper()
	tn := "acme"
	in := token.Input{Tenant: &tn, TTL: &ttl, Scopes: scopes}
	if sid != "" {
		in.SessionID = &sid
	}
	tok, err := token.Issuer{Secret: "0123456789abcdef0123456789abcdef", Now: func() time.Time { return now }}.Mint(in)
	if err != nil {
		t.Fatal(err)
	}
	c, err := decodeToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkToken refuses tokens that cannot work and warns about broad ones.
func TestCheckToken(t *testing.T) {
	now := time.Unix(1796290000, 0)
	later := now.Add(2 * time.Hour)
	for _, c := range []struct {
		name        string
		c           *token.Decoded
		at          time.Time
		needDestroy bool
		exit        int
		warn        []string
	}{
		{"least privilege", claims(t, now, 2*time.Hour, "box", token.ScopeSandboxUse), now, false, 0, nil},
		{"expired", claims(t, now, time.Hour, "box", token.ScopeSandboxUse), later, false, exitcode.DataErr, nil},
		{"pinned elsewhere", claims(t, now, 2*time.Hour, "other", token.ScopeSandboxUse), now, false, exitcode.NoPerm, nil},
		{"no sandbox:use", claims(t, now, 2*time.Hour, "box", token.ScopeSessionAttach), now, false, exitcode.NoPerm, nil},
		{"full trust", claims(t, now, 2*time.Hour, "box"), now, false, 0, []string{"full trust"}},
		{"extra scopes", claims(t, now, 2*time.Hour, "box", token.ScopeSandboxUse, token.ScopeSessionAdmin), now, false, 0, []string{"also grants session:admin"}},
		{"unpinned", claims(t, now, 2*time.Hour, "", token.ScopeSandboxUse), now, false, 0, []string{"not pinned"}},
		{"destroy needed but missing", claims(t, now, 2*time.Hour, "box", token.ScopeSandboxUse), now, true, 0, []string{"lacks session:destroy"}},
		// The mint hint names the scopes the server needs: session:destroy
		// too when it destroys the sandbox.
		{"destroy needed, unpinned", claims(t, now, 2*time.Hour, "", token.ScopeSandboxUse, token.ScopeSessionDestroy), now, true, 0,
			[]string{"not pinned to the sandbox (no sid claim): it reaches every sandbox of its tenant; mint a least-privilege one: nimbus token mint --tenant T --scopes sandbox:use,session:destroy --sid box"}},
		{"destroy needed and given", claims(t, now, 2*time.Hour, "box", token.ScopeSandboxUse, token.ScopeSessionDestroy), now, true, 0, nil},
		{"destroy given but not needed", claims(t, now, 2*time.Hour, "box", token.ScopeSandboxUse, token.ScopeSessionDestroy), now, false, 0, []string{"also grants session:destroy"}},
		{"expires soon", claims(t, now, 20*time.Minute, "box", token.ScopeSandboxUse), now, false, 0, []string{"expires in 20m"}},
	} {
		warnings, err := checkToken(c.c, "box", sandboxcli.Hints{}, c.at, c.needDestroy)
		var ce *clierr.Error
		switch {
		case c.exit != 0 && (!errors.As(err, &ce) || ce.Exit != c.exit || ce.Code != CodeTokenUnfit || ce.Hint == ""):
			t.Errorf("%s: err %v, want exit %d", c.name, err, c.exit)
		case c.exit == 0 && err != nil:
			t.Errorf("%s: %v", c.name, err)
		}
		if len(warnings) != len(c.warn) {
			t.Errorf("%s: warnings %q, want %q", c.name, warnings, c.warn)
			continue
		}
		for i, w := range c.warn {
			if !strings.Contains(warnings[i], w) {
				t.Errorf("%s: warning %q lacks %q", c.name, warnings[i], w)
			}
		}
	}
	if _, err := decodeToken("not.a-token"); err == nil {
		t.Error("a malformed token decoded")
	}
}

// A given token without numeric iat and exp is refused at start-up, with
// what is wrong: the Worker would refuse every tool call (E_TOKEN_CLAIMS),
// and a missing exp is not a token that expired in 1970.
func TestCheckTokenWithoutDates(t *testing.T) {
	now := time.Unix(1796290000, 0)
	enc := base64.RawURLEncoding
	for _, payload := range []string{
		`{"scope":"nimbus","tn":"acme","sid":"box","scopes":["sandbox:use"],"iat":1796290000}`,
		`{"scope":"nimbus","tn":"acme","sid":"box","scopes":["sandbox:use"],"exp":1796299999}`,
		`{"scope":"nimbus","tn":"acme","sid":"box","scopes":["sandbox:use"],"iat":1796290000,"exp":"1796299999"}`,
	} {
		c, err := decodeToken(enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload)) + "." + fakeSig)
		if err != nil {
			t.Fatal(err)
		}
		_, err = checkToken(c, "box", sandboxcli.Hints{}, now, false)
		var ce *clierr.Error
		if !errors.As(err, &ce) || ce.Code != CodeTokenUnfit || ce.Exit != exitcode.DataErr || !strings.Contains(ce.Message, "iat and exp") || strings.Contains(ce.Message, "expired") {
			t.Errorf("%s: %v", payload, err)
		}
	}
}

func TestRandomIDIsAHostSafeSandboxID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := RandomID()
		if len(id) != 12 || !strings.HasPrefix(id, "mcp-") || strings.Trim(id[4:], "0123456789abcdef") != "" || seen[id] {
			t.Fatalf("id %q", id)
		}
		seen[id] = true
	}
}

// checkToken judges a token by the Worker's rules (token.CheckUsable): a
// token in the second of its exp still works (it was refused as "expired
// 0s ago"), and one whose exp is before the year 1 has expired (ExpiresTime
// is then the zero time, which the check took for no expiry).
func TestCheckTokenExpiryIsTheWorkers(t *testing.T) {
	enc := base64.RawURLEncoding
	decode := func(payload string) *token.Decoded {
		c, err := decodeToken(enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload)) + "." + fakeSig)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	now := time.Unix(1796290000, 0)
	c := decode(`{"scope":"nimbus","tn":"acme","sid":"box","scopes":["sandbox:use"],"iat":1796280000,"exp":1796290000}`)
	for _, at := range []time.Time{now, now.Add(999 * time.Millisecond)} {
		warnings, err := checkToken(c, "box", sandboxcli.Hints{}, at, false)
		if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "expires in 0s") {
			t.Errorf("exp is the current second, at %v: %q, %v", at, warnings, err)
		}
	}
	_, err := checkToken(c, "box", sandboxcli.Hints{}, now.Add(time.Second), false)
	var ce *clierr.Error
	if !errors.As(err, &ce) || ce.Exit != exitcode.DataErr || ce.Message != "the given token expired 1s ago" {
		t.Errorf("a second later: %v", err)
	}
	_, err = checkToken(decode(`{"scope":"nimbus","tn":"acme","sid":"box","scopes":["sandbox:use"],"iat":1,"exp":-1e300}`), "box", sandboxcli.Hints{}, now, false)
	if !errors.As(err, &ce) || ce.Exit != exitcode.DataErr || ce.Code != CodeTokenUnfit || !strings.Contains(ce.Message, "expired") {
		t.Errorf("exp -1e300: %v", err)
	}
}

// A given token whose header does not say alg HS256, or whose signature
// is not the 32 bytes of an HS256 one, is refused at start-up (exit 65):
// nimbus dev refuses the one, no server verifies the other. Both were
// served, and every tool call failed.
func TestCheckTokenHeaderAndSignature(t *testing.T) {
	now := time.Unix(1796290000, 0)
	enc := base64.RawURLEncoding.EncodeToString
	payload := enc([]byte(`{"scope":"nimbus","tn":"acme","sid":"box","scopes":["sandbox:use"],"iat":1796290000,"exp":1796299999}`))
	for _, c := range []struct{ header, sig, want string }{
		{`{"alg":"HS512","typ":"JWT"}`, fakeSig, "header whose alg is not HS256"},
		{`{"alg":"none"}`, fakeSig, "header whose alg is not HS256"},
		{`{"typ":"JWT"}`, fakeSig, "header whose alg is not HS256"},
		{`{"alg":"none"}`, "", "has a 0-byte signature"},
		{`{"alg":"RS256","typ":"JWT"}`, enc(make([]byte, 256)), "has a 256-byte signature"},
	} {
		d, err := decodeToken(enc([]byte(c.header)) + "." + payload + "." + c.sig)
		if err != nil {
			t.Fatal(err)
		}
		_, err = checkToken(d, "box", sandboxcli.Hints{}, now, false)
		var ce *clierr.Error
		if !errors.As(err, &ce) || ce.Code != CodeTokenUnfit || ce.Exit != exitcode.DataErr || !strings.Contains(ce.Message, c.want) || ce.Hint == "" {
			t.Errorf("%s %d-char signature: %v, want %q", c.header, len(c.sig), err, c.want)
		}
	}
}
