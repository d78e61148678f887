package runtimesync

import (
	"errors"
	"io/fs"

	"github.com/nimbus-sh/nimbus/internal/atomicfile"
	"github.com/nimbus-sh/nimbus/internal/regularfile"
	"github.com/nimbus-sh/nimbus/pkg/wranglerfile"
)

// PinVar is the Worker variable that names the trusted catalog.
const PinVar = "NIMBUS_RUNTIME_CATALOG_SHA256"

// PinStatus is what WritePin did.
type PinStatus string

// Pin statuses.
const (
	// PinUpdated: the file was rewritten with the new digest.
	PinUpdated PinStatus = "updated"
	// PinUnchanged: the file already held the digest; it was not written.
	PinUnchanged PinStatus = "unchanged"
	// PinPlanned: a dry run found that the file would be rewritten.
	PinPlanned PinStatus = "planned"
)

// WritePin sets vars.NIMBUS_RUNTIME_CATALOG_SHA256 in the wrangler config
// at path, keeping its comments and layout, and writes it atomically (a
// symlink is written through, as setup does). With
// dryRun it only reports whether it would change the file.
func WritePin(path, digest string, dryRun bool) (PinStatus, error) {
	return WriteEnvPin(path, "", digest, dryRun)
}

// WriteEnvPin is WritePin into env.<env>.vars, where the Worker that
// 'wrangler deploy --env env' deploys reads it (wrangler does not inherit
// vars); "" is the top level's vars.
func WriteEnvPin(path, env, digest string, dryRun bool) (PinStatus, error) {
	if !ValidDigest(digest) {
		return "", &Error{Kind: KindInternal, Code: CodeInternal, Message: "refusing to pin an invalid digest " + digest}
	}
	data, err := regularfile.ReadFile(path, wranglerfile.MaxSize)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", &Error{Kind: KindConfig, Code: CodeCatalogPin, Err: err,
				Message: "wrangler config " + path + " does not exist", Hint: "pass --write-config PATH, or run 'nimbus init' first"}
		}
		return "", &Error{Kind: KindCantCreate, Code: CodeCatalogPin, Err: err, Message: "cannot read " + path + ": " + regularfile.Reason(err),
			Hint: regularfile.Hint(err, "name the wrangler config with --write-config PATH")}
	}
	out, changed, err := wranglerfile.SetEnvVar(data, env, PinVar, digest)
	if err != nil {
		vars := "vars."
		if env != "" {
			vars = "env." + env + ".vars."
		}
		return "", &Error{Kind: KindData, Code: CodeCatalogPin, Err: err, Message: path + ": " + err.Error(),
			Hint: "fix the file, or set " + vars + PinVar + " by hand"}
	}
	switch {
	case !changed:
		return PinUnchanged, nil
	case dryRun:
		return PinPlanned, nil
	}
	// Through a symlink, keeping the mode, as setup writes the same file;
	// synced, as a person's config is (see atomicfile.Options.Sync).
	if err := atomicfile.WriteFile(path, out, atomicfile.Options{Perm: 0o644, Sync: true}); err != nil {
		return "", &Error{Kind: KindCantCreate, Code: CodeCatalogPin, Err: err, Message: "cannot write " + path + ": " + err.Error()}
	}
	return PinUpdated, nil
}
