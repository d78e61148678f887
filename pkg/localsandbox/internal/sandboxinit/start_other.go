//go:build unix && !linux

package sandboxinit

import (
	"errors"
	"os"
	"syscall"
)

const selfExe = ""

func sysProcAttr(Mode) *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func initMain([]string) int { return 70 }

// Available reports the best mode this system offers and, when it is not
// Namespaces, why.
func Available() (Mode, string) {
	return Direct, "namespaces and child subreapers are Linux-only"
}

// Probe is Linux-only.
func Probe(string) error { return errors.New("sandboxinit: namespaces are Linux-only") }

func socketPair() (mine, theirs *os.File, err error) {
	return nil, nil, errors.New("sandboxinit: an init is Linux-only")
}
