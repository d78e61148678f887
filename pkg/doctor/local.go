package doctor

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/internal/duration"
	"github.com/nimbus-sh/nimbus/internal/shellquote"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// checkConfig lists the config files and their keys, naming keys nimbus
// does not know (a misspelt key is silently ignored otherwise).
func (d *Doctor) checkConfig() Check {
	const name = "config"
	if d.UserConfigErr != nil {
		return fail(name, "cannot find the user config file: "+d.UserConfigErr.Error(),
			"set XDG_CONFIG_HOME to an absolute path, or unset it for ~/.config")
	}
	for _, f := range d.ConfigFiles {
		if f.Err != nil {
			hint := f.Hint
			if hint == "" {
				hint = "fix the YAML in " + f.Path + ", or remove the file"
			}
			return fail(name, f.Path+": "+f.Err.Error(), hint)
		}
	}
	if d.SettingsErr != nil {
		return fail(name, "nimbus commands would refuse these settings: "+d.SettingsErr.Error(), d.SettingsHint)
	}
	if len(d.ConfigFiles) == 0 {
		return pass(name, "no config file: settings come from flags and the environment")
	}
	var parts, unknown []string
	for _, f := range d.ConfigFiles {
		keys := "no keys"
		if len(f.Keys) > 0 {
			keys = strings.Join(f.Keys, ", ")
		}
		parts = append(parts, f.Path+" ("+keys+")")
		for _, k := range f.Unknown {
			u := f.Path + ": " + k.Key
			if k.Suggestion != "" {
				u += " (did you mean " + k.Suggestion + "?)"
			}
			unknown = append(unknown, u)
		}
	}
	detail := strings.Join(parts, "; ")
	if len(unknown) > 0 {
		return warn(name, detail+"; unknown keys: "+strings.Join(unknown, ", "),
			"nimbus ignores unknown keys; it reads "+strings.Join(d.KnownKeys, ", "))
	}
	return pass(name, detail)
}

// Credential names the checks know.
const (
	// CredToken is a token given directly, from the environment or a
	// config file.
	CredToken = "NIMBUS_TOKEN"
	// CredTokenFile is a token read from a file (--token-file,
	// NIMBUS_TOKEN_FILE or token_file in a config file).
	CredTokenFile = "token file"
	// CredSecret is the Worker's signing secret, with which nimbus mints
	// its own tokens.
	CredSecret = "JWT_SECRET"
	// CredCloudflare is the Cloudflare API token; without it the checks
	// that need the Cloudflare API are skipped.
	CredCloudflare = "CLOUDFLARE_API_TOKEN"
)

// checkCredentials says which credentials are present and where they come
// from, never their values.
func (d *Doctor) checkCredentials() Check {
	const name = "credentials"
	var worker, cf []string
	for _, c := range d.Credentials {
		if c.Err != nil {
			hint := c.Hint
			if hint == "" {
				hint = "fix the path, or unset it to use another credential"
			}
			return fail(name, c.Name+" from "+c.Source+": "+c.Err.Error(), hint)
		}
		s := c.Name + " (" + c.Source + ")"
		if c.Name == CredCloudflare {
			cf = append(cf, s)
		} else {
			worker = append(worker, s)
		}
	}
	cfPart := "Cloudflare: none (the checks that need the Cloudflare API are skipped)"
	if len(cf) > 0 {
		cfPart = "Cloudflare: " + strings.Join(cf, ", ")
	}
	if len(worker) == 0 {
		return warn(name, "Worker: none; "+cfPart,
			"sandbox commands need a token: --token-file FILE, NIMBUS_TOKEN, token: in nimbus.yaml, or JWT_SECRET with NIMBUS_TENANT to mint one")
	}
	detail := "Worker: " + strings.Join(worker, ", ") + "; " + cfPart
	if d.Token == "" && d.Secret != "" && d.Tenant == "" {
		return warn(name, detail, "minting tokens with JWT_SECRET needs a tenant: set NIMBUS_TENANT or pass --tenant")
	}
	if d.Token != "" && d.Secret != "" {
		detail += "; the token is used, JWT_SECRET only to check it"
	}
	return pass(name, detail)
}

