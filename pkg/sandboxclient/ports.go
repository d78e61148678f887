package sandboxclient

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/internal/idrule"
)

// Port is one listPorts entry.
type Port struct {
	// Port is the TCP port inside the sandbox (wire "port").
	Port int `json:"port"`
	// PID is the pid of the process listening on the port (wire "pid"); 0
	// when the server knows none.
	PID int64 `json:"pid"`
	// RegisteredAt is when the port was exposed, in milliseconds since
	// the Unix epoch (wire "registeredAt").
	RegisteredAt int64 `json:"registeredAt"`
	// Capability is the secret of the port's public preview URL (wire
	// "capability"). Treat it as a credential.
	Capability string `json:"capability"`
	// ExecID is the execId tag of the listening process (wire "execId");
	// empty when it has none.
	ExecID string `json:"execId,omitempty"`
}

// ExposedPort is the result of exposePort, plus the URL the client builds.
type ExposedPort struct {
	// Port is the exposed TCP port (wire "port").
	Port int `json:"port"`
	// Listening reports whether a process was listening on the port when
	// it was exposed (wire "listening"); a port can be exposed before its
	// server starts.
	Listening bool `json:"listening"`
	// PID is the pid of the listening process (wire "pid"); nil when none
	// listens.
	PID *int64 `json:"pid"`
	// RegisteredAt is when the port was first exposed, in milliseconds
	// since the Unix epoch (wire "registeredAt"); nil when the server did
	// not register it.
	RegisteredAt *int64 `json:"registeredAt"`
	// Capability is the secret of the port's public preview URL (wire
	// "capability"); nil when it has none. Treat it as a credential.
	Capability *string `json:"capability"`
	// Visibility is "scoped" or "public" (wire "visibility"); empty from
	// servers that do not send it.
	Visibility string `json:"visibility,omitempty"`
	// Owner is the identity of the app the port belongs to (wire
	// "owner"); nil when the server sends none.
	Owner *string `json:"owner,omitempty"`
	// Name is the app name the port is exposed under (wire "name"); nil
	// when unnamed.
	Name *string `json:"name,omitempty"`
	// ExecID is the execId tag of the listening process (wire "execId");
	// empty when it has none.
	ExecID string `json:"execId,omitempty"`
	// URL is built client side (the server returns none); "" without an
	// endpoint.
	URL string `json:"url,omitempty"`
}

// ExposeOptions are exposePort's and exposeApp's options.
type ExposeOptions struct {
	// Visibility is "scoped" (default) or "public".
	Visibility string `json:"visibility,omitempty"`
	// Name names the app.
	Name string `json:"name,omitempty"`
}

// UnexposeResult is the result of unexposePort.
type UnexposeResult struct {
	// Port is the port that was unexposed (wire "port").
	Port int `json:"port"`
	// OK is the server's "ok": whether the port was exposed before the
	// call.
	OK bool `json:"ok"`
}

// ListPorts lists the exposed ports.
func (s *Sandbox) ListPorts(ctx context.Context) ([]Port, error) {
	var r []Port
	if err := s.call(ctx, "listPorts", nil, &r); err != nil {
		return nil, err
	}
	for _, p := range r {
		if p.Port < 1 || p.Port > 65535 {
			return nil, malformed("listPorts", "a port number out of 1-65535: "+strconv.Itoa(p.Port))
		}
	}
	if r == nil {
		r = []Port{}
	}
	return r, nil
}

func validPort(p int) error {
	if p < 1 || p > 65535 {
		return &Error{Code: CodeInvalidArgument, Message: "port must be 1 to 65535, got " + strconv.Itoa(p)}
	}
	return nil
}

// ExposePort exposes port and returns it with its preview URL.
func (s *Sandbox) ExposePort(ctx context.Context, port int, opts ExposeOptions) (*ExposedPort, error) {
	if err := validPort(port); err != nil {
		return nil, err
	}
	var r ExposedPort
	if err := s.call(ctx, "exposePort", []any{port, opts}, &r); err != nil {
		return nil, err
	}
	name := ""
	if r.Name != nil {
		name = *r.Name
	} else if opts.Name != "" {
		name = opts.Name
	}
	capa := ""
	if r.Capability != nil {
		capa = *r.Capability
	}
	vis := r.Visibility
	if vis == "" {
		vis = opts.Visibility
	}
	r.URL = s.PortURL(port, URLOptions{Name: name, Visibility: vis, Capability: capa})
	return &r, nil
}

