package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// envelope is the Cloudflare API v4 response wrapper.
type envelope struct {
	Success  bool            `json:"success"`
	Errors   []envelopeItem  `json:"errors"`
	Messages json.RawMessage `json:"messages"`
	Result   json.RawMessage `json:"result"`
}

type envelopeItem struct {
	Code    int64  `json:"code"`
	Message string `json:"message"`
}

// envelopeError is a failed v4 call made by the hand-written helper.
type envelopeError struct {
	failure apiFailure
}

// Error describes the failure without the request URL or body.
func (e *envelopeError) Error() string { return "cloudflare: " + e.failure.describe() }

// maxEnvelopeBody bounds how much of an error or JSON answer is read.
const maxEnvelopeBody = 4 << 20

// do sends one request on the same base URL, token and retry policy as the
// cloudflare-go services. path is relative to the base and already escaped.
func (c *Client) do(ctx context.Context, method, path string, body []byte, contentType string) (*http.Response, error) {
	u, err := c.base.Parse(strings.TrimLeft(path, "/"))
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := c.retry.middleware(req, c.httpClient.Do)
	if err != nil {
		return nil, err
	}
	if res.StatusCode >= 300 {
		defer res.Body.Close()
		return nil, decodeFailure(res)
	}
	return res, nil
}

// decodeFailure reads a non-2xx answer. Bodies that are not an envelope (a
// proxy's HTML page, say) still yield the status.
func decodeFailure(res *http.Response) error {
	f := apiFailure{status: res.StatusCode}
	f.retryAfter, f.hasRetryAfter = retryAfter(res)
	data, _ := io.ReadAll(io.LimitReader(res.Body, maxEnvelopeBody))
	var env envelope
	if json.Unmarshal(data, &env) == nil {
		for _, e := range env.Errors {
			f.codes = append(f.codes, e.Code)
			f.messages = append(f.messages, e.Message)
		}
	}
	return &envelopeError{failure: f}
}

// decodeEnvelope reads a 2xx JSON answer and unmarshals result into dst.
// A 2xx with success=false is a failure, as the v4 contract says.
func decodeEnvelope(res *http.Response, dst any) error {
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxEnvelopeBody))
	if err != nil {
		return err
	}
	var env envelope
	var success struct {
		Success *bool `json:"success"`
	}
	if json.Unmarshal(data, &env) != nil || json.Unmarshal(data, &success) != nil || success.Success == nil {
		return malformedAnswer(res, data)
	}
	if !env.Success {
		f := apiFailure{status: res.StatusCode}
		for _, e := range env.Errors {
			f.codes = append(f.codes, e.Code)
			f.messages = append(f.messages, e.Message)
		}
		return &envelopeError{failure: f}
	}
	if dst != nil && len(env.Result) > 0 {
		if err := json.Unmarshal(env.Result, dst); err != nil {
			return fmt.Errorf("cloudflare: malformed result: %w", err)
		}
	}
	return nil
}

// requireSuccess turns a 2xx answer whose envelope says "success": false
// into an *envelopeError. The v4 contract makes such an answer a failure,
// but cloudflare-go only looks at the status, so without this a bucket
// creation Cloudflare refused with HTTP 200 would be reported as created.
// A 2xx that is not a JSON object with "success" (an HTML page from a
// proxy, JSON cut short, an object without the envelope) is a failure too.
// A body larger than maxEnvelopeBody (no answer nimbus reads through
// cloudflare-go comes near it) is a failure too: cloudflare-go would read
// it whole into memory, and an endless one for as long as the request's
// timeout lets it.
func requireSuccess(req *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	res, err := next(req)
	if err != nil || res.StatusCode < 200 || res.StatusCode >= 300 || res.Body == nil {
		return res, err
	}
	data, rerr := io.ReadAll(io.LimitReader(res.Body, maxEnvelopeBody+1))
	if rerr == nil && len(data) > maxEnvelopeBody {
		_ = res.Body.Close()
		return nil, &envelopeError{failure: apiFailure{status: res.StatusCode,
			malformed: fmt.Sprintf("more than %d MiB of %s", maxEnvelopeBody>>20, contentType(res))}}
	}
	if rerr != nil {
		res.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(data), errReader{rerr}, res.Body), res.Body}
		return res, nil
	}
	_ = res.Body.Close()
	var env struct {
		Success *bool          `json:"success"`
		Errors  []envelopeItem `json:"errors"`
	}
	if json.Unmarshal(data, &env) != nil || env.Success == nil {
		// cloudflare-go would decode an object without "success" as a
		// result (a bucket GET answered {} read as "the bucket exists")
		// and report garbage as a transport failure.
		return nil, malformedAnswer(res, data)
	}
	if !*env.Success {
		f := apiFailure{status: res.StatusCode}
		for _, e := range env.Errors {
			f.codes = append(f.codes, e.Code)
			f.messages = append(f.messages, e.Message)
		}
		return nil, &envelopeError{failure: f}
	}
	res.Body = io.NopCloser(bytes.NewReader(data))
	return res, nil
}

// malformedAnswer is the failure of a 2xx answer that is not a v4
// envelope. It names the content type and length, not the bytes.
func malformedAnswer(res *http.Response, data []byte) error {
	return &envelopeError{failure: apiFailure{status: res.StatusCode,
		malformed: fmt.Sprintf("%d bytes of %s", len(data), contentType(res))}}
}

// contentType is the answer's Content-Type, as an error names it.
func contentType(res *http.Response) string {
	if ct := res.Header.Get("Content-Type"); ct != "" {
		return ct
	}
	return "no content type"
}

// errReader replays a read error after the bytes read before it (a nil
// error reads as nothing, so the rest of the body follows).
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	return 0, io.EOF
}
