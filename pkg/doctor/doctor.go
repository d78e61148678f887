// Package doctor checks a nimbus setup end to end and says what is wrong
// and what to do about it: the binary's version against the latest
// release, the config files and their keys, the credentials and where they
// come from (never their values), the token's expiry, scopes and pin, the
// endpoint and its remote API, the clock against the Worker's, and the
// project's wrangler.jsonc: account id, bucket names (and, with Cloudflare
// credentials, that the buckets exist), the runtime catalog pin against the
// bucket's catalog and JWT_SECRET on the deployed Worker.
//
// Every dependency (HTTP client, clock, project directory, Cloudflare
// client) is a field of Doctor, so each check runs against fakes in tests.
// The package never prints and never reads the environment.
package doctor

import (
	"context"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/pkg/provision"
)

// Status is a check's outcome.
type Status string

// Outcomes, in rising severity.
const (
	// Pass: the check found nothing wrong.
	Pass Status = "pass"
	// Skip: the check could not run for lack of an input (no token, no
	// Cloudflare credential…); it says nothing about health.
	Skip Status = "skip"
	// Warn: something will likely bite later, but it does not make
	// Report.OK false.
	Warn Status = "warn"
	// Fail: something is broken; it makes Report.OK false.
	Fail Status = "fail"
)

// Check is one line of the report.
type Check struct {
	// Name is the check's stable name (version, config, credentials, …).
	Name string `json:"name"`
	// Status is pass, warn, fail or skip.
	Status Status `json:"status"`
	// Detail says what was found, on one line without control
	// characters (what a server said included).
	Detail string `json:"detail"`
	// Hint says what to do; empty for passes. One line, as Detail.
	Hint string `json:"hint"`
}

// Report is the result of Run: OK unless a check failed.
type Report struct {
	// OK is false when any check has Status Fail; warnings and skips
	// leave it true, so scripts can gate on it.
	OK bool `json:"ok"`
	// Checks are the checks in the order they ran.
	Checks []Check `json:"checks"`
}

// ConfigFile is one config file the command found.
type ConfigFile struct {
	// Path is the file's path as the report shows it (nimbus doctor gives
	// it relative to the working directory).
	Path string
	// Keys are its top-level keys, in file order.
	Keys []string
	// Unknown are the keys nimbus does not read, each with the known key
	// it is probably a typo of ("" when none is close).
	Unknown []UnknownKey
	// Err is set when the file cannot be read or parsed.
	Err error
	// Hint says what to do about Err, which only the caller knows for
	// sure (a path given with --config that names no file has nothing to
	// fix); empty gives a hint for a YAML error.
	Hint string
}

// UnknownKey is a config key nimbus does not read.
type UnknownKey struct {
	// Key is the unknown top-level key; Suggestion is the known key it is
	// probably a typo of, or "" when none is close.
	Key, Suggestion string
}

// Credential is one credential the command found: its name and where it
// came from, never its value.
type Credential struct {
	// Name is e.g. NIMBUS_TOKEN, JWT_SECRET, CLOUDFLARE_API_TOKEN.
	Name string
	// Source is e.g. "environment", "config file nimbus.yaml",
	// "--token-file ci.token".
	Source string
	// Err is set when the credential is named but cannot be read (a
	// missing token file).
	Err error
	// Hint replaces the check's generic hint for Err when the caller knows
	// better (a token file of "-" on a terminal).
	Hint string
}

