package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/cloudflare/cloudflare-go/v6/accounts"
	"github.com/cloudflare/cloudflare-go/v6/r2"

	"github.com/nimbus-sh/nimbus/internal/atomicfile"
	"github.com/nimbus-sh/nimbus/internal/duration"
	"github.com/nimbus-sh/nimbus/internal/observe"
	"github.com/nimbus-sh/nimbus/internal/regularfile"
	"github.com/nimbus-sh/nimbus/pkg/wranglerfile"
)

// Token permissions named in errors, as the Cloudflare dashboard spells them.
const (
	// PermAccountRead is needed to list and read accounts.
	PermAccountRead = "Account Settings Read"
	// PermR2Read is needed to check buckets and to list and download
	// objects.
	PermR2Read = "Workers R2 Storage Read"
	// PermR2Write is needed to create buckets and upload objects.
	PermR2Write = "Workers R2 Storage Write"
	// PermScriptsRead is needed to read the workers.dev subdomain and a
	// Worker's secrets.
	PermScriptsRead = "Workers Scripts Read"
	// PermScriptsWrite is needed to set a Worker secret.
	PermScriptsWrite = "Workers Scripts Write"
)

// Provisioner takes a Plan from "scaffolded" to "ready to deploy".
type Provisioner struct {
	// Client reaches the Cloudflare API with the token; required.
	Client *Client
	// Observer receives progress; nil means none.
	Observer Observer
	// Rand is the entropy for generated secrets; nil means crypto/rand.
	Rand io.Reader
}

type run struct {
	p      *Provisioner
	c      *Client
	plan   Plan
	obs    Observer
	res    *Result
	listed []accounts.Account // accounts seen by the token, when listed
	total  int64
	// current is what the step in progress is doing ("checking R2
	// bucket x"), to say where a timeout stopped the run.
	current string
}

// Run executes the plan: verify the token, resolve the account, check and
// create buckets, write account_id, read the workers.dev subdomain and
// optionally set the secret. Every step is idempotent, so rerunning after a
// failure converges. With DryRun it makes only GET requests and writes
// nothing.
func (p *Provisioner) Run(ctx context.Context, plan Plan) (*Result, error) {
	if p.Client == nil {
		return nil, errors.New("provision: Provisioner.Client is nil")
	}
	if err := plan.Validate(); err != nil {
		return nil, err
	}
	if plan.WranglerConfig != "" {
		// Which account the project deploys to is the wrangler config's
		// to say: a different one is taken only when asked for, and
		// before anything is created in it.
		if cur := configuredAccountID(plan.WranglerConfig, plan.WranglerEnv); cur != "" {
			switch {
			case plan.AccountID == "":
				if !validAccountID(cur) {
					return nil, invalidAccountID(cur)
				}
				plan.AccountID = cur
			case cur != plan.AccountID && !plan.ReplaceAccountID:
				return nil, plan.accountMismatch(cur)
			}
		}
	}
	plan.Buckets = uniqueBuckets(plan.Buckets)
	r := &run{p: p, c: p.Client, plan: plan, obs: observe.OrNop(p.Observer), res: &Result{
		Worker: plan.Worker, RuntimeBucket: plan.RuntimeBucket, DryRun: plan.DryRun,
		WranglerConfig: FileSkipped, Endpoint: FileSkipped, Secret: SecretSkipped,
	}}
	if plan.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, plan.Timeout, errRunTimeout)
		defer cancel()
	}
	steps := []func(context.Context) error{r.verifyToken, r.resolveAccount, r.buckets, r.runtimes, r.wranglerConfig, r.workersDev, r.secret}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			if errors.Is(context.Cause(ctx), errRunTimeout) {
				// Whatever the step made of its context ending (a
				// request timed out, the runtime sync stopped), the
				// cause is the run's own bound.
				return r.res, r.timedOut(err)
			}
			return r.res, err
		}
	}
	return r.res, nil
}

// errRunTimeout is the cause of the run's context ending at Plan.Timeout.
var errRunTimeout = errors.New("provision: the run's timeout ran out")

func (r *run) timedOut(err error) *Error {
	safe := "; the steps already done are kept and safe to rerun, and a rerun resumes after them"
	if len(r.res.Changes()) == 0 {
		safe = "; nothing was changed yet, so a rerun is safe"
	}
	return &Error{Kind: KindUnavailable, Code: CodeTimeout, Err: err,
		// The message itself says a rerun is safe: a program's stderr
		// gets upstream's one-line error, which has no hint.
		Message: "setup did not finish within " + duration.Human(r.plan.Timeout) + " (--timeout): it stopped while " + r.current + safe,
		Hint:    "rerun setup, with a longer --timeout if Cloudflare or the network is this slow"}
}

func (r *run) emit(step StepID, subject string, state StepState, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if state == StateRunning {
		r.current = msg
	}
	r.obs.Observe(Event{Step: step, Subject: subject, State: state, Message: msg})
}

// fail reports a failed step and passes the error through.
func (r *run) fail(step StepID, subject string, err *Error) error {
	r.emit(step, subject, StateFailed, "%s", err.Message)
	return err
}

