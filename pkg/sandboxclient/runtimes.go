package sandboxclient

import (
	"context"
	"encoding/json"
	"fmt"
)

// InstalledRuntime is one entry of listRuntimes' installed list.
type InstalledRuntime struct {
	// Name is the runtime's name, such as "node", "python" or "clang"
	// (wire "name"); the first part of a spec.
	Name string `json:"name"`
	// Version is the installed version (wire "version").
	Version string `json:"version"`
	// Root is the directory the runtime is installed under (wire "root").
	Root string `json:"root"`
	// ABI is the binary interface the runtime was built for (wire "abi"),
	// as the server names it.
	ABI string `json:"abi"`
	// Bins are the command names the runtime provides (wire "bins").
	Bins []string `json:"bins"`
	// SizeBytes is the installed size in bytes (wire "sizeBytes"); 0 when
	// unknown, as for the host runtimes nimbus dev reports.
	SizeBytes int64 `json:"sizeBytes"`
	// License is the runtime's license as the server reports it (wire
	// "license"); empty when unknown.
	License string `json:"license"`
}

// RuntimeVersion is one installable version of an available runtime.
type RuntimeVersion struct {
	// Version is the version string (wire "version"); the spec
	// "<name>@<version>" installs it.
	Version string `json:"version"`
	// SizeBytes is the installed size in bytes (wire "sizeBytes").
	SizeBytes int64 `json:"sizeBytes"`
	// License is this version's license as the server reports it (wire
	// "license").
	License string `json:"license"`
}

// AvailableRuntime is one entry of listRuntimes' available list.
type AvailableRuntime struct {
	// Name is the runtime's name, the part of a spec before "@" (wire
	// "name").
	Name string `json:"name"`
	// ABI is the binary interface the runtime is built for (wire "abi").
	ABI string `json:"abi"`
	// DefaultVersion is the version a spec without "@version" installs
	// (wire "defaultVersion").
	DefaultVersion string `json:"defaultVersion"`
	// Versions are the installable versions (wire "versions").
	Versions []RuntimeVersion `json:"versions"`
}

// Runtimes is the result of listRuntimes.
type Runtimes struct {
	// Installed are the runtimes present in the sandbox (wire
	// "installed").
	Installed []InstalledRuntime `json:"installed"`
	// Available are the runtimes the server can install (wire
	// "available"); the profile's runtime policy may still refuse some.
	Available []AvailableRuntime `json:"available"`
}

// InstallResult is the result of one runtime install. A failed install is a
// non-zero ExitCode, not an error.
type InstallResult struct {
	// Spec is the spec that was installed, "name" or "name@version" (wire
	// "spec").
	Spec string `json:"spec"`
	// ExitCode is the installer's exit code (wire "exitCode"); non-zero
	// means the install failed. It follows ExecResult.ExitCode's rule: -1
	// when the number sent is not an integer that fits in 32 bits; a
	// missing or non-numeric code is a bad answer, never 0.
	ExitCode int `json:"exitCode"`
	// Stdout is the installer's standard output (wire "stdout").
	Stdout string `json:"stdout"`
	// Stderr is the installer's standard error (wire "stderr"), which
	// explains a failure.
	Stderr string `json:"stderr"`
}

// ListRuntimes lists installed and available runtimes.
func (s *Sandbox) ListRuntimes(ctx context.Context) (*Runtimes, error) {
	var r Runtimes
	if err := s.call(ctx, "listRuntimes", nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// InstallRuntime installs spec ("name" or "name@version"). Never retried.
func (s *Sandbox) InstallRuntime(ctx context.Context, spec string, force bool) (*InstallResult, error) {
	var r InstallResult
	if err := s.call(ctx, "installRuntime", []any{spec, map[string]any{"force": force}}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// UnmarshalJSON decodes an install result; exitCode is required, as
// ExecResult's is: a result without one must not pass for an install
// that succeeded.
func (r *InstallResult) UnmarshalJSON(data []byte) error {
	type plain InstallResult
	var w struct {
		*plain
		ExitCode json.RawMessage `json:"exitCode"`
	}
	w.plain = (*plain)(r)
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	code, _, ok := decodeExitCode(w.ExitCode)
	if !ok {
		return &Error{Code: CodeBadResponse, Message: "an install result has no numeric exitCode"}
	}
	r.ExitCode = code
	return nil
}

// EnsureRuntimes installs the specs that are missing. Never retried.
func (s *Sandbox) EnsureRuntimes(ctx context.Context, specs []string, force bool) ([]InstallResult, error) {
	if specs == nil {
		specs = []string{}
	}
	var r []InstallResult
	if err := s.call(ctx, "ensureRuntimes", []any{specs, map[string]any{"force": force}}, &r); err != nil {
		return nil, err
	}
	if len(r) != len(specs) {
		// One result per spec (sandbox-api.md §2.4): a spec without one
		// was not installed, and must not pass for present.
		return nil, malformed("ensureRuntimes", fmt.Sprintf("%d result(s) for %d spec(s)", len(r), len(specs)))
	}
	return r, nil
}
