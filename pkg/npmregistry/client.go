package npmregistry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-sh/nimbus/internal/retryafter"
	"github.com/nimbus-sh/nimbus/internal/stall"
)

// Defaults for a Client's zero fields.
const (
	// DefaultMaxRetries is how many times a failed packument GET is
	// retried when Client.MaxRetries is zero.
	DefaultMaxRetries = 2
	// DefaultRetryBackoff is the first retry delay when
	// Client.RetryBackoff is zero; a Retry-After from the registry (up to
	// 10 s) takes precedence.
	DefaultRetryBackoff = 500 * time.Millisecond
	// DefaultStallTimeout is how long a download may go without a byte.
	DefaultStallTimeout = 60 * time.Second
	// DefaultMinRate is the slowest an answer may arrive, in bytes per
	// second, measured over each StallTimeout: the pace every transfer
	// keeps (2 KiB/s, 120 KiB a minute), which a 20 kbit/s link still
	// carries. A registry that drips its answer never goes silent for a
	// whole StallTimeout, and would otherwise hold the caller for as long
	// as a 1 GiB tarball takes at that pace.
	DefaultMinRate = stall.MinRate
	// DefaultMaxTarball bounds a tarball download.
	DefaultMaxTarball = 1 << 30
	// maxPackument bounds a packument; abbreviated ones of even the largest
	// packages stay well below it.
	maxPackument  = 64 << 20
	maxRetryAfter = 10 * time.Second
)

// Client talks to one npm registry. Its zero value is not usable: Registry
// must be set (ResolveRegistry gives it).
type Client struct {
	// Registry is the registry base URL, ending in "/".
	Registry string
	// HTTPClient defaults to one with connect, TLS and response-header
	// timeouts and no overall timeout (downloads are bounded by stalls).
	HTTPClient *http.Client
	// UserAgent is sent on every request.
	UserAgent string
	// MaxRetries after a transport error, 408, 429 or 5xx on a GET of a
	// packument; a negative value means none. Zero means DefaultMaxRetries.
	MaxRetries int
	// RetryBackoff is the first retry delay, doubled per retry.
	RetryBackoff time.Duration
	// StallTimeout aborts a transfer that moves no byte for this long,
	// or less than MinRate's share of bytes; zero means
	// DefaultStallTimeout.
	StallTimeout time.Duration
	// MinRate is the slowest an answer may arrive, in bytes per second
	// over each StallTimeout; zero means DefaultMinRate, a negative value
	// asks for a byte per StallTimeout only.
	MinRate int64
	// MaxTarball bounds a download; zero means DefaultMaxTarball.
	MaxTarball int64
	// Token, when set, is sent as "Authorization: Bearer <Token>" (a
	// private registry or mirror) on requests to the Registry's origin
	// (scheme, host and port) only: a tarball URL or a redirect that points
	// elsewhere (a CDN, another registry) gets no credentials, as npm
	// scopes its _authToken to a registry. It never appears in an error.
	Token string
}

// Packument is the part of a package document nimbus reads. The registry
// may send the abbreviated ("corgi") form, which is all that is needed.
type Packument struct {
	// Name is the package name, scope included
	// (@nimbus-sh/runtime-cpython).
	Name string `json:"name"`
	// DistTags maps tags such as "latest" to versions (wire "dist-tags").
	DistTags map[string]string `json:"dist-tags"`
	// Versions maps each published version string to its metadata.
	Versions map[string]Version `json:"versions"`
}

// Version is one published version.
type Version struct {
	// Name is the package name, as in the packument.
	Name string `json:"name"`
	// Version is the version string, the key it is listed under.
	Version string `json:"version"`
	// Dist says where the tarball is and what it hashes to.
	Dist Dist `json:"dist"`
	// Deprecated is the deprecation message, if any.
	Deprecated string `json:"-"`
}

// Dist says where a version's tarball is and what it hashes to.
type Dist struct {
	// Tarball is the tarball's absolute URL, usually on the registry's
	// host.
	Tarball string `json:"tarball"`
	// Integrity is the tarball's Subresource Integrity string
	// ("sha512-<base64>"); parse it with ParseIntegrity. Empty for very
	// old packages, which then cannot be verified.
	Integrity string `json:"integrity"`
	// Shasum is the tarball's hex SHA-1, as npm has always published it.
	// Nothing verifies against it: SHA-1 does not protect against a forged
	// tarball, so Integrity is required instead.
	Shasum string `json:"shasum"`
}

