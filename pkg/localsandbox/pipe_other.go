//go:build !linux

package localsandbox

import "os"

// growPipe is a no-op where pipe buffers cannot be resized.
func growPipe(*os.File) {}

// outputPipe returns a pipe for a command's output.
func outputPipe() (r, w *os.File, err error) { return os.Pipe() }
