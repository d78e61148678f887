// Package secretfile is the one rule for a secret or token kept in a file
// (or piped on standard input), shared by every command that reads one:
// `token` (--secret-file), `setup` (--secret-file, --api-token-file, the
// generated secret file) and `sandbox` (--token-file). A file that works
// for one works the same for all, so a Worker secret set by `setup` always
// matches tokens minted by `token mint` from the same file.
//
// The rule: one final line break (LF, CRLF or CR), which editors and
// `echo … > file` add, is not part of the value. Nothing else is removed:
// a value with surrounding whitespace, more than one line, a byte order
// mark or nothing at all is refused, because guessing would make two
// tools disagree about the secret.
package secretfile

import (
	"bytes"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxSize bounds what is read, so a wrong path (a disk image, /dev/zero)
// fails fast instead of eating memory.
const MaxSize = 64 << 10

// Error explains why a file's content is not a usable secret. Its text
// never includes the content.
type Error struct {
	// Reason completes "the file …": "is empty", "holds more than one
	// line", ….
	Reason string
}

// Error returns the reason, which never contains the secret.
func (e *Error) Error() string { return e.Reason }

// Read reads at most MaxSize bytes from r and applies the rule.
func Read(r io.Reader) (string, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return "", err
	}
	if len(data) > MaxSize {
		return "", &Error{Reason: "is larger than 64 KiB; it does not look like a secret"}
	}
	return Trim(data)
}

// Trim applies the rule to a file's content.
func Trim(data []byte) (string, error) {
	data = bytes.TrimSuffix(data, []byte("\n"))
	data = bytes.TrimSuffix(data, []byte("\r"))
	s := string(data)
	switch {
	case s == "":
		return "", &Error{Reason: "is empty"}
	case strings.HasPrefix(s, "\ufeff"):
		return "", &Error{Reason: "starts with a byte order mark; save it as plain UTF-8"}
	case strings.ContainsAny(s, "\r\n"):
		return "", &Error{Reason: "holds more than one line; a secret is the file's only line"}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return "", &Error{Reason: "has whitespace around the value; remove it (only one final line break is ignored)"}
	}
	return s, nil
}