// UnmarshalJSON accepts "deprecated" as a string or a boolean, as
// registries write both.
func (v *Version) UnmarshalJSON(b []byte) error {
	type plain Version
	var aux struct {
		plain
		Deprecated json.RawMessage `json:"deprecated"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*v = Version(aux.plain)
	var s string
	if json.Unmarshal(aux.Deprecated, &s) == nil {
		v.Deprecated = s
	}
	return nil
}

func (c *Client) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return defaultHTTPClient()
}

// defaultHTTPClient is built on first use, not at start-up: every nimbus
// command links this package, few of them talk to npm.
var defaultHTTPClient = sync.OnceValue(func() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: tr}
})

// registryOrigin reports whether u is on the Registry's origin, the only
// place Token is sent.
func (c *Client) registryOrigin(u *url.URL) bool {
	reg, err := url.Parse(c.Registry)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Scheme, reg.Scheme) && strings.EqualFold(hostPort(u), hostPort(reg))
}

// hostPort is u's host with the scheme's default port made explicit, so
// https://r.example and https://r.example:443 are one origin.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// do sends req with the Token on the registry's origin. A redirect keeps
// it only while it stays on that origin: net/http would forward it to the
// same host on another port, or to a subdomain.
func (c *Client) do(req *http.Request) (*http.Response, error) {
	hc := c.httpClient()
	if c.Token == "" {
		return hc.Do(req)
	}
	if c.registryOrigin(req.URL) {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	scoped := *hc
	next := hc.CheckRedirect
	scoped.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if !c.registryOrigin(r.URL) {
			r.Header.Del("Authorization")
		}
		if next != nil {
			return next(r, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return scoped.Do(req)
}

// PackageURL returns the packument URL of name: a scoped name is escaped
// as one path segment ("@scope%2fname"), as npm does.
func (c *Client) PackageURL(name string) (string, error) {
	if !validName(name) {
		return "", &Error{Kind: KindInvalid, Code: CodeInvalid, Message: "invalid npm package name " + quote(name)}
	}
	base, err := normalizeRegistry(c.Registry)
	if err != nil {
		return "", err
	}
	return base + strings.Replace(name, "/", "%2f", 1), nil
}

// validName accepts lowercase npm names, scoped or not, without anything
// that could escape the URL path.
func validName(name string) bool {
	rest := name
	if strings.HasPrefix(name, "@") {
		scope, pkg, ok := strings.Cut(name[1:], "/")
		if !ok || !validPart(scope) || !validPart(pkg) {
			return false
		}
		return len(name) <= 214
	}
	return validPart(rest) && len(name) <= 214
}

func validPart(s string) bool {
	if s == "" || s[0] == '.' || s[0] == '_' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// Packument fetches the package document of name.
func (c *Client) Packument(ctx context.Context, name string) (*Packument, error) {
	u, err := c.PackageURL(name)
	if err != nil {
		return nil, err
	}
	what := "fetch the npm packument of " + name
	// The body is bounded by stalls like a download: the transport's
	// timeouts end at the headers, and a registry that stops mid-answer
	// would otherwise hold an unattended CI job until its own timeout.
	sctx, wd := c.watchdog(ctx)
	defer wd.Stop()
	res, err := c.getWithRetry(sctx, u, "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*", what)
	if err != nil {
		return nil, stalled(ctx, what, wd, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(wd.Reader(res.Body), maxPackument+1))
	if err != nil {
		return nil, transportError(ctx, what, wd.Err(err))
	}
	if len(data) > maxPackument {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalid, Message: what + ": answer larger than 64 MiB"}
	}
	var p Packument
	if err := json.Unmarshal(data, &p); err != nil || p.Versions == nil {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalid, Err: err,
			Message: what + ": the registry did not answer with a packument",
			Hint:    "check npm's registry setting (NPM_CONFIG_REGISTRY, registry= in .npmrc): it must point at an npm registry"}
	}
	if p.Name != "" && p.Name != name {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalid,
			Message: fmt.Sprintf("%s: the registry answered with package %q", what, p.Name)}
	}
	return &p, nil
}

// watchdog bounds one transfer: StallTimeout without a byte, or with less
// than MinRate's share of them, ends it.
func (c *Client) watchdog(ctx context.Context) (context.Context, *stall.Watchdog) {
	d := c.stallTimeout()
	rate := c.MinRate
	if rate == 0 {
		rate = DefaultMinRate
	}
	return stall.NewRate(ctx, d, stall.MinBytes(d, max(rate, 0)))
}

func (c *Client) stallTimeout() time.Duration {
	if c.StallTimeout <= 0 {
		return DefaultStallTimeout
	}
	return c.StallTimeout
}

// stalled reports an error of a request made under the watchdog wd as a
// stall when the watchdog is what ended it.
func stalled(ctx context.Context, what string, wd *stall.Watchdog, err error) error {
	if e, ok := AsError(err); ok && e.Err != nil {
		e.Err = wd.Err(e.Err)
		if errors.Is(e.Err, stall.ErrStalled) {
			return transportError(ctx, what, e.Err)
		}
	}
	return err
}

func (c *Client) retries() (int, time.Duration) {
	n := c.MaxRetries
	switch {
	case n == 0:
		n = DefaultMaxRetries
	case n < 0:
		n = 0
	}
	b := c.RetryBackoff
	if b <= 0 {
		b = DefaultRetryBackoff
	}
	return n, b
}

func retryable(res *http.Response, err error) bool {
	if err != nil {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	return res.StatusCode == http.StatusRequestTimeout || res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500
}

// getWithRetry GETs u and returns a 2xx response; anything else is an *Error.
func (c *Client) getWithRetry(ctx context.Context, u, accept, what string) (*http.Response, error) {
	max, backoff := c.retries()
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, &Error{Kind: KindInvalid, Code: CodeInvalid, Message: what + ": " + err.Error(), Err: err}
		}
		req.Header.Set("Accept", accept)
		if c.UserAgent != "" {
			req.Header.Set("User-Agent", c.UserAgent)
		}
		res, err := c.do(req)
		if err == nil && res.StatusCode < 300 {
			return res, nil
		}
		if attempt >= max || !retryable(res, err) {
			if err != nil {
				return nil, transportError(ctx, what, err)
			}
			defer res.Body.Close()
			return nil, statusError(res, what, c.Token != "")
		}
		delay := backoff << attempt
		if res != nil {
			// Only a value internal/retryafter can read overrides the
			// backoff: "5abc" is not 5 seconds to any other client.
			if wait, ok := retryafter.Parse(res.Header.Get("Retry-After"), time.Now()); ok {
				delay = min(wait, maxRetryAfter)
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
			res.Body.Close()
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, transportError(ctx, what, ctx.Err())
		case <-t.C:
		}
	}
}

func statusError(res *http.Response, what string, withToken bool) *Error {
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	switch {
	case res.StatusCode == http.StatusNotFound:
		return &Error{Kind: KindNotFound, Code: CodeNotFound, Status: res.StatusCode, Message: what + ": not found (HTTP 404)"}
	case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
		// A refusal comes back on every rerun: the setting or the token
		// must change.
		hint := "the Nimbus runtime packages are public; check npm's registry setting (NPM_CONFIG_REGISTRY, registry= in .npmrc); " +
			"a private registry or mirror needs its token in NIMBUS_NPM_TOKEN or NIMBUS_NPM_TOKEN_FILE"
		if withToken {
			hint = "check the registry token (NIMBUS_NPM_TOKEN, NIMBUS_NPM_TOKEN_FILE): it is sent to the registry's host only, so a tarball elsewhere gets none; and check npm's registry setting (NPM_CONFIG_REGISTRY, registry= in .npmrc)"
		}
		return &Error{Kind: KindInvalid, Code: CodeInvalid, Status: res.StatusCode,
			Message: fmt.Sprintf("%s: the registry refused access (HTTP %d)", what, res.StatusCode),
			Hint:    hint}
	case res.StatusCode == http.StatusRequestTimeout || res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		return &Error{Kind: KindUnavailable, Code: CodeUnavailable, Status: res.StatusCode,
			Message: fmt.Sprintf("%s: the registry is unavailable (HTTP %d)", what, res.StatusCode),
			Hint:    "retry later; the command is safe to rerun"}
	default:
		return &Error{Kind: KindInvalid, Code: CodeInvalid, Status: res.StatusCode,
			Message: fmt.Sprintf("%s: the registry answered HTTP %d", what, res.StatusCode)}
	}
}

func transportError(ctx context.Context, what string, err error) *Error {
	if errors.Is(err, stall.ErrStalled) {
		return &Error{Kind: KindUnavailable, Code: CodeUnavailable, Err: err,
			Message: what + ": the transfer stalled (" + err.Error() + ")", Hint: "check the network, then rerun; finished work is kept"}
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return &Error{Kind: KindInterrupted, Code: CodeInterrupted, Err: err, Message: what + ": interrupted"}
	}
	return &Error{Kind: KindUnavailable, Code: CodeUnavailable, Err: err,
		Message: what + ": cannot reach the npm registry (" + describeNetErr(err) + ")",
		Hint:    "check the network and npm's registry setting (NPM_CONFIG_REGISTRY, registry= in .npmrc), then rerun"}
}

// describeNetErr drops the URL a *url.Error repeats.
func describeNetErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// Download streams the tarball at tarballURL into w, hashing it on the way,
// and fails with KindIntegrity unless the bytes match integ. The caller must
// treat what was written as unusable until Download returns nil. progress,
// if set, is called once the answer arrives (done 0) and after each chunk,
// with the bytes so far and the announced total (-1 when unknown).
func (c *Client) Download(ctx context.Context, tarballURL string, integ Integrity, w io.Writer, progress func(done, total int64)) (int64, error) {
	// Every message names the URL redacted: a private registry's
	// tarball URL may carry a user:password or a signed token in its
	// query, and messages reach logs and CI output.
	if integ.IsZero() {
		return 0, &Error{Kind: KindIntegrity, Code: CodeIntegrity, Message: "refusing to download " + redactURL(tarballURL) + " without an integrity hash"}
	}
	u, err := url.Parse(tarballURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return 0, &Error{Kind: KindInvalid, Code: CodeInvalid, Message: "invalid tarball URL " + quote(redactURL(tarballURL))}
	}
	u.User = nil
	what := "download " + redactURL(u.String())
	max := c.MaxTarball
	if max <= 0 {
		max = DefaultMaxTarball
	}
	sctx, wd := c.watchdog(ctx)
	defer wd.Stop()
	res, err := c.getWithRetry(sctx, u.String(), "application/octet-stream, */*", what)
	if err != nil {
		return 0, stalled(ctx, what, wd, err)
	}
	defer res.Body.Close()
	if res.ContentLength > max {
		return 0, &Error{Kind: KindInvalid, Code: CodeInvalid, Message: fmt.Sprintf("%s: %d bytes is more than the %d allowed", what, res.ContentLength, max)}
	}
	h := integ.New()
	var n int64
	if progress != nil {
		progress(0, res.ContentLength)
	}
	buf := make([]byte, 64<<10)
	body := wd.Reader(res.Body)
	for {
		m, rerr := body.Read(buf)
		if m > 0 {
			n += int64(m)
			if n > max {
				return n, &Error{Kind: KindInvalid, Code: CodeInvalid, Message: fmt.Sprintf("%s: more than the %d bytes allowed", what, max)}
			}
			h.Write(buf[:m])
			if _, werr := w.Write(buf[:m]); werr != nil {
				return n, werr
			}
			if progress != nil {
				progress(n, res.ContentLength)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return n, transportError(ctx, what, wd.Err(rerr))
		}
	}
	if res.ContentLength >= 0 && n != res.ContentLength {
		return n, &Error{Kind: KindUnavailable, Code: CodeUnavailable,
			Message: fmt.Sprintf("%s: the connection ended after %d of %d bytes", what, n, res.ContentLength), Hint: "rerun to download it again"}
	}
	if sum := h.Sum(nil); !integ.Matches(sum) {
		got := Integrity{Algorithm: integ.Algorithm, Digest: sum}
		return n, &Error{Kind: KindIntegrity, Code: CodeIntegrity,
			Message: fmt.Sprintf("%s: integrity mismatch: the registry lists %s, the %d bytes received hash to %s", what, integ, n, got),
			Hint:    "the tarball was altered in transit or in the registry (a proxy or mirror?); nothing from it was used"}
	}
	return n, nil
}
