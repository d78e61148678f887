package runtimecmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/runtimecli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/jsjson"
	"github.com/nimbus-sh/nimbus/internal/progress"
	"github.com/nimbus-sh/nimbus/internal/table"
	"github.com/nimbus-sh/nimbus/pkg/runtimesync"
)

type listOptions struct {
	cf  cfFlags
	pin string
}

func newCmdList(f *cmdutil.Factory) *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:   "list [--bucket NAME] [--env NAME] [--pin DIGEST]",
		Short: "List the runtimes in the bucket's catalog and check the Worker's pin",
		Long: `Read the runtime catalog from the R2 bucket, validate it and list each runtime
at its default version.

With --pin, or when ./wrangler.jsonc carries vars.NIMBUS_RUNTIME_CATALOG_SHA256,
the catalog read is catalog/sha256/<pin>.json, the one the Worker trusts, and
its bytes must hash to the pin (exit 65 otherwise). stderr says whether the
pin is the bucket's current catalog. --pin= (empty) reads catalog/v1.json.

--env NAME reads the bucket, account and pin of env.NAME of wrangler.jsonc
instead of its top level, as 'wrangler deploy --env NAME' deploys it
(r2_buckets and vars are not inherited from the top level).

stdout, when it is not a terminal, is upstream's JSON array
[{"name","version","size_mb","license"}]; with --json it is an object with
the catalog digests, the pin state and that array as "runtimes". On a
terminal it is a table.`,
		Example: `  nimbus runtime list
  nimbus runtime list --bucket my-runtime-cache --pin dd2cadc4d168f16a1ff10d9f141dd6095207e5e434fed727edd63cb33eb1e7bb
  nimbus runtime list --json | jq -r .pinState
  # the catalog the staging Worker (env.staging of wrangler.jsonc) pins
  nimbus runtime list --env staging`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runList(cmd, f, &o)
		},
	}
	o.cf.register(cmd)
	cmd.Flags().StringVar(&o.pin, "pin", "", "read the catalog pinned by `DIGEST` (default: vars."+runtimecli.PinVar+" of ./wrangler.jsonc)")
	return cmd
}

func runList(cmd *cobra.Command, f *cmdutil.Factory, o *listOptions) error {
	ios := f.IOStreams
	// --pin= (empty) has a meaning of its own: catalog/v1.json.
	if err := o.cf.refuseEmpty(cmd); err != nil {
		return err
	}
	// A malformed --pin is the command line's fault: say so before asking
	// for a Cloudflare token or reading the bucket, as sync refuses a bad
	// runtime name before any credential or network use.
	if o.pin != "" && !runtimesync.ValidDigest(o.pin) {
		return runtimecli.CLIError(&runtimesync.Error{Kind: runtimesync.KindUsage, Code: runtimesync.CodeCatalogPin,
			Message: fmt.Sprintf("invalid catalog digest %q", o.pin),
			Hint:    "a pin is the 64 lowercase hex digits `nimbus runtime sync` prints"})
	}
	wf, _, err := readWrangler(defaultWranglerConfig, false, o.cf.env)
	if err != nil {
		return err
	}
	cfgName := o.cf.configName(defaultWranglerConfig)
	pin, pinFrom := o.pin, "--pin"
	cfgPin := ""
	if wf != nil {
		cfgPin, _ = wf.Var(runtimecli.PinVar)
	}
	// --pin= (empty) asks for catalog/v1.json even when wrangler.jsonc pins.
	if !cmd.Flags().Changed("pin") {
		if v := cfgPin; v != "" {
			pin, pinFrom = v, cfgName
			if !runtimesync.ValidDigest(v) {
				// The file is wrong, not the command line: the Worker
				// deployed from it refuses every runtime install.
				return runtimecli.CLIError(&runtimesync.Error{Kind: runtimesync.KindData, Code: runtimesync.CodeCatalogPin,
					Message: fmt.Sprintf("%s: %s %q is not a catalog digest: a Worker deployed with it cannot install runtimes", defaultWranglerConfig, o.cf.varsKey(), v),
					Hint:    "run `" + o.cf.writeConfigCmd() + "` to pin the published catalog, then redeploy"})
			}
		}
	}
	t, err := resolveTarget(cmd, f, &o.cf, wf)
	if err != nil {
		return err
	}
	l, err := runtimesync.List(cmd.Context(), runtimesync.R2Bucket(t.client, t.accountID, t.bucket), pin)
	if err != nil {
		return runtimecli.CLIError(err)
	}
	// The state is about the pin asked for or, with --pin=, the one the
	// Worker is deployed with: listing catalog/v1.json does not unpin it.
	statePin := pin
	if statePin == "" && cfgPin != "" {
		statePin, pinFrom = cfgPin, cfgName
	}
	listed := "pinned"
	if pin == "" {
		listed = "current"
	}
	state := pinState(statePin, l.Current, wf != nil)
	switch {
	case f.JSON:
		if err := f.PrintJSON(listObject(l, state)); err != nil {
			return err
		}
	case f.MachineOutput():
		if _, err := ios.Out.Write(append(jsjson.MarshalIndent(rowsValue(l), "  "), '\n')); err != nil {
			return err
		}
	default:
		var t table.Table
		t.Row(ios.Styles().Bold, "NAME", "VERSION", "SIZE", "LICENSE")
		for _, r := range l.Rows {
			t.Row(nil, cell(r.Name), cell(r.Version), progress.Bytes(r.SizeBytes), cell(r.License))
		}
		if _, err := t.WriteTo(ios.Out); err != nil {
			return err
		}
	}
	if f.JSON {
		// stderr carries JSON objects only; pinState is in stdout's object.
		switch state {
		case "stale":
			f.Warn(&clierr.Warning{Code: runtimecli.WarnPinStale,
				Message: fmt.Sprintf("%s pins %s, but the bucket's current catalog is %s: listed the %s one", pinFrom, statePin, l.Current, listed),
				Hint:    "run `" + o.cf.writeConfigCmd() + "` and redeploy to move the Worker to the current one"})
		case "missing":
			f.Warn(&clierr.Warning{Code: runtimecli.WarnPinMissing,
				Message: cfgName + " does not pin a runtime catalog: runtime installs in the deployed Worker fail until it does",
				Hint:    "run `" + o.cf.writeConfigCmd() + "` and redeploy"})
		}
		return nil
	}
	st := ios.Styles()
	w := ios.ErrOut
	switch state {
	case "current":
		if ios.IsStderrTTY() {
			fmt.Fprintf(w, "%s %s pins %s, the bucket's current catalog\n", st.SuccessIcon(), pinFrom, st.Key(statePin[:12]))
		}
	case "stale":
		fmt.Fprintf(w, "%s %s pins %s, but the bucket's current catalog is %s: listed the %s one. Run `%s` and redeploy to move the Worker to the current one.\n",
			st.WarningIcon(), pinFrom, statePin, l.Current, listed, o.cf.writeConfigCmd())
	case "missing":
		fmt.Fprintf(w, "%s %s does not pin a runtime catalog: runtime installs in the deployed Worker fail until it does. Run `%s` and redeploy.\n",
			st.WarningIcon(), cfgName, o.cf.writeConfigCmd())
	}
	return nil
}