// Doctor holds what the checks need. Zero fields make the checks that
// need them skip.
type Doctor struct {
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// HTTPClient reaches the release endpoint and the Worker; it must bound
	// its requests (http.DefaultClient if nil, with Timeout per request).
	HTTPClient *http.Client
	// Timeout bounds each network check (10s if 0).
	Timeout time.Duration

	// Version is the running binary's version ("(devel)" for dev builds).
	Version string
	// ReleaseURL answers the latest release as GitHub's API does
	// ({"tag_name":"v1.2.3","html_url":…}); "" skips the version check.
	ReleaseURL string

	// ConfigFiles are the config files found, lowest precedence first.
	ConfigFiles []ConfigFile
	// UserConfigErr says why the user config file could not be looked
	// for (a relative XDG_CONFIG_HOME): its settings are missing, which
	// "no config file" would hide.
	UserConfigErr error
	// SettingsErr is why nimbus commands would refuse the settings
	// the files, the environment and the flags give (a malformed
	// NIMBUS_HTTP_TIMEOUT, say), with SettingsHint: the config check fails
	// on it where "pass" would send the user to a command that then
	// refuses to start. A config file that cannot be parsed is reported
	// through ConfigFiles instead.
	SettingsErr  error
	SettingsHint string
	// KnownKeys are the config keys nimbus reads (named in the hint).
	KnownKeys []string

	// Credentials found for the Worker and for Cloudflare.
	Credentials []Credential
	// Token is the bearer token sandbox commands would send (from a file,
	// NIMBUS_TOKEN or the config); "" when none is given.
	Token string
	// TokenSource says where Token came from.
	TokenSource string
	// Secret is JWT_SECRET when set: nimbus mints tokens with it, and the
	// token check verifies Token's signature with it.
	Secret string
	// Tenant and Subject are the minted tokens' tn and sub.
	Tenant, Subject string

	// Endpoint and BasePath locate the remote API; "" skips the network
	// checks on the Worker.
	Endpoint, BasePath string

	// Project is the project directory (wrangler.jsonc is read from it);
	// nil skips the project checks.
	Project fs.FS
	// WranglerFile is the wrangler config's name in Project
	// ("wrangler.jsonc" if "").
	WranglerFile string
	// WranglerEnv is the wrangler environment (--env) whose Worker the
	// project checks look at: env.<WranglerEnv> as 'wrangler deploy --env'
	// reads it (provision.WranglerEnvironment); "" is the top level.
	WranglerEnv string

	// Cloudflare reaches the Cloudflare API; nil skips the checks that
	// need it.
	Cloudflare *provision.Client
	// AccountID is the account (CLOUDFLARE_ACCOUNT_ID); "" means the one in
	// wrangler.jsonc.
	AccountID string

	// OnCheck, when set, is called with each check as soon as it is done,
	// so a terminal can show progress.
	OnCheck func(Check)
}

// Run runs every check in order and returns the report.
func (d *Doctor) Run(ctx context.Context) *Report {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.HTTPClient == nil {
		d.HTTPClient = http.DefaultClient
	}
	if d.Timeout <= 0 {
		d.Timeout = 10 * time.Second
	}
	if d.WranglerFile == "" {
		d.WranglerFile = "wrangler.jsonc"
	}
	r := &Report{OK: true}
	add := func(cs ...Check) {
		for _, c := range cs {
			c.Detail, c.Hint = oneLine(c.Detail), oneLine(c.Hint)
			if c.Status == Fail {
				r.OK = false
			}
			r.Checks = append(r.Checks, c)
			if d.OnCheck != nil {
				d.OnCheck(c)
			}
		}
	}
	add(d.checkVersion(ctx))
	add(d.checkConfig())
	add(d.checkCredentials())
	add(d.checkToken())
	add(d.checkEndpoint(ctx)...)
	add(d.checkProject(ctx)...)
	return r
}

// oneLine makes a check's text safe to print on a line of a terminal:
// details quote what servers said (a release tag, a Worker's error
// message), whose control characters could otherwise reach the terminal
// as escape sequences (set the clipboard, retitle the window, hide text).
// Control and format characters are dropped, line breaks and tabs become
// spaces.
func oneLine(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\t", " ").Replace(s)
	return clierr.TerminalText(s)
}

func pass(name, detail string) Check { return Check{Name: name, Status: Pass, Detail: detail} }

func skip(name, detail string) Check { return Check{Name: name, Status: Skip, Detail: detail} }

func warn(name, detail, hint string) Check {
	return Check{Name: name, Status: Warn, Detail: detail, Hint: hint}
}

func fail(name, detail, hint string) Check {
	return Check{Name: name, Status: Fail, Detail: detail, Hint: hint}
}

// withTimeout bounds one network check.
func (d *Doctor) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.Timeout)
}
