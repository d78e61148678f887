package provision

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cloudflare/cloudflare-go/v6/accounts"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/r2"
	"github.com/cloudflare/cloudflare-go/v6/user"

	"github.com/nimbus-sh/nimbus/internal/localhost"
	"github.com/nimbus-sh/nimbus/internal/retryafter"
)

// DefaultBaseURL is the production Cloudflare API v4 base.
const DefaultBaseURL = "https://api.cloudflare.com/client/v4"

// Retry defaults. cloudflare-go's own default is 10 retries including 409,
// which turns an "already exists" into minutes of waiting; nimbus retries a
// little, and never on 409.
const (
	// DefaultMaxRetries is the retry count nimbus's commands pass as
	// ClientOptions.MaxRetries. It is not applied to a zero MaxRetries,
	// which means a single attempt.
	DefaultMaxRetries = 2
	// DefaultRetryBackoff is the first retry delay when
	// ClientOptions.RetryBackoff is zero.
	DefaultRetryBackoff = 500 * time.Millisecond
	// maxRetryAfter caps how long a Retry-After header may make us wait;
	// an answer asking for longer is not retried (retryPolicy.delay).
	maxRetryAfter = 10 * time.Second
)

// ClientOptions says how to reach the Cloudflare API. Every field is explicit
// so that nothing in the environment (CLOUDFLARE_API_KEY, CLOUDFLARE_EMAIL,
// CLOUDFLARE_BASE_URL, ...) can change what is sent.
type ClientOptions struct {
	// Token is the API token sent as a bearer token. Required.
	Token string
	// BaseURL defaults to DefaultBaseURL.
	BaseURL string
	// HTTPClient defaults to a client with connect, TLS and overall timeouts.
	HTTPClient *http.Client
	// MaxRetries is the number of retries after a transport error, 429 or 5xx
	// (0 means a single attempt). 409 is never retried.
	MaxRetries int
	// RetryBackoff is the first retry delay; it doubles per retry.
	// Zero means DefaultRetryBackoff.
	RetryBackoff time.Duration
	// StallTimeout is the period over which an object upload must keep
	// its pace (2 KiB/s, stall.MinRate): one that moves less in a period
	// of this long fails. Zero means DefaultStallTimeout.
	StallTimeout time.Duration
}

// Client holds the cloudflare-go services nimbus uses. Only service
// subpackages are imported: the root package links every Cloudflare product.
type Client struct {
	base          *url.URL
	token         string
	httpClient    *http.Client
	transfer      *http.Client // httpClient without its overall timeout
	retry         retryPolicy
	stallTimeout  time.Duration
	userTokens    *user.TokenService
	accountTokens *accounts.TokenService
	accounts      *accounts.AccountService
	buckets       *r2.BucketService
}

// NewClient builds a Client from explicit options.
func NewClient(o ClientOptions) (*Client, error) {
	if strings.TrimSpace(o.Token) == "" {
		return nil, &Error{Kind: KindConfig, Code: CodeTokenMissing, Message: "no Cloudflare API token given (it is empty or blank)",
			Hint: "set CLOUDFLARE_API_TOKEN to the token or pass --api-token-file FILE; create a token at https://dash.cloudflare.com/profile/api-tokens"}
	}
	// Cloudflare tokens are printable ASCII without spaces. A line break,
	// byte order mark or space is what $(cat file) leaves of a CRLF or BOM
	// file, or a paste picked up; Cloudflare would answer with a
	// confusing header error.
	for _, c := range o.Token {
		if c <= ' ' || c >= 0x7f {
			// An invalid token like any other (77, docs/setup.md): the
			// credential needs fixing.
			return nil, &Error{Kind: KindPermission, Code: CodeTokenInvalid,
				Message: "the Cloudflare API token contains a space, line break or other character no API token has",
				Hint:    "check CLOUDFLARE_API_TOKEN (a value from $(cat file) keeps a CRLF file's \\r) or the --api-token-file file: the token alone, on one line"}
		}
	}
	base := o.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &Error{Kind: KindConfig, Code: CodeInvalidPlan, Message: "invalid Cloudflare API base URL " + strconv.Quote(base),
			Hint: "CLOUDFLARE_API_BASE_URL must be an http(s) URL such as " + DefaultBaseURL}
	}
	if u.Scheme == "http" && !localhost.Is(u.Hostname()) {
		// The token opens the whole account; plain http would hand it to
		// every network (and proxy) between here and that host.
		return nil, &Error{Kind: KindConfig, Code: CodeInvalidPlan,
			Message: "refusing to send the Cloudflare API token over plain http to " + u.Host,
			Hint:    "CLOUDFLARE_API_BASE_URL must be an https URL such as " + DefaultBaseURL + " (plain http only to a loopback address, such as a local fake)"}
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if o.MaxRetries < 0 {
		o.MaxRetries = 0
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient()
	}
	backoff := o.RetryBackoff
	if backoff <= 0 {
		backoff = DefaultRetryBackoff
	}
	// Object uploads can take longer than any fixed timeout on a slow link;
	// they are bounded by a stall watchdog instead (PutObjectFrom).
	transfer := *hc
	transfer.Timeout = 0
	stallTimeout := o.StallTimeout
	if stallTimeout <= 0 {
		stallTimeout = DefaultStallTimeout
	}
	c := &Client{base: u, token: o.Token, httpClient: hc, transfer: &transfer, retry: retryPolicy{max: o.MaxRetries, backoff: backoff}, stallTimeout: stallTimeout}
	opts := []option.RequestOption{
		option.WithBaseURL(u.String()),
		option.WithAPIToken(o.Token),
		option.WithHTTPClient(hc),
		// The library's own retry loop is switched off; retryPolicy replaces
		// it so that 409 is never retried and delays are bounded.
		option.WithMaxRetries(0),
		// Outermost: cloudflare-go decodes a 2xx as a result without looking
		// at "success", so a 200 saying success=false would pass as done.
		option.WithMiddleware(requireSuccess, c.retry.middleware),
	}
	c.userTokens = user.NewTokenService(opts...)
	c.accountTokens = accounts.NewTokenService(opts...)
	c.accounts = accounts.NewAccountService(opts...)
	c.buckets = r2.NewBucketService(opts...)
	return c, nil
}

func defaultHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// retryPolicy retries transport errors, 408, 429 and 5xx with exponential
// backoff. A 409 is an answer ("already exists"), never a reason to retry.
type retryPolicy struct {
	max     int
	backoff time.Duration
}

// retryable reports whether an attempt may be repeated. Every transport
// error is, including an attempt that outlived the HTTP client's own
// timeout (which also reads as context.DeadlineExceeded): only the
// caller's context ending stops the retries, and the middleware checks
// that first.
func retryable(res *http.Response, err error) bool {
	return err != nil || transientStatus(res.StatusCode)
}

// transientStatus reports the statuses that say "not now" rather than "no":
// 408, 429 and 5xx. They are retried, and once the retries are spent they
// are an outage (exit 69), never a rejection of the token or the request.
func transientStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// delay is how long to wait before the next attempt. ok is false when the
// answer's Retry-After asks for longer than maxRetryAfter: retrying
// earlier than Cloudflare asks would only spend the rate limit again, so
// the answer is returned and its error says when to rerun.
func (p retryPolicy) delay(res *http.Response, attempt int) (d time.Duration, ok bool) {
	if wait, has := retryAfter(res); has {
		return wait, wait <= maxRetryAfter
	}
	return p.backoff << attempt, true
}

// retryAfter reads an answer's Retry-After header (internal/retryafter:
// delay-seconds or an HTTP date; a date in the past is no wait). has is
// false when there is none or it cannot be read, and the backoff applies.
// The wait is cut at a day: beyond that "rerun in" says nothing more.
func retryAfter(res *http.Response) (wait time.Duration, has bool) {
	if res == nil {
		return 0, false
	}
	wait, has = retryafter.Parse(res.Header.Get("Retry-After"), time.Now())
	return min(wait, 24*time.Hour), has
}

// attemptsKey carries an *int through a request's context: the number of
// times the request was sent. A retried mutation may have taken effect on
// an attempt whose answer was lost.
type attemptsKey struct{}

// withAttempts returns ctx counting the attempts of the request made with it.
func withAttempts(ctx context.Context) (context.Context, *int) {
	n := new(int)
	return context.WithValue(ctx, attemptsKey{}, n), n
}

func (p retryPolicy) middleware(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	count, _ := req.Context().Value(attemptsKey{}).(*int)
	for attempt := 0; ; attempt++ {
		if count != nil {
			*count = attempt + 1
		}
		r := req
		if attempt > 0 {
			r = req.Clone(req.Context())
			if req.Body != nil && req.Body != http.NoBody {
				if req.GetBody == nil {
					return nil, errors.New("cannot replay request body for retry")
				}
				body, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = body
			}
		}
		res, err := next(r)
		if err != nil && req.Context().Err() != nil {
			// The caller's context ended (Ctrl-C, its deadline): say
			// that, whatever the transport made of it (a cancel cause).
			return nil, req.Context().Err()
		}
		if attempt >= p.max || !retryable(res, err) {
			return res, err
		}
		d, ok := p.delay(res, attempt)
		if !ok {
			return res, err
		}
		if res != nil && res.Body != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
			_ = res.Body.Close()
		}
		t := time.NewTimer(d)
		select {
		case <-req.Context().Done():
			t.Stop()
			return nil, req.Context().Err()
		case <-t.C:
		}
	}
}