// isClientRejection reports a 4xx answer: the request reached Cloudflare,
// which refused it (as opposed to an outage, which includes the 408 and
// 429 the retry policy retries).
func isClientRejection(err error) (apiFailure, bool) {
	f, ok := asAPIFailure(err)
	return f, ok && f.status >= 400 && f.status < 500 && !transientStatus(f.status)
}

func tokenInvalid(err error, detail string) *Error {
	return &Error{Kind: KindPermission, Code: CodeTokenInvalid, Err: err,
		Message: "the Cloudflare API token is invalid (" + detail + ")",
		Hint: "check CLOUDFLARE_API_TOKEN or --api-token-file; create a token at https://dash.cloudflare.com/profile/api-tokens with " +
			"\"" + PermAccountRead + "\", \"" + PermR2Write + "\", \"" + PermScriptsRead + "\" and \"" + PermScriptsWrite + "\""}
}

func checkTokenStatus(status, scope string) *Error {
	if status == "active" {
		return nil
	}
	return &Error{Kind: KindPermission, Code: CodeTokenInactive,
		Message: fmt.Sprintf("the Cloudflare API token (%s token) is %s, not active", scope, status),
		Hint:    "re-enable the token or roll a new one in the Cloudflare dashboard, then update CLOUDFLARE_API_TOKEN"}
}

// verifyToken asks the user endpoint first; account-owned tokens are only
// accepted by the account endpoint, which needs an account id.
func (r *run) verifyToken(ctx context.Context) error {
	r.emit(StepToken, "", StateRunning, "verifying the API token")
	op := operation{what: "verify the API token"}
	tv, err := r.c.userTokens.Verify(ctx)
	if err == nil {
		r.res.TokenScope = "user"
		if e := checkTokenStatus(string(tv.Status), "user"); e != nil {
			return r.fail(StepToken, "", e)
		}
		r.emit(StepToken, "", StateDone, "API token is valid and active (user token)")
		return nil
	}
	f, rejected := isClientRejection(err)
	if !rejected {
		return r.fail(StepToken, "", classify(err, op))
	}
	id := r.plan.AccountID
	if id == "" {
		if lerr := r.listAccounts(ctx); lerr != nil {
			if _, rej := isClientRejection(lerr); rej {
				return r.fail(StepToken, "", tokenInvalid(err, "rejected by "+f.describe()))
			}
			return r.fail(StepToken, "", classify(lerr, operation{what: "list accounts", permission: PermAccountRead}))
		}
		switch len(r.listed) {
		case 0:
			return r.fail(StepToken, "", tokenInvalid(err, "rejected by the user endpoint and it sees no account"))
		case 1:
			id = r.listed[0].ID
		default:
			return r.fail(StepToken, "", r.ambiguous())
		}
	}
	var q accounts.TokenVerifyParams
	q.AccountID.Value, q.AccountID.Present = id, true
	av, aerr := r.c.accountTokens.Verify(ctx, q)
	if aerr != nil {
		if af, rej := isClientRejection(aerr); rej {
			return r.fail(StepToken, "", tokenInvalid(aerr, "user endpoint: "+f.describe()+"; account endpoint: "+af.describe()))
		}
		return r.fail(StepToken, "", classify(aerr, op))
	}
	r.res.TokenScope = "account"
	if e := checkTokenStatus(string(av.Status), "account"); e != nil {
		return r.fail(StepToken, "", e)
	}
	r.emit(StepToken, "", StateDone, "API token is valid and active (account token)")
	return nil
}

func (r *run) listAccounts(ctx context.Context) error {
	if r.listed != nil {
		return nil
	}
	listed, total, err := r.c.listAccounts(ctx)
	if err != nil {
		return err
	}
	r.listed, r.total = listed, total
	return nil
}

