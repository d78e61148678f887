package token

import (
	"net/http"
	"slices"
	"strings"
)

// Scopes defined by Nimbus.
const (
	ScopeSessionCreate    = "session:create"
	ScopeSessionAttach    = "session:attach"
	ScopeSessionBootstrap = "session:bootstrap"
	ScopeSessionPreview   = "session:preview"
	ScopeSessionDestroy   = "session:destroy"
	ScopeSessionAdmin     = "session:admin"
	ScopeSandboxUse       = "sandbox:use"
)

// RequireScopes checks that the claims grant every required scope. A token
// without a scopes claim is legacy full trust and passes; otherwise the
// first missing scope, in the order given, is reported.
func RequireScopes(c Claims, required ...string) error {
	granted, ok := c.Scopes()
	if !ok {
		return nil
	}
	for _, s := range required {
		if !slices.Contains(granted, s) {
			return errScope(s)
		}
	}
	return nil
}

// RequireAnyScope checks that the claims grant at least one of the scopes,
// as the remote API's destroy op does with session:destroy or
// session:admin. The error names all of them, with upstream's wording.
func RequireAnyScope(c Claims, anyOf ...string) error {
	granted, ok := c.Scopes()
	if !ok {
		return nil
	}
	for _, s := range anyOf {
		if slices.Contains(granted, s) {
			return nil
		}
	}
	want := strings.Join(anyOf, " or ")
	return &Error{
		Code: CodeScopeMissing, HTTPStatus: http.StatusForbidden,
		Message:       "Nimbus token missing required scope: " + want,
		RequiredScope: want,
	}
}

// RequireSessionPin checks the sid pin: a token without sid may be used
// for any session or sandbox; one with sid only for that id.
func RequireSessionPin(c Claims, attempted string) error {
	sid, ok := c.SessionID()
	if !ok || sid == attempted {
		return nil
	}
	return errPin(sid, attempted)
}
