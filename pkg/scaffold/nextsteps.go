package scaffold

import (
	"path/filepath"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/shellquote"
)

// NextStepsOptions describe where the project went and what was already done.
type NextStepsOptions struct {
	// Dir is the absolute project directory.
	Dir string
	// Cwd is the absolute working directory of the user, to phrase `cd`.
	Cwd string
	// WorkerName is the deployed Worker name.
	WorkerName string
	// Installed drops the `npm install` step because it already ran.
	Installed bool
}

// SetupSteps are the commands that take a scaffolded, installed project
// to a deployed Worker that has its JWT_SECRET: create the R2 buckets,
// publish the language runtimes and pin their catalog in wrangler.jsonc
// (CLOUDFLARE_API_TOKEN in the environment), deploy, then generate the
// secret and put it on the Worker. They are the one
// source of the setup instructions: init prints them, the generated
// README shows them, and a test holds nimbus's own docs to them. Every
// line can be pasted as it is (no placeholders a shell would misread).
func SetupSteps(worker string) []string {
	return []string{
		"nimbus setup cloudflare --name " + worker + " --write-config",
		"npx wrangler deploy",
		"nimbus setup cloudflare --name " + worker + " --set-secret",
	}
}

// NextSteps returns the steps after init: cd, npm install (unless it ran),
// then SetupSteps. Upstream's JSON line carries them as nextSteps.
func NextSteps(o NextStepsOptions) []string {
	// Quoted so the line can be pasted for any path ("My Drive/proj",
	// "it's"); a plain path stays bare, as upstream writes it.
	steps := []string{"cd " + shellquote.Quote(cdTarget(o.Dir, o.Cwd))}
	if !o.Installed {
		steps = append(steps, "npm install")
	}
	return append(steps, SetupSteps(o.WorkerName)...)
}

// cdTarget is "." for the working directory itself, the relative path for a
// directory below it, and the absolute path otherwise (upstream's rule).
func cdTarget(dir, cwd string) string {
	if cwd == "" {
		return dir
	}
	rel, err := filepath.Rel(cwd, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return dir
	}
	return rel
}
