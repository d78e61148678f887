package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/regularfile"
	"github.com/nimbus-sh/nimbus/pkg/provision"
	"github.com/nimbus-sh/nimbus/pkg/runtimesync"
	"github.com/nimbus-sh/nimbus/pkg/scaffold"
	"github.com/nimbus-sh/nimbus/pkg/wranglerfile"
)

// project is what the project checks share: the parsed wrangler config
// and, when the Cloudflare API is usable, the account.
type project struct {
	// file is the part of the config the checked Worker deploys from:
	// the top level, or env.<WranglerEnv>.
	file *wranglerfile.File
	// label names it in messages; vars and env say where its pin lives
	// and which --env the suggested commands need.
	label, vars, env string
	accountID        string
	// accountErr says why the account could not be resolved.
	accountErr error
}

// checkProject runs the wrangler.jsonc checks: account id, buckets, the
// runtime catalog pin and JWT_SECRET on the Worker.
func (d *Doctor) checkProject(ctx context.Context) []Check {
	names := []string{"wrangler", "buckets", "runtime-catalog", "worker-secret"}
	skipAll := func(why string) []Check {
		out := make([]Check, len(names))
		for i, n := range names {
			out[i] = skip(n, why)
		}
		return out
	}
	if d.Project == nil {
		return skipAll("no project directory")
	}
	// A regular file of a bounded size only: a named pipe would block
	// the open forever, /dev/zero fill memory.
	data, err := regularfile.ReadFS(d.Project, d.WranglerFile, wranglerfile.MaxSize)
	// An environment asked for by name (--env) where there is no file
	// to define it fails below (provision.WranglerEnvironment), as
	// runtime sync, runtime list and setup refuse it: skipping would
	// pass a check that was never made.
	missing := errors.Is(err, fs.ErrNotExist)
	if missing && d.WranglerEnv == "" {
		return skipAll("no " + d.WranglerFile + " in this directory (not a Nimbus project, or run from its root)")
	}
	if err != nil && !missing {
		hint := "make it readable by this user, or name another file with --wrangler-config"
		if errors.Is(err, regularfile.ErrNotRegular) || errors.Is(err, regularfile.ErrTooLarge) {
			hint = "the wrangler config is a regular JSONC file of at most " + regularfile.Size(wranglerfile.MaxSize) + "; name it with --wrangler-config"
		}
		c := fail("wrangler", "cannot read "+d.WranglerFile+": "+reason(err), hint)
		return append([]Check{c}, skipAll("the wrangler config is unreadable")[1:]...)
	}
	var f *wranglerfile.File
	if !missing {
		if f, err = wranglerfile.Parse(data); err != nil {
			c := fail("wrangler", d.WranglerFile+": "+err.Error(), "fix the file: JSON with comments, one top-level object")
			return append([]Check{c}, skipAll("the wrangler config is invalid")[1:]...)
		}
	}
	ef, err := provision.WranglerEnvironment(f, d.WranglerFile, d.WranglerEnv)
	if err != nil {
		c := fail("wrangler", err.Error(), "name an environment the file defines under \"env\", or drop --env for the top level")
		if pe, ok := provision.AsError(err); ok {
			c = fail("wrangler", pe.Message, pe.Hint)
		}
		return append([]Check{c}, skipAll("the wrangler environment cannot be read")[1:]...)
	}
	p := &project{file: ef, label: d.WranglerFile, vars: "vars." + runtimesync.PinVar}
	if d.WranglerEnv != "" {
		p.label += " (env." + d.WranglerEnv + ")"
		p.vars = "env." + d.WranglerEnv + ".vars." + runtimesync.PinVar
		p.env = " --env " + d.WranglerEnv
	}
	f = ef
	if d.Cloudflare != nil {
		id := d.AccountID
		if id == "" {
			id = f.AccountID
		}
		actx, cancel := d.withTimeout(ctx)
		p.accountID, p.accountErr = d.Cloudflare.ResolveAccountID(actx, id)
		cancel()
	}
	return []Check{d.checkWrangler(p), d.checkBuckets(ctx, p), d.checkCatalog(ctx, p), d.checkWorkerSecret(ctx, p)}
}

