//go:build !linux && !darwin

package localsandbox

import "io/fs"

// statSys adds nothing where the platform's stat layout is not mapped.
func statSys(fs.FileInfo, map[string]any) {}
