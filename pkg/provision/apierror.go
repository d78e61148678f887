package provision

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cloudflare/cloudflare-go/v6/r2"

	"github.com/nimbus-sh/nimbus/internal/stall"
)

// apiFailure is a Cloudflare v4 error answer, normalised from either a
// cloudflare-go error or the envelope helper.
type apiFailure struct {
	status   int
	codes    []int64
	messages []string
	// malformed, when set, says that a 2xx answer was not a v4 envelope
	// with "success": true, and what it was instead (its content type and
	// length, never its bytes: a proxy may echo the request, secret and
	// all).
	malformed string
	// retryAfter is the wait the answer's Retry-After header asked for,
	// when it had one.
	retryAfter    time.Duration
	hasRetryAfter bool
}

func (f apiFailure) has(code int64) bool {
	for _, c := range f.codes {
		if c == code {
			return true
		}
	}
	return false
}

func (f apiFailure) firstCode() int64 {
	if len(f.codes) == 0 {
		return 0
	}
	return f.codes[0]
}

func (f apiFailure) describe() string {
	if f.malformed != "" {
		return fmt.Sprintf("HTTP %d: %s, not a Cloudflare API answer", f.status, f.malformed)
	}
	var parts []string
	for i, m := range f.messages {
		if i < len(f.codes) && f.codes[i] != 0 {
			parts = append(parts, fmt.Sprintf("%d %s", f.codes[i], m))
		} else {
			parts = append(parts, m)
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("HTTP %d", f.status)
	}
	return fmt.Sprintf("HTTP %d: %s", f.status, strings.Join(parts, "; "))
}

// asAPIFailure extracts the Cloudflare answer behind err. Every cloudflare-go
// service package aliases the same error type, so r2.Error covers them all.
func asAPIFailure(err error) (apiFailure, bool) {
	var ce *r2.Error
	if errors.As(err, &ce) {
		f := apiFailure{status: ce.StatusCode}
		f.retryAfter, f.hasRetryAfter = retryAfter(ce.Response)
		for _, e := range ce.Errors {
			f.codes = append(f.codes, e.Code)
			f.messages = append(f.messages, e.Message)
		}
		return f, true
	}
	var ee *envelopeError
	if errors.As(err, &ee) {
		return ee.failure, true
	}
	return apiFailure{}, false
}

// operation describes the call that failed, for messages and permission hints.
type operation struct {
	what       string // e.g. `create R2 bucket "x"`
	permission string // token permission the call needs
}

// classify turns any error from a Cloudflare call into an *Error. Callers
// handle the answers they expect (404 on a GET, 409 on a create) first.
func classify(err error, op operation) *Error {
	if pe, ok := AsError(err); ok {
		return pe
	}
	if errors.Is(err, stall.ErrStalled) {
		// Checked first: the watchdog ends a stalled transfer by
		// cancelling its context, which is not the caller's interrupt.
		return &Error{Kind: KindUnavailable, Code: CodeUnavailable, Message: op.what + ": the transfer stalled (" + err.Error() + ")", Err: err,
			Hint: "check the network, then rerun the command; it resumes where it stopped"}
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Kind: KindInterrupted, Code: CodeInterrupted, Message: strings.TrimPrefix(op.what+": interrupted", ": "), Err: err,
			Hint: "rerun the command; it resumes where it stopped"}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Kind: KindUnavailable, Code: CodeUnavailable, Message: op.what + ": timed out", Err: err,
			Hint: "Cloudflare did not answer in time; rerun the command, it resumes where it stopped"}
	}
	f, ok := asAPIFailure(err)
	if !ok {
		return &Error{Kind: KindUnavailable, Code: CodeUnavailable, Message: op.what + ": cannot reach the Cloudflare API", Err: err,
			Hint: "check the network (and CLOUDFLARE_API_BASE_URL if set), then rerun"}
	}
	cf := f.firstCode()
	switch {
	case f.has(10042):
		return &Error{Kind: KindConfig, Code: CodeR2NotEnabled, CloudflareCode: 10042, Err: err,
			Message: "R2 is not enabled on this Cloudflare account",
			Hint:    "enable R2 once in the Cloudflare dashboard (R2 Object Storage), then rerun this command"}
	case f.has(9109):
		return &Error{Kind: KindConfig, Code: CodeAccountNotFound, CloudflareCode: 9109, Err: err,
			Message: op.what + ": the API token cannot access this account (" + f.describe() + ")",
			Hint:    "check the account id (--account-id, CLOUDFLARE_ACCOUNT_ID or account_id in wrangler.jsonc) and that the token includes the account"}
	case f.status == http.StatusUnauthorized:
		return &Error{Kind: KindPermission, Code: CodeTokenInvalid, CloudflareCode: cf, Err: err,
			Message: op.what + ": Cloudflare rejected the API token (" + f.describe() + ")",
			Hint:    "check CLOUDFLARE_API_TOKEN; create a token at https://dash.cloudflare.com/profile/api-tokens"}
	case f.status == http.StatusForbidden:
		perm := op.permission
		msg := op.what + ": the API token lacks a permission"
		hint := "edit the token in the Cloudflare dashboard and add the missing permission"
		if perm != "" {
			msg = op.what + ": the API token lacks the \"" + perm + "\" permission"
			hint = "edit the token in the Cloudflare dashboard and add \"" + perm + "\", then rerun"
		}
		return &Error{Kind: KindPermission, Code: CodePermission, CloudflareCode: cf, Permission: perm, Err: err,
			Message: msg + " (" + f.describe() + ")", Hint: hint}
	case f.malformed != "":
		// Something answered, but not Cloudflare's API: what it said
		// cannot be counted as done, nor is it the network being down.
		return &Error{Kind: KindUnavailable, Code: CodeUnavailable, Err: err,
			Message: fmt.Sprintf("%s: the answer was not a Cloudflare API answer (HTTP %d: %s)", op.what, f.status, f.malformed),
			Hint: "a proxy, captive portal or CLOUDFLARE_API_BASE_URL may be answering instead of Cloudflare; check it, then rerun " +
				"(nothing was counted as done for this step; the command resumes where it stopped)"}
	case transientStatus(f.status) && f.hasRetryAfter && f.retryAfter > maxRetryAfter:
		wait := f.retryAfter.Round(time.Second).String()
		return &Error{Kind: KindUnavailable, Code: CodeUnavailable, CloudflareCode: cf, Err: err,
			Message: op.what + ": Cloudflare asks to wait " + wait + " before the next request (" + f.describe() + ")",
			Hint:    "rerun in " + wait + "; the command is safe to rerun and resumes where it stopped"}
	case transientStatus(f.status):
		return &Error{Kind: KindUnavailable, Code: CodeUnavailable, CloudflareCode: cf, Err: err,
			Message: op.what + ": Cloudflare is unavailable (" + f.describe() + ")",
			Hint:    "retry later; the command is safe to rerun"}
	case f.status < 300:
		// HTTP 2xx with "success": false (requireSuccess).
		return &Error{Kind: KindInternal, Code: CodeAPI, CloudflareCode: cf, Err: err,
			Message: op.what + ": Cloudflare reported a failure (" + f.describe() + ", success=false)",
			Hint:    "nothing was counted as done for this step; rerun the command, it resumes where it stopped"}
	default:
		return &Error{Kind: KindInternal, Code: CodeAPI, CloudflareCode: cf, Err: err,
			Message: op.what + ": Cloudflare answered " + f.describe()}
	}
}
