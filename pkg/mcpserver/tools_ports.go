package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

type portInput struct {
	Port int `json:"port" jsonschema:"TCP port in the sandbox"`
}

type exposePortInput struct {
	Port       int    `json:"port" jsonschema:"TCP port a sandbox process listens on"`
	Visibility string `json:"visibility,omitempty" jsonschema:"scoped (default: needs a session credential) or public (anyone with the URL)"`
	Name       string `json:"name,omitempty" jsonschema:"app name (a DNS label) for a named preview URL"`
}

type exposeAppInput struct {
	Target     any    `json:"target" jsonschema:"the app: a port or pid (number), or an app name or owner (string)"`
	Visibility string `json:"visibility,omitempty" jsonschema:"scoped (default) or public"`
	Name       string `json:"name,omitempty" jsonschema:"app name (a DNS label)"`
}

// PortsOutput is listPorts's result.
type PortsOutput struct {
	// Ports are the exposed ports, as sandboxclient.Sandbox.ListPorts
	// returns them; never nil, so the JSON is [] rather than null.
	Ports []sc.Port `json:"ports"`
}

// AppsOutput is listApps's result.
type AppsOutput struct {
	// Apps are the sandbox's apps with their preview URLs, as
	// sandboxclient.Sandbox.ListApps returns them.
	Apps []sc.App `json:"apps"`
}

type installRuntimeInput struct {
	Spec  string `json:"spec" jsonschema:"runtime name, optionally with @version: node, python, ruby, clang, git…"`
	Force bool   `json:"force,omitempty" jsonschema:"reinstall even if installed"`
}

// InstallOutput is installRuntime's result; a failed install is a non-zero
// exitCode, not an error.
type InstallOutput struct {
	// Spec is the runtime spec installed, "name" or "name@version".
	Spec string `json:"spec"`
	// ExitCode is the installer's exit code; non-zero means the install
	// failed.
	ExitCode int `json:"exitCode"`
	// Stdout is the installer's standard output, the middle cut out when
	// it is longer than Options.MaxOutput.
	Stdout string `json:"stdout"`
	// Stderr is the installer's standard error, cut like Stdout.
	Stderr string `json:"stderr"`
	// Note says how much was cut; empty when nothing was.
	Note string `json:"note,omitempty"`
}

type destroyInput struct {
	Reason string `json:"reason,omitempty" jsonschema:"why, recorded by the Worker (at most 200 characters)"`
}

func portSchema(js *jsonschema.Schema) {
	if ps := js.Properties["port"]; ps != nil {
		ps.Minimum, ps.Maximum = jsonschema.Ptr(1.0), jsonschema.Ptr(65535.0)
	}
}

func (s *Server) registerPorts() {
	addTool(s, toolSpec{
		name: "exposePort", title: "Expose a port", idempotent: true,
		desc: "Give a port a sandbox process listens on a preview URL. scoped URLs need a session credential; public ones work for anyone who has the URL.",
		schema: func(js *jsonschema.Schema) {
			portSchema(js)
			enum(js, "visibility", "scoped", "public")
		},
	}, func(ctx context.Context, in exposePortInput) (*mcp.CallToolResult, *sc.ExposedPort, error) {
		r, err := s.sb.ExposePort(ctx, in.Port, sc.ExposeOptions{Visibility: in.Visibility, Name: in.Name})
		return nil, r, err
	})
	addTool(s, toolSpec{
		name: "unexposePort", title: "Unexpose a port", idempotent: true, destructive: true,
		desc: "Remove a port's preview URL.", schema: portSchema,
	}, func(ctx context.Context, in portInput) (*mcp.CallToolResult, *sc.UnexposeResult, error) {
		r, err := s.sb.UnexposePort(ctx, in.Port)
		return nil, r, err
	})
	addTool(s, toolSpec{
		name: "listPorts", title: "List listening ports", read: true,
		desc: "List the ports sandbox processes listen on or have registered.",
	}, func(ctx context.Context, _ struct{}) (*mcp.CallToolResult, PortsOutput, error) {
		ps, err := s.sb.ListPorts(ctx)
		return nil, PortsOutput{Ports: ps}, err
	})
	addTool(s, toolSpec{
		name: "exposeApp", title: "Expose an app", idempotent: true,
		desc: "Expose an app (a server process) by port, pid, name or owner, and return its URL.",
		schema: func(js *jsonschema.Schema) {
			t := js.Properties["target"]
			t.Types = []string{"integer", "string"}
			t.Type = ""
			enum(js, "visibility", "scoped", "public")
		},
	}, func(ctx context.Context, in exposeAppInput) (*mcp.CallToolResult, *sc.App, error) {
		target, err := appTarget(in.Target)
		if err != nil {
			return nil, nil, err
		}
		r, err := s.sb.ExposeApp(ctx, target, sc.ExposeOptions{Visibility: in.Visibility, Name: in.Name})
		return nil, r, err
	})
	addTool(s, toolSpec{
		name: "listApps", title: "List apps", read: true,
		desc: "List the sandbox's apps (servers with a reserved or listening port) with their status and URL.",
	}, func(ctx context.Context, _ struct{}) (*mcp.CallToolResult, AppsOutput, error) {
		as, err := s.sb.ListApps(ctx)
		return nil, AppsOutput{Apps: as}, err
	})
}

