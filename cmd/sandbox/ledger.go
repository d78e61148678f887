package sandbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/recentids"
	"github.com/nimbus-sh/nimbus/internal/shellquote"
	"github.com/nimbus-sh/nimbus/pkg/ledger"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// ledgerDefault is --ledger without a value: NIMBUS_LEDGER or the default
// file. (It is what --help shows as the optional value.)
const ledgerDefault = "$NIMBUS_LEDGER"

// ledgerPath resolves --ledger's value.
func (o *common) ledgerPath(flag string) string {
	if flag == "" || flag == ledgerDefault {
		return o.f.Paths().LedgerFile()
	}
	return flag
}

// ledgerResult is destroy --ledger's JSON output.
type ledgerResult struct {
	Ledger    string         `json:"ledger"`
	Destroyed []string       `json:"destroyed"`
	Failed    []ledgerFailed `json:"failed"`
	// OtherOwners are the entries of owners other than the token's,
	// which the drain left in the ledger (W_LEDGER_OTHER_OWNERS).
	OtherOwners []ledgerOther `json:"otherOwners"`
}

type ledgerOther struct {
	ID       string `json:"id"`
	Endpoint string `json:"endpoint"`
	Owner    string `json:"owner"`
}

type ledgerFailed struct {
	ID       string `json:"id"`
	Endpoint string `json:"endpoint"`
	Code     string `json:"code"`
	Error    string `json:"error"`
}

