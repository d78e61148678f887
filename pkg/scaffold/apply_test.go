package scaffold

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func render(t *testing.T) *Project {
	t.Helper()
	p, err := Render(Options{ProjectName: "my-worker"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// snapshot maps every path under dir to its mode and content, so tests can
// assert that a failed or refused run changed nothing at all.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		entry := info.Mode().String()
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entry += " " + string(b)
		}
		snap[rel] = entry
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return snap
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func actions(p *Plan) map[string]Action {
	m := map[string]Action{}
	for _, f := range p.Files {
		m[f.Path] = f.Action
	}
	return m
}

func TestPlanAndApplyMissingDir(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "a", "b", "my-worker")
	project := render(t)
	plan, err := NewPlan(ctx, dir, project, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if plan.DirExists || plan.Changes() != 6 {
		t.Fatalf("plan %+v", plan)
	}
	if _, err := os.Stat(filepath.Join(dir, "..")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("planning must not create anything")
	}
	res, err := Apply(ctx, plan, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.CreatedDir || !reflect.DeepEqual(res.Written, sixFiles) || len(res.Unchanged) != 0 {
		t.Errorf("result %+v", res)
	}
	for _, f := range project.Files {
		full := filepath.Join(dir, filepath.FromSlash(f.Path))
		got, err := os.ReadFile(full)
		if err != nil || string(got) != string(f.Data) {
			t.Errorf("%s: %v", f.Path, err)
		}
		if info, _ := os.Stat(full); info.Mode().Perm() != 0o644 {
			t.Errorf("%s mode %v", f.Path, info.Mode())
		}
	}
	snap := snapshot(t, dir)
	for p := range snap {
		if strings.Contains(p, ".nimbus-") {
			t.Errorf("temporary file left: %s", p)
		}
	}
	if len(snap) != 8 { // ., src, six files
		t.Errorf("unexpected tree %v", slices.Sorted(mapKeys(snap)))
	}

	// A second plan finds everything identical (needs force: not empty).
	plan, err = NewPlan(ctx, dir, project, PlanOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Changes() != 0 {
		t.Errorf("re-plan %v", actions(plan))
	}
	res, err = Apply(ctx, plan, ApplyOptions{WriteFile: func(string, []byte, fs.FileMode) error {
		return errors.New("must not write identical files")
	}})
	if err != nil || len(res.Unchanged) != 6 || res.CreatedDir {
		t.Errorf("identical apply: %+v %v", res, err)
	}
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestPlanEmptyDir(t *testing.T) {
	dir := t.TempDir()
	plan, err := NewPlan(context.Background(), dir, render(t), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !plan.DirExists || plan.Changes() != 6 || len(plan.Existing) != 0 {
		t.Errorf("plan %+v", plan)
	}
}

func TestPlanNonEmptyRefused(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "notes.txt"), "mine")
	write(t, filepath.Join(dir, "package.json"), "{}")
	before := snapshot(t, dir)
	_, err := NewPlan(context.Background(), dir, render(t), PlanOptions{})
	var se *Error
	if !errors.As(err, &se) || se.Code != CodeTargetNotEmpty {
		t.Fatalf("want E_DIR_NOT_EMPTY, got %v", err)
	}
	if !reflect.DeepEqual(se.Paths, []string{"notes.txt", "package.json"}) || se.Flag != "--force" {
		t.Errorf("paths %v flag %q", se.Paths, se.Flag)
	}
	if !strings.Contains(se.Message, "notes.txt, package.json") || !strings.Contains(se.Hint, "overwrite package.json") {
		t.Errorf("message %q hint %q", se.Message, se.Hint)
	}
	if !reflect.DeepEqual(before, snapshot(t, dir)) {
		t.Errorf("refused plan changed the directory")
	}
}

func TestPlanForceKeepsUnrelatedFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	project := render(t)
	write(t, filepath.Join(dir, "notes.txt"), "mine")
	write(t, filepath.Join(dir, "src", "extra.ts"), "export {}")
	write(t, filepath.Join(dir, "package.json"), "{}")
	write(t, filepath.Join(dir, ".gitignore"), string(fileData(t, project, ".gitignore")))

	plan, err := NewPlan(ctx, dir, project, PlanOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Action{
		".gitignore": ActionIdentical, "package.json": ActionOverwrite, "README.md": ActionCreate,
		"tsconfig.json": ActionCreate, "wrangler.jsonc": ActionCreate, "src/index.ts": ActionCreate,
	}
	if got := actions(plan); !reflect.DeepEqual(got, want) {
		t.Errorf("actions %v", got)
	}
	res, err := Apply(ctx, plan, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.CreatedDir || len(res.Written) != 5 || !reflect.DeepEqual(res.Unchanged, []string{".gitignore"}) {
		t.Errorf("result %+v", res)
	}
	snap := snapshot(t, dir)
	if snap["notes.txt"] != "-rw------- mine" || snap["src/extra.ts"] != "-rw------- export {}" {
		t.Errorf("unrelated files changed: %q %q", snap["notes.txt"], snap["src/extra.ts"])
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "package.json")); string(got) != string(fileData(t, project, "package.json")) {
		t.Errorf("package.json not overwritten")
	}
}

func TestPlanConflicts(t *testing.T) {
	project := render(t)
	for name, setup := range map[string]func(dir string) string{
		"file is a directory": func(dir string) string {
			write(t, filepath.Join(dir, "src", "index.ts", "x"), "")
			return dir
		},
		"parent is a file": func(dir string) string {
			write(t, filepath.Join(dir, "src"), "")
			return dir
		},
		"file is a symlink": func(dir string) string {
			write(t, filepath.Join(dir, "elsewhere.json"), "{}")
			if err := os.Symlink("elsewhere.json", filepath.Join(dir, "package.json")); err != nil {
				t.Fatal(err)
			}
			return dir
		},
		"parent is a symlink out of the project": func(dir string) string {
			if err := os.Mkdir(filepath.Join(dir, "outside"), 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(dir, "proj", "README.md"), "mine")
			if err := os.Symlink("../outside", filepath.Join(dir, "proj", "src")); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(dir, "proj")
		},
		"target is a file": func(dir string) string {
			write(t, filepath.Join(dir, "f"), "")
			return filepath.Join(dir, "f")
		},
		"target parent is a file": func(dir string) string {
			write(t, filepath.Join(dir, "f"), "")
			return filepath.Join(dir, "f", "proj")
		},
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			target := setup(root)
			before := snapshot(t, root)
			_, err := NewPlan(context.Background(), target, project, PlanOptions{Force: true})
			var se *Error
			if !errors.As(err, &se) || se.Code != CodeTargetConflict || se.Hint == "" {
				t.Fatalf("want E_TARGET_CONFLICT, got %v", err)
			}
			if !reflect.DeepEqual(before, snapshot(t, root)) {
				t.Errorf("changed the disk")
			}
		})
	}
	if _, err := NewPlan(context.Background(), "relative", project, PlanOptions{}); err == nil {
		t.Errorf("relative dir accepted")
	}
}

// failingWriter writes normally until the n-th call, which fails.
func failingWriter(n int) WriteFileFunc {
	calls := 0
	return func(name string, data []byte, perm fs.FileMode) error {
		calls++
		if calls == n {
			return fmt.Errorf("injected failure writing %s", filepath.Base(name))
		}
		return WriteFileAtomic(name, data, perm)
	}
}

func TestApplyRollsBack(t *testing.T) {
	ctx := context.Background()
	project := render(t)
	for n := 1; n <= 6; n++ {
		t.Run(fmt.Sprintf("missing dir, failure on write %d", n), func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "deep", "my-worker")
			plan, err := NewPlan(ctx, dir, project, PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := Apply(ctx, plan, ApplyOptions{WriteFile: failingWriter(n)})
			var se *Error
			if !errors.As(err, &se) || se.Code != CodeWriteFailed || res != nil {
				t.Fatalf("want E_WRITE_FAILED, got %v %v", res, err)
			}
			if se.Paths[0] != sixFiles[n-1] || !strings.Contains(se.Error(), "injected failure") || !strings.Contains(se.Hint, "nothing was left behind") {
				t.Errorf("error %v paths %v hint %q", se, se.Paths, se.Hint)
			}
			if snap := snapshot(t, root); !reflect.DeepEqual(snap, map[string]string{".": snap["."]}) {
				t.Errorf("left behind: %v", slices.Sorted(mapKeys(snap)))
			}
		})
	}

	t.Run("forced into existing dir", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "notes.txt"), "mine")
		write(t, filepath.Join(dir, "package.json"), "old package")
		write(t, filepath.Join(dir, "README.md"), "old readme")
		before := snapshot(t, dir)
		plan, err := NewPlan(ctx, dir, project, PlanOptions{Force: true})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Apply(ctx, plan, ApplyOptions{WriteFile: failingWriter(6)})
		if err == nil {
			t.Fatal("want failure")
		}
		if after := snapshot(t, dir); !reflect.DeepEqual(before, after) {
			t.Errorf("not restored:\nbefore %v\nafter  %v", before, after)
		}
	})

	t.Run("stale plan", func(t *testing.T) {
		dir := t.TempDir()
		plan, err := NewPlan(ctx, dir, project, PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "tsconfig.json"), "someone else's")
		_, err = Apply(ctx, plan, ApplyOptions{})
		var se *Error
		if !errors.As(err, &se) || se.Paths[0] != "tsconfig.json" {
			t.Fatalf("want failure on tsconfig.json, got %v", err)
		}
		snap := snapshot(t, dir)
		if len(snap) != 2 || snap["tsconfig.json"] != "-rw------- someone else's" {
			t.Errorf("left %v", snap)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		root := t.TempDir()
		dir := filepath.Join(root, "p")
		plan, err := NewPlan(ctx, dir, project, PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		calls := 0
		_, err = Apply(cctx, plan, ApplyOptions{WriteFile: func(n string, d []byte, p fs.FileMode) error {
			if calls++; calls == 2 {
				cancel()
			}
			return WriteFileAtomic(n, d, p)
		}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("want context.Canceled, got %v", err)
		}
		if len(snapshot(t, root)) != 1 {
			t.Errorf("left behind %v", snapshot(t, root))
		}
	})
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f.json")
	write(t, name, "old")
	if err := WriteFileAtomic(name, []byte("new"), 0o640); err != nil {
		t.Fatal(err)
	}
	// The file it replaces keeps its mode (0600), as with os.WriteFile.
	if snap := snapshot(t, dir); len(snap) != 2 || snap["f.json"] != "-rw------- new" {
		t.Errorf("got %v", snap)
	}
	// A new file gets perm less the umask: never more than perm.
	if err := WriteFileAtomic(filepath.Join(dir, "g.json"), []byte("g"), 0o640); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Join(dir, "g.json")); err != nil || info.Mode().Perm()&^0o640 != 0 || info.Mode().Perm()&0o600 != 0o600 {
		t.Errorf("new file: %v %v", info.Mode(), err)
	}
	os.Remove(filepath.Join(dir, "g.json"))
	// A failing rename (target is a non-empty directory) removes the temp file.
	write(t, filepath.Join(dir, "d", "x"), "")
	if err := WriteFileAtomic(filepath.Join(dir, "d"), []byte("x"), 0o644); err == nil {
		t.Fatal("rename over a directory succeeded")
	}
	for p := range snapshot(t, dir) {
		if strings.Contains(p, ".nimbus-") {
			t.Errorf("temporary file left: %s", p)
		}
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "f"), nil, 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("want ErrNotExist, got %v", err)
	}
}

