package scaffold

import (
	"path/filepath"
	"strings"
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

// NextSteps returns upstream's next steps, written for this CLI: cd, npm
// install, setup cloudflare, the JWT secret, deploy. Scripts written for
// upstream read these from the JSON line, so the order is kept.
func NextSteps(o NextStepsOptions) []string {
	steps := []string{"cd " + cdTarget(o.Dir, o.Cwd)}
	if !o.Installed {
		steps = append(steps, "npm install")
	}
	return append(steps,
		"CLOUDFLARE_ACCOUNT_ID=<account-id> nimbus setup cloudflare --name "+o.WorkerName+" --write-config",
		"npx wrangler secret put JWT_SECRET",
		"npx wrangler deploy",
	)
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
