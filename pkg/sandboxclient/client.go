package sandboxclient

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nimbus-sh/nimbus/internal/localhost"
	"github.com/nimbus-sh/nimbus/internal/userinfo"
)

// DefaultBasePath is the remote API's default mount point.
const DefaultBasePath = "/api/nimbus/v1"

// DefaultRoot is the sandbox root (default cwd) when neither the caller nor
// a profile sets one.
const DefaultRoot = "/home/user"

// DefaultProfile is the profile name sent when none is given.
const DefaultProfile = "default"

// DefaultWriteLimit is the largest single writeFile payload, in raw bytes,
// accepted before anything is sent (nimbus decision e).
const DefaultWriteLimit int64 = 20 << 20

// DefaultReadChunkThreshold is the size above which reads switch from one
// readFileBytes to chunked readRange calls (the server refuses reads above
// its 28 MiB envelope).
const DefaultReadChunkThreshold int64 = 28 << 20

// DefaultReadChunkSize is the readRange chunk used for big reads.
const DefaultReadChunkSize int64 = 8 << 20

// maxJSONResponse bounds how much of a JSON answer is read: the largest
// legitimate answer is a 28 MiB read in base64 plus the envelope.
const maxJSONResponse = 40 << 20

// TokenSource supplies the bearer token for a request. sandboxID is the
// target sandbox, or "" for routes that are not tied to one (POST /new), so
// an implementation can mint tokens pinned to the sandbox.
type TokenSource interface {
	// Token returns the bearer token for one request to sandboxID; an
	// error fails the request before anything is sent. It is called once
	// per request (retries of that request reuse the token), so a source
	// can mint short-lived tokens. It must be safe for concurrent use:
	// a Client may send several requests at once.
	Token(ctx context.Context, sandboxID string) (string, error)
}

// StaticToken is a TokenSource that always returns the same token.
type StaticToken string

// Token returns the token itself.
func (t StaticToken) Token(context.Context, string) (string, error) { return string(t), nil }

// TokenFunc adapts a function to TokenSource.
type TokenFunc func(ctx context.Context, sandboxID string) (string, error)

// Token calls f.
func (f TokenFunc) Token(ctx context.Context, sandboxID string) (string, error) {
	return f(ctx, sandboxID)
}

// RetryPolicy bounds the retries of safe operations.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts including the first; values
	// below 1 mean the default (4).
	MaxAttempts int
	// MaxWait caps each wait (Retry-After or backoff); 0 means
	// DefaultMaxWait.
	MaxWait time.Duration
	// DefaultWait is used for connection failures and for a 503 without a
	// usable Retry-After; 0 means 1s.
	DefaultWait time.Duration
}

// Options configure a Client.
type Options struct {
	// Endpoint is the Worker origin, e.g. https://my-nimbus.workers.dev.
	Endpoint string
	// BasePath is the API mount point; "" means DefaultBasePath.
	BasePath string
	// Tokens supplies bearer tokens; nil sends none (legacy deployments).
	Tokens TokenSource
	// HTTPClient is used for requests; nil means a client of the package's
	// own, with the HTTPTimeout on connecting and the TLS handshake, TCP
	// keepalive and answer headers bounded by MaxResponseHeaderBytes. A given client is copied, never modified: the copy
	// refuses redirects.
	HTTPClient *http.Client
	// HTTPTimeout bounds every phase of an exchange that should be quick:
	// connecting and the TLS handshake (with the package's own client), a
	// request body the server stops reading, waiting for response headers
	// and a JSON answer that stops arriving or drips (less than 2 KiB per
	// second of waiting over a whole timeout). 0 means DefaultHTTPTimeout; a
	// negative value disables these bounds. Ops that run commands wait
	// longer for their headers (see Exec); a streamed exec may be silent
	// without bound between frames once its headers arrived, but a frame
	// that has started is bounded like a JSON answer.
	HTTPTimeout time.Duration
	// Retry bounds retries of safe operations.
	Retry RetryPolicy
	// WriteLimit is the largest writeFile payload in bytes; 0 means
	// DefaultWriteLimit.
	WriteLimit int64
	// ReadChunkSize is the readRange chunk used above the 28 MiB threshold; 0
	// means DefaultReadChunkSize.
	ReadChunkSize int64
	// ReadChunkThreshold is the size above which reads are chunked; 0 means
	// DefaultReadChunkThreshold.
	ReadChunkThreshold int64
	// PreviewHostSuffix is the deployment's NIMBUS_PREVIEW_HOST_SUFFIX, used
	// only to build port URLs. Under a loopback suffix (localhost, or a
	// name under .localhost) the URLs keep the endpoint's scheme and port,
	// where a local server (nimbus dev, wrangler dev) serves them. When it
	// is "" and the endpoint is a loopback name or address, the suffix a
	// server names in PreviewHostSuffixHeader (nimbus dev does) is used
	// once one of its answers carried it; a Worker sends none, and its
	// URLs stay the SDK's.
	PreviewHostSuffix string
	// Diag asks the server to add rpcMs to success envelopes.
	Diag bool
	// UserAgent is sent as User-Agent when set.
	UserAgent string
}