func TestNextSteps(t *testing.T) {
	for _, tc := range []struct{ dir, cwd, cd string }{
		{"/home/u/p", "/home/u/p", "."},
		{"/home/u/p", "/home/u", "p"},
		{"/home/u/a/b", "/home/u", "a/b"},
		{"/srv/p", "/home/u", "/srv/p"},
		{"/home/u", "/home/u/x", "/home/u"},
		{"/home/u/..p", "/home/u", "..p"},
	} {
		got := NextSteps(NextStepsOptions{Dir: tc.dir, Cwd: tc.cwd, WorkerName: "w"})
		want := []string{"cd " + tc.cd, "npm install", "nimbus setup cloudflare --name w --write-config",
			"npx wrangler deploy", "nimbus setup cloudflare --name w --set-secret"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%+v: got %q", tc, got)
		}
	}
	if got := NextSteps(NextStepsOptions{Dir: "/p", Cwd: "/", WorkerName: "w", Installed: true}); len(got) != 4 || got[1] == "npm install" {
		t.Errorf("installed: %q", got)
	}
}

// A symlinked directory that appears between planning and applying is
// caught before anything is written through it, and the run is undone.
func TestApplyRefusesALinkThatAppearedAfterThePlan(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	dir := filepath.Join(root, "proj")
	outside := filepath.Join(root, "outside")
	write(t, filepath.Join(dir, "notes.txt"), "mine")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	plan, err := NewPlan(ctx, dir, render(t), PlanOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	if err := os.Symlink(outside, filepath.Join(dir, "src")); err != nil {
		t.Fatal(err)
	}
	_, err = Apply(ctx, plan, ApplyOptions{})
	var se *Error
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "src is a symbolic link") {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("wrote through the link: %v", entries)
	}
	os.Remove(filepath.Join(dir, "src"))
	if after := snapshot(t, dir); !reflect.DeepEqual(before, after) {
		t.Fatalf("not rolled back: %v", slices.Sorted(mapKeys(after)))
	}
}

