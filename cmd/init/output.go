package initcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/jsjson"
	"github.com/nimbus-sh/nimbus/internal/style"
	"github.com/nimbus-sh/nimbus/pkg/scaffold"
)

const docsURL = "https://github.com/AshishKumar4/Nimbus#readme"

// report collects what init did and prints it: upstream's JSON line on
// stdout for programs, a styled tree and the next steps on stderr for people.
type report struct {
	f       *cmdutil.Factory
	project *scaffold.Project
	plan    *scaffold.Plan
	cwd     string
	result  *scaffold.Result
	// git and install are "" when not requested, else what happened.
	git, install string
}

func newReport(f *cmdutil.Factory, project *scaffold.Project, plan *scaffold.Plan, cwd string) *report {
	return &report{f: f, project: project, plan: plan, cwd: cwd}
}

// step records the outcome of an optional step. A missing tool or a
// deliberate skip is a warning; a failing tool is an error (the project
// files stay, and the message says so).
func (r *report) step(field *string, what, okWord, skipped string, err error) error {
	switch {
	case toolMissing(err):
		*field = "skipped"
		r.warn(err.Error())
	case errors.Is(err, context.Canceled):
		// After Apply: the files stay, unlike an interruption before
		// them, which toCLIError reports as rolled back.
		hint := "run `npm install` in the project"
		if what == "git" {
			hint = "the project files are in place; finish with git by hand"
		}
		return clierr.Wrap(err, exitcode.Interrupted, "E_INTERRUPTED", "interrupted during "+what+"; the project files were written", hint)
	case err != nil:
		return toCLIError(err)
	case skipped != "":
		*field = "skipped"
		r.warn("git: " + skipped + "; no repository created")
	default:
		*field = okWord
	}
	return nil
}

func (r *report) warn(msg string) {
	st := r.f.IOStreams.Styles()
	fmt.Fprintf(r.f.IOStreams.ErrOut, "%s %s\n", st.WarningIcon(), msg)
}

func (r *report) nextSteps() []string {
	return scaffold.NextSteps(scaffold.NextStepsOptions{
		Dir: r.plan.Dir, Cwd: r.cwd, WorkerName: r.project.WorkerName, Installed: r.install == "done",
	})
}

// machine builds the JSON object: upstream's ok, path and nextSteps first,
// then nimbus's additions only where they apply.
func (r *report) machine(dryRun bool) jsjson.Value {
	steps := r.nextSteps()
	arr := make([]jsjson.Member, len(steps))
	for i, s := range steps {
		arr[i] = jsjson.Member{Value: jsjson.StringValue(s)}
	}
	obj := []jsjson.Member{
		{Key: "ok", Value: jsjson.Value{Kind: jsjson.Bool, Bool: true}},
		{Key: "path", Value: jsjson.StringValue(r.plan.Dir)},
		{Key: "nextSteps", Value: jsjson.Value{Kind: jsjson.Array, Items: arr}},
	}
	if dryRun {
		files := make([]jsjson.Member, len(r.plan.Files))
		for i, pf := range r.plan.Files {
			files[i] = jsjson.Member{Value: jsjson.Value{Kind: jsjson.Object, Items: []jsjson.Member{
				{Key: "path", Value: jsjson.StringValue(pf.Path)},
				{Key: "action", Value: jsjson.StringValue(string(pf.Action))},
			}}}
		}
		obj = append(obj,
			jsjson.Member{Key: "dryRun", Value: jsjson.Value{Kind: jsjson.Bool, Bool: true}},
			jsjson.Member{Key: "files", Value: jsjson.Value{Kind: jsjson.Array, Items: files}})
	}
	if r.git != "" {
		obj = append(obj, jsjson.Member{Key: "git", Value: jsjson.StringValue(r.git)})
	}
	if r.install != "" {
		obj = append(obj, jsjson.Member{Key: "install", Value: jsjson.StringValue(r.install)})
	}
	return jsjson.Value{Kind: jsjson.Object, Items: obj}
}

func (r *report) dryRun() error {
	ios := r.f.IOStreams
	if r.f.MachineOutput() {
		if err := r.f.PrintJSON(r.machine(true)); err != nil {
			return err
		}
	}
	if r.f.JSON {
		return nil
	}
	st := ios.Styles()
	w := ios.ErrOut
	fmt.Fprintf(w, "%s nothing was written\n\n", st.Bold("Dry run:"))
	verb := "Would write into"
	if !r.plan.DirExists {
		verb = "Would create"
	}
	fmt.Fprintf(w, "%s %s\n\n", verb, r.plan.Dir)
	labels := map[string]string{}
	for _, pf := range r.plan.Files {
		labels[pf.Path] = actionLabel(st, pf.Action, true)
	}
	writeTree(w, st, r.displayRoot(), r.paths(), labels)
	return nil
}