// listAccounts returns the first page of accounts the token sees and the
// total count.
func (c *Client) listAccounts(ctx context.Context) ([]accounts.Account, int64, error) {
	var q accounts.AccountListParams
	q.PerPage.Value, q.PerPage.Present = 50, true
	page, err := c.accounts.List(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	listed := append([]accounts.Account{}, page.Result...)
	var total int64
	// total_count is not a typed field in v6; it arrives as an extra field.
	if f, ok := page.ResultInfo.JSON.ExtraFields["total_count"]; ok {
		total, _ = strconv.ParseInt(f.Raw(), 10, 64)
	}
	if total < int64(len(listed)) {
		total = int64(len(listed))
	}
	return listed, total, nil
}

func (r *run) ambiguous() *Error { return ambiguousAccounts(r.listed, r.total) }

func ambiguousAccounts(listed []accounts.Account, total int64) *Error {
	var b strings.Builder
	for _, a := range listed {
		fmt.Fprintf(&b, "\n  %s  %s", a.ID, a.Name)
	}
	more := ""
	if total > int64(len(listed)) {
		more = fmt.Sprintf("\n  ... and %d more", total-int64(len(listed)))
	}
	return &Error{Kind: KindConfig, Code: CodeAccountAmbiguous,
		Message: fmt.Sprintf("the API token can access %d accounts; choose one:%s%s", total, b.String(), more),
		Hint:    "pass --account-id ID or set CLOUDFLARE_ACCOUNT_ID"}
}

// ResolveAccountID returns id when it is given (after checking its form),
// otherwise the only account the token can access; several accounts or
// none are configuration errors that say what to pass.
func (c *Client) ResolveAccountID(ctx context.Context, id string) (string, error) {
	if id != "" {
		if !validAccountID(id) {
			return "", invalidAccountID(id)
		}
		return id, nil
	}
	listed, total, err := c.listAccounts(ctx)
	if err != nil {
		return "", classify(err, operation{what: "list accounts", permission: PermAccountRead})
	}
	switch {
	case len(listed) == 0:
		return "", &Error{Kind: KindConfig, Code: CodeNoAccount, Message: "the API token cannot access any account",
			Hint: "give the token access to an account (Account Resources) or set CLOUDFLARE_ACCOUNT_ID"}
	case len(listed) > 1:
		return "", ambiguousAccounts(listed, total)
	case !validAccountID(listed[0].ID):
		return "", &Error{Kind: KindInternal, Code: CodeAPI, Message: "Cloudflare listed an account with an unexpected id " + quote(listed[0].ID)}
	}
	return listed[0].ID, nil
}

func (r *run) resolveAccount(ctx context.Context) error {
	r.emit(StepAccount, "", StateRunning, "looking up the account")
	if id := r.plan.AccountID; id != "" {
		var q accounts.AccountGetParams
		q.AccountID.Value, q.AccountID.Present = id, true
		a, err := r.c.accounts.Get(ctx, q)
		if err != nil {
			if f, rej := isClientRejection(err); rej && (f.status == http.StatusNotFound || f.has(9109) || f.has(7003) || f.status == http.StatusBadRequest) {
				return r.fail(StepAccount, id, &Error{Kind: KindConfig, Code: CodeAccountNotFound, CloudflareCode: f.firstCode(), Err: err,
					Message: "Cloudflare account " + id + " does not exist or this token cannot access it (" + f.describe() + ")",
					Hint: "check --account-id / CLOUDFLARE_ACCOUNT_ID (dashboard: Account Home, right sidebar) and that the token includes this account with \"" +
						PermAccountRead + "\", or omit the id to use the token's only account"})
			}
			return r.fail(StepAccount, id, classify(err, operation{what: "read account " + id, permission: PermAccountRead}))
		}
		if a.ID != "" && a.ID != id {
			// Every request path and the generated secret's directory are
			// made of the id: one the answer swapped in ("../x", another
			// account) would send them elsewhere.
			return r.fail(StepAccount, id, &Error{Kind: KindInternal, Code: CodeAPI,
				Message: "Cloudflare answered for account " + quote(a.ID) + " when asked for account " + id})
		}
		r.res.AccountID, r.res.AccountName = id, a.Name
		r.emit(StepAccount, id, StateDone, "account %s (%s)", r.res.AccountID, a.Name)
		return nil
	}
	if err := r.listAccounts(ctx); err != nil {
		return r.fail(StepAccount, "", classify(err, operation{what: "list accounts", permission: PermAccountRead}))
	}
	switch len(r.listed) {
	case 0:
		return r.fail(StepAccount, "", &Error{Kind: KindConfig, Code: CodeNoAccount,
			Message: "the API token cannot access any account",
			Hint:    "give the token access to an account (Account Resources) or pass --account-id"})
	case 1:
		a := r.listed[0]
		if !validAccountID(a.ID) {
			return r.fail(StepAccount, "", &Error{Kind: KindInternal, Code: CodeAPI, Message: "Cloudflare listed an account with an unexpected id " + quote(a.ID)})
		}
		r.res.AccountID, r.res.AccountName = a.ID, a.Name
		r.emit(StepAccount, a.ID, StateDone, "account %s (%s), the only one the token can access", a.ID, a.Name)
		return nil
	default:
		return r.fail(StepAccount, "", r.ambiguous())
	}
}

func (r *run) getBucket(ctx context.Context, name string) (exists bool, err error) {
	return r.c.BucketExists(ctx, r.res.AccountID, name)
}

// BucketExists reports whether the account holds the bucket (a 404 is
// "no"); R2 not enabled, permissions and outages are errors.
func (c *Client) BucketExists(ctx context.Context, accountID, name string) (bool, error) {
	var q r2.BucketGetParams
	q.AccountID.Value, q.AccountID.Present = accountID, true
	_, err := c.buckets.Get(ctx, name, q)
	if err == nil {
		return true, nil
	}
	if f, ok := asAPIFailure(err); ok && f.status == http.StatusNotFound && !f.has(10042) {
		return false, nil
	}
	return false, classify(err, operation{what: "check R2 bucket " + quote(name), permission: PermR2Read})
}

func (r *run) buckets(ctx context.Context) error {
	for _, b := range r.plan.Buckets {
		r.emit(StepBucket, b.Name, StateRunning, "checking R2 bucket %s", b.Name)
		exists, err := r.getBucket(ctx, b.Name)
		if err != nil {
			return r.fail(StepBucket, b.Name, classify(err, operation{}))
		}
		br := BucketResult{Bucket: b, Status: BucketExists}
		switch {
		case exists:
			r.emit(StepBucket, b.Name, StateDone, "R2 bucket %s exists", b.Name)
		case r.plan.DryRun:
			br.Status = BucketPlanned
			r.emit(StepBucket, b.Name, StateSkipped, "R2 bucket %s would be created (dry run)", b.Name)
		default:
			st, err := r.createBucket(ctx, b.Name)
			if err != nil {
				return r.fail(StepBucket, b.Name, err)
			}
			br.Status = st
			switch st {
			case BucketCreated:
				r.emit(StepBucket, b.Name, StateDone, "R2 bucket %s created", b.Name)
			case BucketCreatedOrExisted:
				r.emit(StepBucket, b.Name, StateDone, "R2 bucket %s created or existed (an answer to the create request was lost, then R2 said it exists)", b.Name)
			default:
				r.emit(StepBucket, b.Name, StateDone, "R2 bucket %s exists", b.Name)
			}
		}
		r.res.Buckets = append(r.res.Buckets, br)
	}
	return nil
}

func (r *run) createBucket(ctx context.Context, name string) (BucketStatus, *Error) {
	var q r2.BucketNewParams
	q.AccountID.Value, q.AccountID.Present = r.res.AccountID, true
	q.Name.Value, q.Name.Present = name, true
	r.res.Mutations++
	actx, attempts := withAttempts(ctx)
	_, err := r.c.buckets.New(actx, q)
	if err == nil {
		return BucketCreated, nil
	}
	if f, ok := asAPIFailure(err); ok && f.status == http.StatusConflict {
		// "Already exists": believe it only once a GET sees the bucket.
		exists, gerr := r.getBucket(ctx, name)
		if gerr != nil {
			return "", classify(gerr, operation{})
		}
		if exists {
			if *attempts > 1 {
				// An earlier attempt may have created it.
				return BucketCreatedOrExisted, nil
			}
			return BucketExists, nil
		}
		return "", &Error{Kind: KindInternal, Code: CodeAPI, CloudflareCode: f.firstCode(), Err: err,
			Message: "R2 says bucket " + quote(name) + " already exists (" + f.describe() + ") but it cannot be read in this account",
			Hint:    "the name may be in use in another jurisdiction (eu, fedramp); choose another --bucket-prefix or --runtime-bucket"}
	}
	return "", classify(err, operation{what: "create R2 bucket " + quote(name), permission: PermR2Write})
}

// runtimes publishes the runtime catalog into the runtime bucket, which
// exists by now (or, in a dry run, is planned). Its errors pass through
// unchanged: they carry their own codes.
func (r *run) runtimes(ctx context.Context) error {
	if r.plan.Runtimes == nil {
		r.emit(StepRuntimes, "", StateSkipped, "runtime sync skipped (--skip-runtimes)")
		return nil
	}
	b := r.plan.RuntimeBucket
	r.emit(StepRuntimes, b, StateRunning, "publishing runtimes into %s", b)
	sync, err := r.plan.Runtimes.SyncRuntimes(ctx, r.res.AccountID, b, r.plan.DryRun)
	if err != nil {
		r.emit(StepRuntimes, b, StateFailed, "%s", err.Error())
		return err
	}
	digest := sync.Digest
	r.res.CatalogSHA256 = digest
	if r.plan.DryRun {
		r.emit(StepRuntimes, b, StateSkipped, "runtime catalog %s would be published to %s (dry run)", short(digest), b)
		return nil
	}
	r.res.RuntimesSynced = true
	r.res.RuntimeObjectsUploaded, r.res.RuntimeCatalogChanged = sync.Uploaded, sync.CatalogChanged
	r.emit(StepRuntimes, b, StateDone, "runtime catalog %s published to %s", short(digest), b)
	return nil
}

func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}

