// Package localdev wires the local sandbox backend (pkg/localsandbox) into
// the CLI: where its data lives, the development secret kept next to it,
// the environment its commands get, the listener of `nimbus dev`, and the
// in-process client behind `nimbus sandbox --local`.
package localdev

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/internal/atomicfile"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/paths"
	"github.com/nimbus-sh/nimbus/internal/portnum"
	"github.com/nimbus-sh/nimbus/internal/regularfile"
	"github.com/nimbus-sh/nimbus/internal/secretfile"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// DefaultAddr is where `nimbus dev` listens (upstream's default endpoint).
const DefaultAddr = "127.0.0.1:8787"

// DefaultTenant is the tenant of local tokens, so `nimbus dev` and --local
// reach the same sandboxes (<tenant>:<sub or _>:<id>).
const DefaultTenant = "local"

// SecretFile is the name of the generated secret in the data directory.
const SecretFile = "jwt-secret"

// DataEnv overrides the default data directory.
const DataEnv = paths.DevDataEnv

// IsolationEnv sets the isolation of local sandboxes (auto, namespaces or
// host-paths) for `nimbus dev` (unless --isolation) and for --local.
const IsolationEnv = "NIMBUS_DEV_ISOLATION"

// Codes of the errors of this package.
const (
	CodeRemoteRefused = "E_DEV_REMOTE_REFUSED"
	CodeSecretFile    = "E_DEV_SECRET_FILE"
	CodeListen        = "E_DEV_LISTEN"
	CodeBackend       = "E_DEV_BACKEND"
	CodeIsolation     = "E_DEV_ISOLATION"
)

// ParseIsolation reads an isolation name, as --isolation and
// NIMBUS_DEV_ISOLATION take them: auto (or ""), namespaces or host-paths.
// from names the flag or variable it came from, for the error.
func ParseIsolation(name, from string) (localsandbox.Isolation, error) {
	switch name {
	case "auto", "":
		return localsandbox.IsolationAuto, nil
	case "namespaces":
		return localsandbox.IsolationNamespaces, nil
	case "host-paths":
		return localsandbox.IsolationHostPaths, nil
	}
	return 0, clierr.New(exitcode.Usage, clierr.CodeUsage, fmt.Sprintf("invalid %s %q", from, name), "use auto, namespaces or host-paths")
}

// BackendError reports a failure of localsandbox.New: namespaces that
// were required but are not available, or an unusable data directory
// (dataHint says how to pick another).
func BackendError(err error, dataHint string) error {
	var le *localsandbox.Error
	if errors.As(err, &le) && le.Code == localsandbox.CodeIsolation {
		return clierr.Wrap(err, exitcode.Unavailable, CodeIsolation, err.Error(), "use --isolation host-paths (or "+IsolationEnv+"=host-paths), or allow unprivileged user namespaces")
	}
	return clierr.Wrap(err, exitcode.CantCreate, CodeBackend, err.Error(), dataHint)
}

// DataDir is the default data directory: $NIMBUS_DEV_DATA, else nimbus/dev
// under the user cache directory (os.UserCacheDir's rules: XDG_CACHE_HOME
// or ~/.cache on Linux, ~/Library/Caches on macOS, %LocalAppData% on
// Windows), read through getenv.
func DataDir(getenv func(string) string) (string, error) {
	dir, err := paths.Env{GOOS: runtime.GOOS, Getenv: getenv}.DevDataDir()
	if err != nil {
		return "", clierr.New(exitcode.Config, clierr.CodeConfigMissing, "cannot find a user cache directory for the local sandboxes: "+err.Error(), "set "+DataEnv+"=DIR")
	}
	return dir, nil
}

// hostEnvKeys are passed from the user's environment to sandbox commands:
// what tools need to run, never credentials. Everything else (tokens,
// JWT_SECRET, cloud keys) stays out, as on a remote sandbox.
var hostEnvKeys = []string{
	"PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TERM", "TZ", "USER", "LOGNAME",
	"PYENV_ROOT", "RBENV_ROOT", "NVM_DIR", "NVM_BIN", "VOLTA_HOME", "GOROOT", "GOPATH",
	"JAVA_HOME", "CARGO_HOME", "RUSTUP_HOME", "BUN_INSTALL", "DENO_INSTALL",
}

