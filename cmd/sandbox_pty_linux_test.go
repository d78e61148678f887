package cmd_test

import (
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// SIGTERM (kill, a closing tmux pane, a supervisor) ends the shell while
// it waits at the prompt, as it does while a line runs: exit 143, with
// the terminal out of raw mode. The prompt's read of the terminal used to
// hold it until a key was pressed.
func TestShellEndsOnSIGTERMAtThePrompt(t *testing.T) {
	endpoint := startDevServer(t, devOptions{}).URL
	sh := startPTY(t, devEnv(t, endpoint, "demo"), "sandbox", "shell", "demo", "--no-history")
	sh.expect(`demo:\S*\$ $`)
	if err := sh.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := sh.exit(); code != 143 {
		t.Fatalf("exit %d, want 143\n%s", code, sh.screen())
	}
	// The master side reads the terminal's modes: echo and line editing
	// are back.
	tio, err := unix.IoctlGetTermios(int(sh.tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if tio.Lflag&(unix.ECHO|unix.ICANON) != unix.ECHO|unix.ICANON {
		t.Fatalf("the terminal is left in raw mode (lflag %#x)", tio.Lflag)
	}
}
