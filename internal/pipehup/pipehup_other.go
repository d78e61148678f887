//go:build !unix

package pipehup

import "syscall"

// Detects is whether ReaderGone can tell on this system.
const Detects = false

// ReaderGone cannot tell here: a write to a reader that is gone fails
// later, when it is made.
func ReaderGone(syscall.RawConn) bool { return false }
