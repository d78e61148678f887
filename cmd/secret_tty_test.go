//go:build unix

package cmd_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestSecretTypedAtTerminalIsNotEchoed: '--secret-file -' with a terminal
// on stdin asks for the secret and reads it with echo off, as wrangler
// secret put does. It read the line with the terminal's echo on, and
// without a word: the secret typed or pasted stayed on the screen (and in
// the scrollback, the recording, the shared tmux), and the command looked
// hung until something was typed.
func TestSecretTypedAtTerminalIsNotEchoed(t *testing.T) {
	const secret = "Tty-Secret-0123456789abcdef0123456789abcdef"
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TERM=dumb", "NIMBUS_TEST_NOW_MS=1750000000123"}
	p := startPTY(t, env, "token", "mint", "--tenant", "acme", "--secret-file", "-")
	p.expect(`Secret \(input hidden\): $`)
	p.send(secret + "\r")
	if code := p.exit(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.screen())
	}
	if strings.Contains(p.raw(), secret) {
		t.Errorf("the secret was echoed to the terminal:\n%q", p.raw())
	}
	tok := regexp.MustCompile(`eyJ[\w-]+\.[\w-]+\.[\w-]+`).FindString(p.raw())
	if tok == "" {
		t.Fatalf("no token on the terminal:\n%s", p.screen())
	}
	// The token is signed with what was typed, without its line break.
	code, stdout, stderr := runJSON(t, t.TempDir(), append(env, "JWT_SECRET="+secret), "token", "verify", tok)
	if code != 0 || !strings.Contains(string(stdout), `"tn": "acme"`) {
		t.Errorf("verify with the typed secret: exit %d\n%s%s", code, stdout, stderr)
	}
}
