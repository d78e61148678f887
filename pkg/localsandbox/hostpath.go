package localsandbox

import "path/filepath"

// HostPath returns where sandbox path p of the sandbox with Durable Object
// name do lives on the host (the sandbox need not exist yet): for tools
// and tests that look at a sandbox's files from outside. The path is
// cleaned as the file ops clean it, so it never leaves the sandbox
// directory.
func (s *Server) HostPath(do, p string) string {
	return filepath.Join(s.SandboxDir(do), filepath.FromSlash(rel(p)))
}
