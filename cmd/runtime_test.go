//go:build unix

package cmd_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"

	"github.com/nimbus-sh/nimbus/internal/cftest"
	"github.com/nimbus-sh/nimbus/internal/npmtest"
)

// TestRuntimeScripts drives `nimbus runtime sync|list` (and setup's sync)
// end to end against a fake Cloudflare API and a fake npm registry, both
// real HTTP servers; the `cf` and `npm` commands configure and inspect them.
func TestRuntimeScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:   "testdata/runtime",
		Setup: runtimeSetup,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"cf":   cmdCF,
			"r2":   cmdR2,
			"npm":  cmdNPM,
			"mode": cmdMode,
			// holdcache FILE: hold FILE (a cache.lock) shared, as a
			// sync reading the cache does, until unholdcache FILE or
			// the script's end.
			"holdcache":   cmdHoldCache,
			"unholdcache": cmdUnholdCache,
			// status N PROGRAM ARGS...: PROGRAM exits N.
			"status": statusCmd(runtimeEnvKeys),
		},
	})
}

// runtimeEnvKeys are the variables runtimeSetup sets (and scripts change)
// that the status command passes on.
var runtimeEnvKeys = []string{"PATH", "HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "NO_COLOR", "TMPDIR",
	"CLOUDFLARE_API_BASE_URL", "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "NPM_CONFIG_REGISTRY", "NIMBUS_NPM_TOKEN", "NIMBUS_NPM_TOKEN_FILE", "NIMBUS_RUNTIME_CACHE_KEEP"}

// heldCaches are the lock files holdcache holds, by absolute path (each
// script's are under its own work directory).
var heldCaches sync.Map

// cmdHoldCache takes a shared lock on a runtime cache's lock file and
// holds it: what a sync that is reading the cache holds, so that another
// sync's eviction cannot take it exclusively.
func cmdHoldCache(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: holdcache FILE")
	}
	path := ts.MkAbs(args[0])
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	ts.Check(err)
	ts.Defer(func() { f.Close() })
	ts.Check(unix.Flock(int(f.Fd()), unix.LOCK_SH))
	heldCaches.Store(path, f)
}

// cmdUnholdCache releases the lock holdcache took on FILE.
func cmdUnholdCache(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: unholdcache FILE")
	}
	f, ok := heldCaches.LoadAndDelete(ts.MkAbs(args[0]))
	if !ok {
		ts.Fatalf("%s is not held", args[0])
	}
	ts.Check(f.(*os.File).Close())
}

func runtimeSetup(env *testscript.Env) error {
	env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/.config")
	env.Setenv("XDG_CACHE_HOME", env.WorkDir+"/.cache")
	env.Setenv("HOME", env.WorkDir)
	env.Setenv("NO_COLOR", "")
	srv := cftest.New()
	env.Defer(srv.Close)
	srv.AddAccount(cfAccount, "Acme Corp")
	srv.AddToken(cfToken, &cftest.Token{Scope: "user", Accounts: []string{cfAccount}})
	srv.SetSubdomain(cfAccount, "acme")
	env.Values["cf"] = srv
	env.Setenv("CLOUDFLARE_API_BASE_URL", srv.BaseURL())
	env.Setenv("CF_ACCOUNT", cfAccount)
	env.Setenv("CF_TOKEN", cfToken)
	reg := npmtest.New()
	env.Defer(reg.Close)
	env.Values["npm"] = reg
	env.Setenv("NPM_CONFIG_REGISTRY", reg.Registry())
	return nil
}

