package sandboxclient

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// ReadyResult is the result of op ready.
type ReadyResult struct {
	// OK is the server's "ok", true on every successful answer.
	OK bool `json:"ok"`
	// Preinstalled lists the runtime specs the server installed or found
	// installed for this ready (wire "preinstalled"). When the server's
	// profile has its own preinstall list it wins, so this may differ
	// from the Preinstall the handle asked for.
	Preinstalled []string `json:"preinstalled"`
	// Diagnostics are notes of a backend that differs from a Worker's
	// sandbox (nimbus dev running commands with host paths); a Worker
	// sends none.
	Diagnostics []string `json:"diagnostics,omitempty"`
}

// DestroyResult is the result of op destroy and of DELETE /s/<id>/.
type DestroyResult struct {
	// OK is the server's "ok", true on every successful answer.
	OK bool `json:"ok"`
	// Killed is how many running processes the destroy killed (wire
	// "killed").
	Killed int `json:"killed"`
	// DestroyedAt is when the sandbox was wiped, in milliseconds since
	// the Unix epoch (wire "destroyedAt").
	DestroyedAt int64 `json:"destroyedAt"`
	// Reason is the reason as the server recorded it (wire "reason"):
	// trimmed and cut to 200 characters; nil when none was given or it
	// was empty.
	Reason *string `json:"reason"`
}

// confirmed checks that a destroy result says the sandbox is gone: a
// result without "ok":true (an empty object, a server that did not do
// it) must not pass for a destroyed sandbox, which `sandbox run` would
// then no longer name as left behind.
func (r *DestroyResult) confirmed() error {
	if !r.OK {
		return malformed("destroy", `the result does not confirm the destroy ("ok":true)`)
	}
	return nil
}

// Ready sends op ready once per handle (memoised, as the SDK does; reset by
// Destroy) and returns its result. Failures are not memoised.
func (s *Sandbox) Ready(ctx context.Context) (*ReadyResult, error) {
	if err := s.ensureReady(ctx); err != nil {
		return nil, err
	}
	s.readyMu.Lock()
	defer s.readyMu.Unlock()
	r := *s.ready
	return &r, nil
}

func (s *Sandbox) ensureReady(ctx context.Context) error {
	s.readyMu.Lock()
	defer s.readyMu.Unlock()
	if s.ready != nil {
		return nil
	}
	var r ReadyResult
	if err := s.rawCall(ctx, "ready", []any{map[string]any{"preinstall": s.opts.Preinstall}}, &r); err != nil {
		return err
	}
	if !r.OK {
		// The result is {ok:true, preinstalled}: anything else did not
		// say the sandbox is ready (its preinstalls done), and every op
		// after it would run on a sandbox in doubt.
		return malformed("ready", `the result does not say the sandbox is ready ("ok":true)`)
	}
	s.ready = &r
	return nil
}

func (s *Sandbox) resetReady() {
	s.readyMu.Lock()
	s.ready = nil
	s.readyMu.Unlock()
}

// BootProbe places the Durable Object without booting the shell (diagnostic).
func (s *Sandbox) BootProbe(ctx context.Context) error {
	return s.rawCall(ctx, "bootProbe", nil, nil)
}

// Destroy wipes the sandbox (files included) and kills its processes. It is
// not preceded by ready, and it resets the memoised ready so the handle can
// be used again on the fresh sandbox. The token needs session:destroy or
// session:admin when it carries explicit scopes.
func (s *Sandbox) Destroy(ctx context.Context, reason string) (*DestroyResult, error) {
	arg := map[string]any{}
	if reason != "" {
		arg["reason"] = reason
	}
	var r DestroyResult
	if err := s.rawCall(ctx, "destroy", []any{arg}, &r); err != nil {
		return nil, err
	}
	if err := r.confirmed(); err != nil {
		return nil, err
	}
	s.resetReady()
	return &r, nil
}

