//go:build !linux

package localsandbox

// spareFiles is Linux's: elsewhere writes make new files.
type spareFiles struct{}

func newSpareFiles(string) *spareFiles { return nil }

func (*spareFiles) close() {}