// cmdR2 works on the fake's objects in the account's bucket:
//
//	r2 put BUCKET KEY FILE          store FILE as KEY
//	r2 rm BUCKET KEY                delete KEY
//	r2 cmp BUCKET KEY FILE          assert KEY holds FILE's bytes
//	r2 exists BUCKET KEY            assert KEY exists (! for absent)
//	r2 keys BUCKET PREFIX FILE      write the keys under PREFIX to FILE
//	r2 puts FILE                    write the keys of recorded object PUTs, in order
//	r2 hang METHOD SUFFIX           hold the next matching request
//	r2 wait METHOD SUFFIX           wait (30s at most) for a matching request
//	r2 waitkeys BUCKET PREFIX N     wait (30s at most) until N objects under PREFIX are stored
//	r2 before METHOD SUFFIX BUCKET KEY FILE
//	                                store FILE as KEY just before the first matching request
func cmdR2(ts *testscript.TestScript, neg bool, args []string) {
	srv := ts.Value("cf").(*cftest.Server)
	if len(args) == 0 {
		ts.Fatalf("usage: r2 SUBCOMMAND ...")
	}
	if neg && args[0] != "exists" {
		ts.Fatalf("r2 %s does not support !", args[0])
	}
	switch args[0] {
	case "put":
		srv.PutObject(cfAccount, args[1], args[2], []byte(ts.ReadFile(args[3])), "application/json")
	case "rm":
		srv.DeleteObject(cfAccount, args[1], args[2])
	case "cmp":
		data, _, ok := srv.Object(cfAccount, args[1], args[2])
		if !ok {
			ts.Fatalf("%s/%s does not exist", args[1], args[2])
		}
		if want := ts.ReadFile(args[3]); string(data) != want {
			ts.Fatalf("%s/%s holds:\n%s\nwant:\n%s", args[1], args[2], data, want)
		}
	case "exists":
		if _, _, ok := srv.Object(cfAccount, args[1], args[2]); ok == neg {
			ts.Fatalf("%s/%s exists: %v", args[1], args[2], ok)
		}
	case "keys":
		keys := srv.ObjectKeys(cfAccount, args[1], args[2])
		ts.Check(os.WriteFile(ts.MkAbs(args[3]), []byte(strings.Join(keys, "\n")+"\n"), 0o644))
	case "puts":
		var lines []string
		for _, r := range srv.Requests() {
			if r.Method == "PUT" && strings.Contains(r.Path, "/objects/") {
				_, key, _ := strings.Cut(r.Path, "/objects/")
				key = strings.ReplaceAll(key, "%2F", "/")
				lines = append(lines, key)
			}
		}
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	case "hang":
		srv.AddFault(cftest.Fault{Method: args[1], PathSuffix: args[2], Hang: true, Times: 1})
	case "wait":
		if !srv.WaitRequest(args[1], args[2], 30*time.Second) {
			ts.Fatalf("no %s *%s within 30s:\n%s", args[1], args[2], srv.Summary())
		}
	case "waitkeys":
		n, err := strconv.Atoi(args[3])
		ts.Check(err)
		// Objects are stored while their PUT is answered; no event marks
		// it, so poll the fake's state (cheap, bounded).
		deadline := time.Now().Add(30 * time.Second)
		for len(srv.ObjectKeys(cfAccount, args[1], args[2])) < n {
			if time.Now().After(deadline) {
				ts.Fatalf("fewer than %d objects under %s within 30s:\n%s", n, args[2], srv.Summary())
			}
			time.Sleep(10 * time.Millisecond)
		}
	case "before":
		data := []byte(ts.ReadFile(args[5]))
		bucket, key := args[3], args[4]
		srv.Before(args[1], args[2], func() { srv.PutObject(cfAccount, bucket, key, data, "application/json") })
	default:
		ts.Fatalf("unknown r2 subcommand %q", args[0])
	}
}

// cmdNPM configures and inspects the fake registry:
//
//	npm publish NAME NPM-VERSION MANIFEST-VERSION LICENSE DIR [corrupt SRC] [bad-integrity] [drop SRC]
//	                    publish @nimbus-sh/runtime-NAME built from DIR: each
//	                    file becomes share/NAME/<path> with its own blob, and
//	                    files under DIR/bin/ become executables
//	npm defaults        publish clang 8.0.1 (binji-2020), cpython 3.13.14 and
//	                    bash 5.2.37 built from testdata/runtime-pkgs
//	npm count PACKUMENTS TARBALLS   assert the requests since the last reset
//	npm once            assert no path was requested twice since the last reset
//	npm reset
//	npm fail SUFFIX STATUS          answer STATUS to requests ending in SUFFIX
func cmdNPM(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("npm does not support !")
	}
	reg := ts.Value("npm").(*npmtest.Server)
	switch args[0] {
	case "defaults":
		wd, err := os.Getwd()
		ts.Check(err)
		for _, p := range defaultPackages {
			publishDir(ts, reg, p[0], p[1], p[2], p[3], filepath.Join(wd, "testdata", "runtime-pkgs", p[0]), nil)
		}
	case "publish":
		publishDir(ts, reg, args[1], args[2], args[3], args[4], ts.MkAbs(args[5]), args[6:])
	case "count":
		p, tb := reg.Count()
		if want := args[1] + " " + args[2]; want != strconv.Itoa(p)+" "+strconv.Itoa(tb) {
			ts.Fatalf("%d packument and %d tarball requests, want %s:\n%s", p, tb, want, reg.Summary())
		}
	case "once":
		seen := map[string]bool{}
		for _, r := range reg.Requests() {
			if seen[r.Method+" "+r.Path] {
				ts.Fatalf("%s %s was requested more than once:\n%s", r.Method, r.Path, reg.Summary())
			}
			seen[r.Method+" "+r.Path] = true
		}
	case "reset":
		reg.ResetRequests()
	case "fail":
		status, err := strconv.Atoi(args[2])
		ts.Check(err)
		reg.AddFault(npmtest.Fault{PathSuffix: args[1], Status: status})
	case "require-token":
		reg.RequireToken(args[1])
	case "auth":
		// npm auth WANT: every request since the last reset carried
		// Authorization WANT ("none": no header).
		want := args[1]
		if want == "none" {
			want = ""
		}
		for _, r := range reg.Requests() {
			if r.Authorization != want {
				ts.Fatalf("%s %s: Authorization %q, want %q", r.Method, r.Path, r.Authorization, want)
			}
		}
	default:
		ts.Fatalf("unknown npm subcommand %q", args[0])
	}
}