// cell makes catalog text safe for one table cell on a terminal. The
// catalog is whatever the bucket holds (anyone with R2 write access, or a
// package's manifest whose license a sync copies in, wrote it): an ESC or
// BEL of theirs would drive the terminal (retitle it, write the clipboard
// with OSC 52), a bidi override would reorder the line, and a tab or line
// break would break the table.
func cell(s string) string {
	return strings.Join(strings.Fields(clierr.TerminalText(s)), " ")
}

// pinState compares pin with the bucket's current catalog: "current",
// "stale", "missing" (a wrangler.jsonc without a pin) or "none" (no pin,
// no wrangler.jsonc).
func pinState(pin, current string, haveConfig bool) string {
	switch {
	case pin == "" && haveConfig:
		return "missing"
	case pin == "":
		return "none"
	case pin == current:
		return "current"
	default:
		return "stale"
	}
}

// rowsValue is upstream's array, built with JavaScript's number formatting
// (size_mb is size_bytes/1048576, unrounded, as JSON.stringify prints it).
func rowsValue(l *runtimesync.Listing) jsjson.Value {
	arr := jsjson.Value{Kind: jsjson.Array}
	for _, r := range l.Rows {
		row := jsjson.Value{Kind: jsjson.Object}
		row.Set("name", jsjson.StringValue(r.Name))
		row.Set("version", jsjson.StringValue(r.Version))
		row.Set("size_mb", jsjson.NumberValue(float64(r.SizeBytes)/1048576))
		row.Set("license", jsjson.StringValue(r.License))
		arr.Items = append(arr.Items, jsjson.Member{Value: row})
	}
	return arr
}

func listObject(l *runtimesync.Listing, state string) jsjson.Value {
	obj := jsjson.Value{Kind: jsjson.Object}
	obj.Set("bucket", jsjson.StringValue(l.Bucket))
	obj.Set("key", jsjson.StringValue(l.Key))
	obj.Set("catalogSha256", jsjson.StringValue(l.SHA256))
	obj.Set("currentSha256", jsjson.StringValue(l.Current))
	obj.Set("pin", jsjson.StringValue(l.Pin))
	obj.Set("pinState", jsjson.StringValue(state))
	obj.Set("runtimes", rowsValue(l))
	return obj
}
