package mcpserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Clients whose configuration RenderClientConfig writes.
var Clients = []string{"claude", "cursor", "vscode"}

// ClientConfig says how an MCP client starts (stdio) or reaches (HTTP) the
// server. Secret values never appear in it: secrets are named, and the
// client fills them in from its environment or a prompt.
type ClientConfig struct {
	// Name is the server's key in the client's configuration ("nimbus").
	Name string
	// Command is the program the client runs to start the server over
	// stdio (the nimbus binary); ignored when URL is set.
	Command string
	// Args are Command's arguments, without the command itself.
	Args []string
	// Env holds non-secret variables with their values (NIMBUS_ENDPOINT).
	Env map[string]string
	// SecretEnv names secret variables the server needs (NIMBUS_TOKEN,
	// JWT_SECRET); the client supplies them.
	SecretEnv []string
	// URL is the streamable HTTP endpoint; when set, Command is ignored.
	URL string
	// KeyEnv names the variable holding the HTTP access key.
	KeyEnv string
}

// RenderClientConfig returns the JSON snippet that registers the server in
// client: "claude" (Claude Code's .mcp.json, Claude Desktop's
// claude_desktop_config.json), "cursor" (.cursor/mcp.json) or "vscode"
// (.vscode/mcp.json).
func RenderClientConfig(client string, c ClientConfig) ([]byte, error) {
	if c.Name == "" {
		c.Name = "nimbus"
	}
	// ref is how the client refers to a secret: an environment variable it
	// expands, or (VS Code) an input it prompts for and stores.
	var ref func(name string) string
	var inputs []map[string]any
	switch client {
	case "claude":
		ref = func(n string) string { return "${" + n + "}" }
	case "cursor":
		ref = func(n string) string { return "${env:" + n + "}" }
	case "vscode":
		ref = func(n string) string {
			id := strings.ToLower(strings.ReplaceAll(n, "_", "-"))
			inputs = append(inputs, map[string]any{"type": "promptString", "id": id, "description": n + " for nimbus mcp", "password": true})
			return "${input:" + id + "}"
		}
	default:
		return nil, fmt.Errorf("unknown client %q: use one of %s", client, strings.Join(Clients, ", "))
	}
	server := map[string]any{}
	if c.URL != "" {
		if client == "vscode" || client == "claude" {
			server["type"] = "http"
		}
		server["url"] = c.URL
		if c.KeyEnv != "" {
			server["headers"] = map[string]string{"Authorization": "Bearer " + ref(c.KeyEnv)}
		}
	} else {
		if client == "vscode" {
			server["type"] = "stdio"
		}
		server["command"] = c.Command
		server["args"] = append([]string{}, c.Args...)
		env := map[string]string{}
		for k, v := range c.Env {
			env[k] = v
		}
		secrets := slices.Clone(c.SecretEnv)
		slices.Sort(secrets)
		for _, n := range secrets {
			env[n] = ref(n)
		}
		if len(env) > 0 {
			server["env"] = env
		}
	}
	top := map[string]any{}
	if client == "vscode" {
		top["servers"] = map[string]any{c.Name: server}
		if len(inputs) > 0 {
			top["inputs"] = inputs
		}
	} else {
		top["mcpServers"] = map[string]any{c.Name: server}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(top); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ClientConfigFile is where client keeps its project-level configuration.
func ClientConfigFile(client string) string {
	switch client {
	case "claude":
		return ".mcp.json (Claude Code, project scope) or claude_desktop_config.json (Claude Desktop)"
	case "cursor":
		return ".cursor/mcp.json"
	case "vscode":
		return ".vscode/mcp.json"
	}
	return ""
}
