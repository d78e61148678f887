package initcmd_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
)

// TestTerminalOutput runs the real root command with terminal streams: the
// human tree and next steps go to stderr, and stdout (a terminal, no --json)
// gets no JSON.
func TestTerminalOutput(t *testing.T) {
	t.Chdir(t.TempDir())
	ios, _, out, errOut := iostreams.Test()
	ios.SetStdoutTTY(true)
	ios.SetStderrTTY(true)
	ios.SetColorDisabled(true)
	f := &cmdutil.Factory{IOStreams: ios, Getenv: func(string) string { return "" }}

	if code := cmd.Run(context.Background(), f, []string{"init", "acme", "--name", "acme-edge"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out.Len() != 0 {
		t.Errorf("stdout on a terminal should stay empty, got %q", out)
	}
	cwd, _ := os.Getwd()
	want := `✓ Scaffolded acme-edge at ` + filepath.Join(cwd, "acme") + `

  acme/
  ├── .gitignore      created
  ├── README.md       created
  ├── package.json    created
  ├── tsconfig.json   created
  ├── wrangler.jsonc  created
  └── src/
      └── index.ts    created

Next steps:
  1. cd acme
  2. npm install
  3. nimbus setup cloudflare --name acme-edge --write-config   # R2 buckets, the language runtimes and their pin in wrangler.jsonc; needs CLOUDFLARE_API_TOKEN
  4. npx wrangler deploy
  5. nimbus setup cloudflare --name acme-edge --set-secret   # generates JWT_SECRET, keeps it 0600 in nimbus's config directory, puts it on the Worker

If setup reports R2 error 10042, enable R2 once in the Cloudflare dashboard and run it again.
The session Durable Object is provisioned on first use; mint a token with 'nimbus token mint' before attaching.
Docs: https://github.com/AshishKumar4/Nimbus#readme
`
	if errOut.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, want)
	}

	// In the current directory there is no "cd ." step for a person.
	dir := filepath.Join(cwd, "here")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	errOut.Reset()
	if code := cmd.Run(context.Background(), f, []string{"init", ".", "--name", "here-edge"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := errOut.String(); strings.Contains(got, "cd .") || !strings.Contains(got, "Next steps:\n  1. npm install\n") {
		t.Errorf("init . on a terminal:\n%s", got)
	}
	t.Chdir(cwd)

	// Errors on a terminal: message, code and a hint line.
	errOut.Reset()
	if code := cmd.Run(context.Background(), f, []string{"init", "acme"}); code != 73 {
		t.Fatalf("exit %d", code)
	}
	if got := errOut.String(); !strings.HasPrefix(got, "nimbus: directory ") || !strings.Contains(got, "(E_DIR_NOT_EMPTY)\nhint: use --force") {
		t.Errorf("terminal error: %q", got)
	}

	// --json on a terminal prints the JSON document, indented like all
	// JSON on a terminal, and no summary.
	errOut.Reset()
	out.Reset()
	f.JSON = false
	if code := cmd.Run(context.Background(), f, []string{"init", "other", "--json"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out.String(), "{\n  \"ok\": true,\n  \"path\": \"") || errOut.Len() != 0 {
		t.Errorf("json on terminal: out %q err %q", out, errOut)
	}
}