// pinVar is the Worker variable that names the trusted runtime catalog.
const pinVar = "NIMBUS_RUNTIME_CATALOG_SHA256"

func (r *run) wranglerConfig(ctx context.Context) error {
	path := r.plan.WranglerConfig
	if path == "" {
		r.emit(StepWrangler, "", StateSkipped, "no wrangler config to update")
		return nil
	}
	r.emit(StepWrangler, path, StateRunning, "checking account_id in %s", path)
	data, err := regularfile.ReadFile(path, wranglerfile.MaxSize)
	if err != nil {
		hint := regularfile.Hint(err, "pass --config PATH")
		if hint == "" {
			hint = "run `nimbus init` first or pass --config PATH"
		}
		return r.fail(StepWrangler, path, &Error{Kind: KindConfig, Code: CodeWranglerConfig, Err: err,
			Message: "cannot read " + path + ": " + regularfile.Reason(err), Hint: hint})
	}
	env := r.plan.WranglerEnv
	out, changed, err := wranglerfile.SetEnvAccountID(data, env, r.res.AccountID)
	if err != nil {
		return r.fail(StepWrangler, path, &Error{Kind: KindData, Code: CodeWranglerConfig, Err: err,
			Message: path + ": " + err.Error(), Hint: "fix the file (JSONC with a top-level object), then rerun"})
	}
	if top, perr := wranglerfile.Parse(data); perr == nil {
		if e, eerr := top.Environment(env); eerr == nil && e.AccountID != "" && e.AccountID != r.res.AccountID {
			if !r.plan.ReplaceAccountID {
				// Changed since Run began, or an account the token
				// picked: never replaced unasked.
				return r.fail(StepWrangler, path, r.plan.accountMismatch(e.AccountID))
			}
			r.res.ReplacedAccountID = e.AccountID
			deploy := "wrangler deploy"
			if env != "" {
				deploy += " --env " + env
			}
			msg := fmt.Sprintf("account_id %s in %s is replaced by %s: `%s` now deploys to account %s; the Worker, buckets and secrets in account %s are left as they are",
				e.AccountID, r.plan.accountWhere(), r.res.AccountID, deploy, r.res.AccountID, e.AccountID)
			if r.plan.DryRun {
				msg = fmt.Sprintf("account_id %s in %s would be replaced by %s: `%s` would then deploy to account %s",
					e.AccountID, r.plan.accountWhere(), r.res.AccountID, deploy, r.res.AccountID)
			}
			r.res.Warnings = append(r.res.Warnings, msg)
			r.emit(StepWrangler, path, StateWarning, "%s", msg)
		}
	}
	idChanged := changed
	if digest := r.res.CatalogSHA256; digest != "" {
		top, _ := wranglerfile.Parse(out)
		f, err := top.Environment(env)
		if err != nil {
			return r.fail(StepWrangler, path, &Error{Kind: KindData, Code: CodeWranglerConfig, Err: err,
				Message: path + ": " + err.Error(), Hint: "fix the file, then rerun"})
		}
		cur, has := f.Var(pinVar)
		switch {
		case cur == digest:
			r.res.Pin = PinCurrent
		case r.plan.WritePin:
			pinned, pchanged, err := wranglerfile.SetEnvVar(out, env, pinVar, digest)
			if err != nil {
				vars := "vars."
				if env != "" {
					vars = "env." + env + ".vars."
				}
				return r.fail(StepWrangler, path, &Error{Kind: KindData, Code: CodeWranglerConfig, Err: err,
					Message: path + ": " + err.Error(), Hint: "fix the file, or set " + vars + pinVar + " by hand"})
			}
			out, changed = pinned, changed || pchanged
			r.res.Pin = PinUpdated
			if r.plan.DryRun {
				r.res.Pin = PinPlanned
			}
		case has:
			r.res.Pin = PinStale
		default:
			r.res.Pin = PinMissing
		}
	}
	what := "account_id " + r.res.AccountID
	if r.res.Pin == PinUpdated || r.res.Pin == PinPlanned {
		what += " and " + pinVar
		if !idChanged {
			what = pinVar
		}
	}
	switch {
	case !changed:
		r.res.WranglerConfig = FileUnchanged
		r.emit(StepWrangler, path, StateDone, "%s already has account_id %s", path, r.res.AccountID)
	case r.plan.DryRun:
		r.res.WranglerConfig = FilePlanned
		r.emit(StepWrangler, path, StateSkipped, "%s would be written to %s (dry run)", what, path)
	default:
		if err := atomicfile.WriteFile(path, out, configWrite); err != nil {
			return r.fail(StepWrangler, path, writeError(path, err))
		}
		r.res.WranglerConfig = FileUpdated
		r.emit(StepWrangler, path, StateDone, "wrote %s to %s", what, path)
	}
	return nil
}

