package mcpcli

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/localdev"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/internal/portnum"
	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/mcpserver"
)

// HTTPPath is where the streamable HTTP transport is served.
const HTTPPath = "/mcp"

// KeyEnv is the variable client configurations read the access key from.
const KeyEnv = "NIMBUS_MCP_KEY"

// DefaultKeyFile is the access key's file in nimbus's config directory
// (~/.config/nimbus on Linux; docs/files.md for the others).
func DefaultKeyFile(f *cmdutil.Factory) (string, error) {
	dir, err := f.Paths().ConfigDir()
	if err != nil {
		return "", clierr.New(exitcode.Config, clierr.CodeConfigMissing, "cannot find a config directory for the MCP access key", "pass --http-key-file FILE")
	}
	return filepath.Join(dir, "nimbus", "mcp-http.key"), nil
}

// LoadKey returns the access key in path, creating a random one (mode 0600)
// when the file does not exist. A key readable by other users is refused:
// anyone who can read it can drive the sandbox.
func LoadKey(path string) (key string, created bool, err error) {
	key, created, err = localdev.LoadOrCreateSecret(path, "the MCP access key", CodeHTTPKey)
	if err == nil && (len(key) < 16 || strings.ContainsAny(key, " \t\r\n")) {
		return "", false, clierr.New(exitcode.Config, CodeHTTPKey, "the MCP access key in "+path+" must be one word of at least 16 characters", "delete the file to have a new one generated")
	}
	return key, created, err
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

// refuseForeign answers 403, before the key is looked at or a body read,
// to requests nimbus dev refuses as well: a Host header that names
// something other than this server (DNS rebinding: a page whose name
// resolves to 127.0.0.1 still sends its own name) and cross-origin browser
// requests (Sec-Fetch-Site or Origin of another site). The Host rule is
// nimbus dev's (localsandbox.HostPolicy): localhost, *.localhost and
// loopback addresses.
func refuseForeign(ln net.Addr, next http.Handler) http.Handler {
	hosts := localsandbox.NewHostPolicy(ln, nil)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "E_CROSS_SITE_REFUSED: cross-origin request refused: a web page cannot drive this MCP server", http.StatusForbidden)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hosts.Allow(r.Host) {
			http.Error(w, localsandbox.CodeHostNotAllowed+": Host "+strconv.Quote(clip(r.Host))+" is not allowed: this server answers to localhost and loopback addresses only (protection against DNS rebinding)", http.StatusForbidden)
			return
		}
		cop.Handler(next).ServeHTTP(w, r)
	})
}

// clip bounds a client-chosen string before it is echoed.
func clip(s string) string {
	if len(s) > 100 {
		s = s[:100]
	}
	return s
}

// checkHTTPAddr accepts only loopback addresses: the server acts on a
// sandbox with the user's credentials.
func checkHTTPAddr(addr string) error {
	if err := localdev.AddrForm("--http", addr, "127.0.0.1:8931"); err != nil {
		return err
	}
	if !localdev.IsLoopback(addr) {
		return clierr.New(exitcode.Usage, CodeHTTPAddr,
			"refusing to serve MCP on "+addr+": it is reachable from other machines, and the server acts with your sandbox credentials",
			"use a loopback address such as 127.0.0.1:8931")
	}
	return nil
}

// anyPort reports whether addr leaves the port to the kernel (":0", or
// no port at all).
func anyPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	n, err := portnum.Parse(port, 0)
	return port == "" || err == nil && n == 0
}

func (o *Options) keyFile(f *cmdutil.Factory) (string, error) {
	if o.HTTPKeyFile != "" {
		return o.HTTPKeyFile, nil
	}
	return DefaultKeyFile(f)
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
		// 73, as nimbus dev and forward: retrying (69) does not free a
		// taken port.
		return nil, clierr.Wrap(err, exitcode.CantCreate, CodeHTTPAddr, "cannot listen on "+o.HTTPAddr+": "+err.Error(), "pick another address")
	}
	return &httpListener{ln: ln, key: key, keyPath: path, created: created}, nil
}

// serve serves the streamable HTTP transport at HTTPPath, behind the access
// key, until ctx ends. The URL goes to stdout.
func (l *httpListener) serve(ctx context.Context, f *cmdutil.Factory, cmd *cobra.Command, logger *slog.Logger, srv *mcpserver.Server) error {
	ios := f.IOStreams
	mux := http.NewServeMux()
	mux.Handle(HTTPPath, requireKey(l.key, srv.HTTPHandler()))
	url := "http://" + l.ln.Addr().String() + HTTPPath
	fmt.Fprintln(ios.Out, url)
	how := "kept in "
	if l.created {
		how = "generated, kept in "
	}
	say(f, logger, fmt.Sprintf("serving MCP on %s\n  key     %s%s (clients send Authorization: Bearer <key>)\n  config  %s",
		url, how, l.keyPath, printConfigCommand(cmd, l.ln.Addr().String())), "url", url, "keyFile", l.keyPath)
	// The bounds of nimbus dev: slow or idle clients cannot pile up.
	return localdev.Serve(ctx, l.ln, refuseForeign(l.ln.Addr(), mux))
}
