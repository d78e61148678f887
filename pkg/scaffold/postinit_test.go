package scaffold

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func gitEnv(t *testing.T) {
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_AUTHOR_NAME", "Test")
	t.Setenv("GIT_AUTHOR_EMAIL", "test@example.com")
	t.Setenv("GIT_COMMITTER_NAME", "Test")
	t.Setenv("GIT_COMMITTER_EMAIL", "test@example.com")
}

func TestInitGitCommitsOnlyProjectFiles(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is required for this test: %v", err)
	}
	gitEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "notes.txt"), "unrelated")
	plan, err := NewPlan(ctx, dir, render(t), PlanOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Apply(ctx, plan, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	skipped, err := InitGit(ctx, dir, GitOptions{Files: res.Written, Output: &out})
	if err != nil || skipped != "" {
		t.Fatalf("InitGit: %q %v\n%s", skipped, err, out.String())
	}
	files, err := exec.Command("git", "-C", dir, "ls-files").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Fields(string(files)), slices.Sorted(slices.Values(sixFiles)); !reflect.DeepEqual(got, want) {
		t.Errorf("committed %v, want %v", got, want)
	}
	msg, _ := exec.Command("git", "-C", dir, "log", "--format=%s").Output()
	if strings.TrimSpace(string(msg)) != InitialCommitMessage {
		t.Errorf("log %q", msg)
	}

	// A second project inside this repository is not turned into a nested one.
	sub := filepath.Join(dir, "sub")
	write(t, filepath.Join(sub, "x"), "")
	skipped, err = InitGit(ctx, sub, GitOptions{Files: []string{"x"}, Output: &out})
	if err != nil || !strings.Contains(skipped, "already inside") {
		t.Errorf("nested: %q %v", skipped, err)
	}
	if _, err := os.Stat(filepath.Join(sub, ".git")); err == nil {
		t.Errorf("nested repository created")
	}
}

// fakeRunner records commands and fails the ones listed in fail.
type fakeRunner struct {
	calls []string
	fail  map[string]error
}

func (f *fakeRunner) run(_ context.Context, c Command) error {
	line := strings.Join(append([]string{c.Name}, c.Args...), " ")
	f.calls = append(f.calls, line)
	for prefix, err := range f.fail {
		if strings.HasPrefix(line, prefix) {
			return err
		}
	}
	fmt.Fprintf(c.Stdout, "ran %s\n", line)
	return nil
}

func TestInitGitErrors(t *testing.T) {
	ctx := context.Background()
	notFound := &exec.Error{Name: "git", Err: exec.ErrNotFound}
	f := &fakeRunner{fail: map[string]error{"git": notFound}}
	_, err := InitGit(ctx, t.TempDir(), GitOptions{Run: f.run, Output: &bytes.Buffer{}})
	var se *Error
	if !errors.As(err, &se) || se.Code != CodeToolMissing {
		t.Errorf("missing git: %v", err)
	}

	f = &fakeRunner{fail: map[string]error{"git rev-parse": errors.New("exit status 128"), "git commit": errors.New("exit status 128")}}
	_, err = InitGit(ctx, t.TempDir(), GitOptions{Run: f.run, Files: []string{"a", "b"}, Output: &bytes.Buffer{}})
	if !errors.As(err, &se) || se.Code != CodeGitFailed || !strings.Contains(se.Message, "git commit") {
		t.Errorf("commit failure: %v", err)
	}
	want := []string{"git rev-parse --is-inside-work-tree", "git init --quiet", "git add -- a b",
		"git var GIT_AUTHOR_IDENT", "git var GIT_COMMITTER_IDENT", "git commit --quiet --message " + InitialCommitMessage}
	if !reflect.DeepEqual(f.calls, want) {
		t.Errorf("calls %q", f.calls)
	}

	// No identity: configuration (78), found before git commit fails.
	f = &fakeRunner{fail: map[string]error{"git rev-parse": errors.New("exit status 128"), "git var GIT_COMMITTER_IDENT": errors.New("exit status 128")}}
	_, err = InitGit(ctx, t.TempDir(), GitOptions{Run: f.run, Files: []string{"a"}, Output: &bytes.Buffer{}})
	if !errors.As(err, &se) || se.Code != CodeGitIdentity || se.ExitCode() != 78 || !strings.Contains(se.Hint, "git config --global user.email") {
		t.Errorf("no identity: %v", err)
	}
	if slices.Contains(f.calls, "git commit --quiet --message "+InitialCommitMessage) {
		t.Errorf("committed without an identity: %q", f.calls)
	}
}

func TestInstall(t *testing.T) {
	ctx := context.Background()
	var out bytes.Buffer
	f := &fakeRunner{}
	if err := Install(ctx, "/p", &out, f.run); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.calls, []string{"npm install"}) || out.String() != "ran npm install\n" {
		t.Errorf("calls %q out %q", f.calls, out.String())
	}
	var se *Error
	f = &fakeRunner{fail: map[string]error{"npm": &exec.Error{Name: "npm", Err: exec.ErrNotFound}}}
	if err := Install(ctx, "/p", &out, f.run); !errors.As(err, &se) || se.Code != CodeToolMissing {
		t.Errorf("missing npm: %v", err)
	}
	f = &fakeRunner{fail: map[string]error{"npm": errors.New("exit status 1")}}
	if err := Install(ctx, "/p", &out, f.run); !errors.As(err, &se) || se.Code != CodeInstallFailed {
		t.Errorf("failing npm: %v", err)
	}
}