// isDNSLabel is ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ without a regexp:
// compiling that one at start-up cost most of a millisecond.
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (r *run) workersDev(ctx context.Context) error {
	r.emit(StepWorkersDev, "", StateRunning, "reading the workers.dev subdomain")
	subdomain, err := r.c.workersSubdomain(ctx, r.res.AccountID)
	if err != nil {
		if f, ok := isClientRejection(err); ok && (f.status == http.StatusNotFound || f.has(10007)) {
			msg := "the account has no workers.dev subdomain yet; register one in the dashboard (Workers & Pages) to get a Worker URL"
			r.res.Warnings = append(r.res.Warnings, msg)
			r.emit(StepWorkersDev, "", StateWarning, "%s", msg)
			r.emit(StepEndpoint, "", StateSkipped, "no Worker URL to record")
			return nil
		}
		return r.fail(StepWorkersDev, "", classify(err, operation{what: "read the workers.dev subdomain", permission: PermScriptsRead}))
	}
	if !isDNSLabel(subdomain) {
		return r.fail(StepWorkersDev, "", &Error{Kind: KindInternal, Code: CodeAPI,
			Message: "Cloudflare returned an unexpected workers.dev subdomain " + quote(subdomain)})
	}
	r.res.Subdomain = subdomain
	r.res.WorkersDevURL = "https://" + r.plan.Worker + "." + subdomain + ".workers.dev"
	r.emit(StepWorkersDev, subdomain, StateDone, "Worker URL after deploy: %s", r.res.WorkersDevURL)
	return r.recordEndpoint()
}

func (r *run) recordEndpoint() error {
	path := r.plan.NimbusConfig
	if path == "" {
		r.emit(StepEndpoint, "", StateSkipped, "endpoint not recorded")
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return r.fail(StepEndpoint, path, &Error{Kind: KindConfig, Code: CodeNimbusConfig, Err: err, Message: "cannot read " + path})
	}
	out, changed, serr := SetYAMLEndpoint(data, r.res.WorkersDevURL)
	if serr != nil {
		return r.fail(StepEndpoint, path, classify(serr, operation{}))
	}
	switch {
	case !changed:
		r.res.Endpoint = FileUnchanged
		r.emit(StepEndpoint, path, StateDone, "%s already has endpoint %s", path, r.res.WorkersDevURL)
	case r.plan.DryRun:
		r.res.Endpoint = FilePlanned
		r.emit(StepEndpoint, path, StateSkipped, "endpoint would be recorded in %s (dry run)", path)
	default:
		if err := atomicfile.WriteFile(path, out, configWrite); err != nil {
			return r.fail(StepEndpoint, path, writeError(path, err))
		}
		r.res.Endpoint = FileUpdated
		r.emit(StepEndpoint, path, StateDone, "recorded endpoint in %s", path)
	}
	return nil
}

