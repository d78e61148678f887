package scaffold

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"github.com/nimbus-sh/nimbus/templates"
)

// Scaffold defaults for the Session Agent variables, the values upstream's
// scaffolder passes to the builder.
const (
	// DefaultAgentModel is the Workers AI model written as
	// NIMBUS_AGENT_MODEL.
	DefaultAgentModel = "@cf/moonshotai/kimi-k2.6"
	// DefaultAgentGatewayID is the AI Gateway id written as
	// NIMBUS_AGENT_GATEWAY_ID.
	DefaultAgentGatewayID = "default"
)

const templateSuffix = ".tmpl"

// Options describe the project to render.
type Options struct {
	// Template is the template name; empty means templates.Default.
	Template string
	// ProjectName is the package.json name and README title (upstream: the
	// basename of the target directory). It must be a valid npm package name.
	ProjectName string
	// NimbusVersion, when set, replaces the version range of every
	// @nimbus-sh/* dependency (for example "^0.3.0" or "latest").
	NimbusVersion string
	// Wrangler holds the builder options. Name empty means ProjectName. The
	// scaffold always enables NimbusPublicDirectory, and sets the default agent
	// model and gateway when Agent is nil, as upstream's scaffolder does.
	Wrangler WranglerOptions
}

// File is one rendered project file.
type File struct {
	// Path is relative to the project directory, with forward slashes.
	Path string
	// Data is the file content.
	Data []byte
	// Mode is the permission the file is written with.
	Mode fs.FileMode
}

// Project is a rendered project, ready to be planned against a directory.
type Project struct {
	// Template is the name of the template rendered (templates.Default
	// when Options left it empty).
	Template string
	// ProjectName is the package.json name, as Options gave it.
	ProjectName string
	// WorkerName is the Worker name written to wrangler.jsonc
	// (Wrangler.Name).
	WorkerName string
	// Wrangler is the configuration written to wrangler.jsonc.
	Wrangler *WranglerConfig
	// Files are in write order: top-level files first, then subdirectories.
	Files []File
}

// Dependency is one npm dependency and its version range.
type Dependency struct {
	// Name is the npm package name.
	Name string
	// Range is the semver range written to package.json ("^0.3.0").
	Range string
}

// Versions are the npm version ranges from templates/versions.json.
type Versions struct {
	// Nimbus are the @nimbus-sh/* runtime dependencies.
	Nimbus []Dependency
	// Toolchain are the devDependencies (wrangler, TypeScript, workers types).
	Toolchain []Dependency
}

