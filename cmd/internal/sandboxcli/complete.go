package sandboxcli

import (
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/recentids"
	"github.com/nimbus-sh/nimbus/internal/userinfo"
	"github.com/nimbus-sh/nimbus/pkg/ledger"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// CompleteID is the completion of commands whose first argument is a
// sandbox id: KnownIDs, for the site that site resolves from the
// command's flags and settings (nil when it cannot: the ledger's ids
// only), most recent first, and no file names for any argument. It sends
// nothing: a request to an id would create that sandbox.
func CompleteID(f *cmdutil.Factory, site func(*cobra.Command) *recentids.Site) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var at *recentids.Site
		if site != nil {
			at = site(cmd)
		}
		return KnownIDs(f, at, toComplete), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	}
}

// KnownIDs are the sandbox ids starting with prefix that nimbus knows
// exist: those the cleanup ledger holds at site's Worker (ledgerAt; a
// site whose endpoint is ledger.LocalEndpoint is the local backend's)
// for site's owner, and those the file of recently used sandboxes
// (recentids) holds at site (a Worker and a token's owner). A site whose
// Owner is "" is one whose owner nimbus cannot tell (a token from
// standard input, which completion never reads, or one that does not
// decode): none of the file's ids, and of the ledger's only those any
// owner is offered (below). A nil site (the command's settings name no
// Worker) offers every id of the ledger and none of the file. Ledger records that name no Worker (written by
// hand: nimbus has always recorded the endpoint) are offered at every
// site, and those of site's Worker that name no owner (written by
// versions before the owner was recorded) at every owner, as ids only:
// KnownSandbox never takes them for a sandbox of the site. Each id comes
// once, the most recently created or used first. Only local files are
// read.
func KnownIDs(f *cmdutil.Factory, site *recentids.Site, prefix string) []string {
	// A ledger that cannot be read (or only in part) offers what it can:
	// completion says nothing about it.
	entries, _ := ledger.New(f.Paths().LedgerFile()).Pending()
	var known []recentids.Used
	for _, e := range entries {
		if site == nil || e.Endpoint == "" || ledgerAt(e, *site) && (e.Owner == "" || e.Owner == site.Owner) {
			known = append(known, recentids.Used{ID: e.ID, Time: e.Created})
		}
	}
	if p := RecentIDsFile(f); p != "" && site != nil && site.Owner != "" {
		known = append(known, recentids.List(p, *site, f.Now())...)
	}
	slices.SortStableFunc(known, func(a, b recentids.Used) int { return b.Time.Compare(a.Time) })
	var out []string
	for _, k := range known {
		if strings.HasPrefix(k.ID, prefix) && !slices.Contains(out, k.ID) {
			out = append(out, k.ID)
		}
	}
	return out
}

// Owner is the owner the Worker names the sandboxes reached with tokens
// after ("<tn>:<sub or _>"), as far as this machine can tell: the claims
// of a given token, read without verifying it (only the Worker can), or
// the tenant and subject that minted tokens carry. It is "" for a token
// that does not decode. Two tokens of different owners reach different
// sandboxes under one id.
func (c Credentials) Owner(tokens sc.TokenSource) string {
	if tok, ok := tokens.(sc.StaticToken); ok {
		d, err := token.Decode(string(tok))
		if err != nil {
			return ""
		}
		return d.Claims.DOInstanceName()
	}
	return token.DOInstanceName(c.Tenant, c.Subject)
}

// RecentIDsFile is the file of recently used sandboxes
// (internal/recentids), or "" without a user cache directory.
func RecentIDsFile(f *cmdutil.Factory) string {
	p, err := f.Paths().RecentIDsFile()
	if err != nil {
		return ""
	}
	return p
}

// KnownSandbox reports whether nimbus knows that sandbox id exists at
// site, so that a request to it creates nothing: the cleanup ledger holds
// it at the site's Worker for the site's owner (ledgerOwned), or a
// command of nimbus used it there successfully (recentids). A site whose
// owner is unknown ("") holds no sandbox nimbus knows of. Completion asks a
// Worker about no other id: any request to an id creates that sandbox,
// and the remote API has no request that only says whether one exists.
func KnownSandbox(f *cmdutil.Factory, site recentids.Site, id string, now time.Time) bool {
	if site.Owner == "" {
		return false
	}
	if p := RecentIDsFile(f); p != "" && recentids.Has(p, site, id, now) {
		return true
	}
	entries, _ := ledger.New(f.Paths().LedgerFile()).Pending()
	for _, e := range entries {
		if e.ID == id && e.Endpoint != ledger.LocalEndpoint && ledgerOwned(e, site) {
			return true
		}
	}
	return false
}

// ledgerOwned reports whether the ledger's entry e was recorded at site's
// Worker (ledgerAt) for site's owner. A record that names no owner
// (older versions wrote none, and nimbus writes none for a token it
// cannot decode) is no sandbox of any: the same id at the same Worker is
// another sandbox for each owner, and a request to one creates it.
func ledgerOwned(e ledger.Entry, site recentids.Site) bool {
	return e.Owner != "" && e.Owner == site.Owner && ledgerAt(e, site)
}

// ledgerAt reports whether the ledger's entry e was recorded at site's
// Worker: the same endpoint (without userinfo, spaces and trailing '/')
// and base path, whoever its owner.
func ledgerAt(e ledger.Entry, site recentids.Site) bool {
	norm := func(ep string) string {
		ep = strings.TrimSpace(ep)
		if before, _, after, found := userinfo.Cut(ep); found {
			ep = before + after
		}
		return strings.TrimRight(ep, "/")
	}
	return e.Endpoint != "" && norm(e.Endpoint) == norm(site.Endpoint) &&
		sc.NormalizeBasePath(e.BasePath) == sc.NormalizeBasePath(site.BasePath)
}

// RememberSandbox records that a command used the sandboxes ids at site,
// as the sandbox commands, session new and attach and mcp do (recentids),
// so that completion may offer them and ask the Worker about them. It is
// the one way cmd/ writes the file. The file is a convenience: failing to
// write it (the lock held too long included) is silent.
func RememberSandbox(f *cmdutil.Factory, site recentids.Site, ids ...string) {
	if p := RecentIDsFile(f); p != "" && len(ids) > 0 {
		_ = recentids.Remember(p, site, ids, f.Now())
	}
}

// ForgetSandbox removes the sandboxes ids at site (destroyed) from the
// file of recently used sandboxes, silently; with RememberSandbox, the
// one way cmd/ writes the file.
func ForgetSandbox(f *cmdutil.Factory, site recentids.Site, ids ...string) {
	if p := RecentIDsFile(f); p != "" && len(ids) > 0 {
		_ = recentids.Forget(p, site, ids)
	}
}

// StdinSite is the site completion takes for settings whose token comes
// from standard input, which completion never reads (the shell's input is
// no token): the Worker endpoint and basePath name, whose owner is
// unknown, so that KnownIDs offers only the ids any owner is offered.
// Without an endpoint it names no Worker, and offers only ledger records
// that name none: an id of any Worker or owner would not be attributable.
func StdinSite(endpoint, basePath string) *recentids.Site {
	return &recentids.Site{Endpoint: endpoint, BasePath: basePath}
}