// wouldGenerate reports whether resolveSecret would make a new secret: no
// value was given and the file does not exist.
func wouldGenerate(spec *SecretSpec) bool {
	if spec.Value != "" {
		return false
	}
	_, err := os.Lstat(spec.File)
	return errors.Is(err, fs.ErrNotExist)
}

func secretExists(spec *SecretSpec, worker string) *Error {
	return &Error{Kind: KindConfig, Code: CodeSecretExists,
		Message: "Worker " + quote(worker) + " already has " + spec.Name + " and none was given (" + spec.File + " does not exist): " +
			"a generated one would replace it with a secret only this machine knows, and every token minted with the current one would stop verifying",
		Hint: "pass the Worker's secret in " + spec.Name + " or --secret-file FILE (a CI secret) to mint with it; to replace it on purpose, rerun with --replace-secret " +
			"(a new secret is generated into " + spec.File + ") or write one with `nimbus token secret > FILE` and pass --secret-file FILE --replace-secret"}
}

// givenWhat names the secret the user gave, for messages (never its
// value).
func givenWhat(spec *SecretSpec) string {
	if spec.Value != "" {
		return "the " + spec.Name + " given"
	}
	return "the secret in " + spec.File
}

func workerMissing(err error, worker string) *Error {
	return &Error{Kind: KindConfig, Code: CodeWorkerMissing, CloudflareCode: 10007, Err: err,
		Message: "Worker " + quote(worker) + " does not exist on this account yet",
		Hint:    "deploy first (`npx wrangler deploy`), then rerun with --set-secret"}
}

