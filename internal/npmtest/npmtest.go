// Package npmtest is an in-process fake npm registry for tests. It serves
// packuments (abbreviated or full, as the Accept header asks) and tarballs
// at the real registry's paths, answers 404 like the registry for unknown
// packages and unescaped scoped names, records every request and can be
// switched into failure modes: wrong integrity, failing or truncated
// answers, and a tarball that hangs until released.
package npmtest

import (
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-sh/nimbus/internal/reqlog"
)

// Request is one recorded request.
type Request struct {
	Method string
	Path   string // escaped, as sent
	Accept string
	// Authorization is the header as received ("" without one).
	Authorization string
}

// Fault makes matching requests fail.
type Fault struct {
	// PathSuffix matches the end of the escaped path ("" matches all).
	PathSuffix string
	// Status is answered instead of the resource (0 with Truncate).
	Status int
	// RetryAfter, when set, is sent as the Retry-After header of a Status
	// answer.
	RetryAfter string
	// Truncate sends half of the body and then closes the connection.
	Truncate bool
	// Stall sends the headers and half of the body, then sends nothing
	// more until the client goes away (a registry or proxy that hangs
	// mid-answer).
	Stall bool
	// Times is how many matching requests fail; 0 means all.
	Times int
}

type version struct {
	name, version string
	tarball       []byte
	integrity     string
	shasum        string
	license       string
	// tarballURL rewrites the tarball URL the packument lists.
	tarballURL func(string) string
}

// Server is the fake registry.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	packages map[string]map[string]*version // name -> version -> data
	order    map[string][]string
	token    string
	// log records the requests and holds the faults; it has a lock of
	// its own.
	log reqlog.Log[Request, Fault]
	// conns lets ResetRequests wait for requests already sent.
	conns reqlog.Conns
}

// RequireToken makes the registry private: every request without
// "Authorization: Bearer <tok>" is answered 401, as npm registries do.
func (s *Server) RequireToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = tok
}

