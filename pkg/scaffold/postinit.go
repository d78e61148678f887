package scaffold

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"time"
)

// More error codes, for the optional steps after the files are written.
const (
	// CodeToolMissing: git or npm is not installed; the step was skipped.
	CodeToolMissing = "E_TOOL_MISSING"
	// CodeGitFailed: a git command failed.
	CodeGitFailed = "E_GIT_FAILED"
	// CodeGitIdentity: git has no identity to commit with (no
	// user.name/user.email it accepts); the files are written and staged.
	CodeGitIdentity = "E_GIT_IDENTITY"
	// CodeInstallFailed: npm install failed.
	CodeInstallFailed = "E_INSTALL_FAILED"
)

// Command is an external program to run in a directory.
type Command struct {
	// Dir is the directory the program runs in.
	Dir string
	// Name is the program, looked up in PATH ("git", "npm").
	Name string
	// Args are the program's arguments, without the program name.
	Args []string
	// Stdout receives the program's standard output; nil discards it.
	Stdout io.Writer
	// Stderr receives the program's standard error; nil discards it.
	Stderr io.Writer
}

// CommandRunner runs a Command. It must return an error wrapping
// exec.ErrNotFound when the program is not installed.
type CommandRunner func(ctx context.Context, c Command) error

// ExecRunner runs commands with os/exec. When ctx ends, the program is
// stopped with its own children (npm's postinstall scripts), which would
// otherwise outlive the caller: on Unix the program runs in a process
// group of its own, which gets SIGTERM, then SIGKILL after StopGrace
// (stopGroup); on Windows the program alone is killed.
func ExecRunner(ctx context.Context, c Command) error {
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = c.Dir, c.Stdout, c.Stderr
	stopGroup(cmd)
	err := cmd.Run()
	if ctx.Err() != nil {
		killGroup(cmd)
	}
	return err
}

// StopGrace is how long a program ExecRunner stops (and, on Unix, its
// process group) has after SIGTERM to end before it is killed: enough for
// npm to remove its lock files, short enough for a Ctrl-C to feel
// prompt.
const StopGrace = 3 * time.Second

// InitialCommitMessage is the message of the commit InitGit makes.
const InitialCommitMessage = "Initial commit from nimbus init"

// GitOptions configure InitGit.
type GitOptions struct {
	// Files are the paths (relative to the directory) to commit: only what
	// init wrote, never unrelated files of a forced run.
	Files []string
	// Output receives git's own output (progress and errors).
	Output io.Writer
	// Run runs git; nil means ExecRunner.
	Run CommandRunner
}

// InitGit makes dir a git repository and commits the project files. It
// leaves an existing repository alone (including a parent one, such as a
// monorepo) and returns an *Error with CodeToolMissing when git is absent, so
// callers can report the step as skipped. When ctx ends while git runs, the
// error wraps ctx.Err() instead of an *Error: git was stopped, it did not fail.
func InitGit(ctx context.Context, dir string, o GitOptions) (skipped string, err error) {
	run := o.Run
	if run == nil {
		run = ExecRunner
	}
	git := func(args ...string) error {
		return run(ctx, Command{Dir: dir, Name: "git", Args: args, Stdout: o.Output, Stderr: o.Output})
	}
	// Inside a work tree already: a nested repository would hide the files
	// from the outer one.
	err = run(ctx, Command{Dir: dir, Name: "git", Args: []string{"rev-parse", "--is-inside-work-tree"}, Stdout: io.Discard, Stderr: io.Discard})
	if errors.Is(err, exec.ErrNotFound) {
		return "", &Error{Code: CodeToolMissing, Message: "git is not installed; skipped creating a repository", Hint: "install git and run `git init` in the project"}
	}
	if err == nil {
		return "already inside a git repository", nil
	}
	steps := [][]string{
		{"init", "--quiet"},
		append([]string{"add", "--"}, o.Files...),
		{"commit", "--quiet", "--message", InitialCommitMessage},
	}
	for _, args := range steps {
		if args[0] == "commit" {
			if err := gitIdentity(ctx, dir, run); err != nil {
				if ctx.Err() != nil {
					return "", fmt.Errorf("git var: %w", ctx.Err())
				}
				return "", err
			}
		}
		if err := git(args...); err != nil {
			if ctx.Err() != nil {
				return "", fmt.Errorf("git %s: %w", args[0], ctx.Err())
			}
			return "", &Error{
				Code:    CodeGitFailed,
				Message: fmt.Sprintf("git %s failed; the project files were written", args[0]),
				Hint:    "the project files are in place; finish with git by hand",
				Err:     err,
			}
		}
	}
	return "", nil
}

// gitIdentity asks git for the author and committer a commit in dir would
// have, as strictly as git commit does: a missing user.name/user.email is
// the user's configuration, not a failure of git, and gets its own code.
// Asked after git init, so that configuration tied to the repository's
// path (includeIf "gitdir:") counts. git's own explanation is discarded:
// the hint says the same in one line.
func gitIdentity(ctx context.Context, dir string, run CommandRunner) error {
	for _, v := range []string{"GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"} {
		// The cause (git's exit status) says nothing the message does not.
		if run(ctx, Command{Dir: dir, Name: "git", Args: []string{"var", v}, Stdout: io.Discard, Stderr: io.Discard}) != nil {
			return &Error{
				Code:    CodeGitIdentity,
				Message: "git has no identity to commit with (user.name and user.email); the project files were written and staged in a new repository",
				Hint:    `set it with git config --global user.name "Your Name" and git config --global user.email you@example.com, then run git commit in the project`,
			}
		}
	}
	return nil
}

// Install runs `npm install` in dir, with npm's output sent to out (never to
// the caller's stdout, which carries the machine-readable result). When ctx
// ends while npm runs, the error wraps ctx.Err() instead of an *Error with
// CodeInstallFailed: npm was stopped, it did not fail.
func Install(ctx context.Context, dir string, out io.Writer, run CommandRunner) error {
	if run == nil {
		run = ExecRunner
	}
	err := run(ctx, Command{Dir: dir, Name: "npm", Args: []string{"install"}, Stdout: out, Stderr: out})
	switch {
	case err != nil && ctx.Err() != nil:
		// npm was stopped because the caller was (Ctrl-C, a CI cancel): not
		// a failure of npm, and its exit status ("signal: killed") says
		// nothing about the project.
		return fmt.Errorf("npm install: %w", ctx.Err())
	case errors.Is(err, exec.ErrNotFound):
		return &Error{Code: CodeToolMissing, Message: "npm is not installed; skipped installing dependencies", Hint: "install Node.js 20+ and run `npm install` in the project"}
	case err != nil:
		return &Error{Code: CodeInstallFailed, Message: "npm install failed; the project files were written", Hint: "the project files are in place; run `npm install` in the project again", Err: err}
	}
	return nil
}
