package sandboxclient

import "strings"

// Sandbox paths are POSIX paths inside the sandbox; the server wants them
// absolute. The client resolves relative ones the way the SDK does, and
// every command, the cwd option and the transfer code share this one rule.

// ResolvePath resolves p against root the way the SDK resolves a relative
// cwd: split on "/", drop "." and empty parts, ".." removes one part, never
// above "/". An absolute p is normalised the same way.
func ResolvePath(root, p string) string {
	var parts []string
	if !strings.HasPrefix(p, "/") {
		parts = appendParts(parts, root)
	}
	parts = appendParts(parts, p)
	return "/" + strings.Join(parts, "/")
}

func appendParts(parts []string, p string) []string {
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(parts) > 0 {
				parts = parts[:len(parts)-1]
			}
		default:
			parts = append(parts, seg)
		}
	}
	return parts
}
