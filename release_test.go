package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// toolchain returns go.mod's toolchain line ("go1.27.4") and go line.
func toolchain(t *testing.T) (toolchain, goLine string) {
	t.Helper()
	data, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "toolchain" {
			toolchain = f[1]
		}
		if len(f) == 2 && f[0] == "go" {
			goLine = f[1]
		}
	}
	if !regexp.MustCompile(`^go1\.\d+\.\d+$`).MatchString(toolchain) {
		t.Fatalf("go.mod has no toolchain line naming a release (got %q)", toolchain)
	}
	return toolchain, goLine
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// workflow is the part of a GitHub Actions workflow the checks read.
type workflow struct {
	Env  map[string]string `yaml:"env"`
	Jobs map[string]struct {
		Env   map[string]string `yaml:"env"`
		Steps []struct {
			Uses string            `yaml:"uses"`
			With map[string]string `yaml:"with"`
			Run  string            `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// TestToolchainPinnedEverywhere checks that every place that picks a Go
// toolchain picks go.mod's toolchain line, so a bump cannot leave CI, the
// release or the README on the old (vulnerable) one; that the analysers run
// at the same versions in .ci/run and the workflows; and that every action
// is pinned by commit SHA.
func TestToolchainPinnedEverywhere(t *testing.T) {
	want, goLine := toolchain(t)
	if goLine == "" || "go"+goLine == want {
		t.Errorf("go line %q: keep it at the lowest version the code needs, below the toolchain %s", goLine, want)
	}
	export := "GOTOOLCHAIN=" + want
	gotoolchain := regexp.MustCompile(`GOTOOLCHAIN[=:] *"?(go[0-9.]+|local|auto)`)

	// .ci/run exports it before running go, and its analyser versions are
	// the workflow's.
	ci := read(t, ".ci/run")
	if !regexp.MustCompile(`(?m)^export ` + regexp.QuoteMeta(export) + `$`).MatchString(ci) {
		t.Errorf(".ci/run does not export %s", export)
	}
	if i, j := strings.Index(ci, "export "+export), strings.Index(ci, "\ngo "); i < 0 || j < i {
		t.Errorf(".ci/run runs go before exporting %s", export)
	}
	ciVar := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + `=(\S+)`).FindStringSubmatch(ci)
		if m == nil {
			t.Fatalf(".ci/run sets no %s", name)
		}
		return m[1]
	}

	// Every other mention names the same toolchain.
	for _, path := range []string{".ci/run", "README.md", "CONTRIBUTING.md", ".goreleaser.yaml"} {
		text := read(t, path)
		found := gotoolchain.FindAllStringSubmatch(text, -1)
		if len(found) == 0 {
			t.Errorf("%s does not set GOTOOLCHAIN", path)
		}
		for _, m := range found {
			if m[1] != want {
				t.Errorf("%s: %s, want %s", path, m[0], export)
			}
		}
	}

	sha := regexp.MustCompile(`^[\w.-]+/[\w./-]+@[0-9a-f]{40}$`)
	files, _ := filepath.Glob(".github/workflows/*.yml")
	if len(files) < 2 {
		t.Fatalf("want the ci and release workflows, got %v", files)
	}
	for _, path := range files {
		text := read(t, path)
		var wf workflow
		if err := yaml.Unmarshal([]byte(text), &wf); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if wf.Env["GOTOOLCHAIN"] != want {
			t.Errorf("%s: env GOTOOLCHAIN = %q, want %s", path, wf.Env["GOTOOLCHAIN"], want)
		}
		for _, name := range []string{"STATICCHECK_VERSION", "GOVULNCHECK_VERSION"} {
			if v, ok := wf.Env[name]; ok && v != ciVar(name) {
				t.Errorf("%s: %s = %s, .ci/run has %s", path, name, v, ciVar(name))
			}
		}
		for job, j := range wf.Jobs {
			if v, ok := j.Env["GOTOOLCHAIN"]; ok && v != want {
				t.Errorf("%s: job %s sets GOTOOLCHAIN %s", path, job, v)
			}
			setupGo := false
			for _, s := range j.Steps {
				if s.Uses == "" {
					continue
				}
				if !sha.MatchString(s.Uses) {
					t.Errorf("%s: job %s uses %s, not pinned by commit SHA", path, job, s.Uses)
				}
				if !strings.HasPrefix(s.Uses, "actions/setup-go@") {
					continue
				}
				setupGo = true
				switch {
				case s.With["go-version"] != "":
					if "go"+s.With["go-version"] != want {
						t.Errorf("%s: job %s sets up Go %s, want %s", path, job, s.With["go-version"], want)
					}
				case s.With["go-version-file"] != "go.mod":
					t.Errorf("%s: job %s sets up Go without go-version or go-version-file: go.mod", path, job)
				}
			}
			if !setupGo {
				t.Errorf("%s: job %s does not set up Go", path, job)
			}
		}
		// Each pinned action names the release its SHA is, for review.
		for _, line := range strings.Split(text, "\n") {
			if strings.Contains(line, "uses:") && !regexp.MustCompile(`@[0-9a-f]{40} # v\d`).MatchString(line) {
				t.Errorf("%s: %q lacks a '# vX.Y.Z' comment after its SHA", path, strings.TrimSpace(line))
			}
		}
	}
}

