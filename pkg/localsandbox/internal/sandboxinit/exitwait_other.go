//go:build !linux

package sandboxinit

// awaitExit returns at once: elsewhere the wait is left to Wait (a
// blocking system call per child; inits, the children waited for in
// numbers, are Linux-only).
func awaitExit(int) {}