func (d *Doctor) checkWrangler(p *project) Check {
	const name = "wrangler"
	f := p.file
	if f.Name == "" {
		return fail(name, p.label+" has no name", "set \"name\" to the Worker's name, as nimbus init writes it")
	}
	if f.AccountID == "" {
		return warn(name, "Worker "+f.Name+"; "+p.label+" has no account_id, so wrangler asks which account on every deploy",
			"nimbus setup cloudflare writes it (or set CLOUDFLARE_ACCOUNT_ID)")
	}
	if p.accountID != "" && d.AccountID != "" && d.AccountID != f.AccountID {
		return warn(name, fmt.Sprintf("Worker %s; %s says account %s but CLOUDFLARE_ACCOUNT_ID is %s", f.Name, p.label, f.AccountID, d.AccountID),
			"make them agree: wrangler deploys to the account in the file")
	}
	return pass(name, fmt.Sprintf("Worker %s on account %s", f.Name, f.AccountID))
}

// checkBuckets checks the R2 bindings nimbus init writes: all present,
// valid, the two npm caches named from one prefix, and (with Cloudflare
// credentials) existing on the account.
func (d *Doctor) checkBuckets(ctx context.Context, p *project) Check {
	const name = "buckets"
	f := p.file
	bindings := []string{scaffold.BindingTarballCache, scaffold.BindingPackumentCache, scaffold.BindingRuntimeCache}
	var missing, invalid, listed []string
	seen := map[string]string{}
	for _, b := range bindings {
		bucket := f.Bucket(b)
		if bucket == "" {
			missing = append(missing, b)
			continue
		}
		if err := provision.ValidateBucketName(bucket); err != nil {
			invalid = append(invalid, b+" = "+bucket)
			continue
		}
		if other, dup := seen[bucket]; dup {
			return fail(name, fmt.Sprintf("%s and %s are bound to the same bucket %s", other, b, bucket), "give each binding its own bucket, as nimbus init does")
		}
		seen[bucket] = b
		listed = append(listed, b+"="+bucket)
	}
	if len(missing) > 0 {
		return fail(name, p.label+" binds no bucket for "+strings.Join(missing, ", "),
			"add the r2_buckets entries nimbus init writes (<worker>-npm-cache, <worker>-npm-packument-cache and the runtime bucket)")
	}
	if len(invalid) > 0 {
		return fail(name, "invalid bucket names: "+strings.Join(invalid, ", "),
			"bucket names are 3-63 characters of a-z, 0-9 and '-', not starting or ending with '-'")
	}
	tarball, packument := f.Bucket(scaffold.BindingTarballCache), f.Bucket(scaffold.BindingPackumentCache)
	prefix, ok := strings.CutSuffix(tarball, scaffold.SuffixTarballCache)
	consistent := ok && packument == prefix+scaffold.SuffixPackumentCache
	detail := strings.Join(listed, ", ")
	if p.accountID != "" {
		var absent []string
		for _, b := range bindings {
			bctx, cancel := d.withTimeout(ctx)
			exists, err := d.Cloudflare.BucketExists(bctx, p.accountID, f.Bucket(b))
			cancel()
			if err != nil {
				return warn(name, detail+"; could not check the buckets on the account: "+cfReason(err), cfHint(err))
			}
			if !exists {
				absent = append(absent, f.Bucket(b))
			}
		}
		if len(absent) > 0 {
			return fail(name, "not on account "+p.accountID+": "+strings.Join(absent, ", "), "nimbus setup cloudflare creates them")
		}
		detail += "; all exist on account " + p.accountID
	} else {
		detail += d.unchecked(p)
	}
	if !consistent {
		return warn(name, detail+"; the npm caches are not named <prefix>"+scaffold.SuffixTarballCache+" and <prefix>"+scaffold.SuffixPackumentCache,
			"this works, but nimbus setup cloudflare --bucket-prefix and other tools assume the pair; rename them to share a prefix")
	}
	return pass(name, detail)
}

// unchecked explains why a check could not ask the Cloudflare API.
func (d *Doctor) unchecked(p *project) string {
	switch {
	case d.Cloudflare == nil:
		return " (not checked on the account: no CLOUDFLARE_API_TOKEN)"
	case p.accountErr != nil:
		return " (not checked on the account: " + cfReason(p.accountErr) + ")"
	}
	return ""
}