// HostEnv builds the base environment of sandbox commands. Toolchain
// homes that live under the user's HOME (pyenv, rbenv, cargo…) are passed
// explicitly, because HOME inside a sandbox is the sandbox's /home/user.
func HostEnv(getenv func(string) string) []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range hostEnvKeys {
		if v := getenv(k); v != "" {
			out = append(out, k+"="+v)
			seen[k] = true
		}
	}
	home := getenv("HOME")
	if home != "" {
		for k, d := range map[string]string{"PYENV_ROOT": ".pyenv", "RBENV_ROOT": ".rbenv", "CARGO_HOME": ".cargo", "RUSTUP_HOME": ".rustup", "GOPATH": "go"} {
			if seen[k] {
				continue
			}
			p := filepath.Join(home, d)
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				out = append(out, k+"="+p)
			}
		}
	}
	return out
}

// LoadSecret returns the development secret stored in dataDir, creating a
// random one (mode 0600) on first use. A secret file readable by others is
// refused rather than used.
func LoadSecret(dataDir string) (secret string, created bool, err error) {
	return LoadOrCreateSecret(filepath.Join(dataDir, SecretFile), "the development secret", CodeSecretFile)
}

// LoadOrCreateSecret returns the secret kept in path (what names it in
// messages, code is the errors' code), creating 32 random bytes in hex
// (mode 0600, directory 0700) when the file does not exist. A file others
// can read is refused rather than used; when two processes create it at
// once, both use the one that won.
func LoadOrCreateSecret(path, what, code string) (secret string, created bool, err error) {
	// A regular file of a secret's size only: a named pipe there must
	// not block dev, /dev/zero not fill memory.
	b, err := regularfile.ReadFile(path, secretfile.MaxSize)
	if err == nil {
		fi, serr := os.Stat(path)
		if serr == nil && fi.Mode().Perm()&0o077 != 0 {
			return "", false, clierr.New(exitcode.NoPerm, code, fmt.Sprintf("%s %s is accessible to other users (mode %04o)", what, path, fi.Mode().Perm()), "run: chmod 600 "+path)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", false, clierr.New(exitcode.Config, code, what+" "+path+" is empty", "delete it to have a new one generated")
		}
		return s, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, clierr.Wrap(err, exitcode.CantCreate, code, "cannot read "+what+" "+path+": "+unwrap(err), "")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, clierr.Wrap(err, exitcode.CantCreate, code, "cannot create the directory "+dir+": "+unwrap(err), "")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", false, err
	}
	secret = hex.EncodeToString(raw)
	// Whole or not at all: a `nimbus dev token` run while `nimbus dev`
	// starts (the README's first lines) must not read it empty.
	err = atomicfile.CreateExclusive(path, []byte(secret+"\n"), 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another nimbus created it first: use theirs.
		return LoadOrCreateSecret(path, what, code)
	}
	if err != nil {
		return "", false, clierr.Wrap(err, exitcode.CantCreate, code, "cannot write "+what+" "+path+": "+unwrap(err), "")
	}
	return secret, true, nil
}

