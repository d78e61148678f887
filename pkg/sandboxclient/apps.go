package sandboxclient

import "context"

// App is an exposed app (listApps, exposeApp, rotateLink).
type App struct {
	Owner      string  `json:"owner"`
	Name       *string `json:"name"`
	Port       *int    `json:"port"`
	PID        *int64  `json:"pid"`
	Status     string  `json:"status,omitempty"`
	Visibility string  `json:"visibility"`
	Capability *string `json:"capability"`
	Restart    string  `json:"restart,omitempty"`
	Diagnostic *string `json:"diagnostic,omitempty"`
	URL        *string `json:"url"`
	ExecID     string  `json:"execId,omitempty"`
}

// RemovedApp is the result of removeApp and removeDurableApp.
type RemovedApp struct {
	Owner   string `json:"owner"`
	Removed bool   `json:"removed"`
	Port    *int   `json:"port"`
}

// DurableApp is the result of ensureDurableApp.
type DurableApp struct {
	Port       int     `json:"port"`
	Capability *string `json:"capability"`
	Visibility string  `json:"visibility"`
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

// RemoveApp removes the app behind target.
func (s *Sandbox) RemoveApp(ctx context.Context, target AppTarget) (*RemovedApp, error) {
	var r RemovedApp
	if err := s.call(ctx, "removeApp", []any{target}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// DurableAppOptions are ensureDurableApp's argument.
type DurableAppOptions struct {
	Owner         string `json:"owner"`
	PreferredPort int    `json:"preferredPort,omitempty"`
	Visibility    string `json:"visibility,omitempty"`
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
