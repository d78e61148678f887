package sandboxclient

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// PreviewLink is the answer of the session route
// GET /s/<id>/api/preview-url?port=<n>: a host-style preview URL carrying a
// single-use session:preview token, or no URL and the reason.
type PreviewLink struct {
	// URL is nil when the deployment has no preview host suffix or the
	// sandbox id is not host-safe.
	URL *string `json:"url"`
	// Reason says why there is no URL ("unavailable").
	Reason string `json:"reason,omitempty"`
}

// maxPreviewAnswer bounds the answer of the preview-url route.
const maxPreviewAnswer = 64 << 10

// PreviewDoor returns the path-style preview door of a port on the Worker,
// /s/<escaped id>/port/<port>, without a trailing slash.
func (s *Sandbox) PreviewDoor(port int) string {
	return "/s/" + url.PathEscape(s.id) + "/port/" + strconv.Itoa(port)
}

// PreviewURL asks the Worker's session route for a signed preview URL of
// port. The route requires session:attach (the sandbox's pin included), so
// it also tells whether this client's token may use the preview doors: a
// refusal is a *RemoteError (401, 403). A deployment that does not serve
// the route answers an *Error with CodeAPINotEnabled and Status 404.
func (s *Sandbox) PreviewURL(ctx context.Context, port int) (*PreviewLink, error) {
	if err := validPort(port); err != nil {
		return nil, err
	}
	u := s.c.endpoint + "/s/" + url.PathEscape(s.id) + "/api/preview-url?port=" + strconv.Itoa(port)
	resp, err := s.c.send(ctx, request{method: http.MethodGet, url: u, sandboxID: s.id, accept: mediaJSON, safe: true})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 || resp.StatusCode == http.StatusNotFound {
		return nil, notEnabled(resp, nil)
	}
	var body struct {
		URL    *string `json:"url"`
		Reason string  `json:"reason"`
		Error  string  `json:"error"`
		Code   string  `json:"code"`
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxPreviewAnswer))
	if err := dec.Decode(&body); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		if errors.As(err, &syn) || errors.As(err, &typ) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, notEnabled(resp, nil)
		}
		return nil, &Error{Code: CodeTransport, Status: resp.StatusCode, Message: "preview-url: reading the answer failed", Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		msg := body.Error
		if msg == "" {
			msg = "preview-url refused (HTTP " + strconv.Itoa(resp.StatusCode) + ")"
		}
		return nil, &RemoteError{Op: "preview-url", Status: resp.StatusCode, Code: serverText(body.Code, resp.Request, maxServerCode), Message: serverText(msg, resp.Request, MaxServerText), Host: answeredBy(resp)}
	}
	if body.URL != nil && !strings.HasPrefix(*body.URL, "https://") && !strings.HasPrefix(*body.URL, "http://") {
		return nil, &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: "preview-url answered a URL that is not http(s)"}
	}
	return &PreviewLink{URL: body.URL, Reason: body.Reason}, nil
}

// Token returns the bearer token this client sends for sandboxID, or ""
// when it sends none: for callers that reach other routes of the Worker
// (the preview doors) with the same credential.
func (c *Client) Token(ctx context.Context, sandboxID string) (string, error) {
	if c.tokens == nil {
		return "", nil
	}
	return c.tokens.Token(ctx, sandboxID)
}
