package cmd_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/config"
	"github.com/nimbus-sh/nimbus/internal/docgen"
	"github.com/nimbus-sh/nimbus/internal/paths"
	"github.com/nimbus-sh/nimbus/pkg/scaffold"
)

// TestCommandReference fails when docs/reference no longer matches the
// command tree: it regenerates the pages with the generator that
// `go generate ./cmd` runs and compares them both ways.
func TestCommandReference(t *testing.T) {
	tmp := t.TempDir()
	if err := docgen.Markdown(cmd.NewRootCmd(cmdutil.New()), tmp); err != nil {
		t.Fatal(err)
	}
	const dir = "../docs/reference"
	generated, _ := filepath.Glob(filepath.Join(tmp, "*.md"))
	if len(generated) == 0 {
		t.Fatal("the generator wrote no pages")
	}
	for _, g := range generated {
		want, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.Base(g))
		got, err := os.ReadFile(path)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s is stale or missing; run: go generate ./cmd", path)
		}
	}
	checked, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	for _, c := range checked {
		if _, err := os.Stat(filepath.Join(tmp, filepath.Base(c))); err != nil {
			t.Errorf("%s documents no command; run: go generate ./cmd", c)
		}
	}
}

// TestSetupStepsInDocs holds the README and the guides to the one source
// of the setup steps, scaffold.NextSteps (what init prints and the
// generated README shows): each shows them, in order, right after
// "nimbus init my-worker", and none shows a placeholder a shell would
// misread.
func TestSetupStepsInDocs(t *testing.T) {
	want := append([]string{"nimbus init my-worker"}, scaffold.NextSteps(scaffold.NextStepsOptions{
		Dir: "/w/my-worker", Cwd: "/w", WorkerName: "my-worker"})...)
	for _, file := range []string{"../README.md", "../docs/setup.md", "../docs/init.md"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		start := -1
		for i, l := range lines {
			if strings.TrimSpace(l) == want[0] {
				start = i
				break
			}
		}
		if start < 0 {
			t.Errorf("%s does not show %q", file, want[0])
			continue
		}
		for i, step := range want {
			got := ""
			if start+i < len(lines) {
				got, _, _ = strings.Cut(lines[start+i], " #") // a comment may follow
				got = strings.TrimSpace(got)
			}
			if got != step {
				t.Errorf("%s line %d: %q, the setup steps say %q", file, start+i+1, got, step)
			}
		}
	}
	for _, file := range []string{"../README.md", "../docs/setup.md", "../docs/init.md", "../docs/tokens.md", "../docs/sandbox.md", "../docs/files.md"} {
		data, _ := os.ReadFile(file)
		if strings.Contains(string(data), "<account-id>") {
			t.Errorf("%s shows <account-id>, which a shell reads as a redirect", file)
		}
	}
}

// TestConfigKeysDocumented: docs/files.md lists every config key with its
// environment variable.
func TestConfigKeysDocumented(t *testing.T) {
	data, err := os.ReadFile("../docs/files.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range config.Keys {
		if !strings.Contains(string(data), "| `"+k.Name+"` | `"+k.Env+"` |") {
			t.Errorf("docs/files.md does not list the key %s (%s)", k.Name, k.Env)
		}
	}
}

// TestTopLevelNames: the names Run uses to build only the named command's
// subtree are those commands' names, and the full tree has no other
// top-level command (cobra's help and completion aside).
func TestTopLevelNames(t *testing.T) {
	root := cmd.NewRootCmd(cmdutil.New())
	var names []string
	for _, c := range root.Commands() {
		if c.Name() != "help" && c.Name() != "completion" {
			names = append(names, c.Name())
		}
	}
	want := cmd.TopLevelNames()
	slices.Sort(names)
	slices.Sort(want)
	if got, want := strings.Join(names, " "), strings.Join(want, " "); got != want {
		t.Errorf("command tree %q, top-level table %q", got, want)
	}
}

