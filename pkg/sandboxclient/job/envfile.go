package job

import (
	"bytes"
	"fmt"
	"strings"
)

// MaxEnvFile bounds an env file: a job's environment is a few variables,
// and a larger file is a mistake (a binary, a log) better refused than
// sent to the sandbox.
const MaxEnvFile = 1 << 20

// CodeEnvFile is the code of an EnvFileError: the caller gave a file that
// is not an env file, a usage error like a malformed flag.
const CodeEnvFile = "E_USAGE"

// EnvFileError is an env file ParseEnvFile refuses. It names the file and
// the line, never a value: values are often secrets, and the error ends up
// in CI logs.
type EnvFileError struct {
	// Name is the file as the caller named it.
	Name string
	// Line is the 1-based line at fault; 0 when the whole file is refused
	// (larger than MaxEnvFile).
	Line int
	// Reason says what is wrong, without the line's text.
	Reason string
}

// Error is "NAME:LINE: REASON", the form compilers use, so editors and CI
// annotations jump to the line.
func (e *EnvFileError) Error() string {
	if e.Line == 0 {
		return e.Name + ": " + e.Reason
	}
	return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Reason)
}

// ErrorCode returns CodeEnvFile.
func (e *EnvFileError) ErrorCode() string { return CodeEnvFile }

// ValidEnvName reports whether k matches [A-Za-z_][A-Za-z0-9_]*: the names
// a POSIX shell can export, so that a variable set for a job is one its
// command can read.
func ValidEnvName(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return k != ""
}

// ParseEnvFile reads a dotenv file into a Spec's Env: KEY=VALUE lines,
// blank lines and "#" comments, an optional "export " prefix, values bare
// (trailing spaces and an unquoted " #comment" dropped), single-quoted
// (literal) or double-quoted (with \n, \t, \", \\ and \$ escapes; may span
// lines). These are the files CI systems and docker --env-file users
// already keep. name is used only in errors, which are *EnvFileError.
func ParseEnvFile(name string, data []byte) (map[string]string, error) {
	if len(data) > MaxEnvFile {
		return nil, &EnvFileError{Name: name, Reason: "larger than 1 MiB"}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	env := map[string]string{}
	line := 0
	bad := func(format string, args ...any) error {
		return &EnvFileError{Name: name, Line: line, Reason: fmt.Sprintf(format, args...)}
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
		if !ValidEnvName(k) {
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
