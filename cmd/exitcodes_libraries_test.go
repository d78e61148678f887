package cmd_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/cmd/internal/runtimecli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/pkg/npmregistry"
	"github.com/nimbus-sh/nimbus/pkg/provision"
	"github.com/nimbus-sh/nimbus/pkg/runtimesync"
	"github.com/nimbus-sh/nimbus/pkg/wranglerfile"
)

// emptyBucket is a runtime bucket with no objects; exists says whether
// the bucket itself exists.
type emptyBucket struct{ exists bool }

func (emptyBucket) Name() string                                                       { return "b" }
func (b emptyBucket) Exists(context.Context) (bool, error)                             { return b.exists, nil }
func (emptyBucket) Get(context.Context, string) ([]byte, bool, error)                  { return nil, false, nil }
func (emptyBucket) List(context.Context, string, func(runtimesync.Object) error) error { return nil }
func (emptyBucket) Put(context.Context, string, provision.Body, string) error {
	return errors.New("read-only")
}

// TestRuntimeAndSetupErrorTables checks the "Errors" tables of
// docs/runtime.md and docs/setup.md against the errors the libraries
// return, through the mapping the commands use (the errors' own ExitCode,
// clierr.From): every row has examples, made by the libraries' own
// functions where a call can produce them, and each exits with its row's
// code and carries one of its codes. Usage errors print upstream's bare
// line (Plain).
func TestRuntimeAndSetupErrorTables(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	first := func(_ any, err error) error { return err }
	rsErr := func(k runtimesync.Kind, code string) error {
		return &runtimesync.Error{Kind: k, Code: code, Message: "m"}
	}
	pvErr := func(k provision.Kind, code string) error { return &provision.Error{Kind: k, Code: code, Message: "m"} }
	npmErr := func(k npmregistry.Kind, code string) error {
		return &npmregistry.Error{Kind: k, Code: code, Message: "m"}
	}
	malformed := filepath.Join(dir, "wrangler.jsonc")
	if err := os.WriteFile(malformed, []byte(`{"vars": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	digest := strings.Repeat("ab", 32)
	noEnv := &cmdutil.Factory{Getenv: func(string) string { return "" }}

	runtimeRows := map[string][]error{
		"unknown or ambiguous runtime":             {first(runtimesync.ParseRequest("No Such!"))},
		"`ruby`, `python@0.29.4` (no npm package)": {first(runtimesync.ParseRequest("python@0.29.4"))},
		"tarball does not match `dist.integrity`":  {rsErr(runtimesync.KindData, runtimesync.CodeIntegrity), npmErr(npmregistry.KindIntegrity, npmregistry.CodeIntegrity)},
		"blob does not match the manifest; malformed package": {rsErr(runtimesync.KindData, runtimesync.CodeBlobMismatch),
			rsErr(runtimesync.KindData, runtimesync.CodePackageInvalid), rsErr(runtimesync.KindData, runtimesync.CodeManifestMismatch)},
		"bucket's catalog invalid, or the merged one would be (over 4 MiB); pinned catalog does not hash to its pin; the wrangler config cannot be parsed to record the pin, or pins something that is not a digest": {
			first(runtimesync.ParseCatalog([]byte(`{"version":2}`))), rsErr(runtimesync.KindData, runtimesync.CodeCatalogPin),
			first(runtimesync.WritePin(malformed, digest, true))},
		"`--pin` is not a catalog digest": {first(runtimesync.List(ctx, emptyBucket{true}, "v1"))},
		"`--env` names no environment of `wrangler.jsonc`, or there is no `wrangler.jsonc`": {
			first(provision.WranglerEnvironment(&wranglerfile.File{Name: "box"}, "wrangler.jsonc", "qa")),
			first(provision.WranglerEnvironment(nil, "wrangler.jsonc", "qa"))},
		"no catalog in the bucket, or none under the pin; the `--write-config` file does not exist": {
			first(runtimesync.List(ctx, emptyBucket{true}, "")), first(runtimesync.List(ctx, emptyBucket{true}, digest)),
			first(runtimesync.WritePin(filepath.Join(dir, "missing.jsonc"), digest, false))},
		"the wrangler config cannot be read or written to record the pin": {first(runtimesync.WritePin(dir, digest, false))},
		"catalog changed by another publisher during the sync":            {rsErr(runtimesync.KindConflict, runtimesync.CodeCatalogConflict)},
		"npm registry unreachable or failing (network, 408, 429, 5xx after retries), or an answer (packument or tarball) that stalls: no byte for 60 s, or less than 120 KiB in a minute (2 KiB/s, a registry or proxy that drips it)": {rsErr(runtimesync.KindUnavailable, runtimesync.CodeRegistry),
			npmErr(npmregistry.KindUnavailable, npmregistry.CodeUnavailable), npmErr(npmregistry.KindNotFound, npmregistry.CodeUnavailable)},
		"npm's registry setting is not an http(s) URL, or names something that is not an npm registry (no packument, a 4xx other than 404, 408, 429) or one that refuses access (401, 403: a private registry without `NIMBUS_NPM_TOKEN`, or with a wrong one): a rerun gets the same answer": {
			first(npmregistry.ResolveRegistry(runtimesync.PackagePrefix+"clang", npmregistry.Settings{"registry": "ftp://mirror"})),
			rsErr(runtimesync.KindConfig, runtimesync.CodeRegistryInvalid)},
		"Cloudflare's API (R2) unreachable or failing (network, 5xx after retries), or an upload that stalls: less than 120 KiB in a minute (2 KiB/s, a peer that stops reading or reads a byte now and then)": {pvErr(provision.KindUnavailable, provision.CodeUnavailable)},
		"bucket missing; R2 not enabled; no token or account": {first(runtimesync.List(ctx, emptyBucket{false}, "")),
			pvErr(provision.KindConfig, provision.CodeR2NotEnabled), first(runtimecli.APIToken(noEnv, ""))},
		"token lacks \"Workers R2 Storage Write\"": {pvErr(provision.KindPermission, provision.CodePermission)},
		"cache directory not writable":             {rsErr(runtimesync.KindCantCreate, runtimesync.CodeCache)},
		"interrupted": {rsErr(runtimesync.KindInterrupted, runtimesync.CodeInterrupted),
			npmErr(npmregistry.KindInterrupted, npmregistry.CodeInterrupted), pvErr(provision.KindInterrupted, provision.CodeInterrupted)},
	}
	setupRows := map[string][]error{
		"no token (unset or blank)": {first(runtimecli.APIToken(noEnv, "")), first(provision.NewClient(provision.ClientOptions{Token: " "}))},
		"invalid token / inactive token": {pvErr(provision.KindPermission, provision.CodeTokenInvalid),
			pvErr(provision.KindPermission, provision.CodeTokenInactive)},
		"token lacks a permission (403)": {pvErr(provision.KindPermission, provision.CodePermission)},
		"wrong or malformed account id": {provision.Plan{Worker: "box", AccountID: "nope"}.Validate(),
			pvErr(provision.KindConfig, provision.CodeAccountNotFound)},
		"several accounts, none chosen / none": {pvErr(provision.KindConfig, provision.CodeAccountAmbiguous),
			pvErr(provision.KindConfig, provision.CodeNoAccount)},
		"R2 not enabled":                           {pvErr(provision.KindConfig, provision.CodeR2NotEnabled)},
		"runtime sync failed":                      nil, // the rows of docs/runtime.md, above
		"Worker not deployed yet (`--set-secret`)": {pvErr(provision.KindConfig, provision.CodeWorkerMissing)},
		"no secret given and the Worker already has one (`--set-secret` on a fresh machine)":                                          {pvErr(provision.KindConfig, provision.CodeSecretExists)},
		"no secret given, the Worker already has one, and the only generated secret is the per-name file of an older version":         {pvErr(provision.KindConfig, provision.CodeSecretLegacyFile)},
		"`CLOUDFLARE_ACCOUNT_ID` is not the wrangler config's `account_id` (use `--account-id` to replace it)":                        {accountMismatch(t, dir)},
		"the run did not finish within `--timeout` (the message names the step)":                                                      {pvErr(provision.KindUnavailable, provision.CodeTimeout)},
		"Cloudflare 5xx or network after retries; an answer that is not Cloudflare's (a proxy page, JSON cut short, more than 4 MiB)": {pvErr(provision.KindUnavailable, provision.CodeUnavailable)},
		"bad names or contradicting flags; `--env` names no environment of the wrangler config": {provision.ValidateBucketName("Not_A_Bucket"), provision.ValidateWorkerName("-box"),
			pvErr(provision.KindUsage, provision.CodeInvalidPlan), first(provision.ResolveNaming(provision.Inputs{WranglerConfig: []byte(`{"name": "box"}`), Env: "qa"}))},
		"unreadable wrangler config / nimbus.yaml": {pvErr(provision.KindData, provision.CodeWranglerConfig),
			pvErr(provision.KindData, provision.CodeNimbusConfig)},
		"the Worker's URL cannot be recorded in nimbus.yaml as one plain value": {func() error {
			_, _, err := provision.SetYAMLEndpoint(nil, "https://box.acme.workers.dev/#x")
			return err
		}()},
		"short secret": {pvErr(provision.KindData, provision.CodeSecretInvalid)},
		"the secret file cannot be read (a directory, permission denied)":            {pvErr(provision.KindConfig, provision.CodeSecretUnreadable)},
		"a local file (wrangler config, nimbus.yaml, secret) cannot be written":      {pvErr(provision.KindCantCreate, provision.CodeWriteFile)},
		"no random bytes for a generated secret (the system's random source failed)": {pvErr(provision.KindOSErr, provision.CodeRandomUnavailable)},
		"an answer from Cloudflare nimbus does not expect":                           {pvErr(provision.KindInternal, provision.CodeAPI)},
		"interrupted (Ctrl-C); rerun resumes":                                        {pvErr(provision.KindInterrupted, provision.CodeInterrupted)},
	}
	for page, examples := range map[string]map[string][]error{"runtime.md": runtimeRows, "setup.md": setupRows} {
		rows := docTableIn(t, page, "## Errors")
		if len(rows) != len(examples) {
			t.Errorf("docs/%s: %d rows, %d with examples", page, len(rows), len(examples))
		}
		for _, row := range rows {
			errs, ok := examples[row[0]]
			if !ok {
				t.Errorf("docs/%s: row %q has no examples", page, row[0])
				continue
			}
			for _, err := range errs {
				if err == nil {
					t.Errorf("docs/%s: an example of %q did not fail", page, row[0])
					continue
				}
				e, ok := clierr.From(runtimecli.CLIError(err))
				if !ok {
					t.Errorf("docs/%s: %q: %T is not classified", page, row[0], err)
					continue
				}
				if strconv.Itoa(e.Exit) != row[1] || !strings.Contains(row[2], "`"+e.Code+"`") {
					t.Errorf("docs/%s: %q: %s exits %d with %s; the row says %s, %s", page, row[0], err, e.Exit, e.Code, row[1], row[2])
				}
				if e.Plain != (e.Exit == 64) && e.Code != clierr.CodeConfigMissing {
					t.Errorf("docs/%s: %q: Plain = %v for exit %d", page, row[0], e.Plain, e.Exit)
				}
			}
		}
	}
}

// accountMismatch is the error Run returns, before any request, for an
// account id from the environment that is not the wrangler config's.
func accountMismatch(t *testing.T, dir string) error {
	t.Helper()
	w := filepath.Join(dir, "account.jsonc")
	if err := os.WriteFile(w, []byte(`{"name": "box", "account_id": "0123456789abcdef0123456789abcdef"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := provision.NewClient(provision.ClientOptions{Token: "t", BaseURL: "http://127.0.0.1:9/client/v4"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&provision.Provisioner{Client: c}).Run(context.Background(), provision.Plan{
		Worker: "box", AccountID: "fedcba9876543210fedcba9876543210", AccountIDFrom: "CLOUDFLARE_ACCOUNT_ID",
		Buckets: []provision.Bucket{{Name: "box-npm-cache"}}, WranglerConfig: w,
	})
	return err
}