// PreviewHostSuffixHeader names the header in which a local server
// (nimbus dev) answering under a loopback name says the suffix of the
// preview hosts it serves on its own port ("localhost"); see
// Options.PreviewHostSuffix.
const PreviewHostSuffixHeader = "X-Nimbus-Preview-Host-Suffix"

// Client talks to one Worker endpoint. It is safe for concurrent use.
type Client struct {
	endpoint   string
	shown      string // endpoint without userinfo, for messages
	timeout    time.Duration
	basePath   string
	tokens     TokenSource
	hc         *http.Client
	retry      RetryPolicy
	writeLimit int64
	chunkSize  int64
	chunkAbove int64
	suffix     string
	scheme     string                 // the endpoint's scheme, for preview hosts under localhost
	port       string                 // the endpoint's port, "" when it has none
	loopback   bool                   // the endpoint names this machine
	told       atomic.Pointer[string] // the suffix the server named (PreviewHostSuffixHeader)
	diag       bool
	userAgent  string
}

// RedactEndpoint is endpoint as a message may show it: the password of a
// userinfo (https://user:password@host, a Worker behind basic auth) is
// replaced by "xxxxx", also when endpoint is not a URL that parses,
// which is when a message quotes it.
func RedactEndpoint(endpoint string) string {
	before, info, after, found := userinfo.Cut(endpoint)
	user, _, hasPassword := strings.Cut(info, ":")
	if !found || !hasPassword {
		return endpoint
	}
	return before + user + ":xxxxx@" + after
}

// New validates opts and returns a Client.
func New(opts Options) (*Client, error) {
	ep := strings.TrimRight(strings.TrimSpace(opts.Endpoint), "/")
	if ep == "" {
		return nil, &Error{Code: CodeInvalidArgument, Message: "endpoint is required"}
	}
	u, err := url.Parse(ep)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &Error{Code: CodeInvalidArgument, Message: "endpoint must be an http(s) URL, got " + quote(RedactEndpoint(opts.Endpoint))}
	}
	timeout := opts.HTTPTimeout
	if timeout == 0 {
		timeout = DefaultHTTPTimeout
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: newTransport(timeout)}
	}
	cp := *hc
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	shown := *u
	shown.User = nil
	c := &Client{
		endpoint:   ep,
		shown:      shown.String(),
		timeout:    timeout,
		basePath:   NormalizeBasePath(opts.BasePath),
		tokens:     opts.Tokens,
		hc:         &cp,
		retry:      opts.Retry,
		writeLimit: opts.WriteLimit,
		chunkSize:  opts.ReadChunkSize,
		chunkAbove: opts.ReadChunkThreshold,
		suffix:     strings.Trim(opts.PreviewHostSuffix, "."),
		scheme:     u.Scheme,
		port:       u.Port(),
		loopback:   localhost.Is(u.Host),
		diag:       opts.Diag,
		userAgent:  opts.UserAgent,
	}
	if c.retry.MaxAttempts < 1 {
		c.retry.MaxAttempts = 4
	}
	if c.retry.MaxWait <= 0 {
		c.retry.MaxWait = DefaultMaxWait
	}
	if c.retry.DefaultWait <= 0 {
		c.retry.DefaultWait = time.Second
	}
	if c.writeLimit <= 0 {
		c.writeLimit = DefaultWriteLimit
	}
	if c.chunkSize <= 0 {
		c.chunkSize = DefaultReadChunkSize
	}
	if c.chunkAbove <= 0 {
		c.chunkAbove = DefaultReadChunkThreshold
	}
	return c, nil
}

// NormalizeBasePath gives p exactly one leading "/" and no trailing "/", as
// both the SDK and the server do; "" becomes DefaultBasePath.
func NormalizeBasePath(p string) string {
	p = strings.Trim(strings.TrimSpace(p), "/")
	if p == "" {
		return DefaultBasePath
	}
	return "/" + p
}

// Endpoint returns the normalised endpoint (no trailing slash).
func (c *Client) Endpoint() string { return c.endpoint }

// WriteLimit returns the effective single-request write limit in bytes.
func (c *Client) WriteLimit() int64 { return c.writeLimit }

// ReadChunkSize returns the readRange chunk used for big reads.
func (c *Client) ReadChunkSize() int64 { return c.chunkSize }

// ReadChunkThreshold returns the size above which reads are chunked.
func (c *Client) ReadChunkThreshold() int64 { return c.chunkAbove }

func (c *Client) rpcURL(id string) string {
	return c.endpoint + c.basePath + "/sandboxes/" + url.PathEscape(id) + "/rpc"
}

// noteSuffix keeps the preview host suffix an answer of the endpoint
// names (PreviewHostSuffixHeader) when no suffix was given and both the
// endpoint and the suffix are this machine's: a server elsewhere cannot
// point the URLs this client prints at other hosts.
func (c *Client) noteSuffix(h http.Header) {
	v := h.Get(PreviewHostSuffixHeader)
	if v == "" || c.suffix != "" || !c.loopback || !loopbackSuffix(v) || !hostLabels(v) {
		return
	}
	if old := c.told.Load(); old == nil || *old != v {
		c.told.Store(&v)
	}
}

// hostLabels reports whether s is made of DNS labels only (letters,
// digits, "-" and "."), as a host suffix copied into a URL must be.
func hostLabels(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return len(s) <= 253
}
