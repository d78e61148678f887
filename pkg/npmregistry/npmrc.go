package npmregistry

import (
	"net/url"
	"strconv"
	"strings"
)

// DefaultRegistry is the public npm registry, npm's own default.
const DefaultRegistry = "https://registry.npmjs.org/"

// Settings are the npm configuration keys one source (the environment or an
// .npmrc file) sets, e.g. "registry" and "@scope:registry".
type Settings map[string]string

// ParseNpmrc reads an .npmrc file: "key = value" lines, ";" and "#"
// comments, optional quotes, and ${VAR} references expanded through getenv
// (npm expands them too; ${VAR?} is the optional form, empty when unset).
// Lines it cannot read are skipped, as npm's ini parser skips them.
func ParseNpmrc(data []byte, getenv func(string) string) Settings {
	out := Settings{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || line[0] == ';' || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			if uq, err := strconv.Unquote(`"` + v[1:len(v)-1] + `"`); err == nil {
				v = uq
			} else {
				v = v[1 : len(v)-1]
			}
		}
		out[expandEnv(k, getenv)] = expandEnv(v, getenv)
	}
	return out
}

// expandEnv replaces ${NAME} and ${NAME?}; a "\${" stays literal.
func expandEnv(s string, getenv func(string) string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		if i > 0 && s[i-1] == '\\' {
			b.WriteString(s[:i-1] + "${")
			s = s[i+2:]
			continue
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		name := strings.TrimSuffix(s[i+2:i+j], "?")
		b.WriteString(s[:i])
		if getenv != nil {
			b.WriteString(getenv(name))
		}
		s = s[i+j+1:]
	}
}

// EnvSettings returns the registry npm takes from the environment:
// npm_config_registry, in any letter case (npm reads its variables
// case-insensitively; the two spellings people use are checked).
func EnvSettings(getenv func(string) string) Settings {
	out := Settings{}
	for _, k := range []string{"npm_config_registry", "NPM_CONFIG_REGISTRY"} {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			out["registry"] = v
			break
		}
	}
	return out
}

// ResolveRegistry returns the registry npm would use for pkg, given the
// configuration sources in precedence order (highest first; npm's order is
// the environment, the project .npmrc, then the user .npmrc). A scoped
// package's "@scope:registry" beats "registry" of the same source, as in
// npm. The result is validated and ends in "/".
func ResolveRegistry(pkg string, sources ...Settings) (string, error) {
	scope := ""
	if strings.HasPrefix(pkg, "@") {
		if i := strings.IndexByte(pkg, '/'); i > 0 {
			scope = pkg[:i]
		}
	}
	chosen := ""
	for _, s := range sources {
		if scope != "" && s[scope+":registry"] != "" {
			chosen = s[scope+":registry"]
			break
		}
		if s["registry"] != "" {
			chosen = s["registry"]
			break
		}
	}
	if chosen == "" {
		chosen = DefaultRegistry
	}
	return normalizeRegistry(chosen)
}

func normalizeRegistry(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", &Error{Kind: KindInvalid, Code: CodeInvalid,
			Message: "invalid npm registry URL " + quote(redactURL(s)),
			Hint:    "npm's registry setting (NPM_CONFIG_REGISTRY or registry= in .npmrc) must be an http(s) URL such as " + DefaultRegistry}
	}
	u.User = nil // credentials in the URL are never sent or printed
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		u.RawPath = ""
	}
	return u.String(), nil
}

func quote(s string) string { return strconv.Quote(s) }

// redactURL is s fit for a message: an .npmrc often puts a token into the
// registry URL through ${VAR}, in the userinfo or the query, and CI logs
// keep stderr. Those parts are replaced; the rest still shows the mistake.
func redactURL(s string) string {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil {
		// Unparsable: whatever follows the scheme may be a user:password
		// (before an '@') or a token, so only the scheme is kept when any
		// of them might be there.
		if strings.ContainsAny(s, "@?#") {
			scheme, _, ok := strings.Cut(s, "://")
			if !ok || strings.ContainsAny(scheme, "@?#/") {
				return "(redacted)"
			}
			return scheme + "://(redacted)"
		}
		return s
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	if u.Fragment != "" {
		u.Fragment, u.RawFragment = "redacted", ""
	}
	return u.String()
}
