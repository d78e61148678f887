package cmdutil

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/secretfile"
)

// ReadSecretFile reads a secret or token from path ("-" is standard input)
// with the one rule of package secretfile: a final line break is dropped,
// anything else odd (surrounding whitespace, several lines, nothing) is
// refused. The content is never included in errors. Standard input that
// is a terminal is asked for the value with echo off (readHidden).
func ReadSecretFile(path string, stdin io.Reader) (string, error) {
	return ReadSecretFileFrom(path, "secret file", "", stdin)
}

// ReadSecretFileFrom is ReadSecretFile for a path that came from the
// setting from (a flag such as "--token-file", a variable such as
// "NIMBUS_TOKEN_FILE", or a config file's key): a missing file is called
// what ("token file") and the hint says which setting to fix, where a
// bare "check the path" leaves the user to guess which of three sources
// gave it.
func ReadSecretFileFrom(path, what, from string, stdin io.Reader) (string, error) {
	var r io.Reader
	if path == "-" {
		r = stdin
		if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			typed, err := readHidden(f)
			if err != nil {
				return "", clierr.Wrap(err, exitcode.Config, clierr.CodeIO, "cannot read the secret from the terminal: "+err.Error(), "")
			}
			r = bytes.NewReader(typed)
		}
	} else {
		f, err := os.Open(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				hint := "check the path (a relative one is relative to the working directory)"
				if from != "" {
					hint = "check " + from + ": it names no file"
				}
				return "", clierr.New(exitcode.Config, clierr.CodeConfigMissing, fmt.Sprintf("%s %s does not exist", what, path), hint)
			}
			return "", clierr.Wrap(err, exitcode.Config, clierr.CodeIO, fmt.Sprintf("cannot read %s: %v", path, unwrapPathError(err)), unreadableHint(path, from))
		}
		defer f.Close()
		r = f
	}
	v, err := secretfile.Read(r)
	var se *secretfile.Error
	switch {
	case errors.As(err, &se):
		name := path
		if path == "-" {
			name = "standard input"
		}
		return "", clierr.New(exitcode.DataErr, CodeSecretInvalid, fmt.Sprintf("%s %s", name, se.Reason), "a secret or token file holds the value alone on one line")
	case err != nil:
		return "", clierr.Wrap(err, exitcode.Config, clierr.CodeIO, fmt.Sprintf("cannot read %s: %v", path, unwrapPathError(err)), unreadableHint(path, from))
	}
	return v, nil
}

// unreadableHint says what to do about a secret or token file that
// exists but cannot be read (a directory, permission denied): the cause
// is in the message, the fix is another file or its permissions.
func unreadableHint(path, from string) string {
	if path == "-" {
		return ""
	}
	hint := "give a readable file holding the value alone on one line"
	if from != "" {
		hint += " (set by " + from + ")"
	}
	return hint
}

// readHidden asks for a secret on the terminal f and reads one line with
// echo off, as wrangler secret put and ssh do: read with echo on, the
// secret typed or pasted would stay on the screen and in the scrollback,
// and nothing would say the command is waiting. An interrupt restores the
// terminal's echo before the process exits 130.
func readHidden(f *os.File) ([]byte, error) {
	fd := int(f.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return nil, err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	defer func() {
		signal.Stop(sig)
		close(done)
		_ = term.Restore(fd, state)
	}()
	if err := echoOff(fd); err != nil {
		return nil, err
	}
	fmt.Fprint(os.Stderr, "Secret (input hidden): ")
	go func() {
		select {
		case <-sig:
			_ = term.Restore(fd, state)
			fmt.Fprintln(os.Stderr)
			os.Exit(exitcode.Interrupted)
		case <-done:
		}
	}()
	typed, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr) // the Enter that was not echoed
	return typed, err
}

// CodeSecretInvalid is the code of a secret or token file whose content
// breaks the rule of package secretfile.
const CodeSecretInvalid = "E_SECRET_INVALID"

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
