package localsandbox

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nimbus-sh/nimbus/internal/atomicfile"
	"github.com/nimbus-sh/nimbus/internal/idrule"
	"github.com/nimbus-sh/nimbus/internal/localhost"
	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// Apps, locally. A Worker's session knows which program serves a port and
// gives every program an identity, its owner; the app verbs expose, name,
// rotate and remove applications by port, pid, name or owner. Here:
//
//   - a background process (startProcess) is an app once its process tree
//     listens on a TCP port (found through /proc on Linux, lsof elsewhere);
//     its owner is derived from where and what it runs,
//     "auto:<cwd>:<command>" (a Worker's derived owners are "auto:…" too),
//     so a restarted server is the same app;
//   - an exposure (exposePort, exposeApp, ensureDurableApp) is a record per
//     port: owner, name, visibility and capability. A port with a record
//     belongs to the record's owner, whichever process serves it: that is
//     what a reservation means, and locally nothing else can launch a
//     program "as" a durable owner;
//   - the records persist in the data directory next to (not inside) the
//     sandbox directory, so names, capabilities and reservations survive a
//     restart of nimbus dev as they survive a reset of a Durable Object;
//     destroy removes them.
//
// Preview doors are path-style only: /s/<id>/port/<n>/ and
// /s/<id>/app/<name>/, for exposed ports and named apps.

// exposure is the record of an exposed or reserved port.
type exposure struct {
	Port         int    `json:"port"`
	Owner        string `json:"owner,omitempty"`
	Name         string `json:"name,omitempty"`
	Visibility   string `json:"visibility"`
	Capability   string `json:"capability"`
	RegisteredAt int64  `json:"registeredAt"`
	// Durable marks a reservation made by ensureDurableApp.
	Durable bool `json:"durable,omitempty"`
}

// appTable holds a sandbox's exposures. It has its own lock, never held
// while taking the sandbox's or a process's.
type appTable struct {
	mu     sync.Mutex
	loaded bool
	// gone is set by destroy: nothing is saved any more, so an op that
	// raced the destroy cannot bring the records back.
	gone   bool
	byPort map[int]*exposure
	// live are the registrations of listening ports without a record:
	// each gets a capability (new for every new serving process), which
	// an exposure of the port adopts. Not persisted.
	live map[int]*liveReg
	// saved is the table as the state file has it (loaded or last
	// written): an op whose save fails is undone to it, so that an
	// error answer leaves nothing of the op in effect (a port exposed
	// that a restart forgets, a link rotated that still answers).
	saved map[int]savedExposure
	// savedLive are the registrations when saved was taken: one the op
	// adopted is given back on undo, so its capability stays valid.
	savedLive map[int]*liveReg
}

// savedExposure is a record and its content when the table was saved.
type savedExposure struct {
	e *exposure
	v exposure
}

// markSavedLocked records the table as what the state file holds.
func (t *appTable) markSavedLocked() {
	t.saved = make(map[int]savedExposure, len(t.byPort))
	for port, e := range t.byPort {
		t.saved[port] = savedExposure{e, *e}
	}
	t.savedLive = make(map[int]*liveReg, len(t.live))
	for port, r := range t.live {
		t.savedLive[port] = r
	}
}

// undoLocked puts the table back as it was saved: records the op added go,
// records it changed or removed come back (the same records, which
// pointers held elsewhere see), registrations it adopted return.
func (t *appTable) undoLocked() {
	t.byPort = make(map[int]*exposure, len(t.saved))
	for port, s := range t.saved {
		*s.e = s.v
		t.byPort[port] = s.e
	}
	for port, r := range t.savedLive {
		if t.live[port] == nil {
			if t.live == nil {
				t.live = map[int]*liveReg{}
			}
			t.live[port] = r
		}
	}
}

// liveReg is a listening port's registration.
type liveReg struct {
	pid          int64
	capability   string
	registeredAt int64
}

