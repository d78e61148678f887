package tokencli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/suggest"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// TTLHint is the hint of every --ttl usage error.
const TTLHint = "give seconds (3600) or a duration (15m, 24h, 1d); at most 30 days"

// MintFlags are the flags every command that mints a token shares, so
// `token mint`, `session url` and `dev token` read them the same way:
//
//   - --ttl: seconds exactly as upstream reads them (JavaScript's
//     Number()), or a duration such as 15m or 1d (token.ParseTTL);
//   - --scopes: comma-separated, repeatable, the lists accumulate;
//   - --full-trust: mint without a scopes claim (legacy full trust).
//
// Leaving --scopes out gives Default (nil: no scopes claim, as upstream).
// An explicitly empty list (--scopes "") is refused unless --full-trust
// is given too, because an empty list silently meaning "everything" is
// the opposite of what it says.
type MintFlags struct {
	// Default is the scopes claim when neither --scopes nor --full-trust
	// is given; nil means no claim.
	Default []string

	ttl       string
	scopes    []string
	fullTrust bool
	fs        *pflag.FlagSet
}

// Add defines --ttl, --scopes and --full-trust on fs.
func (m *MintFlags) Add(fs *pflag.FlagSet, ttlUsage, scopesUsage string) {
	m.fs = fs
	fs.StringVar(&m.ttl, "ttl", "", ttlUsage)
	fs.StringArrayVar(&m.scopes, "scopes", nil, scopesUsage)
	fs.BoolVar(&m.fullTrust, "full-trust", false, "mint without a scopes claim: the token may do everything (legacy full trust)")
}

// TTLGiven reports whether --ttl was given a non-empty value; an empty
// one means the default, as upstream.
func (m *MintFlags) TTLGiven() bool { return m.ttl != "" }

// Apply sets the lifetime and scopes of in from the flags, or returns a
// usage error (exit 64) naming the flag.
func (m *MintFlags) Apply(in *token.Input) error {
	if m.ttl != "" {
		ms, err := token.ParseTTL(m.ttl)
		if err != nil {
			return clierr.Usagef("--ttl: %v", err).WithHint(TTLHint)
		}
		in.TTLMillis = &ms
	}
	scopes, err := m.Scopes()
	if err != nil {
		return err
	}
	in.Scopes = scopes
	return nil
}

// Scopes returns the scopes claim the flags ask for.
func (m *MintFlags) Scopes() ([]string, error) {
	given := m.fs != nil && m.fs.Changed("scopes")
	if !given {
		if m.fullTrust {
			return nil, nil
		}
		return m.Default, nil
	}
	var all []string
	for _, v := range m.scopes {
		all = append(all, token.ParseScopes(v)...)
	}
	empty := true
	for _, s := range all {
		if s != "" {
			empty = false
		}
	}
	switch {
	case empty && m.fullTrust:
		return nil, nil
	case empty:
		return nil, clierr.Usagef("--scopes %s is an empty list", quoteList(m.scopes)).
			WithHint("name the scopes (e.g. --scopes sandbox:use), or pass --full-trust for a token without a scopes claim")
	case m.fullTrust:
		return nil, clierr.Usagef("--full-trust contradicts --scopes %s", quoteList(m.scopes)).
			WithHint("drop --full-trust to limit the token to those scopes")
	}
	return all, nil
}

// CodeScopeUnknown is the code of the warning about a scope that is a near
// miss of one Nimbus checks.
const CodeScopeUnknown = "W_SCOPE_UNKNOWN"

// ScopeWarnings warns about each scope given with --scopes that is a near
// miss of one Nimbus checks (sandbox:uze, Session:Destroy): scopes are not
// validated (as upstream), so the token would be minted and refused later
// with E_SCOPE_MISSING. Scopes far from every known one pass silently: an
// embedder may require scopes of its own.
func (m *MintFlags) ScopeWarnings() []*clierr.Warning {
	if m.fs == nil || !m.fs.Changed("scopes") {
		return nil
	}
	known := token.KnownScopes()
	var ws []*clierr.Warning
	for _, v := range m.scopes {
		for _, s := range token.ParseScopes(v) {
			if s == "" || slices.Contains(known, s) {
				continue
			}
			if near := suggest.Closest(strings.ToLower(s), known, 2); near != "" {
				ws = append(ws, &clierr.Warning{Code: CodeScopeUnknown,
					Message: fmt.Sprintf("scope %q is not one Nimbus checks; did you mean %s?", s, near),
					Hint:    "--scopes " + near})
			}
		}
	}
	return ws
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, " --scopes ")
}

