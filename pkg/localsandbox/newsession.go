package localsandbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// bootstrapTTL is the lifetime of the token /new hands out, as upstream.
const bootstrapTTL = 90 * time.Second

// serveNew answers GET|POST /new as a Worker does (sandbox-api.md §1.9):
// with the token's session:create scope, a 302 to /s/<friendly id>/
// carrying a single-use, sid-pinned session:bootstrap token valid 90 s.
// Refusals are JSON {"error","code"} without "ok"; a 401 adds
// WWW-Authenticate. A token from the cookie is accepted from this
// origin only (403 E_CROSS_SITE_REFUSED), as on every route. The sandbox itself is created by its first op.
func (s *Server) serveNew(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	// A token from the cookie is held to the same-origin rule of every
	// route: another site's page must not mint sessions with it.
	p, aerr := sandboxserver.AuthenticateRequest(s.auth, r, "", []string{token.ScopeSessionCreate})
	if aerr != nil {
		if aerr.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="nimbus"`)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(aerr.Status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": aerr.Message, "code": aerr.Code})
		return
	}
	claims := p.(sandboxserver.TokenPrincipal).Claims
	sid, err := friendlyID()
	if err != nil {
		http.Error(w, "cannot create a session id", http.StatusInternalServerError)
		return
	}
	jtiBytes := make([]byte, 16)
	_, _ = rand.Read(jtiBytes)
	jti := hex.EncodeToString(jtiBytes)
	tenant := claims.Tenant()
	ttl := bootstrapTTL
	in := token.Input{Tenant: &tenant, Scopes: []string{token.ScopeSessionBootstrap}, SessionID: &sid, JTI: &jti, TTL: &ttl}
	if sub, ok := claims.Subject(); ok {
		in.Subject = &sub
	}
	boot, err := token.Issuer{Secret: s.opts.Secret, Now: s.opts.Now}.Mint(in)
	if err != nil {
		http.Error(w, "cannot mint the bootstrap token", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/s/"+url.PathEscape(sid)+"/?nimbus_token="+url.QueryEscape(boot))
	w.WriteHeader(http.StatusFound)
}

var (
	friendlyAdjectives = []string{"amber", "brave", "calm", "clever", "eager", "gentle", "lucky", "nimble", "quiet", "sunny", "swift", "witty"}
	friendlyNouns      = []string{"badger", "comet", "falcon", "harbor", "lynx", "maple", "meadow", "otter", "pine", "river", "sparrow", "willow"}
)

// friendlyID returns an adjective-noun-NNNN session id, the form the
// browser page recognises.
func friendlyID() (string, error) {
	pick := func(n int) (int, error) {
		v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
		if err != nil {
			return 0, err
		}
		return int(v.Int64()), nil
	}
	a, err := pick(len(friendlyAdjectives))
	if err != nil {
		return "", err
	}
	b, err := pick(len(friendlyNouns))
	if err != nil {
		return "", err
	}
	n, err := pick(9000)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s-%s-%d", friendlyAdjectives[a], friendlyNouns[b], 1000+n), nil
}
