package provision

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/atomicfile"
	"github.com/nimbus-sh/nimbus/internal/paths"
	"github.com/nimbus-sh/nimbus/internal/secretfile"
	"github.com/nimbus-sh/nimbus/internal/shellquote"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// resolveSecret returns the secret value: spec.Value, else the content of
// spec.File, else a new random secret written to spec.File (0600).
func resolveSecret(spec *SecretSpec, rnd io.Reader) (value string, generated bool, _ *Error) {
	if spec.Value != "" {
		value = spec.Value
	} else {
		v, err := ReadSecretFile(spec.File)
		switch {
		case err == nil:
			value = v
		case errors.Is(err, fs.ErrNotExist):
			v, gerr := generateSecretFile(spec.File, rnd)
			if gerr != nil {
				return "", false, gerr
			}
			value, generated = v, true
		default:
			if pe, ok := AsError(err); ok {
				return "", false, pe
			}
			return "", false, unreadableSecretFile(spec.File, err)
		}
	}
	// The Worker verifies with this secret what nimbus token mints with
	// it: one minimum for both (token.MinSecretLength).
	if len(value) < token.MinSecretLength || strings.ContainsAny(value, "\r\n") {
		return "", false, &Error{Kind: KindData, Code: CodeSecretInvalid,
			Message: fmt.Sprintf("%s must be one line of at least %d characters", spec.Name, token.MinSecretLength),
			Hint:    "generate one with `nimbus token secret`, or omit JWT_SECRET and --secret-file to let setup generate it"}
	}
	return value, generated, nil
}

// unreadableSecretFile is the error for a secret file that exists but
// cannot be read. The cause (a directory, permission denied) is what to
// fix; an *fs.PathError's text repeats the path, so only its Err is said.
func unreadableSecretFile(path string, err error) *Error {
	cause := err
	var pe *fs.PathError
	if errors.As(err, &pe) {
		cause = pe.Err
	}
	return &Error{Kind: KindConfig, Code: CodeSecretUnreadable, Err: err,
		Message: fmt.Sprintf("cannot read the secret file %s: %v", path, cause),
		Hint:    "give --secret-file a readable file holding the secret alone on one line, or a path that does not exist yet to have a secret generated there"}
}

// ReadSecretFile reads a secret from path with the one rule every nimbus
// command applies to secret files (package secretfile): a final line
// break is dropped; surrounding whitespace, several lines or nothing are
// refused, so the Worker's secret always equals what `nimbus token`
// reads from the same file. A missing file yields fs.ErrNotExist.
func ReadSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	v, err := secretfile.Read(f)
	var se *secretfile.Error
	if errors.As(err, &se) {
		return "", &Error{Kind: KindData, Code: CodeSecretInvalid, Message: "the secret file " + path + " " + se.Reason,
			Hint: "a secret file holds the secret alone on one line"}
	}
	return v, err
}

// secretDirGitignore is the .gitignore of a directory setup creates for a
// generated secret.
const secretDirGitignore = "# Written by nimbus setup: the secrets in this directory must never be committed.\n*\n"

// generateSecretFile makes a new random secret and publishes it at path
// (mode 0600) without ever replacing a file: the secret is written and
// synced to a private temporary file first, then hard-linked into place, so
// a reader sees no file or the whole secret, never an empty one, and a crash
// leaves no half-written secret. When another run published one first (two
// CI jobs at once), that one is adopted: every run then sets the same
// secret on the Worker.
func generateSecretFile(path string, rnd io.Reader) (string, *Error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	buf := make([]byte, 32)
	if _, err := io.ReadFull(rnd, buf); err != nil {
		// Not the secret's fault, nor the input's: the system's random
		// source failed, and a secret made of fewer bytes would be weak.
		return "", &Error{Kind: KindOSErr, Code: CodeRandomUnavailable, Err: err,
			Message: "cannot read random bytes for the secret: " + err.Error(),
			Hint:    "the system's random source failed; fix it, or pass a secret you made elsewhere in JWT_SECRET or --secret-file"}
	}
	value := hex.EncodeToString(buf)
	if err := ensureSecretDir(filepath.Dir(path)); err != nil {
		return "", err
	}
	err := atomicfile.CreateExclusive(path, []byte(value+"\n"), 0o600)
	if err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return "", writeError(path, err)
		}
		theirs, rerr := ReadSecretFile(path)
		if rerr != nil {
			if pe, ok := AsError(rerr); ok {
				return "", pe
			}
			return "", unreadableSecretFile(path, rerr)
		}
		return theirs, nil
	}
	return value, nil
}