// checkToken reads the token without trusting it and judges it by the
// server's own rules (token.CheckUsable: the signature's length, the
// header's alg, claims, expiry, sandbox:use), so doctor passes no token
// the Worker or nimbus dev refuses; with JWT_SECRET it also checks the
// signature. The pin is the endpoint check's: doctor has no sandbox id to
// compare it with.
func (d *Doctor) checkToken() Check {
	const name = "token"
	now := d.Now()
	if d.Token == "" {
		if d.Secret == "" {
			return skip(name, "no token to check")
		}
		if len(d.Secret) < 32 {
			return warn(name, fmt.Sprintf("nimbus mints tokens with JWT_SECRET, but it is only %d characters", len(d.Secret)),
				"use a secret of at least 32 random characters: nimbus token secret")
		}
		return pass(name, "nimbus mints 15-minute tokens pinned to each sandbox, with only the scopes each command needs")
	}
	from := ""
	if d.TokenSource != "" {
		from = " from " + d.TokenSource
	}
	dec, err := token.Decode(d.Token)
	if err != nil {
		// The tenant and subject nimbus would mint with, when set: the
		// token has none to read.
		mint := "nimbus token mint --tenant " + orT(d.Tenant, "")
		if d.Subject != "" {
			mint += " --sub " + shellquote.Quote(d.Subject)
		}
		return fail(name, "the token"+from+" is not a Nimbus token: "+err.Error(), "check the token; mint one with: "+mint+" --scopes sandbox:use")
	}
	c := dec.Claims
	mint := mintHint(c, d.Tenant)
	// Why the Worker would refuse the token: in its own words, but where
	// doctor's say more (the expiry time, the scopes the token has).
	// CheckUsable's errors are all *token.Error.
	var te *token.Error
	if err := token.CheckUsable(dec, now, token.Want{Scopes: []string{token.ScopeSandboxUse}}); errors.As(err, &te) {
		what := "the token" + from
		switch {
		case te.Code == token.CodeTokenSignature:
			what += fmt.Sprintf(" has a %d-byte signature, where an HS256 one is 32 bytes, so no secret verifies it; the Worker refuses it (E_TOKEN_SIGNATURE)", dec.SignatureLen)
		case te.Code == token.CodeTokenMalformed:
			// nimbus's own check: an upstream Worker does not read the
			// header (docs/compat.md).
			what += " has a header whose alg is not HS256, which no Nimbus issuer writes; nimbus dev refuses it (E_TOKEN_MALFORMED)"
		case te.Code == token.CodeTokenClaims && te.Claim == "iat":
			what += " lacks numeric iat and exp claims (issue and expiry times); the Worker refuses it (E_TOKEN_CLAIMS)"
		case te.Code == token.CodeTokenClaims && te.Claim == "tn" && c.Tenant() == "":
			what += " has no tenant (tn claim); the Worker refuses it"
		case te.Code == token.CodeTokenExpired:
			exp := c.ExpiresTime()
			what += " expired " + duration.Human(now.Sub(exp).Round(time.Second)) + " ago (" + exp.UTC().Format(time.RFC3339) + ")"
		case te.Code == token.CodeScopeMissing:
			scopes, _ := c.Scopes()
			what += " lacks " + te.RequiredScope + ", which the remote API requires (it has: " + strings.Join(scopes, ", ") + ")"
		default:
			what += " is one the Worker refuses: " + te.Message + " (" + te.Code + ")"
		}
		return fail(name, what, mint)
	}
	exp := c.ExpiresTime()
	scopes, has := c.Scopes()
	var facts []string
	facts = append(facts, "tenant "+c.Tenant())
	if sub, ok := c.Subject(); ok {
		facts = append(facts, "subject "+sub)
	}
	if has {
		facts = append(facts, "scopes "+strings.Join(scopes, ", "))
	} else {
		facts = append(facts, "no scopes claim (full trust)")
	}
	if sid, ok := c.SessionID(); ok {
		facts = append(facts, "pinned to sandbox "+sid)
	}
	// exp may be the current second, which the Worker still accepts.
	left := max(exp.Sub(now).Round(time.Second), 0)
	facts = append(facts, "expires in "+duration.Human(left))
	detail := "the token" + from + ": " + strings.Join(facts, ", ")
	if d.Secret != "" {
		if _, err := (token.Verifier{Secret: d.Secret, Now: d.Now}).Verify(d.Token); err != nil {
			if errors.Is(err, token.ErrTokenSignature) {
				return warn(name, detail+"; it is not signed with the JWT_SECRET of this environment",
					"if the Worker's secret is this JWT_SECRET, the Worker will refuse the token; otherwise ignore this")
			}
		}
	}
	if left < 10*time.Minute {
		return warn(name, detail, "the token expires soon; "+mint+" --ttl 1h")
	}
	if !has {
		return warn(name, detail, "a token without scopes can do everything, destroy included; prefer one limited to sandbox:use")
	}
	return pass(name, detail)
}

// mintHint is the command that mints the token at hand afresh: the same
// tenant, subject and pin (the subject is part of the sandbox's Durable
// Object name, so a token without it reaches other sandboxes) and its
// scopes, sandbox:use among them. The claims were not verified, so only
// values a shell takes literally are repeated: ids by token.IsIDComponent,
// scopes as shellquote leaves them unquoted, but for a ',' that would split
// the --scopes list.
// A token without a usable tenant takes tenant, the one nimbus mints
// with (--tenant, NIMBUS_TENANT), when set.
func mintHint(c token.Claims, tenant string) string {
	cmd := "mint a fresh one: nimbus token mint --tenant " + orT(c.Tenant(), tenant)
	if sub, ok := c.Subject(); ok && token.IsIDComponent(sub) {
		cmd += " --sub " + sub
	}
	scopes := []string{token.ScopeSandboxUse}
	have, _ := c.Scopes()
	for _, s := range have {
		if len(s) <= 128 && shellquote.Quote(s) == s && !strings.Contains(s, ",") && !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	cmd += " --scopes " + strings.Join(scopes, ",")
	if sid, ok := c.SessionID(); ok && token.IsIDComponent(sid) {
		cmd += " --sid " + sid
	}
	return cmd
}

// orT is the tenant a mint hint names: tn, a token's claim, when it is
// one a shell takes literally (it was not verified); else known, the
// tenant the command resolved, quoted; else the placeholder T.
func orT(tn, known string) string {
	switch {
	case tn != "" && token.IsIDComponent(tn):
		return tn
	case known != "":
		return shellquote.Quote(known)
	}
	return "T"
}