// defaultPackages are the synthetic runtimes: name, npm version, manifest
// version, license.
var defaultPackages = [][]string{
	{"clang", "8.0.1", "binji-2020", "Apache-2.0-with-LLVM-exception"},
	{"cpython", "3.13.14", "3.13.14", "PSF-2.0"},
	{"bash", "5.2.37", "5.2.37", "GPL-3.0-or-later AND GPL-2.0-only"},
}

// fakeRegistry starts a fake npm registry carrying the synthetic default
// runtimes, for in-process tests.
func fakeRegistry(t *testing.T) *npmtest.Server {
	t.Helper()
	reg := npmtest.New()
	t.Cleanup(reg.Close)
	for _, p := range defaultPackages {
		rt, err := runtimeFromDir(p[0], p[2], p[3], filepath.Join("testdata", "runtime-pkgs", p[0]))
		if err != nil {
			t.Fatal(err)
		}
		reg.Publish("@nimbus-sh/runtime-"+p[0], p[1], rt.Tarball(npmtest.ManifestLast()))
	}
	return reg
}

// runtimeFromDir describes a runtime whose files are those under dir: each
// becomes share/<name>/<path> with its own blob; files under bin/ become
// executables at bin/<file>.
func runtimeFromDir(name, version, license, dir string) (npmtest.Runtime, error) {
	rt := npmtest.Runtime{Name: name, Version: version, License: license, Entrypoints: []string{name + ":" + name + "-runner"}}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return rt, err
	}
	slices.Sort(files)
	for _, p := range files {
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			return rt, err
		}
		f := npmtest.RuntimeFile{Path: "share/" + name + "/" + rel, Src: rel, Data: data}
		if strings.HasPrefix(rel, "bin/") {
			f.Path, f.Exec = rel, true
		}
		rt.Files = append(rt.Files, f)
	}
	return rt, nil
}

func publishDir(ts *testscript.TestScript, reg *npmtest.Server, name, nv, mv, license, dir string, extra []string) {
	rt, err := runtimeFromDir(name, mv, license, dir)
	ts.Check(err)
	var opts []npmtest.TarballOption
	var pub []npmtest.PublishOption
	for i := 0; i < len(extra); i++ {
		switch extra[i] {
		case "corrupt":
			i++
			opts = append(opts, npmtest.CorruptBlob(extra[i]))
		case "drop":
			i++
			opts = append(opts, npmtest.DropBlob(extra[i]))
		case "bad-integrity":
			pub = append(pub, npmtest.WithIntegrity(npmtest.Integrity([]byte("not this tarball"))))
		case "tarball-url":
			// tarball-url FORM lists the tarball URL with credentials
			// in it, as a private registry may: "secret" puts a
			// user:password and a token query on the registry's own
			// URL, "unparsable" makes the password an invalid escape,
			// "ftp" the scheme one nimbus does not download from,
			// "unreachable" the host a closed port.
			i++
			form := extra[i]
			pub = append(pub, npmtest.WithTarballURL(func(u string) string {
				rest := strings.TrimPrefix(u, "http://")
				switch form {
				case "secret":
					return "http://npmuser:pw-SECRET-1@" + rest + "?token=tok-SECRET-2&X-Amz-Signature=sig-SECRET-3"
				case "unparsable":
					return "http://npmuser:pw-SECRET-1%zz@" + rest + "?token=tok-SECRET-2"
				case "ftp":
					return "ftp://npmuser:pw-SECRET-1@" + rest + "?token=tok-SECRET-2"
				case "unreachable":
					_, path, _ := strings.Cut(rest, "/")
					return "http://npmuser:pw-SECRET-1@127.0.0.1:9/" + path + "?token=tok-SECRET-2"
				}
				ts.Fatalf("unknown tarball-url form %q", form)
				return ""
			}))
		default:
			ts.Fatalf("unknown publish option %q", extra[i])
		}
	}
	opts = append(opts, npmtest.ManifestLast())
	reg.Publish("@nimbus-sh/runtime-"+name, nv, rt.Tarball(opts...), pub...)
}
