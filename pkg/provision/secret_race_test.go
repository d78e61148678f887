package provision_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/provision"
)

// barrierReader lets n readers through only once all n are reading: two
// runs that both found no secret file are about to write one.
type barrierReader struct {
	wg *sync.WaitGroup
}

func (b barrierReader) Read(p []byte) (int, error) {
	b.wg.Done()
	b.wg.Wait()
	return rand.Read(p)
}

// TestConcurrentSecretGenerationConverges: two setup runs (two CI jobs, a
// retry racing the first) that both find no generated secret file both
// succeed, and the file, the Worker and both results hold the same secret:
// the loser adopts the winner's file instead of failing with "file
// exists", and no run ever reads a half-written (empty) file.
func TestConcurrentSecretGenerationConverges(t *testing.T) {
	f := newFixture(t)
	f.cf.DeployWorker(acct, worker)
	file := filepath.Join(f.dir, "secrets", "jwt")
	var wg sync.WaitGroup
	wg.Add(2)
	var run sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		run.Add(1)
		go func() {
			defer run.Done()
			p := f.plan()
			p.Secret = &provision.SecretSpec{Name: "JWT_SECRET", File: file}
			pr := f.provisioner(userTok)
			pr.Observer = nil
			pr.Rand = barrierReader{&wg}
			_, errs[i] = pr.Run(context.Background(), p)
		}()
	}
	run.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("run %d: %v", i, err)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := f.cf.Secret(acct, worker, "JWT_SECRET")
	if strings.TrimSpace(string(data)) != v || len(v) != 64 {
		t.Fatalf("file holds %q, the Worker %q", data, v)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	// The directory's .gitignore is meant to be there
	// (TestGeneratedSecretIsNotCommitted); anything else is a leftover.
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".*"))
	left = slices.DeleteFunc(left, func(p string) bool { return filepath.Base(p) == ".gitignore" })
	if len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// failingReader is a random source that fails, as a broken getrandom or
// /dev/urandom would.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy source failed") }

// TestSecretRandomUnavailable: when no random bytes can be read for a
// generated secret, Run fails with E_RANDOM_UNAVAILABLE exiting 71
// (EX_OSERR), with a hint, and writes no secret file. It was
// E_SECRET_INVALID exiting 70, the code of a malformed secret.
func TestSecretRandomUnavailable(t *testing.T) {
	f := newFixture(t)
	f.cf.DeployWorker(acct, worker)
	file := filepath.Join(f.dir, "secrets", "jwt")
	p := f.plan()
	p.Secret = &provision.SecretSpec{Name: "JWT_SECRET", File: file}
	pr := f.provisioner(userTok)
	pr.Rand = failingReader{}
	_, err := pr.Run(context.Background(), p)
	pe := wantErr(t, err, provision.KindOSErr, provision.CodeRandomUnavailable, "JWT_SECRET or --secret-file")
	if pe.ExitCode() != 71 {
		t.Errorf("exit %d, want 71", pe.ExitCode())
	}
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a secret file was written: %v", err)
	}
}
