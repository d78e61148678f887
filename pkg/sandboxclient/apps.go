package sandboxclient

import (
	"context"
	"strings"
)

// App is an exposed app (listApps, exposeApp, rotateLink).
type App struct {
	// Owner is the app's identity (wire "owner"): the owner given to
	// EnsureDurableApp for a durable app, else one the server derives
	// from the process (where and what it runs). It stays the same across
	// restarts, which is why a target can name it.
	Owner string `json:"owner"`
	// Name is the app's name (wire "name"), used in place of the port in
	// preview URLs; nil when the app is unnamed.
	Name *string `json:"name"`
	// Port is the TCP port the app serves or has reserved (wire "port");
	// nil when it has none, and then URL is nil too.
	Port *int `json:"port"`
	// PID is the pid of the process serving the app (wire "pid"); nil
	// when no process is running for it.
	PID *int64 `json:"pid"`
	// Status is "running", "starting", "stopped" or "failed" (wire
	// "status"). Only listApps sends it; it is empty in the results of
	// ExposeApp and RotateLink.
	Status string `json:"status,omitempty"`
	// Visibility is "scoped" (a preview URL needs a session:attach
	// credential) or "public" (the capability in the URL is the
	// credential), wire "visibility".
	Visibility string `json:"visibility"`
	// Capability is the 24-character lowercase-hex secret of a public
	// preview URL (wire "capability"); nil when the app has none. Anyone
	// holding it can reach a public app, so treat it as a credential;
	// RotateLink replaces it.
	Capability *string `json:"capability"`
	// Restart is the restart policy of the app's process, "never" or
	// "on-failure" (wire "restart"); empty when the server did not send
	// it.
	Restart string `json:"restart,omitempty"`
	// Diagnostic explains a failed app, such as the exit code of its
	// process (wire "diagnostic"); nil when there is nothing to report.
	Diagnostic *string `json:"diagnostic,omitempty"`
	// URL is the app's preview URL, built by this client from Port, Name,
	// Visibility and Capability (see ListApps); the server's "url" is
	// kept only when the client cannot build one. Nil when the app has no
	// port.
	URL *string `json:"url"`
	// ExecID is the execId tag of the command that started the app's
	// process (wire "execId"); empty when it was started without one.
	ExecID string `json:"execId,omitempty"`
}

// RemovedApp is the result of removeApp and removeDurableApp.
type RemovedApp struct {
	// Owner is the owner of the app that was looked up (wire "owner").
	Owner string `json:"owner"`
	// Removed reports whether there was an app to remove (wire
	// "removed"); false is not an error, so removal is safe to repeat.
	Removed bool `json:"removed"`
	// Port is the port the app held (wire "port"); nil when it held none.
	Port *int `json:"port"`
}

// DurableApp is the result of ensureDurableApp.
type DurableApp struct {
	// Port is the reserved port (wire "port"): the preferred port when it
	// was free, else one the server chose. The app's program should
	// listen on it.
	Port int `json:"port"`
	// Capability is the secret of the app's public preview URL (wire
	// "capability"); nil when there is none. Treat it as a credential.
	Capability *string `json:"capability"`
	// Visibility is "scoped" or "public" (wire "visibility").
	Visibility string `json:"visibility"`
}

// AppTarget names an app: a port or pid (int), an app name or owner
// (string), or one of the objects {port}, {pid}, {name}, {owner}.
type AppTarget = any

// ListApps lists the apps: every owner with a reservation or a server.
// URLs are built as PortURL builds them (the server's own URL is kept only
// when the client cannot build one), and an app without a port has none.
func (s *Sandbox) ListApps(ctx context.Context) ([]App, error) {
	var r []App
	if err := s.call(ctx, "listApps", nil, &r); err != nil {
		return nil, err
	}
	if r == nil {
		r = []App{}
	}
	for i := range r {
		s.appURL(&r[i])
	}
	return r, nil
}

// ExposeApp exposes the app behind target, with its URL as in ListApps.
func (s *Sandbox) ExposeApp(ctx context.Context, target AppTarget, opts ExposeOptions) (*App, error) {
	var r App
	if err := s.call(ctx, "exposeApp", []any{target, opts}, &r); err != nil {
		return nil, err
	}
	s.appURL(&r)
	return &r, nil
}

