// Package idrule holds the id rule of Nimbus, ^[A-Za-z0-9._-]{1,128}$,
// which tenants, subjects, sandbox ids and jti follow, and the stricter
// rule of ids that can name a preview host: one implementation for the
// token claims, the client, the server and the file of recently used
// sandboxes, which sits below pkg/.
package idrule

// Valid reports whether s follows the id rule: 1 to 128 ASCII letters,
// digits, '.', '_' or '-'. (A plain loop: a compiled regexp with this
// repetition costs milliseconds at every start-up.)
func Valid(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !Byte(s[i]) {
			return false
		}
	}
	return true
}

// Byte reports whether c may appear in an id.
func Byte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// HostSafe reports whether id can name a preview host (sandbox-api.md
// §1.4): a lowercase DNS label (^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$) of
// at most 56 characters. The client builds preview host URLs with it and
// nimbus dev serves those hosts by it, so both must agree.
func HostSafe(id string) bool {
	if len(id) == 0 || len(id) > 56 || id[0] == '-' || id[len(id)-1] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
