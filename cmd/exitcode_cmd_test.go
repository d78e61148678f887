package cmd_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// exitCodeCmd returns a testscript command, used as "status" or "exits":
//
//	status N [-stdin FILE] [-umask MODE] PROGRAM ARGS...
//
// It runs PROGRAM, found on the script's PATH, and requires exit code N:
// testscript's exec only says that a program failed, and nimbus's exit
// codes are part of its interface. Its stdout and stderr become the
// script's. The program sees only the script's values of keys, so a
// variable the test process happens to have cannot change the outcome.
// Input comes from FILE, or is empty: a file, not a pipe that a goroutine
// fills, so a command that checks whether its input holds data does not
// race the copy. -umask runs the program through /bin/sh (unix only).
func exitCodeCmd(keys []string) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		const usage = "usage: status N [-stdin FILE] [-umask MODE] PROGRAM ARGS..."
		if neg || len(args) < 2 {
			ts.Fatalf(usage)
		}
		want, err := strconv.Atoi(args[0])
		ts.Check(err)
		args = args[1:]
		var stdin io.Reader = bytes.NewReader(nil)
		if args[0] == "-stdin" && len(args) > 2 {
			f, err := os.Open(ts.MkAbs(args[1]))
			ts.Check(err)
			defer f.Close()
			stdin = f
			args = args[2:]
		}
		umask := ""
		if args[0] == "-umask" && len(args) > 2 {
			if runtime.GOOS == "windows" {
				ts.Fatalf("-umask needs a unix shell")
			}
			umask, args = args[1], args[2:]
		}
		path := scriptLookPath(ts, args[0])
		if path == "" {
			ts.Fatalf("%s not found on the script's PATH", args[0])
		}
		c := exec.Command(path, args[1:]...)
		if umask != "" {
			c = exec.Command("/bin/sh", append([]string{"-c", `umask "$0" && exec "$@"`, umask, path}, args[1:]...)...)
		}
		c.Dir = ts.MkAbs(".")
		for _, k := range keys {
			if v := ts.Getenv(k); v != "" {
				c.Env = append(c.Env, k+"="+v)
			}
		}
		c.Stdin = stdin
		c.Stdout, c.Stderr = ts.Stdout(), ts.Stderr()
		got := 0
		var ee *exec.ExitError
		if err := c.Run(); errors.As(err, &ee) {
			got = ee.ExitCode()
		} else {
			ts.Check(err)
		}
		if got != want {
			ts.Fatalf("%s exited %d, want %d", args[0], got, want)
		}
	}
}

// scriptLookPath finds name on the script's PATH (not the test process's),
// with Windows' .exe suffix, or returns "".
func scriptLookPath(ts *testscript.TestScript, name string) string {
	names := []string{name}
	if runtime.GOOS == "windows" {
		names = append(names, name+".exe")
	}
	for _, dir := range strings.Split(ts.Getenv("PATH"), string(os.PathListSeparator)) {
		for _, n := range names {
			if p := filepath.Join(dir, n); fileExists(p) {
				return p
			}
		}
	}
	return ""
}

// fileExists reports whether p names an existing file.
func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
