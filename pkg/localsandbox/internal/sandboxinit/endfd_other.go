//go:build !linux

package sandboxinit

// EndFd returns -1: inits are Linux-only, and a Direct command's end is
// waited for in Wait. ended says Wait returns at once (the command never
// started).
func (c *Cmd) EndFd() (fd int, ended bool) { return -1, c.ini == nil && c.cmd == nil }

// reported is false: inits are Linux-only.
func (ini *initProc) reported() bool { return false }