// UnexposePort removes a port exposure.
func (s *Sandbox) UnexposePort(ctx context.Context, port int) (*UnexposeResult, error) {
	if err := validPort(port); err != nil {
		return nil, err
	}
	var r UnexposeResult
	if err := s.call(ctx, "unexposePort", []any{port}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// URLOptions refine PortURL.
type URLOptions struct {
	// Name is an app name used instead of the port.
	Name string
	// Visibility "public" with a Capability gives the capability host.
	Visibility string
	// Capability is the 24-hex capability of a public exposure.
	Capability string
}

// HostSafe reports whether id can be used in preview host names: a lowercase
// DNS label (^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$) of at most 56 characters.
func HostSafe(id string) bool { return idrule.HostSafe(id) }

// PortURL builds the preview URL of a port (or named app) the way the SDK's
// ports.url does, except under a loopback preview host suffix (localhost):
// the SDK's https://<label>--<id>.localhost/ names no server, so the URL
// keeps the endpoint's scheme and port (http://3000--job-1.localhost:8787/
// for the endpoint http://127.0.0.1:8787), where the local server that
// serves such hosts listens. Without a suffix, against a loopback
// endpoint whose server named one (nimbus dev: see
// Options.PreviewHostSuffix), the URL is that server's preview host once
// an answer of it has been read (any call of this client), as the server
// isolates each preview there; a profile's PreviewBaseURL or
// PreviewPathStyle still wins. The URL carries no credential.
func (s *Sandbox) PortURL(port int, o URLOptions) string {
	label := strconv.Itoa(port)
	if o.Name != "" {
		label = o.Name
	}
	suffix, told := s.c.suffix, false
	if t := s.c.told.Load(); suffix == "" && t != nil && s.opts.PreviewBaseURL == "" {
		suffix, told = *t, true
	}
	if suffix != "" && !s.opts.PreviewPathStyle && HostSafe(s.id) {
		// nimbus dev, which names its suffix, serves no capability
		// hosts: its scoped host serves a public app too, to a
		// session:attach credential, as its path door did.
		if o.Visibility == "public" && o.Capability != "" && !told {
			label = o.Capability + "--" + label
		}
		return s.c.previewScheme(suffix) + "://" + label + "--" + s.id + "." + suffix + s.c.previewPort(suffix) + "/"
	}
	door := "/port/" + strconv.Itoa(port) + "/"
	if o.Name != "" {
		door = "/app/" + url.PathEscape(o.Name) + "/"
	}
	if s.opts.PreviewBaseURL != "" {
		base := strings.ReplaceAll(s.opts.PreviewBaseURL, "{sessionId}", url.PathEscape(s.id))
		return strings.TrimRight(base, "/") + door
	}
	if s.c.shown == "" {
		return ""
	}
	// Without the endpoint's userinfo: the URL is printed and handed to
	// browsers, and a basic-auth password must not travel with it.
	return s.c.shown + "/s/" + url.PathEscape(s.id) + door
}

// loopbackSuffix reports whether a preview host suffix keeps its hosts on
// this machine: localhost or a name under .localhost (RFC 6761).
func loopbackSuffix(suffix string) bool {
	suffix = strings.ToLower(suffix)
	return suffix == "localhost" || strings.HasSuffix(suffix, ".localhost")
}

// previewScheme is the scheme of preview hosts under suffix: the
// Worker's https, or the endpoint's own under a loopback suffix.
func (c *Client) previewScheme(suffix string) string {
	if loopbackSuffix(suffix) {
		return c.scheme
	}
	return "https"
}

// previewPort is the ":port" of preview hosts under suffix: the
// endpoint's port under a loopback suffix, else none.
func (c *Client) previewPort(suffix string) string {
	if loopbackSuffix(suffix) && c.port != "" {
		return ":" + c.port
	}
	return ""
}

// WaitPort polls listPorts every interval (clamped to 25ms–5s) until a
// process of the sandbox listens on port, and returns that registration.
// A registration without a pid (an exposure nothing serves yet) does not
// count. It returns ctx's error when ctx ends first: bound the wait with a
// deadline.
func (s *Sandbox) WaitPort(ctx context.Context, port int, interval time.Duration) (*Port, error) {
	if err := validPort(port); err != nil {
		return nil, err
	}
	interval = min(max(interval, 25*time.Millisecond), 5*time.Second)
	for {
		ps, err := s.ListPorts(ctx)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
			return nil, err
		}
		for i := range ps {
			if ps[i].Port == port && ps[i].PID > 0 {
				return &ps[i], nil
			}
		}
		if err := sleep(ctx, interval); err != nil {
			return nil, err
		}
	}
}
