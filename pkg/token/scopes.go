package token

import (
	"net/http"
	"slices"
	"strings"
)

// Scopes defined by Nimbus.
const (
	// ScopeSessionCreate gates /new, which creates a browser session.
	ScopeSessionCreate = "session:create"
	// ScopeSessionAttach gates every /s/<id>/ route (shell, WebSocket,
	// /api/*) and scoped port-preview hosts; it is the only scope of the
	// cookie token the attach exchange mints.
	ScopeSessionAttach = "session:attach"
	// ScopeSessionBootstrap marks the single-use token /new mints (with a
	// jti and a 90 s lifetime); only the attach exchange accepts it.
	ScopeSessionBootstrap = "session:bootstrap"
	// ScopeSessionPreview marks the single-use token minted by GET
	// /s/<id>/api/preview-url (with a jti and a 90 s lifetime); only the
	// attach exchange of a port-preview host accepts it.
	ScopeSessionPreview = "session:preview"
	// ScopeSessionDestroy is needed, on top of ScopeSandboxUse, by the
	// remote API's destroy op (ScopeSessionAdmin also does).
	ScopeSessionDestroy = "session:destroy"
	// ScopeSessionAdmin is documented upstream as an admin capability; in
	// practice it only stands in for ScopeSessionDestroy.
	ScopeSessionAdmin = "session:admin"
	// ScopeSandboxUse gates the remote sandbox API (POST
	// <basePath>/sandboxes/<id>/rpc); it is that route's default required
	// scope.
	ScopeSandboxUse = "sandbox:use"
)

// KnownScopes returns the scopes Nimbus itself checks (the constants
// above). An embedder may require scopes of its own, so a token may carry
// others; this list tells a typo of these from those.
func KnownScopes() []string {
	return []string{ScopeSandboxUse, ScopeSessionDestroy, ScopeSessionAdmin, ScopeSessionCreate,
		ScopeSessionAttach, ScopeSessionBootstrap, ScopeSessionPreview}
}

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
