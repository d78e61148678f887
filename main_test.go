package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestGoreleaserMatchesBuild builds nimbus the way .goreleaser.yaml says
// and checks that the result reports the injected version, so a renamed
// package, variable or main path fails here rather than in a release.
func TestGoreleaserMatchesBuild(t *testing.T) {
	data, err := os.ReadFile(".goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Version int `yaml:"version"`
		Builds  []struct {
			Main    string   `yaml:"main"`
			Binary  string   `yaml:"binary"`
			Env     []string `yaml:"env"`
			Flags   []string `yaml:"flags"`
			Ldflags []string `yaml:"ldflags"`
			Goos    []string `yaml:"goos"`
			Goarch  []string `yaml:"goarch"`
		} `yaml:"builds"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Version != 2 || len(cfg.Builds) != 1 {
		t.Fatalf("want one build in a version 2 config, got %+v", cfg)
	}
	b := cfg.Builds[0]
	for _, want := range []string{"CGO_ENABLED=0"} {
		if !contains(b.Env, want) {
			t.Errorf("env lacks %s", want)
		}
	}
	for _, os := range []string{"linux", "darwin", "windows"} {
		if !contains(b.Goos, os) {
			t.Errorf("goos lacks %s", os)
		}
	}
	for _, arch := range []string{"amd64", "arm64"} {
		if !contains(b.Goarch, arch) {
			t.Errorf("goarch lacks %s", arch)
		}
	}
	ldflags := strings.Join(b.Ldflags, " ")
	if !strings.Contains(ldflags, "-s -w") {
		t.Errorf("ldflags do not strip: %s", ldflags)
	}
	ldflags = strings.NewReplacer("{{.Version}}", "9.8.7", "{{.Commit}}", "abc123def", "{{.CommitDate}}", "2026-11-29T00:00:00Z").Replace(ldflags)

	bin := filepath.Join(t.TempDir(), b.Binary)
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	// -buildvcs=false: the ldflags are under test, not VCS stamping, which
	// fails in checkouts git refuses to read (another owner, no .git).
	args := append([]string{"build", "-buildvcs=false"}, b.Flags...)
	args = append(args, "-ldflags", ldflags, "-o", bin, b.Main)
	build := exec.Command("go", args...)
	build.Env = append(os.Environ(), b.Env...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ Version, Commit, Date string }
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("version --json: %v: %s", err, out)
	}
	if info.Version != "9.8.7" || info.Commit != "abc123def" || info.Date != "2026-11-29T00:00:00Z" {
		t.Errorf("ldflags did not reach the binary: %+v", info)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestReadmeBuildsTheRelease holds the README's reproducible-build command
// to .goreleaser.yaml: without CGO_ENABLED=0 a machine with a C compiler
// builds a dynamically linked binary, and without the -X flags another
// version string, so it said "builds the same program" of a different one.
func TestReadmeBuildsTheRelease(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(".goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Builds []struct {
			Env     []string `yaml:"env"`
			Flags   []string `yaml:"flags"`
			Ldflags []string `yaml:"ldflags"`
		} `yaml:"builds"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil || len(cfg.Builds) != 1 {
		t.Fatalf("%v %+v", err, cfg)
	}
	_, rest, ok := strings.Cut(string(readme), "Builds are reproducible")
	block, _, _ := strings.Cut(rest, "\n```\n")
	if !ok || !strings.Contains(block, "go build") {
		t.Fatal("README.md shows no reproducible build command")
	}
	b := cfg.Builds[0]
	want := append(append([]string{}, b.Env...), b.Flags...)
	for _, l := range b.Ldflags {
		for _, f := range strings.Fields(l) {
			// -X pkg.Var={{...}}: the README names pkg through $p.
			if pkg, _, ok := strings.Cut(f, "="); ok && strings.Contains(pkg, "/internal/buildinfo.") {
				dot := strings.LastIndex(pkg, ".")
				f = "$p." + pkg[dot+1:] + "="
				want = append(want, "p="+pkg[:dot])
			}
			want = append(want, f)
		}
	}
	for _, w := range want {
		if !strings.Contains(block, w) {
			t.Errorf("README.md's reproducible build lacks %q (.goreleaser.yaml builds with it)", w)
		}
	}
}
