package sandboxcli

import (
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
// sandbox id: the ids of the cleanup ledger for it, and no file names
// for any argument.
func CompleteID(f *cmdutil.Factory) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return LedgerIDs(f, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// LedgerIDs are the sandbox ids starting with prefix that the cleanup
// ledger holds.
func LedgerIDs(f *cmdutil.Factory, prefix string) []string {
	// A ledger that cannot be read (or only in part) offers what it can:
	// completion says nothing about it.
	entries, _ := ledger.New(f.Paths().LedgerFile()).Pending()
	var out []string
	for i := range entries {
		if id := entries[i].ID; strings.HasPrefix(id, prefix) {
			out = append(out, id)
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
// it at the site's Worker (the ledger records no owner), or a command of
// nimbus used it there successfully (recentids). Completion asks a
// Worker about no other id: any request to an id creates that sandbox,
// and the remote API has no request that only says whether one exists.
func KnownSandbox(f *cmdutil.Factory, site recentids.Site, id string, now time.Time) bool {
	if p := RecentIDsFile(f); p != "" && recentids.Has(p, site, id, now) {
		return true
	}
	entries, _ := ledger.New(f.Paths().LedgerFile()).Pending()
	norm := func(ep string) string {
		ep = strings.TrimSpace(ep)
		if before, _, after, found := userinfo.Cut(ep); found {
			ep = before + after
		}
		return strings.TrimRight(ep, "/")
	}
	for _, e := range entries {
		if e.ID == id && e.Endpoint != ledger.LocalEndpoint && norm(e.Endpoint) == norm(site.Endpoint) &&
			sc.NormalizeBasePath(e.BasePath) == sc.NormalizeBasePath(site.BasePath) {
			return true
		}
	}
	return false
}