func (r *run) secret(ctx context.Context) error {
	spec := r.plan.Secret
	if spec == nil {
		r.emit(StepSecret, "", StateSkipped, "secret not requested (--set-secret)")
		return nil
	}
	r.emit(StepSecret, spec.Name, StateRunning, "setting %s on Worker %s", spec.Name, r.plan.Worker)
	legacy := ""
	given := spec.Value != "" || spec.File != ""
	// --secret-file naming the file of the older layout is the user's
	// word that it holds this account's secret (the hint of
	// CodeSecretLegacyFile): it is then copied where setup keeps it now.
	adopt := ""
	if spec.Value == "" && isLegacyFile(spec.File, spec.Dir, r.plan.Worker) {
		adopt = LegacySecretFile(spec.Dir, r.plan.Worker)
	}
	if spec.Value == "" && spec.File == "" {
		// The generated secret of this account's Worker: the account is
		// known only now.
		keyed := *spec
		keyed.File = GeneratedSecretFile(spec.Dir, r.res.AccountID, r.plan.Worker)
		spec = &keyed
		if old := LegacySecretFile(spec.Dir, r.plan.Worker); exists(old) {
			legacy = old
		}
	}
	// A secret given (a value, or a file that exists) is checked first:
	// bad input is refused whatever the Worker has. A dry run reads
	// nothing local.
	generate := wouldGenerate(spec)
	var value string
	if !generate && !r.plan.DryRun {
		v, _, err := resolveSecret(spec, r.p.Rand)
		if err != nil {
			return r.fail(StepSecret, spec.Name, err)
		}
		value = v
	}
	// The Worker's secrets are listed before anything is put (the GET also
	// tells whether the Worker exists). The API never returns a value, so
	// a secret the Worker has cannot be compared with the one at hand:
	// putting it again would revert a rotation made since (`wrangler
	// secret put`), and every token minted with the current secret would
	// stop verifying. Only spec.Replace puts over it.
	names, lerr := r.c.workerSecretNames(ctx, r.res.AccountID, r.plan.Worker)
	if lerr != nil {
		if f, ok := isClientRejection(lerr); ok && (f.has(10007) || f.status == http.StatusNotFound) {
			return r.fail(StepSecret, spec.Name, workerMissing(lerr, r.plan.Worker))
		}
		return r.fail(StepSecret, spec.Name, classify(lerr, operation{what: "list secrets of Worker " + quote(r.plan.Worker), permission: PermScriptsRead}))
	}
	has := slices.Contains(names, spec.Name)
	if has && !spec.Replace {
		if generate && legacy != "" {
			// The old file holds the secret last given for this very
			// Worker on this machine (knownSecret): it is this account's,
			// and is adopted without asking.
			if v, err := ReadSecretFile(legacy); err == nil && knownSecret(spec.Dir, r.res.AccountID, r.plan.Worker, v) {
				value, adopt, generate, given = v, legacy, false, false
			}
		}
		if generate {
			// Nothing at hand to mint with: the user is asked for the
			// Worker's secret rather than told all is well.
			if legacy != "" {
				// The old file may hold this secret or another
				// account's: neither replacing the Worker's secret nor
				// reusing the file is safe without the user.
				return r.fail(StepSecret, spec.Name, legacySecretFile(spec, r.plan.Worker, r.res.AccountID, legacy))
			}
			return r.fail(StepSecret, spec.Name, secretExists(spec, r.plan.Worker))
		}
		r.res.Secret = SecretExists
		if err := r.adopt(spec, adopt, value); err != nil {
			return err
		}
		if given && adopt == "" && !knownSecret(spec.Dir, r.res.AccountID, r.plan.Worker, value) {
			// The user handed over a secret that was not put: if it is a
			// new one, the tokens minted with it will not verify. It is
			// said once for a secret: a rerun handing over the same one
			// again (a CI job) has nothing new to be told, and a
			// different one is said again. The old layout's file handed
			// over to be adopted is what the Worker is told to have
			// (CodeSecretLegacyFile's hint): the copy is what is said.
			msg := spec.Name + " already set on Worker " + quote(r.plan.Worker) + ": left as is, and " + givenWhat(spec) +
				" was not put (the API never reveals a secret, so the two cannot be compared); if it is a new secret, rerun with --replace-secret to put it"
			r.res.Warnings = append(r.res.Warnings, msg)
			r.emit(StepSecret, spec.Name, StateWarning, "%s", msg)
			if !r.plan.DryRun {
				rememberSecret(spec.Dir, r.res.AccountID, r.plan.Worker, value)
			}
			return nil
		}
		r.emit(StepSecret, spec.Name, StateDone, "%s already set on Worker %s: left as is", spec.Name, quote(r.plan.Worker))
		return nil
	}
	if generate && legacy != "" {
		// Nothing to lose on this Worker (or its secret is replaced on
		// purpose), and the old file may be another account's secret: a
		// new one is generated, and the old file is left for the account
		// it was made for.
		msg := "a new " + spec.Name + " is generated for Worker " + quote(r.plan.Worker) + " in account " + r.res.AccountID + " into " + spec.File +
			"; " + legacy + ", kept by an older nimbus for every Worker of that name, was not used, since it does not say which account it belongs to; mint tokens for this Worker with the new file"
		if r.plan.DryRun {
			msg = "a new " + spec.Name + " would be generated for Worker " + quote(r.plan.Worker) + " in account " + r.res.AccountID + " into " + spec.File +
				"; " + legacy + ", kept by an older nimbus for every Worker of that name, would not be used, since it does not say which account it belongs to"
		}
		r.res.Warnings = append(r.res.Warnings, msg)
		r.emit(StepSecret, spec.Name, StateWarning, "%s", msg)
	}
	verb := "set on"
	if has {
		verb = "replaced on"
	}
	if r.plan.DryRun {
		r.res.Secret = SecretPlanned
		r.res.SecretFile = spec.File
		r.emit(StepSecret, spec.Name, StateSkipped, "%s would be %s Worker %s (dry run)", spec.Name, verb, r.plan.Worker)
		r.planRetire(spec)
		return nil
	}
	generated := false
	if generate {
		v, g, err := resolveSecret(spec, r.p.Rand)
		if err != nil {
			return r.fail(StepSecret, spec.Name, err)
		}
		value, generated = v, g
	}
	r.res.SecretFile, r.res.SecretGenerated = spec.File, generated
	if spec.Value != "" {
		r.res.SecretFile = ""
	}
	r.res.Mutations++
	if err := r.c.putWorkerSecret(ctx, r.res.AccountID, r.plan.Worker, spec.Name, value); err != nil {
		if f, ok := isClientRejection(err); ok && (f.has(10007) || (f.status == http.StatusNotFound && len(f.codes) == 0)) {
			return r.fail(StepSecret, spec.Name, workerMissing(err, r.plan.Worker))
		}
		return r.fail(StepSecret, spec.Name, classify(err, operation{what: "set secret " + spec.Name + " on Worker " + quote(r.plan.Worker), permission: PermScriptsWrite}))
	}
	r.res.Secret = SecretSet
	// The Worker has value now, whether given or generated: an older
	// secret recorded, handed over again, must be warned about.
	rememberSecret(spec.Dir, r.res.AccountID, r.plan.Worker, value)
	r.emit(StepSecret, spec.Name, StateDone, "%s %s Worker %s", spec.Name, verb, r.plan.Worker)
	// Only now that the Worker has accepted value: a failed PUT leaves
	// the generated file holding the Worker's secret still. Before the
	// adoption, which copies an older layout's file to the same name.
	if err := r.retire(spec, value); err != nil {
		return err
	}
	return r.adopt(spec, adopt, value)
}

// retire moves the secret setup generated for the Worker aside when the
// Worker was just given another one (retireSecretFile), and says where.
func (r *run) retire(spec *SecretSpec, value string) error {
	if spec.Dir == "" {
		return nil
	}
	gen := GeneratedSecretFile(spec.Dir, r.res.AccountID, r.plan.Worker)
	moved, err := retireSecretFile(gen, value)
	if err != nil {
		return r.fail(StepSecret, spec.Name, err)
	}
	if moved == "" {
		return nil
	}
	r.res.SecretPreviousFile = moved
	r.warn(spec.Name, gen+" was moved to "+moved+" (mode 0600): it holds the secret Worker "+quote(r.plan.Worker)+" had before, not its "+spec.Name+" any more"+
		"; mint with "+givenWhat(spec)+" from now on, and put the old one as JWT_SECRET_PREVIOUS until the tokens signed with it expire (docs/tokens.md)")
	return nil
}

