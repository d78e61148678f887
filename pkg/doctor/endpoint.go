package doctor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/internal/duration"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// Clock skew bounds. Tokens carry no skew allowance: a clock ahead of the
// Worker's mints tokens that live longer, one behind mints tokens that die
// early, and one behind by more than a token's lifetime mints dead tokens.
const (
	// SkewWarn is the clock difference from the Worker, beyond the Date
	// header's one-second resolution, at which the clock check warns.
	SkewWarn = 10 * time.Second
	// SkewFail is the clock difference at which the clock check fails:
	// tokens minted here are rejected or expire early.
	SkewFail = 5 * time.Minute
)

// checkEndpoint probes the remote API with ready on a throwaway sandbox
// (destroyed afterwards; see probe for a pinned token) and measures the clock against the Worker's Date
// header. It returns the endpoint and clock checks.
func (d *Doctor) checkEndpoint(ctx context.Context) []Check {
	if d.Endpoint == "" {
		return []Check{
			skip("endpoint", "no endpoint configured (--endpoint, NIMBUS_ENDPOINT or endpoint: in nimbus.yaml)"),
			skip("clock", "no endpoint to compare the clock with"),
		}
	}
	// The two ask the Worker at once: each is bounded by the timeout, and
	// one after the other an endpoint that does not answer cost twice the
	// timeout before the report said that it did not answer within one.
	clock := make(chan Check, 1)
	go func() { clock <- d.checkClock(ctx) }()
	probe := d.probe(ctx)
	return []Check{probe, <-clock}
}

// pinnedSandbox returns the sandbox a pinned token is limited to, "" for
// an unpinned token (or none).
func (d *Doctor) pinnedSandbox() string {
	if d.Token != "" {
		if dec, err := token.Decode(d.Token); err == nil {
			if sid, ok := dec.Claims.SessionID(); ok && sc.ValidID(sid) {
				return sid
			}
		}
	}
	return ""
}

// probe runs ready on a throwaway sandbox id and destroys it again. With a
// token pinned to a sandbox, the Worker refuses the throwaway id once it
// has checked everything else about the token (signature, expiry, claims,
// scopes, then the pin): that refusal is the probe's success, and neither
// the pinned sandbox nor another is created (any op creates its sandbox).
func (d *Doctor) probe(ctx context.Context) Check {
	const name = "endpoint"
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	id := "doctor-" + hex.EncodeToString(b)
	pinned := d.pinnedSandbox()
	var ts sc.TokenSource
	switch {
	case d.Token != "":
		ts = sc.StaticToken(d.Token)
	case d.Secret != "" && d.Tenant != "":
		tenant, sub, secret := d.Tenant, d.Subject, d.Secret
		ttl := 2 * time.Minute
		ts = sc.TokenFunc(func(_ context.Context, sid string) (string, error) {
			in := token.Input{Tenant: &tenant, SessionID: &sid, TTL: &ttl, Scopes: []string{token.ScopeSandboxUse, token.ScopeSessionDestroy}}
			if sub != "" {
				in.Subject = &sub
			}
			return token.Issuer{Secret: secret, Now: d.Now}.Mint(in)
		})
	}
	c, err := sc.New(sc.Options{Endpoint: d.Endpoint, BasePath: d.BasePath, Tokens: ts, HTTPClient: d.HTTPClient, UserAgent: "nimbus-doctor",
		Retry: sc.RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		return fail(name, err.Error(), "the endpoint is the Worker's origin, e.g. https://my-nimbus.example.workers.dev")
	}
	sb, err := c.Sandbox(id, sc.SandboxOptions{})
	if err != nil {
		return fail(name, err.Error(), hintOther)
	}
	api := redactURL(c.Endpoint()) + sc.NormalizeBasePath(d.BasePath)
	pctx, cancel := d.withTimeout(ctx)
	defer cancel()
	start := time.Now()
	_, err = sb.Ready(pctx)
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		if pinned != "" && sc.HasCode(err, token.CodeSessionPin) {
			return pass(name, fmt.Sprintf("remote API enabled at %s; it accepts the token, pinned to sandbox %s (refused for another id in %s; no sandbox was created)", api, pinned, duration.Human(took)))
		}
		return d.probeFailure(name, api, err)
	}
	detail := fmt.Sprintf("remote API enabled at %s; ready on sandbox %s answered in %s", api, id, duration.Human(took))
	dctx, dcancel := d.withTimeout(ctx)
	defer dcancel()
	if _, err := sb.Destroy(dctx, "nimbus doctor probe"); err != nil {
		why := err.Error()
		if sc.HasCode(err, token.CodeScopeMissing) {
			why = "the token lacks session:destroy"
		}
		return warn(name, detail+"; the throwaway sandbox "+id+" could not be destroyed ("+why+"); it is empty",
			"destroy it with a token that has session:destroy: nimbus sandbox destroy "+id)
	}
	return pass(name, detail+"; destroyed it again")
}