func unwrap(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// TokenOptions describe a development token.
type TokenOptions struct {
	Secret          string
	Tenant, Subject string
	SessionID       string
	Scopes          []string
	TTL             time.Duration
	Now             func() time.Time
}

// DefaultScopes are those of `nimbus dev token`: everything a developer
// does with local sandboxes, port previews included.
var DefaultScopes = []string{token.ScopeSandboxUse, token.ScopeSessionDestroy, token.ScopeSessionAttach}

// Mint returns a token for the local backend.
func Mint(o TokenOptions) (string, error) {
	tenant := o.Tenant
	if tenant == "" {
		tenant = DefaultTenant
	}
	in := token.Input{Tenant: &tenant, Scopes: o.Scopes, TTL: &o.TTL}
	if o.Subject != "" {
		in.Subject = &o.Subject
	}
	if o.SessionID != "" {
		in.SessionID = &o.SessionID
	}
	return token.Issuer{Secret: o.Secret, Now: o.Now}.Mint(in)
}

// AddrForm refuses a listen address that is not HOST:PORT with a port
// number from 0 to 65535 (an empty port is 0), before the loopback check,
// which would otherwise call "127.0.0.1" (no port) reachable from other
// machines. net.Listen would also take a service name ("localhost:http")
// or a signed number ("+80"), but the URLs built from the address (the
// snippet of mcp --print-config) would then be no URLs, so only plain
// decimal digits are a port here (portnum, the parser of every port).
// flag names the flag in the message.
func AddrForm(flag, addr, example string) error {
	host, port, err := net.SplitHostPort(addr)
	hint := "for example " + flag + " " + example
	if err == nil && port != "" {
		if _, perr := portnum.Parse(port, 0); perr != nil {
			err = perr
			if t := portnum.Suggest(port, 0); t != "" {
				hint = fmt.Sprintf("write the port in plain digits: %s %s", flag, net.JoinHostPort(host, t))
			} else if n, lerr := net.LookupPort("tcp", port); lerr == nil && !strings.ContainsAny(port[:1], "+-0123456789") {
				hint = fmt.Sprintf("a service name is not a port number: write %s %s", flag, net.JoinHostPort(host, strconv.Itoa(n)))
			}
		}
	}
	if err != nil {
		return clierr.Usagef("%s %q: expected HOST:PORT with a port from 0 to 65535 (0 picks a free one)", flag, addr).
			WithHint(hint)
	}
	return nil
}

// lookupIP resolves the host name of a listen address; tests replace it.
var lookupIP = net.LookupIP

// IsLoopback reports whether a listen address only accepts connections
// from this machine. A host name counts only if every address it resolves
// to is loopback.
func IsLoopback(addr string) bool {
	_, loop, _ := resolveListen(addr)
	return loop
}

// resolveListen resolves addr's host once and returns the address to
// listen on: the host name replaced by one of its addresses (IPv4 first,
// as net.Listen picks), so that what is listened on is what was checked,
// not a second answer of the name's DNS (rebinding). loop says every
// address is loopback. An empty host (every interface) or an IP literal
// is kept as is; err is the failure of a name that does not resolve.
func resolveListen(addr string) (target string, loop bool, err error) {
	host, port, serr := net.SplitHostPort(addr)
	if serr != nil || host == "" {
		return addr, false, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return addr, ip.IsLoopback(), nil
	}
	ips, err := lookupIP(host)
	if err == nil && len(ips) == 0 {
		err = &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	if err != nil {
		return addr, false, err
	}
	loop, pick := true, ips[0]
	for _, ip := range ips {
		loop = loop && ip.IsLoopback()
	}
	for _, ip := range ips {
		if ip.To4() != nil {
			pick = ip
			break
		}
	}
	return net.JoinHostPort(pick.String(), port), loop, nil
}

// Listen opens the listener of `nimbus dev`, refusing an address reachable
// from other machines unless allowRemote. A host name is resolved once:
// the address checked is the address listened on.
func Listen(addr string, allowRemote bool) (net.Listener, error) {
	target, err := checkAddr(addr, allowRemote)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", target)
	if err != nil {
		// 73, not 69: a taken (or forbidden) port stays so until its
		// owner stops, and 69 tells a script to retry (exit-codes.md).
		return nil, listenError(addr, err)
	}
	return ln, nil
}

func listenError(addr string, err error) error {
	return clierr.Wrap(err, exitcode.CantCreate, CodeListen, "cannot listen on "+addr+": "+unwrapOp(err), "is another nimbus dev running? pick another --addr")
}

// CheckAddr refuses a non-loopback address unless allowRemote: the backend
// runs commands as the local user, so it must not be reachable from other
// machines by accident. Callers check before creating anything (Listen
// checks again, on the addresses it listens on).
func CheckAddr(addr string, allowRemote bool) error {
	_, err := checkAddr(addr, allowRemote)
	return err
}

// checkAddr is CheckAddr, returning the address to listen on.
func checkAddr(addr string, allowRemote bool) (string, error) {
	if err := AddrForm("--addr", addr, DefaultAddr); err != nil {
		return "", err
	}
	target, loop, err := resolveListen(addr)
	if !allowRemote && !loop {
		return "", clierr.New(exitcode.Usage, CodeRemoteRefused,
			"refusing to listen on "+addr+": it is reachable from other machines, and the local backend runs commands as you",
			"use a loopback address such as "+DefaultAddr+", or pass --allow-remote if you really mean it")
	}
	if err != nil {
		return "", listenError(addr, err)
	}
	return target, nil
}

func unwrapOp(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

// InProcessOptions configure an in-process backend.
type InProcessOptions struct {
	// DataDir is the backend's data directory.
	DataDir string
	// Getenv supplies the commands' host environment (HostEnv).
	Getenv func(string) string
	// Tenant and Subject name the identity (default tenant "local").
	Tenant, Subject string
	// Profile and Root are the sandbox handle's.
	Profile, Root string
	// Now is the clock of minted tokens.
	Now func() time.Time
	// Background allows background processes, for callers that outlive one
	// command (nimbus mcp --local); they die with the process.
	Background bool
	// Isolation is the sandboxes' (IsolationEnv).
	Isolation localsandbox.Isolation
	// WriteLimit is the clients' single-request write limit (write_limit);
	// 0 is the client's default. Bigger files are split as over HTTP.
	WriteLimit int64
}

// InProcess is a local backend served in this process through
// localsandbox.Transport: no listener, no secret on disk. Background
// processes are refused unless Background is set, since they die with the
// process.
type InProcess struct {
	Server *localsandbox.Server
	o      InProcessOptions
	secret string
}

// Endpoint is the placeholder origin of in-process clients: no request
// ever leaves the process, and port URLs built from it are visibly not
// reachable.
const Endpoint = "http://local.invalid"

// NewInProcess opens the backend on o.DataDir with a random secret that
// only lives in memory.
func NewInProcess(o InProcessOptions) (*InProcess, error) {
	KeepInheritedFromCommands()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	secret := hex.EncodeToString(raw)
	srv, err := localsandbox.New(localsandbox.Options{
		DataDir:          o.DataDir,
		Secret:           secret,
		HostEnv:          HostEnv(o.Getenv),
		NoBackground:     !o.Background,
		NoBackgroundHint: "with --local the backend lives only as long as one command; run `nimbus dev` and use --endpoint " + "http://" + DefaultAddr + " to keep processes running",
		Isolation:        o.Isolation,
	})
	if err != nil {
		return nil, BackendError(err, "set "+DataEnv+"=DIR to use another directory")
	}
	if o.Tenant == "" {
		o.Tenant = DefaultTenant
	}
	return &InProcess{Server: srv, o: o, secret: secret}, nil
}

// Client returns a client of the in-process backend whose tokens are
// minted per request with scopes, pinned to the sandbox.
func (p *InProcess) Client(scopes []string) (*sc.Client, error) {
	ts := sc.TokenFunc(func(_ context.Context, sandboxID string) (string, error) {
		return Mint(TokenOptions{Secret: p.secret, Tenant: p.o.Tenant, Subject: p.o.Subject, SessionID: sandboxID, Scopes: scopes, TTL: 15 * time.Minute, Now: p.o.Now})
	})
	return sc.New(sc.Options{
		Endpoint:   Endpoint,
		Tokens:     ts,
		HTTPClient: &http.Client{Transport: &localsandbox.Transport{Handler: p.Server}},
		UserAgent:  "nimbus-cli",
		WriteLimit: p.o.WriteLimit,
	})
}

// Close kills whatever the commands left running and waits for it.
func (p *InProcess) Close() error { return p.Server.Close() }