// destroyLedger destroys every pending sandbox of the ledger that this
// command's credentials reach, each on the Worker that holds it: those of
// the token's owner and those that name no owner (ledger.Mine). Another
// owner's entries are left in the ledger and reported
// (W_LEDGER_OTHER_OWNERS, and otherOwners with --json): the Worker
// names a sandbox after its owner, so destroying their ids with this
// token would destroy this owner's sandboxes of those ids, if any, and
// forgetting them would leak theirs. It never mints a token of another
// owner, even with JWT_SECRET at hand: the ledger is a file any step of
// the job could have written, and a drain acts as the owner it was given,
// no other.
func (o *common) destroyLedger(cmd *cobra.Command, flag, reason string) error {
	ios := o.f.IOStreams
	l := ledger.New(o.ledgerPath(flag))
	pending, err := l.Pending()
	if err != nil && !errors.Is(err, ledger.ErrUnreadable) && !errors.Is(err, ledger.ErrTorn) {
		return ledgerError(err)
	}
	res := ledgerResult{Ledger: l.Path(), Destroyed: []string{}, Failed: []ledgerFailed{}, OtherOwners: []ledgerOther{}}
	if reason == "" {
		reason = "nimbus sandbox destroy --ledger"
	}
	// Credentials are needed only when there is something to destroy (an
	// empty ledger needs none); the drain still runs, to drop torn
	// records.
	var d *ledgerDrain
	defer func() { d.close() }()
	// The owner is known only from the token, which the entries of the
	// local backend (no owners) do not need.
	owner := ""
	if len(pending) > 0 {
		if d, err = o.ledgerOpener(cmd); err != nil {
			return err
		}
		if slices.ContainsFunc(pending, func(e ledger.Entry) bool { return e.Endpoint != ledger.LocalEndpoint }) {
			if owner, err = d.owner(); err != nil {
				return err
			}
		}
	}
	st := ios.Styles()
	human := !o.f.MachineOutput()
	outcomes, others, err := l.Drain(cmd.Context(), owner, func(ctx context.Context, e ledger.Entry) error {
		if d == nil {
			// Recorded since the ledger was first read (one that
			// names an owner was returned as another owner's: it is
			// left for the next drain, which knows the owner).
			var err error
			if d, err = o.ledgerOpener(cmd); err != nil {
				d = nil
				return err
			}
		}
		sb, err := d.open(e)
		if err == nil {
			_, err = sb.Destroy(ctx, reason)
		}
		if human {
			if err != nil {
				fmt.Fprintf(ios.ErrOut, "%s %s: %s\n", st.FailureIcon(), e.ID, o.errorIn(e.ID, err).Error())
			} else {
				fmt.Fprintf(ios.Out, "%s destroyed sandbox %s\n", st.SuccessIcon(), e.ID)
			}
		}
		return err
	})
	// The drain went through every entry it read; what it could not read,
	// and a ledger it could not write, are reported after the outcomes.
	var unreadable, unwritten *ledger.Error
	untrusted := false
	if err != nil {
		var de *ledger.DrainError
		if !errors.As(err, &de) {
			return ledgerError(err)
		}
		if de.Kind() == ledger.DrainNotRead {
			return ledgerError(de.Read)
		}
		// Made a file it must not trust since it was read: what was
		// destroyed is reported as for a ledger that cannot be written,
		// with the untrusted ledger's code.
		untrusted = de.Kind() == ledger.DrainUntrusted
		if de.Torn != nil {
			// A warning, once: the drain dropped the torn records.
			o.f.Warn(&clierr.Warning{Code: CodeLedgerTorn, Message: de.Torn.Error() + "; dropped from the ledger",
				Hint: "a nimbus command was killed while it recorded a sandbox; it had not created it yet"})
		}
		unreadable, unwritten = de.Unreadable, de.Unwritten
	}
	for _, e := range others {
		res.OtherOwners = append(res.OtherOwners, ledgerOther{ID: e.ID, Endpoint: e.Endpoint, Owner: e.Owner})
	}
	// Said before the result, as the torn records are: a drain that
	// left sandboxes behind says so whatever else it did.
	o.warnOtherOwners(others, owner, flag, l.Path())
	if len(outcomes) == 0 {
		if o.f.MachineOutput() {
			if perr := o.f.PrintJSON(res); perr != nil {
				return perr
			}
		}
		if unreadable != nil {
			// Nothing readable to destroy, but what could not be read may
			// have been a live sandbox: never a silent success.
			return ledgerError(unreadable)
		}
		if !o.f.MachineOutput() && len(others) == 0 {
			fmt.Fprintf(ios.ErrOut, "%s nothing to destroy: the ledger %s holds no live sandbox\n", st.SuccessIcon(), l.Path())
		}
		return nil
	}
	var first error
	for _, oc := range outcomes {
		if oc.Err == nil {
			res.Destroyed = append(res.Destroyed, oc.Entry.ID)
			if e := oc.Entry; e.Endpoint != ledger.LocalEndpoint {
				// Completion must not take it for a live sandbox.
				sandboxcli.ForgetSandbox(o.f, recentids.Site{Endpoint: e.Endpoint, BasePath: e.BasePath, Owner: o.drainOwner}, e.ID)
			}
			continue
		}
		var ce *clierr.Error
		errors.As(o.errorIn(oc.Entry.ID, oc.Err), &ce)
		res.Failed = append(res.Failed, ledgerFailed{ID: oc.Entry.ID, Endpoint: oc.Entry.Endpoint, Code: ce.Code, Error: ce.Message})
		if first == nil {
			first = ce
		}
	}
	if o.f.MachineOutput() {
		if err := o.f.PrintJSON(res); err != nil {
			return err
		}
	}
	var notes string
	if unreadable != nil {
		notes += fmt.Sprintf("; %s could not be read either", lineWord(unreadable.Lines))
	}
	if unwritten != nil && first != nil {
		notes += fmt.Sprintf("; the ledger could not record the destroyed ones: %v", unwritten)
	}
	switch {
	case first != nil:
		var ce *clierr.Error
		errors.As(first, &ce)
		msg := fmt.Sprintf("%d of %d sandboxes could not be destroyed (first: %s); they stay in the ledger %s", len(res.Failed), len(outcomes), ce.Message, l.Path())
		return clierr.Wrap(ce, ce.Exit, ce.Code, msg+notes, "fix the cause and run it again: destroying is idempotent")
	case untrusted:
		return clierr.Wrap(unwritten, exitcode.NoPerm, CodeLedgerUntrusted, fmt.Sprintf("%v; the %d sandboxes were destroyed, but stay pending in the ledger%s", unwritten, len(res.Destroyed), notes),
			"someone made "+l.Path()+" writable by others, or replaced it, while the drain ran: if it was you, chmod 600 it and rerun, which destroys them again harmlessly; otherwise delete it")
	case unwritten != nil:
		return clierr.Wrap(unwritten, exitcode.CantCreate, clierr.CodeIO, fmt.Sprintf("%v; the %d sandboxes were destroyed, but stay pending in the ledger%s", unwritten, len(res.Destroyed), notes),
			"a rerun destroys them again harmlessly once the ledger can be written")
	case unreadable != nil:
		return ledgerError(unreadable)
	}
	return nil
}