// appTarget turns the decoded JSON target into what the op expects: an
// integer (port or pid) or a string.
func appTarget(v any) (any, error) {
	switch t := v.(type) {
	case string:
		if t == "" {
			return nil, inputError("target must not be empty")
		}
		return t, nil
	case float64:
		if t != math.Trunc(t) || t < 1 || t > math.MaxInt32 {
			return nil, inputError("target must be a positive integer (a port or pid) or a string")
		}
		return int64(t), nil
	case json.Number:
		n, err := t.Int64()
		if err != nil || n < 1 {
			return nil, inputError("target must be a positive integer (a port or pid) or a string")
		}
		return n, nil
	}
	return nil, inputError(fmt.Sprintf("target must be a number or a string, not %T", v))
}

func (s *Server) registerRuntimes() {
	addTool(s, toolSpec{
		name: "installRuntime", title: "Install a runtime", idempotent: true, openWorld: true,
		desc:   "Install a language runtime or tool (python, ruby, clang, …) into the sandbox. A failed install is a non-zero exitCode with its output.",
		schema: func(js *jsonschema.Schema) { nonEmpty(js, "spec") },
	}, func(ctx context.Context, in installRuntimeInput) (*mcp.CallToolResult, InstallOutput, error) {
		r, err := s.sb.InstallRuntime(ctx, in.Spec, in.Force)
		if err != nil {
			return nil, InstallOutput{}, err
		}
		setExit(ctx, r.ExitCode)
		stdout, stderr := captureString(r.Stdout, s.o.MaxOutput), captureString(r.Stderr, s.o.MaxOutput)
		out := InstallOutput{Spec: r.Spec, ExitCode: r.ExitCode, Stdout: stdout.text(), Stderr: stderr.text()}
		if stdout.truncated() || stderr.truncated() {
			out.Note = fmt.Sprintf("the installer's output was cut in the middle (stdout %s, stderr %s)", byteCount(stdout.total), byteCount(stderr.total))
		}
		return nil, out, nil
	})
	addTool(s, toolSpec{
		name: "listRuntimes", title: "List runtimes", read: true,
		desc: "List the runtimes installed in the sandbox and those available to install.",
	}, func(ctx context.Context, _ struct{}) (*mcp.CallToolResult, *sc.Runtimes, error) {
		r, err := s.sb.ListRuntimes(ctx)
		if err == nil {
			if r.Installed == nil {
				r.Installed = []sc.InstalledRuntime{}
			}
			if r.Available == nil {
				r.Available = []sc.AvailableRuntime{}
			}
		}
		return nil, r, err
	})
	if s.o.Destroyer == nil {
		return
	}
	addTool(s, toolSpec{
		name: "destroy", title: "Destroy the sandbox", destructive: true, idempotent: true,
		desc: "Destroy the sandbox: kill every process and delete every file. It cannot be undone; the next call starts an empty sandbox.",
	}, func(ctx context.Context, in destroyInput) (*mcp.CallToolResult, *sc.DestroyResult, error) {
		r, err := s.o.Destroyer.Destroy(ctx, in.Reason)
		if err == nil && s.o.OnDestroyed != nil {
			s.o.OnDestroyed(s.o.Destroyer.ID())
		}
		return nil, r, err
	})
}
