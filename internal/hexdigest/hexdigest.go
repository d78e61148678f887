// Package hexdigest recognises a SHA-256 digest written as sha256sum
// prints it: 64 lowercase hexadecimal digits. The runtime catalog pin, the
// digests of a runtime package's files and the lines of a sandbox's
// sha256sum all take this one form; one check keeps a pin that init
// accepts from being refused by runtime sync, or the other way round.
package hexdigest

// IsSHA256 reports whether s matches ^[0-9a-f]{64}$. It is written out
// rather than a package-level regexp so that the CLI pays nothing for it
// at start-up; uppercase digits are refused, as sha256sum never prints
// them and digests are compared as strings.
func IsSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
