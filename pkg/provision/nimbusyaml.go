package provision

import (
	"bytes"
	"strconv"
	"strings"
)

// SetYAMLEndpoint returns nimbus.yaml content whose top-level endpoint key
// is url. It edits the one line that holds the key (keeping a trailing
// comment) or appends the key, so the rest of the file is untouched; when
// the value is already url it returns data unchanged and changed=false.
func SetYAMLEndpoint(data []byte, url string) (out []byte, changed bool, err error) {
	if strings.ContainsAny(url, "\r\n#'\"") || strings.TrimSpace(url) != url || url == "" {
		// The endpoint cannot be recorded, as when the file's shape
		// forbids it (yamlError), but here the output could not be made
		// whatever the file holds: a line break, # or quote would end or
		// corrupt the value.
		return nil, false, &Error{Kind: KindCantCreate, Code: CodeNimbusConfig,
			Message: "cannot record endpoint " + quote(url) + " in nimbus.yaml: it is not one plain value (empty, or a line break, #, quote or space around it would change it)",
			Hint:    "check the Worker URL, and add `endpoint: <url>` to nimbus.yaml by hand"}
	}
	// A byte order mark (Notepad) is not part of the first key; YAML
	// allows one at the start. It is kept in front of the result.
	if rest, ok := bytes.CutPrefix(data, []byte("\ufeff")); ok {
		out, changed, err := setYAMLEndpoint(rest, url)
		if err != nil {
			return nil, false, err
		}
		if !changed {
			return data, false, nil
		}
		return append([]byte("\ufeff"), out...), true, nil
	}
	return setYAMLEndpoint(data, url)
}

func setYAMLEndpoint(data []byte, url string) (out []byte, changed bool, err error) {
	if bytes.Contains(bytes.ReplaceAll(data, []byte("\r\n"), nil), []byte("\r")) {
		// YAML takes a lone CR as a line break; this editor does not.
		return nil, false, yamlError("it has line breaks of a carriage return alone")
	}
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") || t == "---" {
			continue
		}
		if strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") || strings.HasPrefix(t, "- ") || t == "-" {
			return nil, false, yamlError("its top level is not a block mapping")
		}
		if l[0] == ' ' || l[0] == '\t' {
			// A key added at the margin would not join the mapping.
			return nil, false, yamlError("its top-level keys are indented")
		}
		break
	}
	at := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "endpoint:") || strings.HasPrefix(l, "endpoint ") {
			key, rest, ok := strings.Cut(l, ":")
			if !ok || strings.TrimSpace(key) != "endpoint" {
				continue
			}
			if rest != "" && !strings.ContainsRune(" \t\r\n", rune(rest[0])) {
				// "endpoint:x" is a plain scalar, not a key.
				continue
			}
			if at >= 0 {
				return nil, false, yamlError("it has two endpoint keys")
			}
			at = i
		}
	}
	line := "endpoint: " + url
	if at < 0 {
		// The appended line takes the file's line breaks (a CRLF file
		// gets no bare LF).
		eol := "\n"
		if bytes.Contains(data, []byte("\r\n")) {
			eol = "\r\n"
		}
		var b bytes.Buffer
		b.Write(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			b.WriteString(eol)
		}
		b.WriteString(line + eol)
		return b.Bytes(), true, nil
	}
	_, rest, _ := strings.Cut(lines[at], ":")
	// An anchor (&name, which an alias elsewhere may use) and a tag stay
	// on the key: without the anchor, the file would no longer parse.
	props, rest := yamlProperties(rest)
	value, comment, err := splitYAMLScalar(rest)
	if err != nil {
		return nil, false, err
	}
	if props != "" {
		line = "endpoint: " + props + " " + url
	}
	// A value on continuation lines (block scalar, nested, or a plain
	// scalar folded over several lines) is replaced too. In a block scalar
	// every indented line is the value's; otherwise a comment line ends it.
	block := value == "" || strings.HasPrefix(value, "|") || strings.HasPrefix(value, ">")
	end := at + 1
	for end < len(lines) {
		l, t := lines[end], strings.TrimSpace(lines[end])
		// A sequence may sit at the key's own indentation ("key:\n- a").
		item := value == "" && (t == "-" || strings.HasPrefix(l, "- ") || strings.HasPrefix(l, "-\t"))
		if t != "" && !item && (l[0] != ' ' && l[0] != '\t' || !block && strings.HasPrefix(t, "#")) {
			break
		}
		end++
	}
	// Trailing blank lines belong to the file, not the value.
	for end > at+1 && strings.TrimSpace(lines[end-1]) == "" {
		end--
	}
	if !block && end == at+1 && value == url {
		return data, false, nil
	}
	if comment != "" {
		line += " " + comment
	}
	nl := "\n"
	if strings.HasSuffix(lines[end-1], "\r\n") {
		nl = "\r\n"
	}
	var b strings.Builder
	for _, l := range lines[:at] {
		b.WriteString(l)
	}
	b.WriteString(line + nl)
	for _, l := range lines[end:] {
		b.WriteString(l)
	}
	return []byte(b.String()), true, nil
}

