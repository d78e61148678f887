//go:build !linux

package localsandbox

import (
	"os"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// Elsewhere than Linux, file ops always go the general way (os.Root).

// rootFDs is the descriptors an open sandbox directory holds.
const rootFDs = 1

func openRootDir(*os.Root) *os.File { return nil }

func (sb *sandbox) readFileFast(string) ([]byte, bool, bool) { return nil, false, false }

func (sb *sandbox) writeFileFast(string, string, []byte) (bool, *sandboxserver.Error) {
	return false, nil
}

func (sb *sandbox) plainDirFast(string) (bool, bool) { return false, false }

// knownRoot is kept on Linux only (knownroot_linux.go).
type knownRoot struct{}

func (sb *sandbox) rootKnownPlain(string) bool   { return false }
func (sb *sandbox) checkRootPlain(r string) bool { return sb.plainDir(r) }
func (sb *sandbox) forgetRootLocked()            {}

func fileFD(*os.File) int { return -1 }