func (r *report) done() error {
	ios := r.f.IOStreams
	if r.f.MachineOutput() {
		if err := r.f.PrintJSON(r.machine(false)); err != nil {
			return err
		}
	}
	if r.f.JSON {
		return nil
	}
	st := ios.Styles()
	w := ios.ErrOut
	fmt.Fprintf(w, "%s Scaffolded %s at %s\n\n", st.SuccessIcon(), st.Bold(r.project.ProjectName), r.plan.Dir)
	labels := map[string]string{}
	for _, p := range r.result.Written {
		labels[p] = actionLabel(st, actionOf(r.plan, p), false)
	}
	for _, p := range r.result.Unchanged {
		labels[p] = actionLabel(st, scaffold.ActionIdentical, false)
	}
	writeTree(w, st, r.displayRoot(), r.paths(), labels)
	if r.git == "committed" {
		fmt.Fprintf(w, "\n%s Created a git repository with the first commit\n", st.SuccessIcon())
	}
	if r.install == "done" {
		fmt.Fprintf(w, "%s Installed the dependencies\n", st.SuccessIcon())
	}

	fmt.Fprintf(w, "\n%s\n", st.Bold("Next steps:"))
	// "cd ." stays in the JSON (upstream's nextSteps) but is no step for a
	// person already there.
	steps := slices.DeleteFunc(r.nextSteps(), func(s string) bool { return s == "cd ." })
	for i, s := range steps {
		note := ""
		switch {
		case strings.HasSuffix(s, " --set-secret"):
			note = "   # generates JWT_SECRET, keeps it 0600 in nimbus's config directory, puts it on the Worker"
		case strings.HasPrefix(s, "nimbus setup cloudflare"):
			note = "   # R2 buckets, the language runtimes and their pin in wrangler.jsonc; needs CLOUDFLARE_API_TOKEN"
		}
		fmt.Fprintf(w, "  %d. %s%s\n", i+1, st.Key(s), st.Muted(note))
	}
	fmt.Fprintf(w, "\nIf setup reports R2 error 10042, enable R2 once in the Cloudflare dashboard and run it again.\n")
	fmt.Fprintf(w, "The session Durable Object is provisioned on first use; mint a token with 'nimbus token mint' before attaching.\n")
	fmt.Fprintf(w, "Docs: %s\n", docsURL)
	return nil
}

func (r *report) paths() []string {
	ps := make([]string, len(r.plan.Files))
	for i, pf := range r.plan.Files {
		ps[i] = pf.Path
	}
	return ps
}

// displayRoot names the tree's root the way the user would cd into it.
func (r *report) displayRoot() string {
	rel, err := filepath.Rel(r.cwd, r.plan.Dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return r.plan.Dir + "/"
	}
	if rel == "." {
		return "./"
	}
	return rel + "/"
}

func actionOf(p *scaffold.Plan, path string) scaffold.Action {
	for _, pf := range p.Files {
		if pf.Path == path {
			return pf.Action
		}
	}
	return scaffold.ActionCreate
}

func actionLabel(st *style.Styles, a scaffold.Action, planned bool) string {
	switch {
	case a == scaffold.ActionIdentical:
		return st.Muted("unchanged")
	case a == scaffold.ActionOverwrite && planned:
		return st.Warning("would overwrite")
	case a == scaffold.ActionOverwrite:
		return st.Warning("overwritten")
	case planned:
		return st.Success("would create")
	default:
		return st.Success("created")
	}
}

// writeTree prints paths (slash-separated, grouped by directory as the plan
// lists them: files first, then subdirectories) as a tree with labels.
func writeTree(w io.Writer, st *style.Styles, root string, paths []string, labels map[string]string) {
	type node struct {
		name     string
		path     string
		children []*node
	}
	top := &node{}
	for _, p := range paths {
		cur := top
		parts := strings.Split(p, "/")
		for i, part := range parts {
			var next *node
			for _, c := range cur.children {
				if c.name == part {
					next = c
				}
			}
			if next == nil {
				next = &node{name: part}
				if i == len(parts)-1 {
					next.path = p
				}
				cur.children = append(cur.children, next)
			}
			cur = next
		}
	}
	type line struct{ text, label string }
	var lines []line
	var walk func(n *node, prefix string)
	walk = func(n *node, prefix string) {
		for i, c := range n.children {
			branch, indent := "├── ", "│   "
			if i == len(n.children)-1 {
				branch, indent = "└── ", "    "
			}
			name := c.name
			if len(c.children) > 0 {
				name += "/"
			}
			lines = append(lines, line{text: prefix + branch + name, label: labels[c.path]})
			walk(c, prefix+indent)
		}
	}
	walk(top, "")
	width := 0
	for _, l := range lines {
		width = max(width, utf8.RuneCountInString(l.text))
	}
	fmt.Fprintf(w, "  %s\n", st.Bold(root))
	for _, l := range lines {
		if l.label == "" {
			fmt.Fprintf(w, "  %s\n", l.text)
			continue
		}
		pad := width - utf8.RuneCountInString(l.text) + 2
		fmt.Fprintf(w, "  %s%s%s\n", l.text, strings.Repeat(" ", pad), l.label)
	}
}