// DeleteSession destroys a sandbox through the REST alias DELETE
// {endpoint}/s/<id>/, sending reason as X-Nimbus-Cleanup-Reason.
func (c *Client) DeleteSession(ctx context.Context, id, reason string) (*DestroyResult, error) {
	if !ValidID(id) {
		return nil, &Error{Code: CodeSandboxID, Message: "invalid sandbox id " + quote(id)}
	}
	h := http.Header{}
	if reason != "" {
		h.Set("X-Nimbus-Cleanup-Reason", reason)
	}
	resp, err := c.send(ctx, request{
		method: http.MethodDelete, url: c.endpoint + "/s/" + url.PathEscape(id) + "/",
		sandboxID: id, accept: mediaJSON, header: h, safe: true,
	})
	if err != nil {
		return nil, err
	}
	var r DestroyResult
	if err := c.decodeEnvelope(ctx, "destroy", resp, &r); err != nil {
		return nil, err
	}
	if err := r.confirmed(); err != nil {
		return nil, err
	}
	return &r, nil
}

// NewSession is a browser session created by POST /new.
type NewSession struct {
	// SessionID is the new session's sandbox id, taken from the
	// redirect's Location (the JSON tag only names it for callers that
	// print the struct).
	SessionID string `json:"sessionId"`
	// URL is the Location resolved against the endpoint; it may carry a
	// single-use bootstrap token.
	URL string `json:"url"`
}

// CreateSession posts to /new without following the redirect and reads the
// session id from Location, as upstream `nimbus session new` does. The token
// (if any) is requested for sandbox id "" and needs session:create.
func (c *Client) CreateSession(ctx context.Context) (*NewSession, error) {
	resp, err := c.send(ctx, request{method: http.MethodPost, url: c.endpoint + "/new", accept: mediaJSON})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 300 || resp.StatusCode >= 400 {
		if err := c.decodeEnvelope(ctx, "new", resp, nil); err != nil {
			return nil, err
		}
		return nil, &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: "POST /new answered without a redirect"}
	}
	drain(resp.Body)
	loc := resp.Header.Get("Location")
	// The URL is printed and opened in browsers: it is resolved against
	// the endpoint without its userinfo, so no basic-auth password rides
	// along.
	base, _ := url.Parse(c.shown + "/")
	target, err := base.Parse(loc)
	if loc == "" || err != nil {
		return nil, &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: "POST /new answered without a usable Location"}
	}
	if got := origin(target); got != origin(base) {
		// The spec's answer is a path on the Worker (`/s/<id>/`); one on
		// another origin would send the user's browser, and the bootstrap
		// token in its query, to a host the endpoint did not name.
		return nil, &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: "POST /new redirected to " + quote(sanitize(withoutToken(got, resp.Request), 300)) + ", another origin than the endpoint's " + quote(origin(base)) + "; is the endpoint right?"}
	}
	rest, ok := strings.CutPrefix(target.EscapedPath(), "/s/")
	id, _, _ := strings.Cut(rest, "/")
	id, uerr := url.PathUnescape(id)
	if !ok || uerr != nil || id == "" {
		return nil, &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: "POST /new redirected to an unexpected location"}
	}
	if !ValidID(id) {
		// The id is printed and handed to every later command (and to
		// URLs): one no sandbox may have (a space, a line break, a
		// terminal escape, 129 bytes) is a broken answer, not an id.
		return nil, &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: "POST /new redirected to an invalid session id " + quote(sanitize(withoutToken(id, resp.Request), 140))}
	}
	return &NewSession{SessionID: id, URL: target.String()}, nil
}

// origin returns u's scheme://host, the host in lower case and without the
// scheme's default port, so that equal origins compare equal. It carries
// neither userinfo, path nor query (a token there stays out of messages).
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" && !(scheme == "http" && p == "80") && !(scheme == "https" && p == "443") {
		host += ":" + p
	}
	return scheme + "://" + host
}
