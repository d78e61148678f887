//go:build !unix

package mcpserver

import "io"

// watchHangup cannot tell a client that is gone here: that shows when a
// reply fails to be written.
func watchHangup(io.Writer, <-chan struct{}) <-chan struct{} { return nil }