// TestApplyKeepsADanglingLinkThatAppearedAfterThePlan: a link to nowhere
// put where the planned directory goes makes Apply fail, and its rollback
// leaves the link alone: only directories Apply created are removed.
func TestApplyKeepsADanglingLinkThatAppearedAfterThePlan(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "proj")
	plan, err := NewPlan(context.Background(), dir, render(t), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "nowhere", "x"), dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(context.Background(), plan, ApplyOptions{}); err == nil {
		t.Fatal("Apply wrote through a link to nowhere")
	}
	if target, err := os.Readlink(dir); err != nil || target != filepath.Join(root, "nowhere", "x") {
		t.Errorf("the link is gone or changed: %q, %v", target, err)
	}
}

// TestApplyRefusesAFileLinkThatAppearedAfterThePlan: a file the plan
// would overwrite is replaced by a symbolic link to a file outside the
// project before Apply runs. The writer follows links (atomicfile's rule),
// so Apply must notice and refuse rather than overwrite the outside file;
// the link and the outside file stay as they were.
func TestApplyRefusesAFileLinkThatAppearedAfterThePlan(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	dir := filepath.Join(root, "proj")
	outside := filepath.Join(root, "outside.json")
	write(t, filepath.Join(dir, "package.json"), "old package")
	write(t, outside, "not yours")
	plan, err := NewPlan(ctx, dir, render(t), PlanOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "package.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "package.json")); err != nil {
		t.Fatal(err)
	}
	_, err = Apply(ctx, plan, ApplyOptions{})
	var se *Error
	if !errors.As(err, &se) || se.Code != CodeWriteFailed || !strings.Contains(err.Error(), "package.json became a symbolic link") {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "not yours" {
		t.Errorf("wrote through the link: %q", b)
	}
	if target, err := os.Readlink(filepath.Join(dir, "package.json")); err != nil || target != outside {
		t.Errorf("the link is gone or changed: %q, %v", target, err)
	}
}
