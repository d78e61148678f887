package initcmd_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
)

// BenchmarkInitCommand is `nimbus init <new dir>` through the real root
// command, in process: everything except the process start-up.
func BenchmarkInitCommand(b *testing.B) {
	root := b.TempDir()
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		ios, _, _, errOut := iostreams.Test()
		f := &cmdutil.Factory{IOStreams: ios}
		if code := cmd.Run(ctx, f, []string{"init", filepath.Join(root, strconv.Itoa(i))}); code != 0 {
			b.Fatalf("exit %d: %s", code, errOut)
		}
	}
}