// reason is err without the operation and path a PathError repeats.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func cfReason(err error) string {
	if pe, ok := provision.AsError(err); ok {
		return pe.Message
	}
	return err.Error()
}

func cfHint(err error) string {
	if pe, ok := provision.AsError(err); ok && pe.Hint != "" {
		return pe.Hint
	}
	return "check CLOUDFLARE_API_TOKEN and its permissions"
}

// checkCatalog checks the runtime catalog pin: present, and (with
// Cloudflare credentials) naming a catalog in the runtime bucket whose
// bytes hash to it, ideally the bucket's current one.
func (d *Doctor) checkCatalog(ctx context.Context, p *project) Check {
	const name = "runtime-catalog"
	pin, has := p.file.Var(runtimesync.PinVar)
	if !has || pin == "" {
		return warn(name, p.label+" does not set "+p.vars+": runtime installs (python, ruby, clang) fail in the deployed Worker",
			"nimbus runtime sync"+p.env+" --write-config, then redeploy")
	}
	if !runtimesync.ValidDigest(pin) {
		return fail(name, fmt.Sprintf("%s is %q, not a SHA-256 digest", p.vars, pin), "nimbus runtime sync"+p.env+" --write-config writes the right value")
	}
	short := pin[:12]
	bucket := p.file.Bucket(scaffold.BindingRuntimeCache)
	if p.accountID == "" || bucket == "" {
		why := d.unchecked(p)
		if bucket == "" {
			why = " (not compared with a bucket: no " + scaffold.BindingRuntimeCache + " binding)"
		}
		return pass(name, "pinned to "+short+"…"+why)
	}
	lctx, cancel := d.withTimeout(ctx)
	defer cancel()
	l, err := runtimesync.List(lctx, runtimesync.R2Bucket(d.Cloudflare, p.accountID, bucket), pin)
	if err != nil {
		if re, ok := runtimesync.AsError(err); ok {
			hint := re.Hint
			if re.Kind == runtimesync.KindConfig || re.Kind == runtimesync.KindData {
				if hint == "" {
					hint = "nimbus runtime sync" + p.env + " --write-config republishes the catalog and pins it; then redeploy"
				}
				return fail(name, re.Message, hint)
			}
			if hint == "" {
				hint = cfHint(err)
			}
			return warn(name, "could not read the catalog: "+re.Message, hint)
		}
		return warn(name, "could not read the catalog in "+bucket+": "+cfReason(err), cfHint(err))
	}
	detail := fmt.Sprintf("pinned to %s…, which %s holds (%d runtimes)", short, bucket, len(l.Rows))
	if l.Current != "" && l.Current != pin {
		return warn(name, detail+"; the bucket's current catalog is "+l.Current[:12]+"…",
			"nimbus runtime sync"+p.env+" --write-config, then redeploy, to move the Worker to the current catalog")
	}
	return pass(name, detail+", the current one")
}

// checkWorkerSecret checks that the deployed Worker has JWT_SECRET, without
// reading it (the API only lists names).
func (d *Doctor) checkWorkerSecret(ctx context.Context, p *project) Check {
	const name = "worker-secret"
	if p.accountID == "" {
		return skip(name, "JWT_SECRET on the Worker not checked"+d.unchecked(p))
	}
	sctx, cancel := d.withTimeout(ctx)
	defer cancel()
	names, err := d.Cloudflare.WorkerSecretNames(sctx, p.accountID, p.file.Name)
	if err != nil {
		if pe, ok := provision.AsError(err); ok && pe.Code == provision.CodeWorkerMissing {
			return warn(name, "Worker "+p.file.Name+" is not deployed on account "+p.accountID+" yet", "deploy it: npx wrangler deploy"+p.env)
		}
		return warn(name, "could not list the Worker's secrets: "+cfReason(err), cfHint(err))
	}
	if slices.Contains(names, "JWT_SECRET") {
		return pass(name, "Worker "+p.file.Name+" has JWT_SECRET")
	}
	return fail(name, "Worker "+p.file.Name+" has no JWT_SECRET: its remote API refuses every request (E_AUTH_CONFIG_MISSING)",
		"nimbus setup cloudflare"+p.env+" --set-secret")
}
