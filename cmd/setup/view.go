package setup

import (
	"fmt"
	"io"
	"time"

	"github.com/nimbus-sh/nimbus/internal/duration"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
	"github.com/nimbus-sh/nimbus/internal/shellquote"
	"github.com/nimbus-sh/nimbus/internal/style"
	"github.com/nimbus-sh/nimbus/pkg/provision"
)

// view draws the provisioning checklist on stderr when it is a terminal
// and stays silent otherwise (cli.md: progress only on a terminal), and
// with --json, whose stderr carries JSON objects only, terminal or not.
type view struct {
	w      io.Writer
	st     *style.Styles
	active bool
	dryRun bool
}

func newView(ios *iostreams.IOStreams, dryRun, silent bool) *view {
	return &view{w: ios.ErrOut, st: ios.Styles(), active: ios.IsStderrTTY() && !silent, dryRun: dryRun}
}

// Observe prints one checklist line per finished step.
func (v *view) Observe(e provision.Event) {
	if !v.active {
		return
	}
	var icon string
	switch e.State {
	case provision.StateDone:
		icon = v.st.SuccessIcon()
	case provision.StateSkipped:
		icon = v.st.Muted("-")
	case provision.StateWarning:
		icon = v.st.WarningIcon()
	case provision.StateFailed:
		icon = v.st.FailureIcon()
	default:
		return
	}
	fmt.Fprintf(v.w, "%s %s\n", icon, e.Message)
}

func (v *view) summary(res *provision.Result, took time.Duration) {
	if !v.active {
		return
	}
	st := v.st
	if v.dryRun {
		fmt.Fprintf(v.w, "\n%s nothing was changed; rerun without --dry-run to apply\n", st.Bold("Dry run:"))
		return
	}
	fmt.Fprintf(v.w, "\n%s %s is ready to deploy %s\n", st.SuccessIcon(), st.Bold(res.Worker), st.Muted("("+duration.Human(took)+")"))
	if res.SecretGenerated {
		// The command is pasted into a shell: the path may hold a space
		// (~/Library/Application Support on macOS).
		fmt.Fprintf(v.w, "  JWT_SECRET was generated and stored in %s (mode 0600); mint tokens with\n  JWT_SECRET=$(cat %s) nimbus token mint ...\n", st.Key(res.SecretFile), shellquote.Quote(res.SecretFile))
	}
	switch res.Pin {
	case provision.PinStale, provision.PinMissing:
		fmt.Fprintf(v.w, "  Runtime installs need the catalog pin: rerun with --write-config (or add \"NIMBUS_RUNTIME_CATALOG_SHA256\": \"%s\" to vars).\n", res.CatalogSHA256)
	}
	fmt.Fprintf(v.w, "Next:\n  npx wrangler deploy\n")
	if res.Secret != provision.SecretSet && res.Secret != provision.SecretExists {
		fmt.Fprintf(v.w, "  nimbus setup cloudflare --set-secret   (after the first deploy)\n")
	}
	if res.WorkersDevURL != "" {
		fmt.Fprintf(v.w, "  open %s\n", st.Key(res.WorkersDevURL))
	}
}

// resultJSON keeps upstream's keys first and in upstream's order, then adds
// nimbus's.
type resultJSON struct {
	OK             bool              `json:"ok"`
	Worker         string            `json:"worker"`
	Buckets        []string          `json:"buckets"`
	RuntimeBucket  string            `json:"runtimeBucket"`
	RuntimesSynced bool              `json:"runtimesSynced"`
	AccountID      string            `json:"accountId"`
	BucketStatus   map[string]string `json:"bucketStatus"`
	WorkersDevURL  string            `json:"workersDevUrl"`
	Secret         string            `json:"secret"`
	SecretFile     string            `json:"secretFile,omitempty"`
	// SecretAdoptedFrom is the file of an older layout whose secret was
	// copied to secretFile.
	SecretAdoptedFrom string `json:"secretAdoptedFrom,omitempty"`
	// SecretPreviousFile is where the secret generated for the Worker
	// before was moved once the Worker was given another (a dry run: would
	// be moved).
	SecretPreviousFile string   `json:"secretPreviousFile,omitempty"`
	DryRun             bool     `json:"dryRun,omitempty"`
	CatalogSHA256      string   `json:"catalogSha256,omitempty"`
	CatalogPin         string   `json:"catalogPin,omitempty"`
	Warnings           []string `json:"warnings,omitempty"`
}

// resultValue is the JSON document of a run (print it with PrintJSON);
// warnings are the run's and its runtime sync's.
func resultValue(res *provision.Result, warnings []string) resultJSON {
	out := resultJSON{
		OK: true, Worker: res.Worker, Buckets: []string{}, RuntimeBucket: res.RuntimeBucket,
		AccountID: res.AccountID, BucketStatus: map[string]string{}, WorkersDevURL: res.WorkersDevURL,
		Secret: string(res.Secret), SecretPreviousFile: res.SecretPreviousFile, DryRun: res.DryRun,
		RuntimesSynced: res.RuntimesSynced, CatalogSHA256: res.CatalogSHA256, CatalogPin: string(res.Pin),
		Warnings: warnings,
	}
	if out.Secret == string(provision.SecretSet) && res.SecretGenerated {
		out.SecretFile = res.SecretFile
	}
	if res.SecretAdoptedFrom != "" {
		out.SecretFile, out.SecretAdoptedFrom = res.SecretFile, res.SecretAdoptedFrom
	}
	for _, b := range res.Buckets {
		out.Buckets = append(out.Buckets, b.Name)
		out.BucketStatus[b.Name] = string(b.Status)
	}
	return out
}
