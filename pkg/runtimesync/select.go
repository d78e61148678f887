package runtimesync

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nimbus-sh/nimbus/pkg/npmregistry"
)

// PackagePrefix names the npm packages the upstream publisher writes:
// @nimbus-sh/runtime-<name>.
const PackagePrefix = "@nimbus-sh/runtime-"

// DefaultRuntimes is what a sync without arguments publishes: every runtime
// that is published as a package.
var DefaultRuntimes = []string{"clang", "cpython", "bash"}

// manifestVersions maps a runtime's manifest version to its npm version
// where the two differ, so `clang@binji-2020` (upstream's spelling) works
// without downloading every published tarball to find out.
var manifestVersions = map[string]map[string]string{
	"clang": {"binji-2020": "8.0.1"},
}

// upstreamPublisher is how to publish what npm does not carry. It is part
// of the message, not a hint: in CI (stderr not a terminal) an error is
// one JSON line without its hint. Placeholders are shell variables, which
// a pasted command expands instead of reading `<id>` as a redirection.
const upstreamPublisher = "publish it with upstream's publisher: in a checkout of github.com/AshishKumar4/Nimbus, with " +
	"CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN set, run `node packages/worker/scripts/bundle-runtime.mjs %s %s --bucket \"$BUCKET\"`; " +
	"a later `nimbus runtime sync` keeps it in the catalog"

// Request is one runtime asked for: name[@version]. The version is either
// the manifest version (upstream's spelling, e.g. clang@binji-2020) or the
// npm package version (clang@8.0.1).
type Request struct {
	// Spec is the text as given, reported back in results.
	Spec string
	// Name is the runtime's name after aliasing (python is cpython).
	Name string
	// Version is the version asked for, a manifest or npm version; ""
	// means the only published version, and is an error when there are
	// several.
	Version string
}

func unknownRuntime(spec, hint string) *Error {
	return &Error{Kind: KindUsage, Code: CodeUnknownRuntime,
		Message: fmt.Sprintf("unknown or ambiguous runtime %q (use a publisher-supported name@version)", spec), Hint: hint}
}

// ParseRequest reads name[@version]. It applies the Worker's alias (python
// is cpython) and refuses, before any network use, what is known not to be
// published as a package.
func ParseRequest(spec string) (Request, error) {
	s := strings.TrimSpace(spec)
	name, version, hasVersion := strings.Cut(s, "@")
	if !validRuntimeName(name) || (hasVersion && !validVersion(version)) {
		return Request{}, unknownRuntime(spec, "runtime names are lowercase letters, digits and '-', e.g. "+strings.Join(DefaultRuntimes, ", "))
	}
	r := Request{Spec: s, Name: name, Version: version}
	if name == "python" {
		if version == "0.29.4" || strings.HasPrefix(version, "pyodide") {
			return Request{}, &Error{Kind: KindUnavailable, Code: CodeUnpublished,
				Message: fmt.Sprintf("runtime %q is Pyodide, which is not published as an npm package; ", spec) + fmt.Sprintf(upstreamPublisher, "python", "0.29.4"),
				Hint:    "or use cpython, what python resolves to"}
		}
		r.Name = "cpython"
	}
	return r, nil
}

// unpublished reports runtimes the upstream publisher builds that have no
// npm package, checked after the registry said 404 (so a package published
// later is picked up without a nimbus release).
func unpublished(r Request) *Error {
	if r.Name != "ruby" {
		return nil
	}
	v := r.Version
	if v == "" {
		v = "3.3.4"
	}
	return &Error{Kind: KindUnavailable, Code: CodeUnpublished,
		Message: fmt.Sprintf("runtime %q is not published as an npm package (@nimbus-sh/runtime-ruby does not exist); ", r.Spec) + fmt.Sprintf(upstreamPublisher, "ruby", v)}
}

func validRuntimeName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validVersion accepts npm versions and upstream's manifest versions
// (binji-2020, 5.2.37-1): no path separators or spaces, bounded.
func validVersion(s string) bool {
	if s == "" || len(s) > 128 || s[0] == '.' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '+' || c == '_') {
			return false
		}
	}
	return true
}

// pickVersion chooses the npm version for r from the versions published.
// It returns the expected manifest version too when r named one.
func pickVersion(r Request, published []string) (npmVersion, manifestVersion string, err error) {
	slices.Sort(published)
	list := func() string {
		var parts []string
		for _, v := range published {
			label := r.Name + "@" + v
			for mv, nv := range manifestVersions[r.Name] {
				if nv == v {
					label = r.Name + "@" + mv + " (npm " + v + ")"
				}
			}
			parts = append(parts, label)
		}
		if len(parts) == 0 {
			return "no version of " + PackagePrefix + r.Name + " is published"
		}
		return "published: " + strings.Join(parts, ", ")
	}
	if r.Version == "" {
		if len(published) != 1 {
			return "", "", unknownRuntime(r.Spec, list()+"; name one with name@version")
		}
		return published[0], "", nil
	}
	if slices.Contains(published, r.Version) {
		return r.Version, "", nil
	}
	if nv, ok := manifestVersions[r.Name][r.Version]; ok && slices.Contains(published, nv) {
		return nv, r.Version, nil
	}
	return "", "", unknownRuntime(r.Spec, list())
}

// CheckNames refuses, with the registry alone (no bucket, no Cloudflare
// credential), the runtimes of specs that no package publishes: what
// Sync refuses once it resolves them (E_UNKNOWN_RUNTIME, or
// E_RUNTIME_UNPUBLISHED for ruby), so that a misspelt name is reported
// before a command asks for a Cloudflare token it does not need yet.
// Names are not a fixed set (a runtime published later, or on a private
// registry, is synced without a nimbus release), so only a name other
// than DefaultRuntimes and python costs a request, one per name. Any
// other registry failure is left to Sync, which meets it again: nil.
//
// The packuments it fetched are returned, for Sync to use rather than
// fetch again (Options.Packuments).
func CheckNames(ctx context.Context, reg Registry, specs []string) (Packuments, error) {
	got := Packuments{}
	tried := map[string]bool{}
	for _, sp := range specs {
		q, err := ParseRequest(sp)
		if err != nil {
			return nil, err
		}
		if slices.Contains(DefaultRuntimes, q.Name) || tried[q.Name] {
			continue
		}
		tried[q.Name] = true
		p, err := reg.Packument(ctx, PackagePrefix+q.Name)
		if err != nil {
			if e := notPublished(q, err); e != nil {
				return nil, e
			}
			continue
		}
		got[q.Name] = p
	}
	return got, nil
}

// Packuments are registry documents a run already fetched, by runtime
// name (as CheckNames returns them).
type Packuments map[string]*npmregistry.Packument

// notPublished is the refusal of q when err is the registry's 404 for
// its package (nil otherwise): E_RUNTIME_UNPUBLISHED for a runtime known
// to have no package, else E_RUNTIME_UNKNOWN.
func notPublished(q Request, err error) error {
	if ne, ok := npmregistry.AsError(err); !ok || ne.Kind != npmregistry.KindNotFound {
		return nil
	}
	if e := unpublished(q); e != nil {
		return e
	}
	return unknownRuntime(q.Spec, "the npm registry has no package "+PackagePrefix+q.Name+"; published runtimes: "+strings.Join(DefaultRuntimes, ", "))
}