// LoadVersions reads the embedded versions data file. Entries are sorted by
// name, the order npm itself writes package.json in, so `npm install` does not
// rewrite the file.
func LoadVersions() (Versions, error) {
	raw, err := fs.ReadFile(templates.FS, templates.VersionsFile)
	if err != nil {
		return Versions{}, err
	}
	var doc struct {
		Nimbus    map[string]string `json:"nimbus"`
		Toolchain map[string]string `json:"toolchain"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return Versions{}, fmt.Errorf("templates/%s: %w", templates.VersionsFile, err)
	}
	return Versions{Nimbus: sortedDeps(doc.Nimbus), Toolchain: sortedDeps(doc.Toolchain)}, nil
}

func sortedDeps(m map[string]string) []Dependency {
	deps := make([]Dependency, 0, len(m))
	for name, r := range m {
		deps = append(deps, Dependency{Name: name, Range: r})
	}
	sort.Slice(deps, func(i, j int) bool { return deps[i].Name < deps[j].Name })
	return deps
}

// Templates returns the names of the embedded templates, sorted.
func Templates() []string {
	entries, _ := fs.ReadDir(templates.FS, ".")
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

// isVersionRange accepts npm semver ranges and dist-tags (1-64 characters of
// [0-9A-Za-z.^~<>=*|+ _-]) while keeping quotes, backslashes and control
// characters out of package.json.
func isVersionRange(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte(".^~<>=*|+ _-", c) >= 0) {
			return false
		}
	}
	return true
}

// Render validates the options and renders every file of the template. All
// validation happens here, before anything touches the disk.
func Render(opts Options) (*Project, error) {
	name := opts.Template
	if name == "" {
		name = templates.Default
	}
	if !slices.Contains(Templates(), name) {
		return nil, &Error{
			Code:    CodeUnknownTemplate,
			Message: fmt.Sprintf("unknown template %q (valid: %s)", name, strings.Join(Templates(), ", ")),
			Hint:    "valid templates: " + strings.Join(Templates(), ", "),
			Flag:    "--template",
		}
	}
	wo := opts.Wrangler
	if wo.Name == "" {
		wo.Name = opts.ProjectName
	}
	wo.NimbusPublicDirectory = true
	if wo.Agent == nil {
		wo.Agent = &AgentOptions{Model: DefaultAgentModel, GatewayID: DefaultAgentGatewayID}
	}
	// Check the Worker name before building so that a bad directory name is
	// reported as a Worker name problem (fixed with --name) rather than as a
	// derived bucket problem.
	if err := ValidateWorkerName(wo.Name); err != nil {
		return nil, err
	}
	// A valid Worker name is a valid npm name unless npm reserves it
	// ("http"), so this mostly speaks when the two names differ.
	if err := ValidatePackageName(opts.ProjectName); err != nil {
		return nil, err
	}
	cfg, err := BuildWranglerConfig(wo)
	if err != nil {
		return nil, err
	}
	if err := cfg.ValidateNames(); err != nil {
		return nil, err
	}
	wranglerJSON, err := cfg.JSON()
	if err != nil {
		return nil, err
	}

	versions, err := LoadVersions()
	if err != nil {
		return nil, err
	}
	deps := slices.Clone(versions.Nimbus)
	if opts.NimbusVersion != "" {
		if !isVersionRange(opts.NimbusVersion) {
			return nil, optionError("--nimbus-version", `use an npm version range such as "^0.2.0" or a dist-tag such as "latest"`,
				"invalid Nimbus version range %q", opts.NimbusVersion)
		}
		for i := range deps {
			deps[i].Range = opts.NimbusVersion
		}
	}
	pinned := ""
	if _, ok := cfg.Vars.Get("NIMBUS_RUNTIME_CATALOG_SHA256"); ok {
		pinned = "true"
	}
	buckets := cfg.BucketNames()
	data := map[string]string{
		"ProjectName":         opts.ProjectName,
		"ProjectNameJSON":     jsonString(opts.ProjectName),
		"WorkerName":          cfg.Name,
		"WranglerJSON":        strings.TrimSuffix(string(wranglerJSON), "\n"),
		"CatalogPinned":       pinned,
		"AgentModel":          wo.Agent.Model,
		"AgentGatewayID":      wo.Agent.GatewayID,
		"BucketList":          strings.Join(buckets, ", "),
		"BucketListCode":      "`" + strings.Join(buckets, "`, `") + "`",
		"DependenciesJSON":    jsonMembers(deps, "    "),
		"DevDependenciesJSON": jsonMembers(versions.Toolchain, "    "),
		"SetupSteps":          strings.Join(SetupSteps(cfg.Name), "\n"),
	}

	files, err := renderTemplate(name, data)
	if err != nil {
		return nil, err
	}
	return &Project{Template: name, ProjectName: opts.ProjectName, WorkerName: cfg.Name, Wrangler: cfg, Files: files}, nil
}

// jsonString quotes s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// jsonMembers formats dependencies as the members of a JSON object, one per
// line, in order.
func jsonMembers(deps []Dependency, indent string) string {
	lines := make([]string, len(deps))
	for i, d := range deps {
		lines[i] = indent + jsonString(d.Name) + ": " + jsonString(d.Range)
	}
	return strings.Join(lines, ",\n")
}

func renderTemplate(name string, data map[string]string) ([]File, error) {
	root, err := fs.Sub(templates.FS, name)
	if err != nil {
		return nil, err
	}
	var files []File
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		text, err := expand(string(src), data)
		if err != nil {
			return fmt.Errorf("template %s/%s: %w", name, p, err)
		}
		files = append(files, File{Path: strings.TrimSuffix(p, templateSuffix), Data: []byte(text), Mode: 0o644})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Top-level files first: a failure while creating a subdirectory then
	// happens late, and the plan reads like the upstream tree listing.
	slices.SortStableFunc(files, func(a, b File) int {
		return strings.Count(a.Path, "/") - strings.Count(b.Path, "/")
	})
	return files, nil
}
