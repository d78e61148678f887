package token_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/token"
)

// vectors mirrors the layout of testdata/token-vectors.json, a copy of the
// upstream-generated vectors from the spec.
type vectors struct {
	Meta struct {
		NowMs int64 `json:"now_ms"`
	} `json:"meta"`
	Issue []struct {
		Name   string            `json:"name"`
		Env    map[string]string `json:"env"`
		Input  map[string]any    `json:"input"`
		Opts   map[string]any    `json:"opts"`
		NowMs  int64             `json:"now_ms"`
		Expect struct {
			Token       string         `json:"token"`
			PayloadJSON string         `json:"payload_json"`
			Error       *expectedError `json:"error"`
		} `json:"expect"`
	} `json:"issue"`
	Verify []struct {
		Name         string            `json:"name"`
		Env          map[string]string `json:"env"`
		Token        string            `json:"token"`
		NowMs        int64             `json:"now_ms"`
		Expect       verifyExpect      `json:"expect"`
		NimbusExpect *verifyExpect     `json:"nimbus_expect"`
	} `json:"verify"`
	ExtractBearer []struct {
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Expect  struct {
			Token  *string `json:"token"`
			Throws string  `json:"throws"`
		} `json:"expect"`
	} `json:"extract_bearer"`
	ScopeChecks []struct {
		Name         string    `json:"name"`
		ClaimsScopes *[]string `json:"claims_scopes"`
		ClaimsSid    *string   `json:"claims_sid"`
		Required     []string  `json:"required"`
		PinAttempt   *string   `json:"pinAttempt"`
		Expect       struct {
			OK    bool           `json:"ok"`
			Error *expectedError `json:"error"`
		} `json:"expect"`
	} `json:"scope_checks"`
	DONames []struct {
		Tn           string  `json:"tn"`
		Sub          *string `json:"sub"`
		ID           string  `json:"sessionOrSandboxId"`
		DOInstance   string  `json:"doInstanceName"`
		SessionDO    string  `json:"session_do_name"`
		SandboxDO    string  `json:"remote_sandbox_do_name"`
		LegacyPublic bool    `json:"legacy_public"`
	} `json:"do_names"`
}

type expectedError struct {
	Name                  string  `json:"name"`
	Code                  string  `json:"code"`
	HTTPStatus            int     `json:"httpStatus"`
	Message               string  `json:"message"`
	MessageEngineSpecific bool    `json:"message_engine_specific"`
	ExpiredAgoSec         float64 `json:"expiredAgoSec"`
	RequiredScope         string  `json:"requiredScope"`
	PinnedTo              string  `json:"pinnedTo"`
	Attempted             string  `json:"attempted"`
}

type verifyExpect struct {
	OK             bool            `json:"ok"`
	Claims         json.RawMessage `json:"claims"`
	DOInstanceName string          `json:"doInstanceName"`
	Error          *expectedError  `json:"error"`
}

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	data, err := os.ReadFile("../../testdata/token-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

func clockAt(ms int64) func() time.Time {
	return func() time.Time { return time.UnixMilli(ms) }
}

func optString(m map[string]any, key string) *string {
	v, ok := m[key]
	if !ok {
		return nil
	}
	s, _ := v.(string)
	return &s
}

func checkError(t *testing.T, err error, want *expectedError) {
	t.Helper()
	var te *token.Error
	if !errors.As(err, &te) {
		t.Fatalf("error = %v (%T), want *token.Error %s", err, err, want.Code)
	}
	if te.Code != want.Code || te.HTTPStatus != want.HTTPStatus {
		t.Errorf("code/status = %s/%d, want %s/%d", te.Code, te.HTTPStatus, want.Code, want.HTTPStatus)
	}
	if want.Name != "" && te.Name() != want.Name {
		t.Errorf("name = %s, want %s", te.Name(), want.Name)
	}
	if want.MessageEngineSpecific {
		// Only the prefix up to the engine's wording is normative.
		prefix := "Malformed token: payload is not valid JSON:"
		if !strings.HasPrefix(want.Message, prefix) || !strings.HasPrefix(te.Message, prefix) {
			t.Errorf("message = %q, want prefix %q", te.Message, prefix)
		}
	} else if te.Message != want.Message {
		t.Errorf("message = %q\nwant      %q", te.Message, want.Message)
	}
	if te.ExpiredAgoSec != want.ExpiredAgoSec || te.RequiredScope != want.RequiredScope || te.PinnedTo != want.PinnedTo || te.Attempted != want.Attempted {
		t.Errorf("extra fields = %v/%q/%q/%q, want %v/%q/%q/%q", te.ExpiredAgoSec, te.RequiredScope, te.PinnedTo, te.Attempted,
			want.ExpiredAgoSec, want.RequiredScope, want.PinnedTo, want.Attempted)
	}
}

func TestIssueVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.Issue) != 38 {
		t.Fatalf("got %d issue vectors, want 38", len(v.Issue))
	}
	for _, c := range v.Issue {
		t.Run(c.Name, func(t *testing.T) {
			in := token.Input{
				Tenant:    optString(c.Input, "tn"),
				Subject:   optString(c.Input, "sub"),
				SessionID: optString(c.Input, "sid"),
				JTI:       optString(c.Input, "jti"),
			}
			if raw, ok := c.Input["scopes"]; ok {
				in.Scopes = []string{}
				for _, s := range raw.([]any) {
					in.Scopes = append(in.Scopes, s.(string))
				}
			}
			if ms, ok := c.Opts["ttlMs"]; ok {
				in.TTLMillis = new(ms.(float64))
			}
			if iat, ok := c.Opts["iatOverride"]; ok {
				in.IssuedAt = time.Unix(int64(iat.(float64)), 0)
			}
			is := token.Issuer{Secret: c.Env["JWT_SECRET"], Now: clockAt(c.NowMs)}
			tok, err := is.Mint(in)
			if c.Expect.Error != nil {
				checkError(t, err, c.Expect.Error)
				return
			}
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			if tok != c.Expect.Token {
				t.Fatalf("token = %s\nwant    %s", tok, c.Expect.Token)
			}
			issued, err := is.Issue(in)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := issued.Claims.MarshalJSON(); string(got) != c.Expect.PayloadJSON {
				t.Errorf("claims = %s, want %s", got, c.Expect.PayloadJSON)
			}
			// Every valid token verifies at the vector's clock, with rotation.
			vr := token.Verifier{Secret: c.Env["JWT_SECRET"], Previous: c.Env["JWT_SECRET_PREVIOUS"], Now: clockAt(c.NowMs)}
			if _, err := vr.Verify(tok); err != nil && c.Expect.Error == nil && c.Name != "valid_iat_override" {
				t.Errorf("Verify(minted) = %v", err)
			}
		})
	}
}

func TestVerifyVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.Verify) != 82 {
		t.Fatalf("got %d verify vectors, want 82", len(v.Verify))
	}
	differing := 0
	for _, c := range v.Verify {
		t.Run(c.Name, func(t *testing.T) {
			want := c.Expect
			if c.NimbusExpect != nil {
				differing++
				want = *c.NimbusExpect
			}
			vr := token.Verifier{Secret: c.Env["JWT_SECRET"], Previous: c.Env["JWT_SECRET_PREVIOUS"], Now: clockAt(c.NowMs)}
			got, err := vr.Verify(c.Token)
			if want.Error != nil {
				if err == nil {
					t.Fatalf("Verify succeeded, want %s", want.Error.Code)
				}
				checkError(t, err, want.Error)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.DOInstanceName != want.DOInstanceName {
				t.Errorf("doInstanceName = %s, want %s", got.DOInstanceName, want.DOInstanceName)
			}
			gotClaims, _ := got.Claims.MarshalJSON()
			assertSameJSON(t, gotClaims, want.Claims)
			wantSlot := token.Primary
			if c.Env["JWT_SECRET_PREVIOUS"] != "" && strings.Contains(c.Name, "previous") {
				wantSlot = token.Previous
			}
			if got.Secret != wantSlot {
				t.Errorf("secret slot = %v, want %v", got.Secret, wantSlot)
			}
		})
	}
	if differing != 4 {
		t.Errorf("%d vectors carry nimbus_expect, want exactly the 4 of decision b", differing)
	}
}

// assertSameJSON compares claims as ordered JSON: same keys in the same
// order with the same values.
func assertSameJSON(t *testing.T, got []byte, want json.RawMessage) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("claims are not JSON: %s", got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	gj, _ := json.Marshal(g)
	wj, _ := json.Marshal(w)
	if string(gj) != string(wj) {
		t.Errorf("claims = %s, want %s", gj, wj)
	}
	if keyOrder(got) != keyOrder(want) {
		t.Errorf("claim order = %s, want %s", keyOrder(got), keyOrder(want))
	}
}

func keyOrder(data []byte) string {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	var keys []string
	depth := 0
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tok := tok.(type) {
		case json.Delim:
			if tok == '{' || tok == '[' {
				depth++
			} else {
				depth--
			}
			expectKey = tok == '{' && depth == 1
			continue
		case string:
			if depth == 1 && expectKey {
				keys = append(keys, tok)
				expectKey = false
				continue
			}
		}
		if depth == 1 {
			expectKey = true
		}
	}
	return strings.Join(keys, ",")
}

func TestExtractBearerVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.ExtractBearer) != 19 {
		t.Fatalf("got %d extract_bearer vectors, want 19", len(v.ExtractBearer))
	}
	for i, c := range v.ExtractBearer {
		r := httptest.NewRequest(http.MethodGet, c.URL, nil)
		for k, val := range c.Headers {
			r.Header.Set(k, val)
		}
		got, err := token.ExtractBearer(r)
		switch {
		case c.Expect.Throws != "":
			var te *token.Error
			if !errors.As(err, &te) || te.Code != token.CodeAuthUnknown || te.HTTPStatus != 500 {
				t.Errorf("#%d %s: err = %v, want E_AUTH_UNKNOWN 500 (upstream throws %s)", i, c.URL, err, c.Expect.Throws)
			}
		case c.Expect.Token == nil:
			if !errors.Is(err, token.ErrTokenMalformed) || err.Error() != "Malformed token: no Bearer token in Authorization header, nimbus_token query, or cookie" {
				t.Errorf("#%d %v: got %q, %v; want no token", i, c.Headers, got, err)
			}
		default:
			if err != nil || got != *c.Expect.Token {
				t.Errorf("#%d %s %v: got %q, %v; want %q", i, c.URL, c.Headers, got, err, *c.Expect.Token)
			}
		}
	}
}

// claimsWith mints and verifies a token carrying the given scopes and sid,
// so scope checks run on real verified claims.
func claimsWith(t *testing.T, scopes *[]string, sid *string) token.Claims {
	t.Helper()
	in := token.Input{Tenant: new("acme"), SessionID: sid}
	if scopes != nil {
		in.Scopes = append([]string{}, *scopes...)
	}
	is := token.Issuer{Secret: "s", Now: clockAt(1750000000123)}
	tok, err := is.Mint(in)
	if err != nil {
		t.Fatal(err)
	}
	vr, err := token.Verifier{Secret: "s", Now: clockAt(1750000000123)}.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	return vr.Claims
}

func TestScopeCheckVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.ScopeChecks) != 9 {
		t.Fatalf("got %d scope_checks vectors, want 9", len(v.ScopeChecks))
	}
	for _, c := range v.ScopeChecks {
		t.Run(c.Name, func(t *testing.T) {
			claims := claimsWith(t, c.ClaimsScopes, c.ClaimsSid)
			err := token.RequireScopes(claims, c.Required...)
			if err == nil && c.PinAttempt != nil {
				err = token.RequireSessionPin(claims, *c.PinAttempt)
			}
			if c.Expect.OK {
				if err != nil {
					t.Fatalf("got %v, want ok", err)
				}
				return
			}
			checkError(t, err, c.Expect.Error)
		})
	}
}

func TestRequireAnyScope(t *testing.T) {
	legacy := claimsWith(t, nil, nil)
	if err := token.RequireAnyScope(legacy, token.ScopeSessionDestroy, token.ScopeSessionAdmin); err != nil {
		t.Errorf("legacy token: %v", err)
	}
	admin := claimsWith(t, &[]string{"sandbox:use", "session:admin"}, nil)
	if err := token.RequireAnyScope(admin, token.ScopeSessionDestroy, token.ScopeSessionAdmin); err != nil {
		t.Errorf("admin token: %v", err)
	}
	use := claimsWith(t, &[]string{"sandbox:use"}, nil)
	err := token.RequireAnyScope(use, token.ScopeSessionDestroy, token.ScopeSessionAdmin)
	checkError(t, err, &expectedError{Code: "E_SCOPE_MISSING", HTTPStatus: 403,
		Message:       "Nimbus token missing required scope: session:destroy or session:admin",
		RequiredScope: "session:destroy or session:admin"})
}

func TestDONameVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.DONames) != 3 {
		t.Fatalf("got %d do_names vectors, want 3", len(v.DONames))
	}
	for _, c := range v.DONames {
		if c.LegacyPublic {
			if got := token.LegacyPublicDOName(c.ID); got != c.SessionDO {
				t.Errorf("legacy = %s, want %s", got, c.SessionDO)
			}
			continue
		}
		in := token.Input{Tenant: &c.Tn, Subject: c.Sub}
		is := token.Issuer{Secret: "s"}
		tok, err := is.Mint(in)
		if err != nil {
			t.Fatal(err)
		}
		vr, err := token.Verifier{Secret: "s"}.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		sub := ""
		if c.Sub != nil {
			sub = *c.Sub
		}
		if vr.DOInstanceName != c.DOInstance || token.DOInstanceName(c.Tn, sub) != c.DOInstance {
			t.Errorf("doInstanceName = %s, want %s", vr.DOInstanceName, c.DOInstance)
		}
		if got := token.SessionDOName(vr, c.ID); got != c.SessionDO {
			t.Errorf("session DO = %s, want %s", got, c.SessionDO)
		}
		if got := token.SandboxDOName(vr, c.ID); got != c.SandboxDO {
			t.Errorf("sandbox DO = %s, want %s", got, c.SandboxDO)
		}
	}
}
