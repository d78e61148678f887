//go:build !unix

package localdev

// KeepInheritedFromCommands does nothing where handles are not inherited
// by number (Windows passes only what a command is given).
func KeepInheritedFromCommands() {}
