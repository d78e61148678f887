package mcpserver

import "slices"

// baseCapabilities are claimed by every Nimbus sandbox (§6): the shell, the
// JavaScript runtime, npm and git, the owned filesystem, networking and
// process control.
var baseCapabilities = []string{
	"javascript", "typescript", "shell", "npm", "git", "fs_owned",
	"net_outbound", "net_inbound", "process_spawn", "process_long",
	"process_attached_stdio", "terminal_resize", "ansi_output",
}

// Capabilities returns the capability list of box.tools() for a profile
// whose runtimes.allow list is allow (nil: no list, everything allowed):
// the base set, plus python and ruby when allowed, plus wasi and clang_wasi
// when clang is allowed. It never claims Docker, apt, GPU, native ELF or
// raw TCP listeners.
func Capabilities(allow []string) []string {
	allowed := func(name string) bool { return allow == nil || slices.Contains(allow, name) }
	out := slices.Clone(baseCapabilities)
	for _, n := range []string{"python", "ruby"} {
		if allowed(n) {
			out = append(out, n)
		}
	}
	if allowed("clang") {
		out = append(out, "wasi", "clang_wasi")
	}
	return out
}

// Descriptor is the upstream tools() object without its functions: what the
// server reports about itself in its capabilities (extension
// "nimbus.sh/sandbox") and in the sandbox info resource.
type Descriptor struct {
	// Name is the tool set's name; upstream defaults it to the namespace.
	Name string `json:"name"`
	// Kind is the tool set's kind (default "nimbus").
	Kind string `json:"kind"`
	// Namespace prefixes every tool name.
	Namespace string `json:"namespace"`
	// Sandbox is the sandbox id the tools act on.
	Sandbox string `json:"sandbox"`
	// Capabilities is the §6 capability list.
	Capabilities []string `json:"capabilities"`
	// Tools are the full names of the tools this server exposes.
	Tools []string `json:"tools"`
	// ReadOnly is set when only reading tools are exposed.
	ReadOnly bool `json:"readOnly"`
	// Destroy is set when the destroy tool is exposed.
	Destroy bool `json:"destroy"`
}
