package scaffold

import (
	"fmt"
	"slices"
	"strings"
)

// Name limits from Cloudflare and npm.
const (
	// MaxWorkerNameLen is the longest Worker name Cloudflare accepts; the name
	// is also a DNS label under workers.dev.
	MaxWorkerNameLen = 63
	// MinBucketNameLen is the shortest R2 bucket name R2 accepts.
	MinBucketNameLen = 3
	// MaxBucketNameLen is the longest R2 bucket name R2 accepts; derived
	// names (prefix plus suffix) must fit too.
	MaxBucketNameLen = 63
	// MaxPackageNameLen is npm's limit for package names.
	MaxPackageNameLen = 214
)

// ValidateWorkerName checks a Worker name: lowercase letters, digits and '-',
// at most 63 characters. Like any DNS label it may not start or end with '-'.
func ValidateWorkerName(name string) error {
	fail := func(why string) error {
		return &Error{
			Code:    CodeInvalidWorkerName,
			Message: fmt.Sprintf("invalid Worker name %q: %s (set it with --name)", name, why),
			Hint:    "pass --name with 1-63 lowercase letters, digits and '-', not starting or ending with '-'",
			Flag:    "--name",
		}
	}
	switch {
	case name == "":
		return &Error{Code: CodeNameRequired, Message: "the Worker name is required", Hint: "pass --name <worker>", Flag: "--name"}
	case len(name) > MaxWorkerNameLen:
		return fail(fmt.Sprintf("it is %d characters long, the limit is %d", len(name), MaxWorkerNameLen))
	case name[0] == '-' || name[len(name)-1] == '-':
		return fail("it may not start or end with '-'")
	}
	if c, ok := firstInvalid(name, isLowerDigitDash); ok {
		return fail(fmt.Sprintf("character %q is not allowed (use lowercase letters, digits and '-')", c))
	}
	return nil
}

// ValidateBucketName checks an R2 bucket name: 3-63 characters matching
// ^[a-z0-9][a-z0-9-]*[a-z0-9]$. The message says what is wrong; callers add
// which flag fixes it.
func ValidateBucketName(name string) error {
	fail := func(why string) error {
		return &Error{Code: CodeInvalidBucketName, Message: why}
	}
	switch {
	case len(name) < MinBucketNameLen:
		return fail(fmt.Sprintf("it is %d characters long, the minimum is %d", len(name), MinBucketNameLen))
	case len(name) > MaxBucketNameLen:
		return fail(fmt.Sprintf("it is %d characters long, the limit is %d", len(name), MaxBucketNameLen))
	case name[0] == '-' || name[len(name)-1] == '-':
		return fail("it may not start or end with '-'")
	}
	if c, ok := firstInvalid(name, isLowerDigitDash); ok {
		return fail(fmt.Sprintf("character %q is not allowed (use lowercase letters, digits and '-')", c))
	}
	return nil
}

// npmReserved are names npm refuses for new packages: its blacklist and the
// Node.js core modules (a package shadowing them cannot be required).
var npmReserved = []string{
	"node_modules", "favicon.ico",
	"assert", "async_hooks", "buffer", "child_process", "cluster", "console", "constants",
	"crypto", "dgram", "diagnostics_channel", "dns", "domain", "events", "fs", "http", "http2",
	"https", "inspector", "module", "net", "os", "path", "perf_hooks", "process", "punycode",
	"querystring", "readline", "repl", "stream", "string_decoder", "sys", "timers", "tls",
	"trace_events", "tty", "url", "util", "v8", "vm", "wasi", "worker_threads", "zlib",
}

// ValidatePackageName checks that the project directory name can be the
// package.json `name` of a new, unscoped npm package (the rules of
// validate-npm-package-name for new packages).
func ValidatePackageName(name string) error {
	fail := func(why string) error {
		return &Error{
			Code:    CodeInvalidPackageName,
			Message: fmt.Sprintf("the directory name %q is not a valid npm package name: %s", name, why),
			Hint:    "pass --name with lowercase letters, digits and '-' (it becomes the package.json and Worker name), or rename the directory",
		}
	}
	switch {
	case name == "":
		return fail("it is empty")
	case len(name) > MaxPackageNameLen:
		return fail(fmt.Sprintf("it is %d characters long, the limit is %d", len(name), MaxPackageNameLen))
	case name[0] == '.' || name[0] == '_':
		return fail("it may not start with '.' or '_'")
	case slices.Contains(npmReserved, name):
		return fail("it is reserved (a Node.js core module or npm blacklisted name)")
	}
	if c, ok := firstInvalid(name, func(r rune) bool {
		return isLowerDigitDash(r) || r == '.' || r == '_'
	}); ok {
		if strings.ToLower(string(c)) != string(c) {
			return fail("it may not contain uppercase letters")
		}
		return fail(fmt.Sprintf("character %q is not allowed", c))
	}
	return nil
}

func isLowerDigitDash(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-'
}

// firstInvalid returns the first rune of s for which ok is false.
func firstInvalid(s string, ok func(rune) bool) (rune, bool) {
	for _, r := range s {
		if !ok(r) {
			return r, true
		}
	}
	return 0, false
}