// New starts an empty registry.
func New() *Server {
	s := &Server{packages: map[string]map[string]*version{}, order: map[string][]string{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Server.Config.ConnState = s.conns.ConnState
	s.Server.Start()
	return s
}

// Registry is the value for npm's registry setting.
func (s *Server) Registry() string { return s.URL + "/" }

// Integrity returns the SRI sha512 of data, as the registry lists it.
func Integrity(data []byte) string {
	sum := sha512.Sum512(data)
	return "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
}

// PublishOption changes what Publish lists.
type PublishOption func(*version)

// WithIntegrity lists integrity instead of the tarball's real hash.
func WithIntegrity(integrity string) PublishOption {
	return func(v *version) { v.integrity = integrity }
}

// WithTarballURL lists rewrite(url) as the tarball URL instead of url, the
// registry's own (a private registry's signed URL, a mirror elsewhere);
// the tarball is still served at its path, whatever the query.
func WithTarballURL(rewrite func(url string) string) PublishOption {
	return func(v *version) { v.tarballURL = rewrite }
}

// WithLicense sets the license field of the full packument.
func WithLicense(l string) PublishOption { return func(v *version) { v.license = l } }

// Publish adds (or replaces) a version of a package with its tarball.
func (s *Server) Publish(name, ver string, tarball []byte, opts ...PublishOption) {
	sum := sha1.Sum(tarball)
	v := &version{name: name, version: ver, tarball: slices.Clone(tarball),
		integrity: Integrity(tarball), shasum: hex.EncodeToString(sum[:])}
	for _, o := range opts {
		o(v)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.packages[name] == nil {
		s.packages[name] = map[string]*version{}
	}
	if _, ok := s.packages[name][ver]; !ok {
		s.order[name] = append(s.order[name], ver)
	}
	s.packages[name][ver] = v
}

// AddFault installs a fault.
func (s *Server) AddFault(f Fault) { s.log.AddFault("", f.PathSuffix, f.Times, f) }

// Requests returns the recorded requests.
func (s *Server) Requests() []Request { return s.log.Requests() }

// ResetRequests forgets the recorded requests.
// Requests a client sent before (a CLI run that has exited) are
// recorded first, so that they are not counted after the reset.
func (s *Server) ResetRequests() {
	s.conns.WaitIdle(2 * time.Second)
	s.log.Reset()
}

// Count returns how many packument and tarball requests were made.
func (s *Server) Count() (packuments, tarballs int) {
	for _, r := range s.Requests() {
		if strings.HasSuffix(r.Path, ".tgz") {
			tarballs++
		} else {
			packuments++
		}
	}
	return packuments, tarballs
}

// Summary renders the recorded requests as "METHOD path" lines.
func (s *Server) Summary() string { return s.log.Summary() }

// tarballPath is where the registry serves a tarball: the scope stays a
// literal path segment, the file is <unscoped name>-<version>.tgz.
func tarballPath(name, ver string) string {
	base := name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		base = name[i+1:]
	}
	return "/" + name + "/-/" + base + "-" + ver + ".tgz"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	f, faulty := s.log.Record(r.Method, path, Request{Method: r.Method, Path: path, Accept: r.Header.Get("Accept"), Authorization: r.Header.Get("Authorization")})
	var fault *Fault
	if faulty {
		fault = &f
	}
	s.mu.Lock()
	token := s.token
	s.mu.Unlock()
	if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
		w.Header().Set("WWW-Authenticate", `Bearer realm="npm"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "authentication required"})
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
		return
	}
	if fault != nil && fault.Stall {
		rec := httptest.NewRecorder()
		s.answer(rec, r, path, nil)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		body := rec.Body.Bytes()
		_, _ = w.Write(body[:len(body)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		<-r.Context().Done()
		return
	}
	if fault != nil && !fault.Truncate {
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		writeJSON(w, fault.Status, map[string]string{"error": "injected fault"})
		return
	}
	s.answer(w, r, path, fault)
}

// answer serves a tarball or a packument.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, path string, fault *Fault) {
	if strings.HasSuffix(path, ".tgz") {
		s.serveTarball(w, r, fault)
		return
	}
	s.servePackument(w, r, path)
}

func (s *Server) serveTarball(w http.ResponseWriter, r *http.Request, fault *Fault) {
	s.mu.Lock()
	var data []byte
	for name, vs := range s.packages {
		for ver, v := range vs {
			if tarballPath(name, ver) == r.URL.Path {
				data = v.tarball
			}
		}
	}
	s.mu.Unlock()
	if data == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Not found"})
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", fmt.Sprint(len(data)))
	if fault != nil && fault.Truncate {
		_, _ = w.Write(data[:len(data)/2])
		if hj, ok := w.(http.Hijacker); ok {
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
		return
	}
	_, _ = w.Write(data)
}

func (s *Server) servePackument(w http.ResponseWriter, r *http.Request, path string) {
	// The registry takes a scoped name as one segment, "@scope%2fname";
	// an unescaped slash names a different resource, which does not exist.
	raw := strings.TrimPrefix(path, "/")
	if strings.Contains(raw, "/") {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Not found"})
		return
	}
	name := strings.Replace(strings.Replace(raw, "%2f", "/", 1), "%2F", "/", 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	vs, ok := s.packages[name]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Not found"})
		return
	}
	abbreviated := strings.Contains(r.Header.Get("Accept"), "application/vnd.npm.install-v1+json")
	versions := map[string]any{}
	latest := ""
	for _, ver := range s.order[name] {
		v := vs[ver]
		tarball := s.URL + tarballPath(name, ver)
		if v.tarballURL != nil {
			tarball = v.tarballURL(tarball)
		}
		doc := map[string]any{
			"name": name, "version": ver,
			"dist": map[string]any{
				"integrity": v.integrity, "shasum": v.shasum,
				"tarball": tarball,
			},
		}
		if !abbreviated {
			doc["_id"] = name + "@" + ver
			if v.license != "" {
				doc["license"] = v.license
			}
		}
		versions[ver] = doc
		latest = ver
	}
	out := map[string]any{"name": name, "dist-tags": map[string]string{"latest": latest}, "versions": versions}
	if abbreviated {
		out["modified"] = "2026-09-22T15:47:45.666Z"
		w.Header().Set("Content-Type", "application/vnd.npm.install-v1+json")
	} else {
		out["_id"] = name
	}
	writeJSON(w, http.StatusOK, out)
}