// TestGoreleaserReleaseContents checks what .goreleaser.yaml promises beyond
// the build itself (TestGoreleaserMatchesBuild): reproducible times, the
// generated man pages and completions and the project files in every
// archive, an SBOM and a signature that a snapshot does not attempt.
func TestGoreleaserReleaseContents(t *testing.T) {
	var cfg struct {
		Env    []string `yaml:"env"`
		Before struct {
			Hooks []string `yaml:"hooks"`
		} `yaml:"before"`
		Builds []struct {
			Ldflags      []string `yaml:"ldflags"`
			ModTimestamp string   `yaml:"mod_timestamp"`
		} `yaml:"builds"`
		Archives []struct {
			BuildsInfo struct {
				MTime string `yaml:"mtime"`
			} `yaml:"builds_info"`
			Files []struct {
				Src  string `yaml:"src"`
				Dst  string `yaml:"dst"`
				Info struct {
					MTime string `yaml:"mtime"`
				} `yaml:"info"`
			} `yaml:"files"`
		} `yaml:"archives"`
		SBOMs []struct {
			Artifacts string `yaml:"artifacts"`
			Disable   string `yaml:"disable"`
		} `yaml:"sboms"`
		Signs []struct {
			Cmd       string   `yaml:"cmd"`
			Artifacts string   `yaml:"artifacts"`
			Args      []string `yaml:"args"`
		} `yaml:"signs"`
	}
	if err := yaml.Unmarshal([]byte(read(t, ".goreleaser.yaml")), &cfg); err != nil {
		t.Fatal(err)
	}
	for _, b := range cfg.Builds {
		if b.ModTimestamp != "{{ .CommitTimestamp }}" {
			t.Errorf("mod_timestamp %q, want {{ .CommitTimestamp }}", b.ModTimestamp)
		}
		if l := strings.Join(b.Ldflags, " "); strings.Contains(l, "{{.Date}}") || strings.Contains(l, "{{ .Date }}") {
			t.Errorf("ldflags stamp the build clock: %s", l)
		}
	}
	hooks := strings.Join(cfg.Before.Hooks, "\n")
	if !strings.Contains(hooks, "go run ./cmd/gen-docs -man build/man -completions build/completions") ||
		!strings.Contains(hooks, "-date {{ .CommitDate }}") {
		t.Errorf("the before-hooks do not generate dated man pages and completions:\n%s", hooks)
	}
	if len(cfg.Archives) == 0 {
		t.Fatal("no archives")
	}
	for _, a := range cfg.Archives {
		if a.BuildsInfo.MTime != "{{ .CommitDate }}" {
			t.Errorf("builds_info mtime %q", a.BuildsInfo.MTime)
		}
		srcs := map[string]bool{}
		for _, f := range a.Files {
			srcs[f.Src] = true
			if f.Info.MTime != "{{ .CommitDate }}" {
				t.Errorf("%s: mtime %q, want {{ .CommitDate }}", f.Src, f.Info.MTime)
			}
			if !strings.HasPrefix(f.Src, "build/") {
				if m, _ := filepath.Glob(f.Src); len(m) == 0 {
					t.Errorf("archive file %s does not exist", f.Src)
				}
			}
		}
		for _, want := range []string{"LICENSE", "README.md", "CHANGELOG.md", "docs/*.md", "docs/reference/*.md", "build/man/*.1", "build/completions/*"} {
			if !srcs[want] {
				t.Errorf("archives lack %s", want)
			}
		}
	}
	if len(cfg.SBOMs) != 1 || cfg.SBOMs[0].Artifacts != "archive" || cfg.SBOMs[0].Disable != "{{ .IsSnapshot }}" {
		t.Errorf("want one SBOM per archive, off in snapshots: %+v", cfg.SBOMs)
	}
	if len(cfg.Signs) != 1 || cfg.Signs[0].Cmd != "cosign" || cfg.Signs[0].Artifacts != "checksum" ||
		!contains(cfg.Signs[0].Args, "sign-blob") || !contains(cfg.Signs[0].Args, "--yes") {
		t.Errorf("want a keyless cosign signature of the checksums: %+v", cfg.Signs)
	}
	// A snapshot cannot sign (no OIDC identity): the documented local
	// command skips it.
	if !strings.Contains(read(t, "CONTRIBUTING.md"), "goreleaser release --snapshot --clean --skip=sign") {
		t.Error("CONTRIBUTING.md does not show the local snapshot command")
	}
}