// probeFailure explains why ready failed, from the most basic cause up.
func (d *Doctor) probeFailure(name, api string, err error) Check {
	if errors.Is(err, context.DeadlineExceeded) {
		return fail(name, fmt.Sprintf("%s did not answer within %s", api, duration.Human(d.Timeout)), "check the endpoint; a Worker answers in well under a second")
	}
	var ce *sc.Error
	if errors.As(err, &ce) {
		switch ce.Code {
		case sc.CodeTransport:
			return fail(name, "cannot reach "+redactURL(d.Endpoint)+": "+shortNetError(ce.Err).Error(),
				"check the URL and the network; for local work start `nimbus dev` and use http://127.0.0.1:8787")
		case sc.CodeAPINotEnabled:
			return fail(name, fmt.Sprintf("%s answers, but not as the Nimbus remote API (HTTP %d)", api, ce.Status),
				"enable it in the Worker (createNimbusHandler with sdk: { remote: true, config }) and redeploy, or fix --base-path")
		}
		return fail(name, ce.Error(), hintOther)
	}
	var re *sc.RemoteError
	if !errors.As(err, &re) {
		return fail(name, err.Error(), hintOther)
	}
	got := fmt.Sprintf("%s answered %d %s: %s", api, re.Status, re.Code, re.Message)
	switch re.Code {
	case token.CodeTokenMalformed:
		if d.Token == "" && (d.Secret == "" || d.Tenant == "") {
			return pass(name, "remote API enabled at "+api+"; it requires a token, and none is configured here")
		}
		return fail(name, got, "the token is not one the Worker can read; mint one with nimbus token mint")
	case token.CodeTokenSignature:
		return fail(name, got, "the token is not signed with the Worker's JWT_SECRET: use the secret the Worker has (nimbus setup cloudflare --set-secret --secret-file FILE puts one there) or a token it issued")
	case token.CodeTokenExpired:
		return fail(name, got, "mint a fresh token; if it was just minted, check the clock")
	case token.CodeTokenClaims:
		return fail(name, got, "mint a token with nimbus token mint: its claims are what the Worker expects")
	case token.CodeScopeMissing:
		return fail(name, got, "sandbox commands need a token with sandbox:use (and session:destroy to destroy)")
	case token.CodeSessionPin:
		return fail(name, got, "the token is pinned to another sandbox")
	case token.CodeAuthConfigMissing:
		return fail(name, got, "the Worker has no JWT_SECRET: nimbus setup cloudflare --set-secret")
	case "E_NIMBUS_BINDING_MISSING":
		return fail(name, got, "the Worker lacks the NIMBUS_SESSION Durable Object binding; compare wrangler.jsonc with a fresh nimbus init")
	}
	if re.Status == http.StatusServiceUnavailable {
		return warn(name, got, "the platform is busy or redeploying; run nimbus doctor again in a few seconds")
	}
	if re.Status >= 500 {
		return fail(name, got, "the Worker failed on its side: read its log (npx wrangler tail) while running nimbus doctor again, and redeploy it if it is older than this nimbus")
	}
	return fail(name, got, "the Worker refused the request for a reason nimbus does not know: it may be older or newer than this nimbus (redeploy it, or update nimbus), or --base-path names another API")
}