// liveRegLocked returns the registration of port served by p, minting one for a
// port not seen before or now served by another process.
func (sb *sandbox) liveRegLocked(t *appTable, port int, p *proc) *liveReg {
	if t.live == nil {
		t.live = map[int]*liveReg{}
	}
	r := t.live[port]
	if r == nil || r.pid != p.pid {
		r = &liveReg{pid: p.pid, capability: newCapability(), registeredAt: sb.s.nowMs()}
		t.live[port] = r
	}
	return r
}

// appStateVersion is written into the state file; a file of another
// version is not read (and is replaced on the next change).
const appStateVersion = 1

type appState struct {
	Version   int         `json:"version"`
	Exposures []*exposure `json:"exposures"`
}

// appStatePath is where the exposures of Durable Object do are kept.
func (s *Server) appStatePath(do string) string {
	return filepath.Join(s.opts.DataDir, "apps", do+".json")
}

// lockApps locks the table, loading it from disk on first use.
func (sb *sandbox) lockApps() *appTable {
	t := &sb.apps
	t.mu.Lock()
	if !t.loaded {
		t.loaded = true
		t.byPort = map[int]*exposure{}
		if b, err := os.ReadFile(sb.s.appStatePath(sb.do)); err == nil {
			var st appState
			if json.Unmarshal(b, &st) == nil && st.Version == appStateVersion {
				for _, e := range st.Exposures {
					if e != nil && e.Port >= 1 && e.Port <= 65535 {
						t.byPort[e.Port] = e
					}
				}
			}
		}
		t.markSavedLocked()
	}
	return t
}

// saveAppsLocked writes the table (its lock held): to a temporary file renamed
// into place, so a crash leaves the old state or the new one. When it
// cannot, the table is undone to what the file holds: the op answers an
// error and none of it stays in effect.
func (sb *sandbox) saveAppsLocked() *sandboxserver.Error {
	t := &sb.apps
	if t.gone {
		return sandboxserver.RPCError("cannot save the sandbox's apps: the sandbox was destroyed")
	}
	if err := sb.writeAppsLocked(); err != nil {
		t.undoLocked()
		sb.s.logHost("cannot save the sandbox's apps", sb.id, err)
		return sandboxserver.RPCError("cannot save the sandbox's apps: " + hostErrText(err))
	}
	t.markSavedLocked()
	return nil
}