// yamlProperties splits the node properties (an anchor &name and a tag
// !tag, in either order) off the start of a value.
func yamlProperties(s string) (props, rest string) {
	rest = s
	var p []string
	for range 2 {
		t := strings.TrimLeft(rest, " \t")
		if !strings.HasPrefix(t, "&") && !strings.HasPrefix(t, "!") {
			break
		}
		end := strings.IndexAny(t, " \t\r\n")
		if end < 0 {
			end = len(t)
		}
		p = append(p, t[:end])
		rest = " " + t[end:]
	}
	return strings.Join(p, " "), rest
}

// splitYAMLScalar splits `  "value"  # comment` into the unquoted value and
// the comment (with its '#').
func splitYAMLScalar(s string) (value, comment string, err error) {
	s = strings.TrimRight(s, "\r\n")
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, `"`):
		end := 1
		for end < len(s) && s[end] != '"' {
			if s[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(s) {
			return "", "", yamlError("its endpoint value is an unterminated string")
		}
		v, uerr := strconv.Unquote(s[:end+1])
		if uerr != nil {
			v = s[1:end]
		}
		c, err := quotedRest(s[end+1:])
		return v, c, err
	case strings.HasPrefix(s, "'"):
		end := 1
		for end < len(s) {
			if s[end] == '\'' {
				if end+1 < len(s) && s[end+1] == '\'' {
					end += 2
					continue
				}
				break
			}
			end++
		}
		if end >= len(s) {
			return "", "", yamlError("its endpoint value is an unterminated string")
		}
		c, err := quotedRest(s[end+1:])
		return strings.ReplaceAll(s[1:end], "''", "'"), c, err
	}
	if strings.HasPrefix(s, "#") {
		return "", s, nil
	}
	if i := strings.Index(s, " #"); i >= 0 {
		return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:]), nil
	}
	return s, "", nil
}

// quotedRest returns the comment after a quoted scalar; anything else there
// is not YAML we understand.
func quotedRest(rest string) (string, error) {
	if rest == "" {
		return "", nil
	}
	if (rest[0] == ' ' || rest[0] == '\t') && strings.HasPrefix(strings.TrimSpace(rest), "#") {
		return strings.TrimSpace(rest), nil
	}
	if strings.TrimSpace(rest) == "" {
		return "", nil
	}
	return "", yamlError("unexpected text after its endpoint value")
}

func yamlError(why string) *Error {
	return &Error{Kind: KindData, Code: CodeNimbusConfig, Message: "cannot record the endpoint in nimbus.yaml: " + why,
		Hint: "add `endpoint: <url>` to nimbus.yaml by hand"}
}
