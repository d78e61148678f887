// Package templates embeds the project templates that `nimbus init` renders
// and the package versions they pin, so the binary needs no files at run time.
//
// Each template is a directory (for example worker-only/) whose files end in
// ".tmpl" and are rendered to the same path without that suffix. The syntax
// is pkg/scaffold's small placeholder language: {{Name}} inserts a value,
// {{#Name}}...{{/Name}} keeps text when Name is set and {{^Name}}...{{/Name}}
// when it is not. versions.json holds the npm version ranges written into
// package.json; change versions there, not in the templates.
package templates

import "embed"

// FS holds every template directory and versions.json. The all: prefix is
// needed because templates contain dot-files (.gitignore.tmpl).
//
//go:embed all:worker-only versions.json
var FS embed.FS

// VersionsFile is the name of the versions data file inside FS.
const VersionsFile = "versions.json"

// Default is the template used when none is requested.
const Default = "worker-only"
