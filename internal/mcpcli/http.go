package mcpcli

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/localdev"
	"github.com/nimbus-sh/nimbus/pkg/mcpserver"
)

// HTTPPath is where the streamable HTTP transport is served.
const HTTPPath = "/mcp"

// KeyEnv is the variable client configurations read the access key from.
const KeyEnv = "NIMBUS_MCP_KEY"

// DefaultKeyFile is the access key's file under the user config directory.
func DefaultKeyFile(getenv func(string) string) (string, error) {
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		d, err := os.UserConfigDir()
		if err != nil {
			return "", clierr.New(exitcode.Config, clierr.CodeConfigMissing, "cannot find a user config directory for the MCP access key", "pass --http-key-file FILE")
		}
		dir = d
	}
	return filepath.Join(dir, "nimbus", "mcp-http.key"), nil
}

// LoadKey returns the access key in path, creating a random one (mode 0600)
// when the file does not exist. A key readable by other users is refused:
// anyone who can read it can drive the sandbox.
func LoadKey(path string) (key string, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if fi, serr := os.Stat(path); serr == nil && fi.Mode().Perm()&0o077 != 0 {
			return "", false, clierr.New(exitcode.NoPerm, CodeHTTPKey, fmt.Sprintf("the MCP access key %s is accessible to other users (mode %04o)", path, fi.Mode().Perm()), "run: chmod 600 "+path)
		}
		k := strings.TrimSpace(string(b))
		if len(k) < 16 || strings.ContainsAny(k, " \t\r\n") {
			return "", false, clierr.New(exitcode.Config, CodeHTTPKey, "the MCP access key in "+path+" must be one word of at least 16 characters", "delete the file to have a new key generated")
		}
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, clierr.Wrap(err, exitcode.Config, CodeHTTPKey, "cannot read the MCP access key "+path, "")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, clierr.Wrap(err, exitcode.CantCreate, CodeHTTPKey, "cannot create "+filepath.Dir(path), "pass --http-key-file FILE")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", false, err
	}
	key = hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadKey(path)
	}
	if err != nil {
		return "", false, clierr.Wrap(err, exitcode.CantCreate, CodeHTTPKey, "cannot write the MCP access key "+path, "pass --http-key-file FILE")
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		_ = os.Remove(path)
		return "", false, clierr.Wrap(err, exitcode.CantCreate, CodeHTTPKey, "cannot write the MCP access key "+path, "")
	}
	if err := f.Close(); err != nil {
		return "", false, err
	}
	return key, true, nil
}

// requireKey answers 401 before reading the body unless the request carries
// Authorization: Bearer <key>.
func requireKey(key string, next http.Handler) http.Handler {
	want := []byte("Bearer " + key)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="nimbus-mcp"`)
			http.Error(w, "missing or wrong access key: send Authorization: Bearer <the key in the --http-key-file>", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkHTTPAddr accepts only loopback addresses: the server acts on a
// sandbox with the user's credentials.
func checkHTTPAddr(addr string) error {
	if !localdev.IsLoopback(addr) {
		return clierr.New(exitcode.Usage, CodeHTTPAddr,
			"refusing to serve MCP on "+addr+": it is reachable from other machines, and the server acts with your sandbox credentials",
			"use a loopback address such as 127.0.0.1:8931")
	}
	return nil
}

func (o *Options) keyFile(f *cmdutil.Factory) (string, error) {
	if o.HTTPKeyFile != "" {
		return o.HTTPKeyFile, nil
	}
	return DefaultKeyFile(f.Getenv)
}

// httpListener is the prepared HTTP transport: the key is loaded and the
// port bound before any sandbox is touched, so those failures cost nothing.
type httpListener struct {
	ln      net.Listener
	key     string
	keyPath string
	created bool
}

func (o *Options) listenHTTP(f *cmdutil.Factory) (*httpListener, error) {
	path, err := o.keyFile(f)
	if err != nil {
		return nil, err
	}
	key, created, err := LoadKey(path)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", o.HTTPAddr)
	if err != nil {
		return nil, clierr.Wrap(err, exitcode.Unavailable, CodeHTTPAddr, "cannot listen on "+o.HTTPAddr+": "+err.Error(), "pick another address")
	}
	return &httpListener{ln: ln, key: key, keyPath: path, created: created}, nil
}

// serve serves the streamable HTTP transport at HTTPPath, behind the access
// key, until ctx ends. The URL goes to stdout.
func (l *httpListener) serve(ctx context.Context, f *cmdutil.Factory, srv *mcpserver.Server) error {
	ios := f.IOStreams
	mux := http.NewServeMux()
	mux.Handle(HTTPPath, requireKey(l.key, srv.HTTPHandler()))
	url := "http://" + l.ln.Addr().String() + HTTPPath
	fmt.Fprintln(ios.Out, url)
	how := "kept in "
	if l.created {
		how = "generated, kept in "
	}
	st := ios.Styles()
	fmt.Fprintf(ios.ErrOut, "%s serving MCP on %s\n  key     %s%s (clients send Authorization: Bearer <key>)\n  config  nimbus mcp --http %s --print-config claude|cursor|vscode\n",
		st.SuccessIcon(), st.Bold(url), how, l.keyPath, l.ln.Addr())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l.ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
	}
	return nil
}