// writeAppsLocked writes the table to its state file (removes the file
// when the table is empty).
func (sb *sandbox) writeAppsLocked() error {
	t := &sb.apps
	p := sb.s.appStatePath(sb.do)
	if len(t.byPort) == 0 {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	st := appState{Version: appStateVersion}
	for _, e := range t.byPort {
		st.Exposures = append(st.Exposures, e)
	}
	sort.Slice(st.Exposures, func(i, j int) bool { return st.Exposures[i].Port < st.Exposures[j].Port })
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(p, b)
}

// removeApps deletes the records of Durable Object do, under the table's
// lock when the sandbox (sb, may be nil) is loaded, and marks the table
// gone.
func (s *Server) removeApps(sb *sandbox, do string) error {
	if sb != nil {
		t := sb.lockApps()
		defer t.mu.Unlock()
		t.gone, t.byPort, t.live = true, map[int]*exposure{}, nil
	}
	if err := os.Remove(s.appStatePath(do)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// writeFileAtomic replaces the host file p (mode 0600 whatever it had: it
// holds the apps' capabilities; its directory 0700 created if needed) with
// data. Synced: the table is written once per expose or unexpose, and a
// power loss must not empty the reservations that docs/compat.md promises
// survive a restart.
func writeFileAtomic(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, data, atomicfile.Options{Perm: 0o600, Exact: true, Sync: true})
}

func (t *appTable) byName(name string) *exposure {
	for _, e := range t.byPort {
		if e.Name == name {
			return e
		}
	}
	return nil
}

func (t *appTable) byOwner(owner string) *exposure {
	var best *exposure
	for _, e := range t.byPort {
		if e.Owner == owner && (best == nil || e.Port < best.Port) {
			best = e
		}
	}
	return best
}

// owner is the identity of a background process: where and what it runs,
// so the same server started again is the same app.
func (p *proc) owner() string { return "auto:" + p.cwd + ":" + p.command }

// hostPID returns the host pid of the root of the process's tree (its
// init), ok false once it exited.
func (p *proc) hostPID() (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exitCode != nil || p.cmd == nil || p.cmd.Pid() == 0 {
		return 0, false
	}
	return p.cmd.Pid(), true
}

// listeners maps every TCP port a running background process of the
// sandbox listens on (its own or a descendant's socket) to that process.
func (sb *sandbox) listeners(ctx context.Context) map[int]*proc {
	sb.mu.Lock()
	leaders := make(map[int]*proc, len(sb.procs))
	for _, p := range sb.procs {
		if hp, ok := p.hostPID(); ok {
			leaders[hp] = p
		}
	}
	sb.mu.Unlock()
	if len(leaders) == 0 {
		return map[int]*proc{}
	}
	return hostListeners(ctx, leaders)
}

// portOf returns the lowest port p listens on, 0 if none.
func portOf(ls map[int]*proc, p *proc) int {
	best := 0
	for port, q := range ls {
		if q == p && (best == 0 || port < best) {
			best = port
		}
	}
	return best
}

// resolved is what an app target names.
type resolved struct {
	owner string
	port  int
	rec   *exposure // the port's record, if any
	live  *proc     // the process serving the port, if known
}

// resolveTarget finds what t names, the table locked, ls the current
// listeners: a bare number is a port when something listens on it or a
// record names it, else a pid; a string is a name, else an owner.
func (sb *sandbox) resolveTarget(t *appTable, tg sandboxserver.AppTarget, ls map[int]*proc) (*resolved, *sandboxserver.Error) {
	byPort := func(port int) *resolved {
		r := &resolved{port: port, rec: t.byPort[port], live: ls[port]}
		switch {
		case r.rec != nil && r.rec.Owner != "":
			r.owner = r.rec.Owner
		case r.live != nil:
			r.owner = r.live.owner()
		}
		return r
	}
	byPID := func(pid float64) *resolved {
		p := sb.proc(int64(pid))
		if p == nil || pid != float64(int64(pid)) {
			return nil
		}
		r := &resolved{owner: p.owner(), port: portOf(ls, p)}
		if r.port == 0 {
			if e := t.byOwner(r.owner); e != nil {
				r.port = e.Port
			}
		}
		if r.port != 0 {
			r.rec, r.live = t.byPort[r.port], ls[r.port]
		}
		return r
	}
	byOwner := func(owner string) *resolved {
		if e := t.byOwner(owner); e != nil {
			return &resolved{owner: owner, port: e.Port, rec: e, live: ls[e.Port]}
		}
		var found *proc
		for _, p := range sb.procList() {
			// The running one, else the latest.
			if p.owner() == owner && (found == nil || found.exited()) {
				found = p
			}
		}
		if found == nil {
			return nil
		}
		r := &resolved{owner: owner, port: portOf(ls, found)}
		if r.port != 0 {
			r.rec, r.live = t.byPort[r.port], ls[r.port]
		}
		return r
	}
	byName := func(name string) *resolved {
		e := t.byName(name)
		if e == nil {
			return nil
		}
		return &resolved{owner: e.Owner, port: e.Port, rec: e, live: ls[e.Port]}
	}
	validPort := func(f float64) *sandboxserver.Error {
		if f != float64(int(f)) || f < 1 || f > 65535 {
			return sandboxserver.RPCError("Invalid port: " + sandboxserver.JSNumber(f))
		}
		return nil
	}
	switch tg.Kind {
	case sandboxserver.TargetNumber:
		n := tg.Num
		if n != float64(int64(n)) || n <= 0 {
			return nil, sandboxserver.RPCError(tg.String() + " is not a port or a pid")
		}
		if n <= 65535 && (t.byPort[int(n)] != nil || ls[int(n)] != nil || listening(int(n))) {
			return byPort(int(n)), nil
		}
		if r := byPID(n); r != nil {
			return r, nil
		}
		if n <= 65535 {
			return byPort(int(n)), nil
		}
		return nil, sandboxserver.RPCError("nothing listens on port " + sandboxserver.JSNumber(n) + " and no process " + sandboxserver.JSNumber(n) + " exists")
	case sandboxserver.TargetString:
		if r := byName(tg.Str); r != nil {
			return r, nil
		}
		if r := byOwner(tg.Str); r != nil {
			return r, nil
		}
		return nil, sandboxserver.RPCError("no application is named or owned '" + tg.Str + "'")
	case sandboxserver.TargetPort:
		if err := validPort(tg.Num); err != nil {
			return nil, err
		}
		return byPort(int(tg.Num)), nil
	case sandboxserver.TargetPID:
		if r := byPID(tg.Num); r != nil {
			return r, nil
		}
		return nil, sandboxserver.RPCError(tg.String() + " is not running and has no launch record")
	case sandboxserver.TargetName:
		if r := byName(tg.Str); r != nil {
			return r, nil
		}
		return nil, sandboxserver.RPCError("no application is named '" + tg.Str + "'")
	}
	if r := byOwner(tg.Str); r != nil {
		return r, nil
	}
	return nil, sandboxserver.RPCError("no application is owned by '" + tg.Str + "'")
}

// procList returns the sandbox's background processes, oldest first.
func (sb *sandbox) procList() []*proc {
	sb.mu.Lock()
	out := make([]*proc, 0, len(sb.procs))
	for _, p := range sb.procs {
		out = append(out, p)
	}
	sb.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

// applyExposure writes an exposure of port (the table locked): the record
// is created with a fresh capability, or updated; owner, when not empty,
// claims a record that has none; a name must be valid and free.
func (sb *sandbox) applyExposure(t *appTable, port int, owner string, o sandboxserver.ExposeOptions) (*exposure, *sandboxserver.Error) {
	e := t.byPort[port]
	if o.Name != nil {
		if !sandboxserver.ValidAppName(*o.Name) {
			return nil, sandboxserver.RPCError("'" + *o.Name + "' is not a valid app name: one DNS label, not all digits, not 24 hex")
		}
		if other := t.byName(*o.Name); other != nil && other.Port != port {
			return nil, sandboxserver.RPCError("app name '" + *o.Name + "' is already taken by port " + strconv.Itoa(other.Port) + " (remove or rename that app first)")
		}
	}
	if e != nil && e.Owner != "" && owner != "" && e.Owner != owner {
		return nil, sandboxserver.RPCError("port " + strconv.Itoa(port) + " is held by owner '" + e.Owner + "' (remove that app first)")
	}
	if e == nil {
		e = &exposure{Port: port, Visibility: "scoped", Capability: newCapability(), RegisteredAt: sb.s.nowMs()}
		// A listening port's registration becomes the record: the
		// capability already handed out stays valid.
		if r := t.live[port]; r != nil {
			e.Capability, e.RegisteredAt = r.capability, r.registeredAt
			delete(t.live, port)
		}
		t.byPort[port] = e
	}
	if e.Owner == "" {
		e.Owner = owner
	}
	if o.Visibility != "" {
		e.Visibility = o.Visibility
	}
	if o.Name != nil {
		e.Name = *o.Name
	}
	return e, sb.saveAppsLocked()
}

// appOp runs the app verbs.
func (sb *sandbox) appOp(ctx context.Context, c *sandboxserver.Call) (any, bool, *sandboxserver.Error) {
	switch c.Op {
	case "listApps":
		return sb.listApps(ctx, c), true, nil
	case "ensureDurableApp":
		in, aerr := c.DurableApp(0)
		if aerr != nil {
			return nil, false, aerr
		}
		return sb.ensureDurableApp(in)
	case "removeDurableApp":
		owner, aerr := c.OwnerArg(0)
		if aerr != nil {
			return nil, false, aerr
		}
		if owner == "" {
			return nil, false, sandboxserver.RPCError("removeDurableApp: owner must be a non-empty string")
		}
		return sb.removeOwner(ctx, owner)
	}
	tg, aerr := c.AppTarget(0)
	if aerr != nil {
		return nil, false, aerr
	}
	var o sandboxserver.ExposeOptions
	if c.Op == "exposeApp" {
		if o, aerr = c.ExposeOptions(1); aerr != nil {
			return nil, false, aerr
		}
		if sb.s.opts.NoBackground {
			return nil, false, sandboxserver.RPCError("app previews are not available with this backend: " + sb.s.opts.NoBackgroundHint)
		}
	}
	ls := sb.listeners(ctx)
	t := sb.lockApps()
	r, aerr := sb.resolveTarget(t, tg, ls)
	if aerr != nil || c.Op == "removeApp" {
		t.mu.Unlock()
		if aerr != nil {
			return nil, false, aerr
		}
		if r.owner == "" {
			return nil, false, sandboxserver.RPCError(tg.String() + " names no application — nothing to remove")
		}
		return sb.removeOwner(ctx, r.owner)
	}
	defer t.mu.Unlock()
	if c.Op == "rotateLink" {
		if r.port == 0 || r.rec == nil {
			return nil, false, sandboxserver.RPCError(tg.String() + " is not exposed — nothing to rotate")
		}
		r.rec.Capability = newCapability()
		if aerr := sb.saveAppsLocked(); aerr != nil {
			return nil, false, aerr
		}
		owner := r.owner
		if owner == "" {
			owner = r.rec.Owner
		}
		return sb.exposedApp(ctx, r.rec, owner, r.live), true, nil
	}
	// exposeApp
	if r.port == 0 {
		return nil, false, sandboxserver.RPCError(tg.String() + " has not bound a port yet — expose it once it is listening")
	}
	if r.owner == "" {
		return nil, false, sandboxserver.RPCError("nothing is serving " + tg.String() + " — start the server, then expose it")
	}
	e, aerr := sb.applyExposure(t, r.port, r.owner, o)
	if aerr != nil {
		return nil, false, aerr
	}
	return sb.exposedApp(ctx, e, r.owner, ls[r.port]), true, nil
}

// exposedApp is the answer of exposeApp and rotateLink.
func (sb *sandbox) exposedApp(ctx context.Context, e *exposure, owner string, live *proc) map[string]any {
	out := map[string]any{
		"owner": owner, "name": nullable(e.Name), "port": e.Port, "pid": nil,
		"capability": e.Capability, "visibility": e.Visibility, "url": sb.appURL(ctx, e),
	}
	if live != nil {
		out["pid"] = live.pid
		if live.execID != "" {
			out["execId"] = live.execID
		}
	}
	return out
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// appURL is the browser URL of an exposure on the origin the request came
// to (null in process, where there is none): on a loopback name, for a
// host-safe id, its preview host (<name or port>--<id>.localhost on the
// port the request came to); otherwise the named door if it has a name,
// else the port door. It carries no credential.
func (sb *sandbox) appURL(ctx context.Context, e *exposure) any {
	origin := originOf(ctx)
	if origin == "" {
		return nil
	}
	label := strconv.Itoa(e.Port)
	if e.Name != "" {
		label = e.Name
	}
	if scheme, host, ok := strings.Cut(origin, "://"); ok && localhost.Is(host) && idrule.HostSafe(sb.id) {
		if o, ok := hostOrigin(scheme == "https", host, sb.id, label); ok {
			return o + "/"
		}
	}
	door := "/port/" + label + "/"
	if e.Name != "" {
		door = "/app/" + label + "/"
	}
	return origin + "/s/" + url.PathEscape(sb.id) + door
}

// listApps answers one row per owner: every record that has one, and every
// running background process that listens on a port no record holds.
func (sb *sandbox) listApps(ctx context.Context, _ *sandboxserver.Call) []any {
	ls := sb.listeners(ctx)
	procs := sb.procList()
	t := sb.lockApps()
	type row struct {
		owner string
		rec   *exposure
		port  int
		live  *proc
	}
	var rows []*row
	seen := map[string]*row{}
	for _, e := range t.byPort {
		if e.Owner == "" {
			continue
		}
		if r := seen[e.Owner]; r != nil {
			// One row per owner: its lowest port.
			if e.Port > r.port {
				continue
			}
			r.rec, r.port, r.live = e, e.Port, ls[e.Port]
			continue
		}
		r := &row{owner: e.Owner, rec: e, port: e.Port, live: ls[e.Port]}
		seen[e.Owner] = r
		rows = append(rows, r)
	}
	var recs []exposure
	for _, r := range rows {
		recs = append(recs, *r.rec)
	}
	held := map[int]bool{}
	for port := range t.byPort {
		held[port] = true
	}
	t.mu.Unlock()
	for i, r := range rows {
		r.rec = &recs[i]
	}
	ports := make([]int, 0, len(ls))
	for port := range ls {
		ports = append(ports, port)
	}
	sort.Ints(ports)
	for _, port := range ports {
		p := ls[port]
		if held[port] || seen[p.owner()] != nil {
			continue
		}
		r := &row{owner: p.owner(), port: port, live: p}
		seen[r.owner] = r
		rows = append(rows, r)
	}
	out := make([]any, 0, len(rows))
	for _, r := range rows {
		// The process the app runs as: the one serving its port, else its
		// latest background process.
		p := r.live
		if p == nil {
			for _, q := range procs {
				if q.owner() == r.owner {
					p = q
				}
			}
		}
		m := map[string]any{
			"owner": r.owner, "name": nil, "port": nil, "pid": nil, "status": "stopped",
			"visibility": "scoped", "capability": nil, "restart": "never", "diagnostic": nil, "url": nil,
		}
		if r.port != 0 {
			m["port"] = r.port
		}
		if r.rec != nil {
			m["name"], m["visibility"], m["capability"], m["url"] = nullable(r.rec.Name), r.rec.Visibility, r.rec.Capability, sb.appURL(ctx, r.rec)
		}
		if p != nil {
			if p.restart != "" {
				m["restart"] = p.restart
			}
			if p.execID != "" {
				m["execId"] = p.execID
			}
			p.mu.Lock()
			switch {
			case p.exitCode == nil:
				m["pid"] = p.pid
				m["status"] = "starting"
				if r.live == p {
					m["status"] = "running"
				}
			case *p.exitCode != 0 && p.killedBy == "":
				m["status"] = "failed"
				m["diagnostic"] = "pid " + strconv.FormatInt(p.pid, 10) + " exited with code " + strconv.Itoa(*p.exitCode)
			}
			p.mu.Unlock()
		} else if r.port != 0 && listening(r.port) {
			// A reserved port something outside the background processes
			// serves.
			m["status"] = "running"
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].(map[string]any)["owner"].(string) < out[j].(map[string]any)["owner"].(string)
	})
	return out
}

// ensureDurableApp reserves (or re-answers) owner's port: the preferred
// one when it is free, else the first free port from 3000. The capability
// is minted here, so a URL handed out before the app ever starts is the
// one it keeps.
func (sb *sandbox) ensureDurableApp(in sandboxserver.DurableApp) (any, bool, *sandboxserver.Error) {
	if in.Owner == "" {
		return nil, false, sandboxserver.RPCError("ensureDurableApp: owner must be a non-empty string")
	}
	preferred := 0
	if in.PreferredPort != 0 {
		f := in.PreferredPort
		if f != float64(int(f)) || f < 1 || f > 65535 {
			return nil, false, sandboxserver.RPCError("Invalid port: " + sandboxserver.JSNumber(f))
		}
		preferred = int(f)
	}
	t := sb.lockApps()
	defer t.mu.Unlock()
	e := t.byOwner(in.Owner)
	if e == nil {
		port := 0
		free := func(p int) bool { return t.byPort[p] == nil && bindable(p) }
		if preferred != 0 && free(preferred) {
			port = preferred
		}
		for p := 3000; port == 0 && p <= 65535; p++ {
			if free(p) {
				port = p
			}
		}
		if port == 0 {
			return nil, false, sandboxserver.RPCError("ensureDurableApp: no free port for '" + in.Owner + "'")
		}
		e = &exposure{Port: port, Owner: in.Owner, Visibility: "scoped", Capability: newCapability(), RegisteredAt: sb.s.nowMs()}
		t.byPort[port] = e
	}
	e.Durable = true
	if in.Visibility != "" {
		e.Visibility = in.Visibility
	}
	if aerr := sb.saveAppsLocked(); aerr != nil {
		return nil, false, aerr
	}
	return map[string]any{"port": e.Port, "capability": e.Capability, "visibility": e.Visibility}, true, nil
}

// bindable reports whether a server could listen on the port now.
func bindable(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// removeOwner ends an application: its running background processes (and
// whatever serves its ports) are killed and its records removed. removed
// is false only when nothing of it existed; port is the released one.
func (sb *sandbox) removeOwner(ctx context.Context, owner string) (any, bool, *sandboxserver.Error) {
	ls := sb.listeners(ctx)
	t := sb.lockApps()
	var ports []int
	for port, e := range t.byPort {
		if e.Owner == owner {
			ports = append(ports, port)
		}
	}
	sort.Ints(ports)
	victims := map[*proc]bool{}
	for _, port := range ports {
		if p := ls[port]; p != nil {
			victims[p] = true
		}
		delete(t.byPort, port)
	}
	if len(ports) > 0 {
		if aerr := sb.saveAppsLocked(); aerr != nil {
			// The records are back: the app stays as it was, running.
			t.mu.Unlock()
			return nil, false, aerr
		}
	}
	t.mu.Unlock()
	for _, p := range sb.procList() {
		if p.owner() == owner {
			victims[p] = true
		}
	}
	killed := 0
	var dying []*proc
	for p := range victims {
		if p.kill(syscall.SIGKILL, "SIGKILL") {
			killed++
			dying = append(dying, p)
		}
	}
	// The answer comes once the app is gone, so a listApps that follows
	// does not show it running (bounded: a process that outlives SIGKILL
	// is reported by the next listing).
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, p := range dying {
		select {
		case <-p.endedChan:
		case <-wctx.Done():
		}
	}
	var port any
	if len(ports) > 0 {
		port = ports[0]
	}
	return map[string]any{"owner": owner, "removed": len(ports) > 0 || killed > 0, "port": port}, true, nil
}

// existingSandbox returns the sandbox of Durable Object name do if it is
// loaded or exists on disk, without creating one: a preview request must
// not create a sandbox.
// A sandbox being destroyed has nothing to preview (and must not be
// reopened in the directory being removed).
func (s *Server) existingSandbox(do, id string) *sandbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sb := s.sandboxes[do]; sb != nil {
		return sb
	}
	if g := s.gates[do]; s.closed || g != nil && g.destroying != nil {
		return nil
	}
	if _, err := os.Stat(s.SandboxDir(do)); err != nil {
		return nil
	}
	return s.loadLocked(do, id)
}

// originKey carries the origin a request came to (scheme and host), for
// the URLs the app verbs answer; inProcessKey marks requests of the
// in-process Transport, which have no origin a browser could use.
type (
	originKey    struct{}
	inProcessKey struct{}
)

// withOrigin records the origin r came to (scheme and host) in ctx, for
// the URLs the app verbs answer. Only those verbs need it, so it is not
// done for every request.
func withOrigin(ctx context.Context, r *http.Request) context.Context {
	if r == nil || r.Host == "" || r.Context().Value(inProcessKey{}) != nil {
		return ctx
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return context.WithValue(ctx, originKey{}, scheme+"://"+r.Host)
}

// originOf returns the origin withOrigin recorded, "" if none.
func originOf(ctx context.Context) string {
	o, _ := ctx.Value(originKey{}).(string)
	return o
}