func lineWord(lines []int) string {
	if len(lines) == 1 {
		return "1 line"
	}
	return fmt.Sprintf("%d lines", len(lines))
}

// CodeLedgerWarning is the warning of a sandbox that could not be recorded
// in (or removed from) the cleanup ledger.
const CodeLedgerWarning = "W_LEDGER"

// recordInLedger records sandbox sb in the cleanup ledger before anything
// creates it, so that a run that is killed outright (a lost runner, a
// SIGKILL) leaks nothing `sandbox destroy --ledger` misses. Kept sandboxes
// are recorded too: the job's last step destroys them. It returns the
// function to call once sb is destroyed. A ledger that cannot be written
// is a warning: the run itself still cleans up after itself.
func (o *common) recordInLedger(cmd *cobra.Command, sb *sandboxclient.Sandbox, by string, keep bool) (destroyed func()) {
	e := ledger.Entry{ID: sb.ID(), By: by, Keep: keep}
	if o.lo.enabled {
		e.Endpoint = ledger.LocalEndpoint
	} else {
		e.Endpoint = strings.TrimRight(sb.Client().Endpoint(), "/")
		if s, err := o.resolve(cmd); err == nil {
			e.BasePath = s.basePath
		}
		if o.site != nil {
			// Completion asks the Worker about the sandbox only with
			// tokens of this owner (sandboxcli.KnownSandbox).
			e.Owner = o.site.Owner
		}
	}
	l := ledger.New(o.f.Paths().LedgerFile())
	if err := l.Record(e); err != nil {
		o.f.Warn(&clierr.Warning{Code: CodeLedgerWarning, Message: fmt.Sprintf("%v; sandbox %s is not in the cleanup ledger", err, e.ID),
			Hint: "set NIMBUS_LEDGER to a writable file of yours"})
		return func() {}
	}
	return func() {
		if err := l.Forget(e); err != nil {
			o.f.Warn(&clierr.Warning{Code: CodeLedgerWarning, Message: err.Error() + "; a later destroy --ledger destroys the (already destroyed) sandbox " + e.ID + " again, harmlessly"})
		}
	}
}

// CodeLedgerUntrusted is the error of a ledger file another user could
// have written.
const CodeLedgerUntrusted = "E_LEDGER_UNTRUSTED"

// CodeLedgerTorn is the warning of a ledger record cut short by a
// writer stopped mid-write, which a drain drops.
const CodeLedgerTorn = "W_LEDGER_TORN"

// CodeLedgerUnreadable is the error of a ledger with lines that are not
// records: the sandboxes they recorded, if any, were not destroyed.
const CodeLedgerUnreadable = "E_LEDGER_UNREADABLE"

// ledgerError reports a ledger that cannot be read.
func ledgerError(err error) error {
	if errors.Is(err, ledger.ErrUnreadable) {
		return clierr.Wrap(err, exitcode.DataErr, CodeLedgerUnreadable, err.Error(),
			"read those lines: destroy any sandbox they name with nimbus sandbox destroy ID, then remove them (or the ledger, once it holds nothing else)")
	}
	if errors.Is(err, ledger.ErrUntrusted) {
		var le *ledger.Error
		path := ""
		if errors.As(err, &le) {
			path = le.Path
		}
		return clierr.Wrap(err, exitcode.NoPerm, CodeLedgerUntrusted, err.Error()+"; nothing was destroyed",
			"a drain sends your credentials to the endpoints the ledger names: if you created "+path+", chmod 600 it; otherwise delete it")
	}
	return clierr.Wrap(err, exitcode.CantCreate, clierr.CodeIO, err.Error(), "")
}

// CodeLedgerOtherOwners is the warning of a drain that left entries of
// other owners than its token's in the ledger.
const CodeLedgerOtherOwners = "W_LEDGER_OTHER_OWNERS"