// CodeSecretInvalid is the code of a JWT_SECRET nimbus will not sign with
// under --strict (the same code `setup cloudflare` uses for a short one).
const CodeSecretInvalid = "E_SECRET_INVALID"

// CodeSecretWeak is the code of the warning about a short JWT_SECRET.
const CodeSecretWeak = "W_SECRET_WEAK"

// CodeSecretWhitespace is the code of the warning about a JWT_SECRET with
// a line break, byte order mark or white space around it.
const CodeSecretWhitespace = "W_SECRET_WHITESPACE"

// secretNoise says what a secret carries that no secret file can (package
// secretfile's rule), or "".
func secretNoise(s string) string {
	switch {
	case strings.HasSuffix(s, "\r\n") || strings.HasSuffix(s, "\n"):
		return "ends with a line break"
	case strings.HasSuffix(s, "\r"):
		return "ends with a carriage return"
	case strings.HasPrefix(s, "\ufeff"):
		return "starts with a byte order mark"
	case strings.ContainsAny(s, "\r\n"):
		return "holds a line break"
	case strings.TrimSpace(s) != s:
		return "has white space at its start or end"
	}
	return ""
}

// secretNoiseHint is the advice for a secret that secretNoise finds
// something in.
const secretNoiseHint = "remove it (tr -d '\\r\\n' < file, or save the file as plain UTF-8 with LF) or pass --secret-file FILE, which applies the same rule as setup"

// CheckingSecretWarning warns about a secret that tokens are checked with
// (name is the variable it came from) when it carries what no secret file
// can, as WeakSecret does for the one they are signed with: a token from
// a Worker whose secret was set from the file fails the check here, and
// one that passes here fails on that Worker. It returns nil otherwise; the
// secret itself is never part of the warning.
func CheckingSecretWarning(name, secret string) *clierr.Warning {
	why := secretNoise(secret)
	if why == "" {
		return nil
	}
	return &clierr.Warning{
		Code:    CodeSecretWhitespace,
		Message: name + " " + why + "; tokens are checked with it as given, but a Worker secret set from a file does not have it",
		Hint:    secretNoiseHint,
	}
}

// WeakSecretWarning is WeakSecret without --strict: the warning for a
// short secret, or nil.
func WeakSecretWarning(secret string) *clierr.Warning {
	w, _ := WeakSecret(secret, false)
	return w
}

// WeakSecret checks the signing secret's length. A secret shorter than
// token.MinSecretLength bytes returns a warning, or with strict an error
// (exit 65); the secret itself is never part of either.
//
// A secret with a line break, a byte order mark or white space at either
// end is signed with as given (upstream does the same) but warned about
// first: it came from $(cat file) of a CRLF or BOM file or a copy and
// paste, and the Worker's copy, set from the file by setup, lacks it.
func WeakSecret(secret string, strict bool) (*clierr.Warning, error) {
	return WeakSecretFrom(secret, "JWT_SECRET", strict)
}

// WeakSecretFrom is WeakSecret for a secret read from source ("JWT_SECRET",
// "the secret in FILE"): the warning names where the secret came from, so
// that a --secret-file user is not sent to fix JWT_SECRET.
func WeakSecretFrom(secret, source string, strict bool) (*clierr.Warning, error) {
	if why := secretNoise(secret); why != "" {
		msg := source + " " + why + "; tokens are signed with it as given, but a Worker secret set from a file does not have it"
		if strict {
			return nil, clierr.New(exitcode.DataErr, CodeSecretInvalid, msg, secretNoiseHint)
		}
		return &clierr.Warning{Code: CodeSecretWhitespace, Message: msg, Hint: secretNoiseHint}, nil
	}
	if len(secret) >= token.MinSecretLength {
		return nil, nil
	}
	msg := fmt.Sprintf("%s is %d bytes; HS256 needs at least %d", source, len(secret), token.MinSecretLength)
	hint := "make a new one with 'nimbus token secret' and put it on the Worker (nimbus setup cloudflare --set-secret)"
	if strict {
		return nil, clierr.New(exitcode.DataErr, CodeSecretInvalid, msg, hint)
	}
	return &clierr.Warning{Code: CodeSecretWeak, Message: msg, Hint: hint}, nil
}