// hintOther is the hint of a probe failure the check has no special case
// for: an answer that is not the remote API's (a proxy, a login page, a
// Worker of another version).
const hintOther = "the endpoint answered, but not as the Nimbus remote API does: check --endpoint and --base-path (a proxy or login page in front of the Worker answers this way), and redeploy the Worker if it is older than this nimbus"

// checkClock compares the local clock with the Worker's Date header, from
// a CORS preflight (no body, no credentials) on the rpc route.
func (d *Doctor) checkClock(ctx context.Context) Check {
	const name = "clock"
	ctx, cancel := d.withTimeout(ctx)
	defer cancel()
	u := strings.TrimRight(d.Endpoint, "/") + sc.NormalizeBasePath(d.BasePath) + "/sandboxes/doctor-clock/rpc"
	req, err := http.NewRequestWithContext(ctx, http.MethodOptions, u, nil)
	if err != nil {
		return skip(name, "cannot build a request to "+redactURL(d.Endpoint))
	}
	req.Header.Set("User-Agent", "nimbus-doctor")
	hc := *d.HTTPClient
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	sent := d.Now()
	resp, err := hc.Do(req)
	received := d.Now()
	if err != nil {
		return skip(name, "could not ask the Worker for its time: "+shortNetError(err).Error())
	}
	resp.Body.Close()
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return skip(name, "the Worker's answer has no usable Date header")
	}
	if !strings.Contains(strings.ToUpper(resp.Header.Get("Access-Control-Allow-Methods")), "POST") {
		// Every answer of the remote API, preflights included, carries
		// its CORS headers (spec §1.5): this one came from something
		// else (a proxy, a captive portal, another host), whose clock
		// says nothing about the Worker's.
		return skip(name, fmt.Sprintf("%s does not answer as the Nimbus remote API (HTTP %d to a CORS preflight): no Worker clock to compare with", redactURL(d.Endpoint), resp.StatusCode))
	}
	// Date has one-second resolution and is stamped while the request is
	// handled: compare with the middle of the round trip, and forgive the
	// rounding.
	local := sent.Add(received.Sub(sent) / 2)
	skew := date.Sub(local)
	abs := skew
	if abs < 0 {
		abs = -abs
	}
	// Date truncates to the second: forgive that much before judging.
	judged := max(abs-time.Second, 0)
	dir := "ahead of"
	if skew > 0 {
		dir = "behind"
	}
	detail := fmt.Sprintf("this clock is %s %s the Worker's", duration.Human(abs.Round(time.Second)), dir)
	hint := "tokens have no skew allowance; sync the clock (timedatectl set-ntp true, or the OS's time settings)"
	switch {
	case judged >= SkewFail:
		return fail(name, detail+": tokens minted here are rejected or expire early", hint)
	case judged >= SkewWarn:
		return warn(name, detail+": minted tokens live that much more or less", hint)
	}
	return pass(name, fmt.Sprintf("in step with the Worker's (within %s)", duration.Human(SkewWarn)))
}

// shortNetError trims a network error to its cause ("connection refused",
// "no such host NAME", "timed out"). A lookup's error names the name, never
// the resolver that answered ("lookup H on 10.0.0.53:53: …"): that is the
// machine's, not the problem's.
func shortNetError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	// Before the OpError that wraps it on a dial, whose cause it is.
	var de *net.DNSError
	if errors.As(err, &de) {
		switch {
		case de.IsNotFound:
			return errors.New("no such host " + de.Name)
		case de.IsTimeout:
			return errors.New("lookup " + de.Name + " timed out")
		}
		return errors.New("lookup " + de.Name + ": " + de.Err)
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("timed out")
	}
	return err
}

// redactURL is u as a report may show it: a password in its userinfo (a
// Worker behind basic auth) is replaced, also in a URL that does not parse,
// which is when a report quotes it.
func redactURL(u string) string { return sc.RedactEndpoint(u) }
