package sandboxclient

import "context"

// InstalledRuntime is one entry of listRuntimes' installed list.
type InstalledRuntime struct {
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	Root      string   `json:"root"`
	ABI       string   `json:"abi"`
	Bins      []string `json:"bins"`
	SizeBytes int64    `json:"sizeBytes"`
	License   string   `json:"license"`
}

// RuntimeVersion is one installable version of an available runtime.
type RuntimeVersion struct {
	Version   string `json:"version"`
	SizeBytes int64  `json:"sizeBytes"`
	License   string `json:"license"`
}

// AvailableRuntime is one entry of listRuntimes' available list.
type AvailableRuntime struct {
	Name           string           `json:"name"`
	ABI            string           `json:"abi"`
	DefaultVersion string           `json:"defaultVersion"`
	Versions       []RuntimeVersion `json:"versions"`
}

// Runtimes is the result of listRuntimes.
type Runtimes struct {
	Installed []InstalledRuntime `json:"installed"`
	Available []AvailableRuntime `json:"available"`
}

// InstallResult is the result of one runtime install. A failed install is a
// non-zero ExitCode, not an error.
type InstallResult struct {
	Spec     string `json:"spec"`
	ExitCode int    `json:"exitCode"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
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

// EnsureRuntimes installs the specs that are missing. Never retried.
func (s *Sandbox) EnsureRuntimes(ctx context.Context, specs []string, force bool) ([]InstallResult, error) {
	if specs == nil {
		specs = []string{}
	}
	var r []InstallResult
	if err := s.call(ctx, "ensureRuntimes", []any{specs, map[string]any{"force": force}}, &r); err != nil {
		return nil, err
	}
	return r, nil
}
