//go:build unix

package sandboxinit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDirectChdirFailureIsNotAnExecFailure: os/exec reports a child that
// could not enter Dir as "fork/exec <path>: <errno>", the words of a
// program that cannot run, and the terminal took it for a shell the
// sandbox cannot run and switched to /bin/sh. A Direct start says
// "chdir <dir>: <errno>" then, as the init does; a program that cannot
// run in a directory that is there still gives fork/exec. Root enters any
// directory, so the directories here are missing or files.
func TestDirectChdirFailureIsNotAnExecFailure(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, dir, want string
		errno                 syscall.Errno
	}{
		{"missing dir", "/bin/sh", filepath.Join(tmp, "gone"), "chdir " + filepath.Join(tmp, "gone") + ": ", syscall.ENOENT},
		{"file as dir", "/bin/sh", file, "chdir " + file + ": ", syscall.ENOTDIR},
		{"under a file", "/bin/sh", filepath.Join(file, "sub"), "chdir " + filepath.Join(file, "sub") + ": ", syscall.ENOTDIR},
		{"missing program", filepath.Join(tmp, "nosh"), tmp, "fork/exec " + filepath.Join(tmp, "nosh") + ": ", syscall.ENOENT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Cmd{Mode: Direct, Path: tc.path, Args: []string{tc.path, "-c", "true"}, Dir: tc.dir}
			err := c.Start()
			if err == nil {
				_, _ = c.Wait()
				t.Fatal("started")
			}
			if !strings.HasPrefix(err.Error(), tc.want) || !errors.Is(err, tc.errno) {
				t.Fatalf("Start: %v, want %q… with %v", err, tc.want, tc.errno)
			}
		})
	}
}
