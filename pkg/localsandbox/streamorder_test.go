//go:build unix

package localsandbox_test

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// TestStreamKeepsEachStreamsOrder pins what an exec stream promises
// locally (docs/compat.md): every byte of each stream arrives, in the order
// written, before the exit frame; stdout and stderr are two pipes, so their
// relative order is the order the server read them, which for writes
// closer together than its reads is not always the order written.
func TestStreamKeepsEachStreamsOrder(t *testing.T) {
	_, hs := newServer(t)
	sb := box(t, hs.URL, "order")
	st, err := sb.ExecStream(ctx(t), `i=0; while [ $i -lt 300 ]; do echo o$i; echo e$i >&2; i=$((i+1)); done; exit 3`, sc.ExecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out, errOut strings.Builder
	for {
		c, err := st.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if c.Kind == sc.FrameStdout {
			out.Write(c.Data)
		} else {
			errOut.Write(c.Data)
		}
	}
	var wantOut, wantErr strings.Builder
	for i := 0; i < 300; i++ {
		wantOut.WriteString("o" + strconv.Itoa(i) + "\n")
		wantErr.WriteString("e" + strconv.Itoa(i) + "\n")
	}
	if out.String() != wantOut.String() || errOut.String() != wantErr.String() {
		t.Fatalf("stdout %q\nstderr %q", out.String(), errOut.String())
	}
	if ex := st.Exit(); ex == nil || ex.ExitCode != 3 {
		t.Fatalf("exit %+v", ex)
	}
}
