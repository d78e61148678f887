package sandboxclient

import (
	"strconv"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/portnum"
)

// ParseAppTarget reads an app target as a person writes it on a command
// line and returns it in the wire form of the app verbs (spec §2.6):
//
//   - "3000": a number, which the server takes as a port when something
//     listens on it or has reserved it, else as a pid;
//   - "port:3000", "pid:12", "name:web", "owner:auto:/home/user:npm start":
//     the object forms {port}, {pid}, {name}, {owner}, which say which one;
//   - any other text: a string, which the server takes as an app name, then
//     as an owner.
//
// Port and pid numbers must be positive integers (ports at most 65535).
func ParseAppTarget(s string) (AppTarget, error) {
	if s == "" {
		return nil, &Error{Code: CodeInvalidArgument, Message: "empty app target: give a port, pid, name or owner"}
	}
	if n, ok := positive(s); ok {
		return n, nil
	}
	kind, rest, found := strings.Cut(s, ":")
	if !found {
		return s, nil
	}
	switch kind {
	case "port":
		n, err := portnum.Parse(rest, 1)
		if err != nil {
			return nil, &Error{Code: CodeInvalidArgument, Message: "app target " + quote(s) + ": the port must be 1 to 65535 in plain decimal digits"}
		}
		return map[string]any{"port": int64(n)}, nil
	case "pid":
		n, ok := positive(rest)
		if !ok {
			return nil, &Error{Code: CodeInvalidArgument, Message: "app target " + quote(s) + ": the pid must be a positive integer"}
		}
		return map[string]any{"pid": n}, nil
	case "name", "owner":
		if rest == "" {
			return nil, &Error{Code: CodeInvalidArgument, Message: "app target " + quote(s) + ": the " + kind + " is empty"}
		}
		return map[string]any{kind: rest}, nil
	}
	// An owner such as "auto:/home/user:npm start" given without "owner:".
	return s, nil
}

// positive parses a decimal integer above zero, without sign or spaces.
func positive(s string) (int64, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}
