//go:build windows

package sandboxinit

import (
	"errors"
	"io"
	"os"
	"syscall"
)

// The local backend refuses to run on Windows; this keeps the package
// building for the release matrix.

func signalGroup(pid int, _ syscall.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

func socketPair() (mine, theirs *os.File, err error) {
	return nil, nil, errors.New("sandboxinit: not supported on Windows")
}

const selfExe = ""

func sysProcAttr(Mode) *syscall.SysProcAttr { return nil }

func initMain([]string) int { return 70 }

// Available reports that only Direct mode exists here.
func Available() (Mode, string) { return Direct, "the local backend does not run on Windows" }

// Probe is Linux-only.
func Probe(string) error { return errors.New("sandboxinit: namespaces are Linux-only") }

type fileID struct{}

func idOf(string) fileID { return fileID{} }

func sendWithFiles(int, []byte, []int) (int, error) { return 0, syscall.EWINDOWS }

func isNonblock(int) bool { return true }

func ttyProcAttr() *syscall.SysProcAttr { return nil }

type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

const pollIn = 0x1

func pollNow([]pollFd) (int, error) { return 0, syscall.EWINDOWS }

func fdOf0(*os.File) int { return -1 }

// writeAhead leaves the input to the copying goroutine: inits, which take
// input through a pipe, do not run here.
func writeAhead(*os.File, io.Reader) bool { return false }

// enterable returns why dir cannot be the working directory, or nil.
func enterable(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	if !fi.IsDir() {
		return syscall.ENOTDIR
	}
	return nil
}
