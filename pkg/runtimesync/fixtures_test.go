package runtimesync_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/cftest"
	"github.com/nimbus-sh/nimbus/internal/npmtest"
	"github.com/nimbus-sh/nimbus/pkg/npmregistry"
	"github.com/nimbus-sh/nimbus/pkg/provision"
	"github.com/nimbus-sh/nimbus/pkg/runtimesync"
)

const (
	acct   = "0123456789abcdef0123456789abcdef"
	token  = "cf-test-token"
	bucket = "rt-bucket"
)

func blob(t *testing.T, rt, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "runtimes", rt, file))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The three synthetic runtimes, in the layout of the real packages: clang's
// manifest version differs from its npm version, bash shares one marker
// blob between two install paths.
func bashRuntime(t *testing.T) npmtest.Runtime {
	return npmtest.Runtime{Name: "bash", Version: "5.2.37", License: "GPL-3.0-or-later AND GPL-2.0-only",
		Files: []npmtest.RuntimeFile{
			{Path: "share/bash/bash.async.wasm", Src: "bash.async.wasm", Data: blob(t, "bash", "bash.async.wasm")},
			{Path: "share/bash/coreutils/busybox.wasm", Src: "coreutils/busybox.wasm", Data: blob(t, "bash", "busybox.wasm")},
			{Path: "bin/bash", Src: "BIN_MARKER", Data: blob(t, "bash", "BIN_MARKER"), Exec: true},
			{Path: "bin/sh", Src: "BIN_MARKER", Data: blob(t, "bash", "BIN_MARKER"), Exec: true},
			{Path: "LICENSE", Src: "LICENSE", Data: blob(t, "bash", "LICENSE")},
		},
		Entrypoints: []string{"bash:bash-runner"}}
}

func clangRuntime(t *testing.T) npmtest.Runtime {
	return npmtest.Runtime{Name: "clang", Version: "binji-2020", License: "Apache-2.0-with-LLVM-exception",
		Files: []npmtest.RuntimeFile{
			{Path: "bin/clang", Src: "clang", Data: blob(t, "clang", "clang"), Exec: true},
			{Path: "bin/wasm-ld", Src: "lld", Data: blob(t, "clang", "lld"), Exec: true},
			{Path: "share/clang/sysroot.tar", Src: "sysroot.tar", Data: blob(t, "clang", "sysroot.tar")},
			{Path: "LICENSE", Src: "LICENSE", Data: blob(t, "clang", "LICENSE")},
		},
		Entrypoints: []string{"clang:clang-runner", "wasm-ld:clang-runner"}}
}

func cpythonRuntime(t *testing.T) npmtest.Runtime {
	return npmtest.Runtime{Name: "cpython", Version: "3.13.14", License: "PSF-2.0",
		Files: []npmtest.RuntimeFile{
			{Path: "share/cpython/python.wasm", Src: "python.wasm", Data: blob(t, "cpython", "python.wasm")},
			{Path: "share/cpython/python313.zip", Src: "python313.zip", Data: blob(t, "cpython", "python313.zip")},
			{Path: "bin/python", Src: "BIN_MARKER", Data: blob(t, "cpython", "BIN_MARKER"), Exec: true},
			{Path: "LICENSE", Src: "LICENSE", Data: blob(t, "cpython", "LICENSE")},
		},
		Entrypoints: []string{"python:cpython-runner"}}
}

type env struct {
	t        *testing.T
	cf       *cftest.Server
	npm      *npmtest.Server
	client   *provision.Client
	cacheDir string
	events   []runtimesync.Event
}

// newEnv starts a fake Cloudflare API with an empty runtime bucket and a
// fake registry carrying the three default runtimes.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, cf: cftest.New(), npm: npmtest.New(), cacheDir: t.TempDir()}
	t.Cleanup(e.cf.Close)
	t.Cleanup(e.npm.Close)
	e.cf.AddAccount(acct, "Acme")
	e.cf.AddToken(token, &cftest.Token{Accounts: []string{acct}})
	e.cf.AddBucket(acct, bucket)
	c, err := provision.NewClient(provision.ClientOptions{Token: token, BaseURL: e.cf.BaseURL(), MaxRetries: 1, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	e.npm.Publish("@nimbus-sh/runtime-bash", "5.2.37", bashRuntime(t).Tarball(npmtest.ManifestLast()))
	e.npm.Publish("@nimbus-sh/runtime-clang", "8.0.1", clangRuntime(t).Tarball())
	e.npm.Publish("@nimbus-sh/runtime-cpython", "3.13.14", cpythonRuntime(t).Tarball())
	return e
}

func (e *env) syncer(b string) *runtimesync.Syncer {
	return &runtimesync.Syncer{
		Registry: &npmregistry.Client{Registry: e.npm.Registry(), RetryBackoff: time.Millisecond},
		Bucket:   runtimesync.R2Bucket(e.client, acct, b),
		Cache:    &runtimesync.Cache{Dir: e.cacheDir},
		Observer: runtimesync.ObserverFunc(func(ev runtimesync.Event) { e.events = append(e.events, ev) }),
		Parallel: 1, // a deterministic request order for the assertions
	}
}