// RotateLink gives the app a new capability; old URLs stop working. Never
// retried.
func (s *Sandbox) RotateLink(ctx context.Context, target AppTarget) (*App, error) {
	var r App
	if err := s.call(ctx, "rotateLink", []any{target}, &r); err != nil {
		return nil, err
	}
	s.appURL(&r)
	return &r, nil
}

// appURL sets a.URL the way the SDK does: the URL this client builds for
// the app's port, name and capability wins, the server's stays when the
// client cannot build one, and an app without a port has none.
func (s *Sandbox) appURL(a *App) {
	if a.Port == nil {
		a.URL = nil
		return
	}
	o := URLOptions{Visibility: a.Visibility}
	if a.Name != nil {
		o.Name = *a.Name
	}
	if a.Capability != nil {
		o.Capability = *a.Capability
	}
	if u := s.PortURL(*a.Port, o); u != "" {
		a.URL = &u
	}
}

// RemoveApp removes the app behind target. A target that names nothing
// the server can find (no app, name, owner, listening or reserved port,
// or process) is a *RemoteError for which NoApp is true; a target that
// names an app with nothing left to remove is RemovedApp.Removed false.
func (s *Sandbox) RemoveApp(ctx context.Context, target AppTarget) (*RemovedApp, error) {
	var r RemovedApp
	if err := s.call(ctx, "removeApp", []any{target}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// DurableAppOptions are ensureDurableApp's argument.
type DurableAppOptions struct {
	// Owner is the durable identity to reserve a port for (wire "owner");
	// calling again with the same owner returns the same reservation.
	// Required.
	Owner string `json:"owner"`
	// PreferredPort is the port to reserve if it is free (wire
	// "preferredPort"); 0 lets the server choose.
	PreferredPort int `json:"preferredPort,omitempty"`
	// Visibility is "scoped" or "public" (wire "visibility"); "" leaves
	// it to the server (scoped), and any other value is treated as
	// scoped.
	Visibility string `json:"visibility,omitempty"`
}

// EnsureDurableApp reserves a durable app port for owner.
func (s *Sandbox) EnsureDurableApp(ctx context.Context, opts DurableAppOptions) (*DurableApp, error) {
	var r DurableApp
	if err := s.call(ctx, "ensureDurableApp", []any{opts}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// RemoveDurableApp releases owner's durable app.
func (s *Sandbox) RemoveDurableApp(ctx context.Context, owner string) (*RemovedApp, error) {
	var r RemovedApp
	if err := s.call(ctx, "removeDurableApp", []any{map[string]string{"owner": owner}}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// NoApp reports whether e is the Worker's refusal of an app target that
// names nothing: no app is named or owned so, no process has that pid, a
// port has no app, (exposeApp) nothing serves the port, or (rotateLink)
// the target has no link to rotate, not being exposed. The Worker gives these no code of their own (500
// E_NIMBUS_REMOTE_RPC, like any failure of an op), so they are told apart
// by their wording.
func (e *RemoteError) NoApp() bool {
	if e.Code != CodeRemoteRPC {
		return false
	}
	m := e.Message
	switch {
	case strings.HasPrefix(m, "no application is named or owned '"),
		strings.HasPrefix(m, "no application is named '"),
		strings.HasPrefix(m, "no application is owned by '"):
		return true
	case strings.HasPrefix(m, "nothing listens on port ") && strings.Contains(m, " and no process "):
		return true
	case strings.HasPrefix(m, "nothing is serving ") && strings.HasSuffix(m, " — start the server, then expose it"):
		// exposeApp of a port (or a bare number) nothing listens on
		// and no app has reserved.
		return true
	case e.NotExposed():
		// rotateLink of an app (a serving port) never exposed: no link.
		return true
	case strings.HasSuffix(m, " names no application — nothing to remove"),
		strings.HasSuffix(m, " is not running and has no launch record"):
		return true
	}
	return false
}

// NotExposed reports whether e is the server's refusal to rotate the link
// of an app that serves a port but was never exposed ("… is not exposed —
// nothing to rotate"): there is no link until it is exposed. It is one of
// the refusals NoApp recognises.
func (e *RemoteError) NotExposed() bool {
	return e.Code == CodeRemoteRPC && strings.HasSuffix(e.Message, " is not exposed — nothing to rotate")
}