// planRetire says, in a dry run, where the generated secret would be
// moved (retire). It reads no secret, so it cannot tell whether the file
// holds the one given: then nothing would move.
func (r *run) planRetire(spec *SecretSpec) {
	if spec.Dir == "" {
		return
	}
	gen := GeneratedSecretFile(spec.Dir, r.res.AccountID, r.plan.Worker)
	if spec.File == gen || !exists(gen) {
		return
	}
	if a, b := statOrNil(spec.File), statOrNil(gen); a != nil && b != nil && os.SameFile(a, b) {
		return
	}
	dst := freePreviousSecretFile(gen)
	if dst == "" {
		return
	}
	r.res.SecretPreviousFile = dst
	r.warn(spec.Name, gen+" would be moved to "+dst+" (mode 0600) unless it holds "+givenWhat(spec)+", since Worker "+quote(r.plan.Worker)+" would no longer have that secret (dry run)")
}

// warn records a warning of step secret and reports it.
func (r *run) warn(name, msg string) {
	r.res.Warnings = append(r.res.Warnings, msg)
	r.emit(StepSecret, name, StateWarning, "%s", msg)
}

// statOrNil is os.Stat's answer for path, nil when there is none.
func statOrNil(path string) os.FileInfo {
	if path == "" || path == "-" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	return fi
}

// adopt copies the secret of legacy, the file of the older layout, to
// the account's own file (adoptSecret) once the Worker is known to have
// it or has just been given it, and says so; a dry run says it would.
func (r *run) adopt(spec *SecretSpec, legacy, value string) error {
	if legacy == "" {
		return nil
	}
	path := GeneratedSecretFile(spec.Dir, r.res.AccountID, r.plan.Worker)
	if r.plan.DryRun {
		if !exists(path) {
			r.res.SecretAdoptedFrom, r.res.SecretFile = legacy, path
		}
		return nil
	}
	if value == "" {
		return nil
	}
	// Adopting the file is the user's word that it is the Worker's secret
	// (or setup's, when it equals the one recorded): it is the one last
	// given, so the copy handed over next is nothing new.
	rememberSecret(spec.Dir, r.res.AccountID, r.plan.Worker, value)
	copied, err := adoptSecret(path, legacy, value)
	if err != nil && err.Code == CodeSecretExists {
		// The Worker is as it should be; only the copy was not made,
		// since it would replace a secret.
		msg := err.Message + "; " + err.Hint
		r.res.Warnings = append(r.res.Warnings, msg)
		r.emit(StepSecret, spec.Name, StateWarning, "%s", msg)
		return nil
	}
	if err != nil {
		return r.fail(StepSecret, spec.Name, err)
	}
	if copied {
		r.res.SecretAdoptedFrom, r.res.SecretFile = legacy, path
		r.emit(StepSecret, spec.Name, StateDone, "the secret of %s is now kept for Worker %s in account %s in %s (copied, mode 0600; the old file is left as it is)",
			legacy, quote(r.plan.Worker), r.res.AccountID, path)
	}
	return nil
}

// configuredAccountID is the account_id the wrangler config at path gives
// environment env ("" is the top level): "" when it gives none, or when
// the file cannot be read or parsed, which the wrangler config step
// reports.
func configuredAccountID(path, env string) string {
	data, err := regularfile.ReadFile(path, wranglerfile.MaxSize)
	if err != nil {
		return ""
	}
	f, err := wranglerfile.Parse(data)
	if err != nil {
		return ""
	}
	e, err := f.Environment(env)
	if err != nil {
		return ""
	}
	return e.AccountID
}

// accountWhere names the wrangler config (and environment) whose
// account_id is meant.
func (p Plan) accountWhere() string {
	if p.WranglerEnv != "" {
		return p.WranglerConfig + " (environment " + p.WranglerEnv + ")"
	}
	return p.WranglerConfig
}

// accountMismatch refuses an AccountID that is not the wrangler config's
// configured account_id, naming both.
func (p Plan) accountMismatch(configured string) *Error {
	from := ""
	if p.AccountIDFrom != "" {
		from = " (from " + p.AccountIDFrom + ")"
	}
	keep := "pass --account-id " + configured
	if isEnvName(p.AccountIDFrom) {
		keep = "unset " + p.AccountIDFrom + " or " + keep
	}
	return &Error{Kind: KindConfig, Code: CodeAccountMismatch,
		Message: "account " + p.AccountID + from + " is not account " + configured + ", the account_id in " + p.accountWhere() +
			": setup would provision account " + p.AccountID + " and replace account_id " + configured + " with it, moving the next deploy to that account",
		Hint: "to keep account " + configured + ", " + keep + "; to move the project to account " + p.AccountID + ", pass --account-id " + p.AccountID +
			" (setup then replaces account_id " + configured + " and says so)"}
}

// isEnvName reports a name like CLOUDFLARE_ACCOUNT_ID, as opposed to a
// flag or a file an account id can also come from.
func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