// ensureSecretDir creates dir (0700) for a secret setup writes. A
// directory it creates is setup's: git is made to ignore it, since it may
// lie in a work tree (--secret-file .secrets/jwt in the project) whose
// .gitignore does not cover it, and `git add -A` would commit the secret.
// A directory that existed is the user's, left as it is.
func ensureSecretDir(dir string) *Error {
	_, serr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return writeError(dir, err)
	}
	if errors.Is(serr, fs.ErrNotExist) {
		gi := filepath.Join(dir, ".gitignore")
		if err := atomicfile.CreateExclusive(gi, []byte(secretDirGitignore), 0o644); err != nil && !errors.Is(err, fs.ErrExist) {
			return writeError(gi, err)
		}
	}
	return nil
}

// secretFileExt ends the name of a generated secret file.
const secretFileExt = ".jwt-secret"

// GeneratedSecretFile is where setup keeps the secret it generates for
// worker in account accountID under dir (SecretSpec.Dir): one file per
// account and Worker, since Worker names are unique only within an
// account.
func GeneratedSecretFile(dir, accountID, worker string) string {
	return filepath.Join(dir, paths.FileName(localOS, accountID), workerFile(worker, secretFileExt))
}

// LegacySecretFile is where versions before the per-account layout kept
// the generated secret of every Worker named worker, whatever its
// account.
func LegacySecretFile(dir, worker string) string {
	return filepath.Join(dir, workerFile(worker, secretFileExt))
}

// workerFile names the file ext of worker on this system. A Worker may
// be named "con", "nul", "aux", "com1"...: on Windows "con.jwt-secret"
// is the console, so a generated secret would be shown there and lost;
// paths.FileName makes it "con+.jwt-secret". Other Worker names are
// lowercase and end in a letter or digit, so their files (a legacy one
// included) keep their names on every system.
func workerFile(worker, ext string) string {
	return paths.FileName(localOS, worker+ext)
}

// localOS is the system secret files are kept on: runtime.GOOS, set
// otherwise only by tests (SetLocalOS) to check the Windows rules on any
// system.
var localOS = runtime.GOOS

// exists reports whether something is at path (a dangling symlink
// included: it is in the way all the same).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func legacySecretFile(spec *SecretSpec, worker, accountID, legacy string) *Error {
	return &Error{Kind: KindConfig, Code: CodeSecretLegacyFile,
		Message: "Worker " + quote(worker) + " in account " + accountID + " already has " + spec.Name + ", and the only generated secret for that name is " + legacy +
			", which an older nimbus kept for every Worker named " + quote(worker) + " in any account: whether it holds this account's secret cannot be told",
		Hint: "if " + legacy + " was generated for account " + accountID + ", rerun with " + shellquote.Join([]string{"--secret-file", legacy}) +
			": setup then keeps a copy in " + spec.File + " (mode 0600) and uses it from then on; otherwise pass this Worker's secret in " + spec.Name + " or --secret-file FILE"}
}

// isLegacyFile reports whether file is the file of the older layout for
// worker under dir: the same file, however the path is spelt.
func isLegacyFile(file, dir, worker string) bool {
	if file == "" || file == "-" || dir == "" {
		return false
	}
	a, err := os.Stat(file)
	if err != nil {
		return false
	}
	b, err := os.Stat(LegacySecretFile(dir, worker))
	return err == nil && os.SameFile(a, b)
}

