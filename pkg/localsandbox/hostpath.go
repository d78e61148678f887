package localsandbox

import "path/filepath"

// HostPath returns where sandbox path p of the sandbox with Durable Object
// name do lives on the host (the sandbox need not exist yet): for tools
// and tests that look at a sandbox's files from outside. The path is
// cleaned as the file ops clean it, so it never leaves the sandbox
// directory. In namespaces a command's /home/user and /tmp are bind
// mounts of the sandbox directory's home/user and tmp, so for paths under
// them this is also where the command's files are.
func (s *Server) HostPath(do, p string) string {
	return filepath.Join(s.SandboxDir(do), filepath.FromSlash(rel(p)))
}
