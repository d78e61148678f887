package runtimesync_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/runtimesync"
)

// TestSyncRefusesAHugeEntryOutsideTheBlobs: an entry that is neither
// manifest.json nor a blob still has to be decompressed to skip it, so its
// announced size counts against the unpacked bound; a package that says it
// unpacks to terabytes (a gzip bomb) is refused at that header, not after
// minutes of decompression that Ctrl-C cannot interrupt.
func TestSyncRefusesAHugeEntryOutsideTheBlobs(t *testing.T) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: "package/README.md", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 40}); err != nil {
		t.Fatal(err)
	}
	// Only a little of the terabyte follows: a scanner that tries to skip
	// the entry fails with "damaged", one that checks the header does not
	// get that far.
	if _, err := tw.Write(make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Flush(); err != nil && !strings.Contains(err.Error(), "missed writing") {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.npm.Publish("@nimbus-sh/runtime-bash", "5.2.37", buf.Bytes())
	_, err := e.syncer(bucket).Sync(context.Background(), runtimesync.Options{})
	re, ok := runtimesync.AsError(err)
	if !ok || re.Code != runtimesync.CodePackageInvalid || !strings.Contains(re.Message, "unpacks to more than") {
		t.Fatalf("err = %v (%+v), want %s naming the unpacked bound", err, re, runtimesync.CodePackageInvalid)
	}
	if n := e.cf.Mutations(); n != 0 {
		t.Fatalf("%d writes after a bad package", n)
	}
}

// TestSyncCountsHeadersAgainstTheUnpackedBound: the bound on what a tarball
// unpacks to must count everything decompressed, not only the sizes the
// entries announce. Extended headers (PAX records, GNU long names) are up
// to 1 MiB each and announce no size: 100,000 of them, a few bytes each
// once compressed, are 100 GiB of decompression, minutes of CPU. Here the
// bound is lowered to 8 MiB and a valid package carries 16 MiB of PAX
// comments.
func TestSyncCountsHeadersAgainstTheUnpackedBound(t *testing.T) {
	defer runtimesync.SetMaxUnpacked(8 << 20)()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	comment := strings.Repeat("x", 1<<20-64)
	for i := range 16 {
		hdr := &tar.Header{Name: "package/padding-" + strconv.Itoa(i), Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatPAX,
			PAXRecords: map[string]string{"comment": comment}}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
	}
	// Then the real package, whose entries fit the bound by themselves.
	src, err := gzip.NewReader(bytes.NewReader(bashRuntime(t).Tarball()))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(src)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.npm.Publish("@nimbus-sh/runtime-bash", "5.2.37", buf.Bytes())
	_, err = e.syncer(bucket).Sync(context.Background(), runtimesync.Options{Runtimes: []string{"bash"}})
	re, ok := runtimesync.AsError(err)
	if !ok || re.Code != runtimesync.CodePackageInvalid || !strings.Contains(re.Message, "unpacks to more than") {
		t.Fatalf("err = %v (%+v), want %s naming the unpacked bound", err, re, runtimesync.CodePackageInvalid)
	}
	if n := e.cf.Mutations(); n != 0 {
		t.Fatalf("%d writes after a bad package", n)
	}
}
