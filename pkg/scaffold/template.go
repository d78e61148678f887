package scaffold

import (
	"fmt"
	"strings"
)

// expand renders a project template. The language is deliberately tiny
// (text/template links reflection-driven code that added 3.6 MB to the
// stripped binary, more than the rest of init together):
//
//	{{Name}}               the value of Name; an unknown name is an error
//	{{#Name}}...{{/Name}}  the enclosed text when Name is non-empty
//	{{^Name}}...{{/Name}}  the enclosed text when Name is empty
//
// A section tag alone on its line takes the whole line with it, so sections
// can wrap whole lines without leaving blank ones. Values are inserted as
// they are: callers escape them for the file's syntax.
func expand(src string, vars map[string]string) (string, error) {
	src = dropStandaloneTags(src)
	var out strings.Builder
	type section struct {
		name string
		emit bool
	}
	var stack []section
	emitting := func() bool { return len(stack) == 0 || stack[len(stack)-1].emit }
	for {
		open := strings.Index(src, "{{")
		if open < 0 {
			break
		}
		end := strings.Index(src[open+2:], "}}")
		if end < 0 {
			return "", fmt.Errorf("unclosed tag at %q", truncate(src[open:]))
		}
		if emitting() {
			out.WriteString(src[:open])
		}
		tag := src[open+2 : open+2+end]
		src = src[open+2+end+2:]

		kind, name := byte(0), tag
		if tag != "" && strings.IndexByte("#^/", tag[0]) >= 0 {
			kind, name = tag[0], tag[1:]
		}
		if !isTemplateName(name) {
			return "", fmt.Errorf("bad tag {{%s}}", tag)
		}
		value, ok := vars[name]
		if !ok {
			return "", fmt.Errorf("unknown name {{%s}}", tag)
		}
		switch kind {
		case '#', '^':
			stack = append(stack, section{name: name, emit: emitting() && (value != "") == (kind == '#')})
		case '/':
			if len(stack) == 0 || stack[len(stack)-1].name != name {
				return "", fmt.Errorf("unexpected {{/%s}}", name)
			}
			stack = stack[:len(stack)-1]
		default:
			if emitting() {
				out.WriteString(value)
			}
		}
	}
	if len(stack) > 0 {
		return "", fmt.Errorf("unclosed section {{%c%s}}", '#', stack[len(stack)-1].name)
	}
	out.WriteString(src)
	return out.String(), nil
}

// dropStandaloneTags removes the indentation and line break around section
// tags that stand alone on a line.
func dropStandaloneTags(src string) string {
	if !strings.Contains(src, "{{#") && !strings.Contains(src, "{{^") {
		return src
	}
	lines := strings.SplitAfter(src, "\n")
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if len(t) > 5 && strings.HasPrefix(t, "{{") && strings.HasSuffix(t, "}}") &&
			strings.IndexByte("#^/", t[2]) >= 0 && isTemplateName(t[3:len(t)-2]) {
			lines[i] = t
		}
	}
	return strings.Join(lines, "")
}

func isTemplateName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}