// adoptSecret copies value, the secret of a file of the older layout, to
// path, the account's own file, so later runs (and `nimbus token mint
// --secret-file`) find it where setup now keeps it. The copy is published
// whole, mode 0600, and never replaces a file: when path appeared
// meanwhile holding the same secret there is nothing to do (false), and
// when it holds another one that one is kept (CodeSecretExists names
// both; the run turns it into a warning). The old file is left as it is: an older nimbus kept one file for
// every account's Worker of that name, so it may be another account's
// secret too.
func adoptSecret(path, legacy, value string) (bool, *Error) {
	if err := ensureSecretDir(filepath.Dir(path)); err != nil {
		return false, err
	}
	err := atomicfile.CreateExclusive(path, []byte(value+"\n"), 0o600)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return false, writeError(path, err)
	}
	if v, rerr := ReadSecretFile(path); rerr == nil && v == value {
		return false, nil
	}
	return false, &Error{Kind: KindConfig, Code: CodeSecretExists,
		Message: "the secret of " + legacy + " was not copied to " + path + ", which already holds another secret",
		Hint:    "keep the one this Worker verifies with: remove the other file, or pass the right one with --secret-file"}
}

// previousSecretExt ends the name a generated secret is moved to when the
// Worker is given another one: the rotation guide (docs/tokens.md) may
// still need it as JWT_SECRET_PREVIOUS.
const previousSecretExt = ".previous"

// maxPreviousSecretFiles bounds the names tried beside a generated secret
// (<file>.previous, <file>.previous.2, ...): that many rotations' secrets
// left there is a directory to tidy, not one to fill further.
const maxPreviousSecretFiles = 100

// previousSecretFile is the n-th name (from 1) a generated secret at path
// may be moved to.
func previousSecretFile(path string, n int) string {
	if n == 1 {
		return path + previousSecretExt
	}
	return path + previousSecretExt + "." + strconv.Itoa(n)
}

// freePreviousSecretFile is the name a secret at path would be moved to
// now: the first that does not exist (a dry run's prediction; it reads
// no secret).
func freePreviousSecretFile(path string) string {
	for n := 1; n <= maxPreviousSecretFiles; n++ {
		if p := previousSecretFile(path, n); !exists(p) {
			return p
		}
	}
	return ""
}

// retireSecretFile moves the generated secret at path aside when it is
// not value, the secret the Worker was just given: the file named after
// the Worker is what the README mints with, so it must never hold a
// secret the Worker no longer has, and the old secret is kept (mode 0600)
// since a rotation without downtime puts it as JWT_SECRET_PREVIOUS. It
// returns where the secret now is, "" when nothing was moved (no file, or
// it holds value). The copy is published whole and never replaces a
// file: a name holding another secret (an earlier rotation's) is passed
// over for the next, and one holding this very secret (a run stopped
// between the copy and the removal) is taken as the copy, so a rerun
// converges. path is removed only after the copy is in place.
func retireSecretFile(path, value string) (string, *Error) {
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	case err != nil:
		return "", unreadableSecretFile(path, err)
	}
	if v, rerr := ReadSecretFile(path); rerr == nil && v == value {
		return "", nil
	}
	for n := 1; n <= maxPreviousSecretFiles; n++ {
		dst := previousSecretFile(path, n)
		err := atomicfile.CreateExclusive(dst, old, 0o600)
		if errors.Is(err, fs.ErrExist) {
			if theirs, rerr := os.ReadFile(dst); rerr != nil || !bytes.Equal(theirs, old) {
				continue
			}
			err = nil
		}
		if err != nil {
			return "", writeError(dst, err)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", writeError(path, err)
		}
		return dst, nil
	}
	return "", &Error{Kind: KindCantCreate, Code: CodeWriteFile,
		Message: fmt.Sprintf("%s holds a secret the Worker no longer has, and %s to %s are all taken", path, previousSecretFile(path, 1), previousSecretFile(path, maxPreviousSecretFiles)),
		Hint:    "remove the old secrets no Worker needs any more (after the longest token lifetime), then rerun"}
}
