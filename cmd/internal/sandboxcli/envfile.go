package sandboxcli

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/clierr"
)

// MaxEnvFile bounds an --env-file.
const MaxEnvFile = 1 << 20

// ParseEnvFile reads a dotenv file: KEY=VALUE lines, blank lines and
// "#" comments, an optional "export " prefix, values bare (trailing
// spaces and an unquoted " #comment" dropped), single-quoted (literal) or
// double-quoted (with \n, \t, \", \\ and \$ escapes; may span lines).
// Errors name the file and line, never a value, since values are often
// secrets.
func ParseEnvFile(name string, data []byte) (map[string]string, error) {
	if len(data) > MaxEnvFile {
		return nil, clierr.Usagef("--env-file %s: larger than 1 MiB", name)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	env := map[string]string{}
	line := 0
	bad := func(format string, args ...any) error {
		return clierr.Usagef("--env-file %s:%d: %s", name, line, fmt.Sprintf(format, args...)).
			WithHint("each line is KEY=VALUE (quotes allowed), a comment (#) or blank")
	}
	for len(text) > 0 {
		line++
		var l string
		l, text, _ = strings.Cut(text, "\n")
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		t = strings.TrimPrefix(t, "export ")
		k, v, ok := strings.Cut(t, "=")
		k = strings.TrimSpace(k)
		if !ok {
			return nil, bad("the line has no '=' (its text is not shown: it may be a secret)")
		}
		if !validEnvName(k) {
			return nil, bad("%q is not a variable name ([A-Za-z_][A-Za-z0-9_]*)", k)
		}
		v = strings.TrimLeft(v, " \t")
		switch {
		case strings.HasPrefix(v, "'"):
			end := strings.IndexByte(v[1:], '\'')
			if end < 0 {
				return nil, bad("unterminated single quote in the value of %s", k)
			}
			if rest := strings.TrimSpace(v[end+2:]); rest != "" && !strings.HasPrefix(rest, "#") {
				return nil, bad("text after the closing quote of %s", k)
			}
			v = v[1 : end+1]
		case strings.HasPrefix(v, `"`):
			val, rest, n, ok := doubleQuoted(v[1:], text)
			if !ok {
				return nil, bad("unterminated double quote in the value of %s", k)
			}
			text = rest
			line += n
			v = val
		default:
			if i := strings.Index(v, " #"); i >= 0 {
				v = v[:i]
			}
			v = strings.TrimRight(v, " \t")
		}
		env[k] = v
	}
	return env, nil
}

// doubleQuoted decodes a double-quoted value that starts in v (after the
// quote) and may continue over the following lines of rest. It returns the
// value, the remaining text, and the number of extra lines consumed.
func doubleQuoted(v, rest string) (string, string, int, bool) {
	var b strings.Builder
	lines := 0
	for {
		for i := 0; i < len(v); i++ {
			c := v[i]
			switch {
			case c == '\\' && i+1 < len(v):
				i++
				switch v[i] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case 'r':
					b.WriteByte('\r')
				case '"', '\\', '$', '`':
					b.WriteByte(v[i])
				default:
					b.WriteByte('\\')
					b.WriteByte(v[i])
				}
			case c == '"':
				after := strings.TrimSpace(v[i+1:])
				if after != "" && !strings.HasPrefix(after, "#") {
					return "", "", 0, false
				}
				return b.String(), rest, lines, true
			default:
				b.WriteByte(c)
			}
		}
		if rest == "" {
			return "", "", 0, false
		}
		b.WriteByte('\n')
		v, rest, _ = strings.Cut(rest, "\n")
		lines++
	}
}