// warnOtherOwners says which entries of the ledger at path a drain with
// a token of owner left to their owners (W_LEDGER_OTHER_OWNERS), and how
// to drain them: with a token of each, or a token minted for each with
// JWT_SECRET (--tenant and --sub, when the owner reads as ids). flag is
// --ledger's value.
func (o *common) warnOtherOwners(others []ledger.Entry, owner, flag, path string) {
	if len(others) == 0 {
		return
	}
	var owners []string
	for _, e := range others {
		if !slices.Contains(owners, e.Owner) {
			owners = append(owners, e.Owner)
		}
	}
	drain := "nimbus sandbox destroy --ledger"
	if flag != "" && flag != ledgerDefault {
		drain += "=" + shellquote.Quote(flag)
	}
	var mints []string
	for _, ow := range owners {
		tn, sub, _ := strings.Cut(ow, ":")
		if !token.IsIDComponent(tn) || sub != "_" && !token.IsIDComponent(sub) {
			mints = append(mints, drain+" --tenant T --sub S")
			continue
		}
		m := drain + " --tenant " + tn
		if sub != "_" {
			m += " --sub " + sub
		}
		mints = append(mints, m)
	}
	whose := "this token's owner (" + owner + ")"
	if owner == "" {
		whose = "this token, whose owner nimbus cannot tell,"
	}
	o.f.Warn(&clierr.Warning{Code: CodeLedgerOtherOwners,
		Message: fmt.Sprintf("%d %s of %s (%s) %s in the ledger %s: a drain destroys only the sandboxes of %s",
			len(others), plural(len(others), "sandbox", "sandboxes"), plural(len(owners), "another owner", "other owners"), strings.Join(owners, ", "),
			plural(len(others), "stays", "stay"), path, whose),
		Hint: "drain them with a token of their owner (NIMBUS_TOKEN or --token-file), or with JWT_SECRET: " + strings.Join(mints, "; ")})
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// ledgerDrain reaches the sandboxes of the ledger's entries.
type ledgerDrain struct {
	o      *common
	cmd    *cobra.Command
	st     *sandboxcli.Settings
	tokens sandboxclient.TokenSource
	// clients are by endpoint and base path.
	clients map[string]*sandboxclient.Client
}

// ledgerOpener returns how to reach each entry's sandbox: the entry's
// endpoint with this command's credentials (a token pinned to the sandbox
// with session:destroy when minted), or the in-process backend for
// sandboxes of --local runs.
func (o *common) ledgerOpener(cmd *cobra.Command) (*ledgerDrain, error) {
	conn := sandboxcli.Connection{Root: o.root}
	st, err := conn.Resolve(o.f, cmd)
	if err != nil {
		return nil, err
	}
	o.known.Tenant, o.known.Subject, o.known.Scopes = st.Creds.Tenant, st.Creds.Subject, scopesDestroy
	return &ledgerDrain{o: o, cmd: cmd, st: st, clients: map[string]*sandboxclient.Client{}}, nil
}

// owner is the owner of the drain's tokens ("" when it cannot be told),
// which it gets on first use.
func (d *ledgerDrain) owner() (string, error) {
	if d.tokens == nil {
		ts, err := d.st.Creds.TokenSource(true, scopesDestroy...)
		if err != nil {
			return "", err
		}
		d.tokens = ts
		d.o.known = d.o.known.WithToken(ts)
		d.o.drainOwner = d.st.Creds.Owner(ts)
	}
	return d.o.drainOwner, nil
}

// open returns the sandbox of entry e.
func (d *ledgerDrain) open(e ledger.Entry) (*sandboxclient.Sandbox, error) {
	key := e.Endpoint + "\x00" + e.BasePath
	c := d.clients[key]
	if c == nil {
		if e.Endpoint == ledger.LocalEndpoint {
			lc, _, err := d.o.localClient(d.cmd, scopesDestroy)
			if err != nil {
				return nil, err
			}
			c = lc
		} else {
			if _, err := d.owner(); err != nil {
				return nil, err
			}
			// The ledger keeps no credentials: those of a Worker
			// behind basic auth come from this command's endpoint
			// when it names the same one.
			ep := ledger.ResolveEndpoint(e.Endpoint, d.st.Endpoint)
			nc, err := sandboxclient.New(sandboxclient.Options{Endpoint: ep, BasePath: e.BasePath, Tokens: d.tokens, HTTPClient: d.o.f.HTTPClient(), HTTPTimeout: d.st.HTTPTimeout, UserAgent: "nimbus-cli"})
			if err != nil {
				return nil, err
			}
			c = nc
		}
		d.clients[key] = c
	}
	return c.Sandbox(e.ID, sandboxclient.SandboxOptions{Profile: d.st.Profile, Root: d.o.root})
}

// close closes the in-process backend, if it was opened (d may be nil).
func (d *ledgerDrain) close() {
	if d != nil {
		d.o.closeLocal()
	}
}