// TestEnvironmentDocumented holds docs/files.md's table of environment
// variables to the code, both ways: every variable the code reads (a
// Getenv of a literal name, or a literal NIMBUS_, JWT_, CLOUDFLARE_ or npm
// config name in a non-test source file) is in the table, and every
// NIMBUS_ variable of the table is read. pkg/scaffold is left out: the
// names there are the Worker's variables and bindings it writes into
// wrangler.jsonc, not nimbus's environment.
func TestEnvironmentDocumented(t *testing.T) {
	// Names the code holds that are not its environment, and the page
	// that says what each is.
	notRead := map[string]string{
		"NIMBUS_RUNTIME_CATALOG_SHA256": "../docs/runtime.md", // the Worker's variable holding the catalog pin
		"NIMBUS_MCP_KEY":                "../docs/files.md",   // what mcp --print-config tells an MCP client to read
		"NIMBUS_SANDBOX_ID":             "../docs/sandbox.md", // set for the commands of a local sandbox
		"NIMBUS_SANDBOX_DIR":            "../docs/sandbox.md",
	}
	prefixed := regexp.MustCompile(`"((?:NIMBUS|JWT|CLOUDFLARE|NPM_CONFIG|npm_config)_[A-Za-z0-9_]+)"`)
	getenv := regexp.MustCompile(`Getenv\("([A-Za-z_][A-Za-z0-9_]*)"\)`)
	read := map[string]string{}
	for _, dir := range []string{"../cmd", "../internal", "../pkg"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			slash := filepath.ToSlash(path)
			if d.IsDir() && (strings.HasSuffix(slash, "pkg/scaffold") || strings.HasSuffix(slash, "cmd/gen-docs") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, re := range []*regexp.Regexp{prefixed, getenv} {
				for _, m := range re.FindAllStringSubmatch(string(data), -1) {
					read[m[1]] = slash
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(read) < 20 {
		t.Fatalf("found only %d variables in the code; is the scan broken?", len(read))
	}

	data, err := os.ReadFile("../docs/files.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Environment variables\n")
	if !ok {
		t.Fatal("docs/files.md has no '## Environment variables' section")
	}
	table, _, _ := strings.Cut(section, "\n\n`")
	documented := map[string]bool{}
	name := regexp.MustCompile("`([A-Za-z_][A-Za-z0-9_]*)`")
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.Split(line, "|")[1]
		for _, m := range name.FindAllStringSubmatch(first, -1) {
			documented[m[1]] = true
		}
	}
	for v, where := range read {
		if page, ok := notRead[v]; ok {
			if doc, _ := os.ReadFile(page); !strings.Contains(string(doc), v) {
				t.Errorf("%s (in %s) is not explained in %s", v, where, page)
			}
			continue
		}
		if !documented[v] {
			t.Errorf("%s is read (%s) but not in docs/files.md's table of environment variables", v, where)
		}
	}
	for v := range documented {
		if strings.HasPrefix(v, "NIMBUS_") {
			if _, ok := read[v]; !ok {
				t.Errorf("docs/files.md documents %s, which the code does not read", v)
			}
		}
	}
}

// TestLedgerHelpNamesTheDefaultFile holds the help of the commands that
// write and drain the cleanup ledger to the file they really use without
// NIMBUS_LEDGER and RUNNER_TEMP: a per-user name in the temporary
// directory, which a user looking for the file needs to know.
func TestLedgerHelpNamesTheDefaultFile(t *testing.T) {
	def := filepath.Base(paths.Env{GOOS: runtime.GOOS, Getenv: func(string) string { return "" }}.LedgerFile())
	def = regexp.MustCompile(`-[0-9]+\.jsonl$`).ReplaceAllString(def, "-<uid>.jsonl")
	root := cmd.NewRootCmd(cmdutil.New())
	for _, path := range [][]string{{"sandbox", "run"}, {"sandbox", "destroy"}} {
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		if long := strings.Join(strings.Fields(c.Long), " "); !strings.Contains(long, def) {
			t.Errorf("%s --help does not name the default ledger file %s", c.CommandPath(), def)
		}
	}
}

// TestReadmeSaysWhatAPipeGets holds the README's account of stdout in a
// pipe to what the commands do: it said every command prints JSON when
// stdout is not a terminal, but `version` prints its text line there (as
// gh does). The commands it names as printing their value as it is print
// no JSON in a pipe, and those it says print JSON do.
func TestReadmeSaysWhatAPipeGets(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := strings.Join(strings.Fields(string(b)), " ")
	const lead = "print it as it is in a pipe too, for `$(…)`: "
	i := strings.Index(readme, lead)
	if i < 0 {
		t.Fatalf("README.md does not name the commands that print text in a pipe (%q)", lead)
	}
	sentence, _, _ := strings.Cut(readme[i+len(lead):], ". ")
	var named []string
	for _, m := range regexp.MustCompile("`([a-z][a-z ]*)`").FindAllStringSubmatch(sentence, -1) {
		named = append(named, m[1])
	}
	work := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work, "XDG_CONFIG_HOME=" + filepath.Join(work, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(work, ".cache"), "JWT_SECRET=readme-pipe-secret-0123456789abcdef0123", "NIMBUS_TENANT=acme", "NIMBUS_DEV_DATA=" + filepath.Join(work, "dev")}
	bin, err := exec.LookPath("nimbus")
	if err != nil {
		t.Fatal(err)
	}
	// run runs nimbus with stdout a pipe.
	run := func(args ...string) []byte {
		t.Helper()
		c := exec.Command(bin, args...)
		c.Dir, c.Env = work, env
		out, err := c.Output()
		if err != nil {
			t.Fatalf("nimbus %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	tok := strings.TrimSpace(string(run("token", "mint", "--tenant", "acme")))
	// The ones that run without a server; the README's list must hold them.
	text := map[string][]string{
		"version":      {"version"},
		"token mint":   {"token", "mint", "--tenant", "acme"},
		"token secret": {"token", "secret"},
		"dev token":    {"dev", "token"},
		"session url":  {"session", "url", "--endpoint", "http://127.0.0.1:9", "--session", "demo"},
		"completion":   {"completion", "bash"},
	}
	for name, args := range text {
		if !slices.Contains(named, name) {
			t.Errorf("README.md does not name %s among the commands that print text in a pipe (it names %q)", name, named)
		}
		out := strings.TrimSpace(string(run(args...)))
		if out == "" || json.Valid([]byte(out)) && (out[0] == '{' || out[0] == '[' || out[0] == '"') {
			t.Errorf("nimbus %s printed JSON in a pipe: %.80q", strings.Join(args, " "), out)
		}
	}
	// And a command that reports data prints JSON there.
	for _, args := range [][]string{{"token", "inspect", tok}, {"init", "proj", "--dry-run"}} {
		out := run(args...)
		if !json.Valid(out) {
			t.Errorf("nimbus %s printed no JSON in a pipe: %.80q", strings.Join(args, " "), out)
		}
	}
}

// TestMCPPrintConfigCarriedEnvDocumented holds docs/mcp.md's list of the
// variables `mcp --print-config` carries into the client's config to
// what it writes, both ways: the page named NIMBUS_ENDPOINT, NIMBUS_TENANT,
// NIMBUS_HTTP_TIMEOUT, NIMBUS_WRITE_LIMIT and NIMBUS_LEDGER, but the
// snippet carries NIMBUS_PROFILE, NIMBUS_SUBJECT, NIMBUS_BASE_PATH and
// NIMBUS_TOKEN_FILE too, so a reader could not tell that a profile or base
// path exported in the shell reaches the client's server.
func TestMCPPrintConfigCarriedEnvDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/mcp.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(doc)), " ")
	_, para, ok := strings.Cut(text, "`--print-config` writes ")
	para, _, ok2 := strings.Cut(para, " as `env` entries")
	if !ok || !ok2 {
		t.Fatal("docs/mcp.md no longer says what `--print-config` writes as `env` entries")
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("`(NIMBUS_[A-Z_]+)`").FindAllStringSubmatch(para, -1) {
		documented[m[1]] = true
	}
	bin, err := exec.LookPath("nimbus")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	// Every variable the commands read that could be carried, each set.
	set := map[string]string{"NIMBUS_LEDGER": "ledger.jsonl", "NIMBUS_DEV_DATA": "dev", "NIMBUS_DEV_ISOLATION": "host-paths"}
	for _, k := range config.Keys {
		switch k.Name {
		case "token", "token_file":
			set[k.Env] = "" // a token is a secret, referenced; a token file is set below
		case "endpoint":
			set[k.Env] = "https://nimbus.example.workers.dev"
		case "http_timeout":
			set[k.Env] = "45s"
		case "write_limit":
			set[k.Env] = "1MiB"
		case "runtime_cache_keep":
			set[k.Env] = "3"
		default:
			set[k.Env] = "x"
		}
	}
	set["NIMBUS_TOKEN_FILE"] = "ci.token"
	carried := map[string]bool{}
	for _, args := range [][]string{{"mcp", "--print-config", "claude"}, {"mcp", "--local", "--print-config", "claude"}} {
		c := exec.Command(bin, args...)
		c.Dir = work
		c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work, "XDG_CONFIG_HOME=" + filepath.Join(work, ".config"), "XDG_CACHE_HOME=" + filepath.Join(work, ".cache")}
		for k, v := range set {
			if v != "" {
				c.Env = append(c.Env, k+"="+v)
			}
		}
		out, err := c.Output()
		if err != nil {
			t.Fatalf("nimbus %s: %v", strings.Join(args, " "), err)
		}
		var cfg struct {
			MCPServers map[string]struct {
				Env map[string]string `json:"env"`
			} `json:"mcpServers"`
		}
		if err := json.Unmarshal(out, &cfg); err != nil {
			t.Fatalf("nimbus %s: %v: %s", strings.Join(args, " "), err, out)
		}
		for name, v := range cfg.MCPServers["nimbus"].Env {
			if !strings.HasPrefix(v, "${") { // a secret, by reference
				carried[name] = true
			}
		}
	}
	if len(carried) < 5 {
		t.Fatalf("--print-config carried only %v; is the run broken?", carried)
	}
	for name := range carried {
		if !documented[name] {
			t.Errorf("mcp --print-config carries %s, which docs/mcp.md does not list", name)
		}
	}
	for name := range documented {
		if !carried[name] {
			t.Errorf("docs/mcp.md lists %s among what --print-config carries, which it does not carry", name)
		}
	}
}
