// Package cftest is an in-process fake of the Cloudflare API v4 endpoints
// nimbus uses. It speaks the v4 envelope, checks the bearer token and the
// token's permissions, validates bucket names, records every request and can
// be switched into the failure modes setup must survive.
package cftest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Token permissions, spelled as in the Cloudflare dashboard.
const (
	PermAccountRead  = "Account Settings Read"
	PermR2Read       = "Workers R2 Storage Read"
	PermR2Write      = "Workers R2 Storage Write"
	PermScriptsRead  = "Workers Scripts Read"
	PermScriptsWrite = "Workers Scripts Write"
)

// Account is a Cloudflare account the fake knows.
type Account struct {
	ID   string
	Name string
}

// Token describes an API token the fake accepts.
type Token struct {
	// Scope is "user" (verified at /user/tokens/verify) or "account"
	// (only at /accounts/{id}/tokens/verify).
	Scope string
	// Status is "active", "disabled" or "expired".
	Status string
	// Accounts the token can access (ids).
	Accounts []string
	// Denied permissions; everything else is granted. Write implies read.
	Denied []string
}

// Request is one recorded request.
type Request struct {
	Method string
	Path   string // below the /client/v4 base
	Query  string
	Body   []byte
	Header http.Header
}

// Fault makes requests fail before they are handled.
type Fault struct {
	Method string // "" matches any
	// PathSuffix matches the end of the path below the base ("" any).
	PathSuffix string
	Status     int
	Code       int64
	Message    string
	// Times is how many matching requests fail; 0 means all.
	Times int
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Lost makes the request take effect before the fault is answered, as
	// when a gateway loses the API's response: the client sees a failure
	// for a change that was made.
	Lost bool
}

type object struct {
	data        []byte
	contentType string
}

// Server is the fake. Configure it before use or under its lock through the
// helper methods; it is safe for concurrent requests.
type Server struct {
	*httptest.Server

	// mu guards everything below: tests configure the fake through
	// methods while requests are being served.
	mu sync.Mutex
	// tokens maps a bearer token to what it may do.
	tokens   map[string]*Token
	accounts []Account
	// subdomains maps account id to its workers.dev subdomain; a missing
	// entry answers like an account without one.
	subdomains map[string]string
	// r2Disabled lists accounts on which R2 was never enabled (10042).
	r2Disabled map[string]bool
	// conflictOnCreate makes bucket creation answer 409 while creating the
	// bucket, as when a concurrent run won the race.
	conflictOnCreate bool

	buckets  map[string]map[string]time.Time // account -> bucket -> created
	scripts  map[string]map[string]map[string]string
	objects  map[string]object
	faults   []*Fault
	requests []Request
}

// BasePath is where the fake mounts the API, like the real /client/v4.
const BasePath = "/client/v4"

// New starts a fake with no tokens, accounts or buckets.
func New() *Server {
	s := &Server{
		tokens:     map[string]*Token{},
		subdomains: map[string]string{},
		r2Disabled: map[string]bool{},
		buckets:    map[string]map[string]time.Time{},
		scripts:    map[string]map[string]map[string]string{},
		objects:    map[string]object{},
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// BaseURL is the value for CLOUDFLARE_API_BASE_URL.
func (s *Server) BaseURL() string { return s.URL + BasePath }

// AddAccount registers an account.
func (s *Server) AddAccount(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts = append(s.accounts, Account{ID: id, Name: name})
}

// AddToken registers a token.
func (s *Server) AddToken(token string, t *Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.Status == "" {
		t.Status = "active"
	}
	if t.Scope == "" {
		t.Scope = "user"
	}
	s.tokens[token] = t
}

// SetSubdomain sets an account's workers.dev subdomain; "" removes it, so
// the account answers like one without a subdomain.
func (s *Server) SetSubdomain(account, subdomain string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if subdomain == "" {
		delete(s.subdomains, account)
		return
	}
	s.subdomains[account] = subdomain
}

// DisableR2 makes R2 calls on account answer 10042, as on an account where
// R2 was never enabled.
func (s *Server) DisableR2(account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.r2Disabled[account] = true
}

// SetConflictOnCreate makes bucket creation answer 409 while creating the
// bucket, as when a concurrent run won the race.
func (s *Server) SetConflictOnCreate(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conflictOnCreate = v
}

// AddBucket creates a bucket directly, as a previous run would have.
func (s *Server) AddBucket(account, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addBucketLocked(account, name)
}

func (s *Server) addBucketLocked(account, name string) {
	if s.buckets[account] == nil {
		s.buckets[account] = map[string]time.Time{}
	}
	if _, ok := s.buckets[account][name]; !ok {
		s.buckets[account][name] = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	}
}

// Buckets lists an account's buckets, sorted.
func (s *Server) Buckets(account string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.buckets[account] {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// DeployWorker makes a Worker script exist.
func (s *Server) DeployWorker(account, script string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.scripts[account] == nil {
		s.scripts[account] = map[string]map[string]string{}
	}
	if s.scripts[account][script] == nil {
		s.scripts[account][script] = map[string]string{}
	}
}

// Secret returns a Worker secret's value as stored.
func (s *Server) Secret(account, script, name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.scripts[account][script][name]
	return v, ok
}

// Object returns a stored R2 object.
func (s *Server) Object(account, bucket, key string) ([]byte, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[account+"/"+bucket+"/"+key]
	return o.data, o.contentType, ok
}

// AddFault installs a fault.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Requests returns a copy of the recorded requests.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// Mutations counts recorded requests that are not GET or HEAD.
func (s *Server) Mutations() int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			n++
		}
	}
	return n
}

// Summary renders the recorded requests as "METHOD path" lines.
func (s *Server) Summary() string {
	var b strings.Builder
	for _, r := range s.Requests() {
		fmt.Fprintf(&b, "%s %s\n", r.Method, r.Path)
	}
	return b.String()
}

type apiErr struct {
	Code    int64  `json:"code"`
	Message string `json:"message"`
}

func writeEnvelope(w http.ResponseWriter, status int, result any, errs ...apiErr) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if errs == nil {
		errs = []apiErr{}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"success":  status < 300 && len(errs) == 0,
		"errors":   errs,
		"messages": []any{},
		"result":   result,
	})
}

func fail(w http.ResponseWriter, status int, code int64, msg string) {
	writeEnvelope(w, status, nil, apiErr{Code: code, Message: msg})
}

var (
	bucketNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	accountIDRe  = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	path := strings.TrimPrefix(r.URL.EscapedPath(), BasePath)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: path, Query: r.URL.RawQuery, Body: body, Header: r.Header.Clone()})
	if !strings.HasPrefix(r.URL.Path, BasePath+"/") {
		fail(w, http.StatusNotFound, 7003, "No route for that URI")
		return
	}
	for _, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasSuffix(path, f.PathSuffix) && f.Times >= 0 {
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					f.Times = -1 // used up
				}
			}
			if f.Lost {
				s.route(httptest.NewRecorder(), r, path, body)
			}
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			fail(w, f.Status, f.Code, f.Message)
			return
		}
	}
	s.route(w, r, path, body)
}

// route answers an authenticated API request (under s.mu).
func (s *Server) route(w http.ResponseWriter, r *http.Request, path string, body []byte) {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	t := s.tokens[tok]
	if !ok || t == nil || r.Header.Get("X-Auth-Key") != "" || r.Header.Get("X-Auth-Email") != "" {
		// Cloudflare rejects unknown tokens and mixed auth schemes alike.
		fail(w, http.StatusUnauthorized, 1000, "Invalid API Token")
		return
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && path == "/user/tokens/verify":
		if t.Scope != "user" {
			fail(w, http.StatusUnauthorized, 1000, "Invalid API Token")
			return
		}
		s.verify(w, t)
	case r.Method == http.MethodGet && path == "/accounts":
		s.listAccounts(w, r, t)
	case len(segs) >= 2 && segs[0] == "accounts":
		s.account(w, r, t, segs[1], segs[2:], body)
	default:
		fail(w, http.StatusNotFound, 7003, "Could not route to "+path+", perhaps your object identifier is invalid?")
	}
}

func (s *Server) verify(w http.ResponseWriter, t *Token) {
	w.Header().Set("Content-Type", "application/json")
	msgs := []any{}
	if t.Status == "active" {
		msgs = append(msgs, map[string]any{"code": 10000, "message": "This API Token is valid and active", "type": nil})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"success": true, "errors": []any{}, "messages": msgs,
		"result": map[string]any{"id": "f267e341f3dd4697bd3b9f71dd96247f", "status": t.Status},
	})
}

func (t *Token) can(perm string) bool { return !slices.Contains(t.Denied, perm) }

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request, t *Token) {
	var out []map[string]any
	for _, a := range s.accounts {
		if slices.Contains(t.Accounts, a.ID) {
			out = append(out, map[string]any{"id": a.ID, "name": a.Name, "type": "standard", "settings": map[string]any{}, "created_on": "2026-01-01T00:00:00Z"})
		}
	}
	if out == nil {
		out = []map[string]any{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"success": true, "errors": []any{}, "messages": []any{}, "result": out,
		"result_info": map[string]any{"page": 1, "per_page": 50, "count": len(out), "total_count": len(out)},
	})
}

func (s *Server) account(w http.ResponseWriter, r *http.Request, t *Token, id string, rest []string, body []byte) {
	if !accountIDRe.MatchString(id) {
		fail(w, http.StatusNotFound, 7003, "Could not route to /accounts/"+id+", perhaps your object identifier is invalid?")
		return
	}
	var acct *Account
	for i := range s.accounts {
		if s.accounts[i].ID == id {
			acct = &s.accounts[i]
		}
	}
	if acct == nil || !slices.Contains(t.Accounts, id) {
		fail(w, http.StatusForbidden, 9109, "Unauthorized to access requested resource")
		return
	}
	route := strings.Join(rest, "/")
	need := func(perm string) bool {
		if !t.can(perm) {
			fail(w, http.StatusForbidden, 10000, "Authentication error")
			return false
		}
		return true
	}
	switch {
	case r.Method == http.MethodGet && route == "":
		if need(PermAccountRead) {
			writeEnvelope(w, http.StatusOK, map[string]any{"id": acct.ID, "name": acct.Name, "type": "standard", "settings": map[string]any{}, "created_on": "2026-01-01T00:00:00Z"})
		}
	case r.Method == http.MethodGet && route == "tokens/verify":
		if t.Scope != "account" {
			fail(w, http.StatusUnauthorized, 1000, "Invalid API Token")
			return
		}
		s.verify(w, t)
	case route == "r2/buckets" && r.Method == http.MethodPost:
		if need(PermR2Write) {
			s.createBucket(w, r, id, body)
		}
	case len(rest) == 3 && rest[0] == "r2" && rest[1] == "buckets" && r.Method == http.MethodGet:
		if need(PermR2Read) {
			s.getBucket(w, id, rest[2])
		}
	case len(rest) >= 5 && rest[0] == "r2" && rest[1] == "buckets" && rest[3] == "objects":
		key, err := url.PathUnescape(strings.Join(rest[4:], "/"))
		if err != nil {
			fail(w, http.StatusBadRequest, 10020, "invalid object key")
			return
		}
		s.objectRoute(w, r, t, id, rest[2], key, body)
	case route == "workers/subdomain" && r.Method == http.MethodGet:
		if need(PermScriptsRead) {
			sd, ok := s.subdomains[id]
			if !ok {
				fail(w, http.StatusNotFound, 10007, "workers.api.error.subdomain_not_found")
				return
			}
			writeEnvelope(w, http.StatusOK, map[string]any{"subdomain": sd})
		}
	case len(rest) == 4 && rest[0] == "workers" && rest[1] == "scripts" && rest[3] == "secrets":
		s.secrets(w, r, t, id, rest[2], body)
	default:
		fail(w, http.StatusNotFound, 7003, "Could not route to /accounts/"+id+"/"+route+", perhaps your object identifier is invalid?")
	}
}

func bucketJSON(name string, created time.Time) map[string]any {
	return map[string]any{"name": name, "creation_date": created.Format(time.RFC3339), "location": "ENAM", "storage_class": "Standard"}
}

func (s *Server) createBucket(w http.ResponseWriter, r *http.Request, account string, body []byte) {
	if s.r2Disabled[account] {
		fail(w, http.StatusForbidden, 10042, "Please enable R2 through the Cloudflare Dashboard.")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		fail(w, http.StatusBadRequest, 10040, "The JSON you provided was not well formed.")
		return
	}
	var req struct {
		Name         string `json:"name"`
		LocationHint string `json:"locationHint"`
		StorageClass string `json:"storageClass"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, 10040, "The JSON you provided was not well formed.")
		return
	}
	if !bucketNameRe.MatchString(req.Name) {
		fail(w, http.StatusBadRequest, 10005, "The specified bucket name is not valid.")
		return
	}
	if _, ok := s.buckets[account][req.Name]; ok || s.conflictOnCreate {
		s.addBucketLocked(account, req.Name)
		fail(w, http.StatusConflict, 10004, "The bucket you tried to create already exists, and you own it.")
		return
	}
	s.addBucketLocked(account, req.Name)
	writeEnvelope(w, http.StatusOK, bucketJSON(req.Name, s.buckets[account][req.Name]))
}

func (s *Server) getBucket(w http.ResponseWriter, account, name string) {
	if s.r2Disabled[account] {
		fail(w, http.StatusForbidden, 10042, "Please enable R2 through the Cloudflare Dashboard.")
		return
	}
	if !bucketNameRe.MatchString(name) {
		fail(w, http.StatusBadRequest, 10005, "The specified bucket name is not valid.")
		return
	}
	created, ok := s.buckets[account][name]
	if !ok {
		fail(w, http.StatusNotFound, 10006, "The specified bucket does not exist.")
		return
	}
	writeEnvelope(w, http.StatusOK, bucketJSON(name, created))
}

func (s *Server) objectRoute(w http.ResponseWriter, r *http.Request, t *Token, account, bucket, key string, body []byte) {
	if _, ok := s.buckets[account][bucket]; !ok {
		fail(w, http.StatusNotFound, 10006, "The specified bucket does not exist.")
		return
	}
	id := account + "/" + bucket + "/" + key
	switch r.Method {
	case http.MethodPut:
		if !t.can(PermR2Write) {
			fail(w, http.StatusForbidden, 10000, "Authentication error")
			return
		}
		s.objects[id] = object{data: slices.Clone(body), contentType: r.Header.Get("Content-Type")}
		writeEnvelope(w, http.StatusOK, map[string]any{"key": key, "size": len(body), "etag": fmt.Sprintf("%x", len(body)), "uploaded": "2026-11-29T00:00:00Z"})
	case http.MethodGet:
		if !t.can(PermR2Read) {
			fail(w, http.StatusForbidden, 10000, "Authentication error")
			return
		}
		o, ok := s.objects[id]
		if !ok {
			// The object GET answers raw bytes, and a plain 404 when missing.
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, "The specified key does not exist.")
			return
		}
		if o.contentType != "" {
			w.Header().Set("Content-Type", o.contentType)
		}
		_, _ = w.Write(o.data)
	default:
		fail(w, http.StatusMethodNotAllowed, 10000, "method not allowed")
	}
}

func (s *Server) secrets(w http.ResponseWriter, r *http.Request, t *Token, account, script string, body []byte) {
	perm := PermScriptsRead
	if r.Method == http.MethodPut {
		perm = PermScriptsWrite
	}
	if !t.can(perm) {
		fail(w, http.StatusForbidden, 10000, "Authentication error")
		return
	}
	sec, ok := s.scripts[account][script]
	if !ok {
		fail(w, http.StatusNotFound, 10007, "This Worker does not exist on your account.")
		return
	}
	switch r.Method {
	case http.MethodGet:
		out := []map[string]any{}
		for n := range sec {
			out = append(out, map[string]any{"name": n, "type": "secret_text"})
		}
		writeEnvelope(w, http.StatusOK, out)
	case http.MethodPut:
		var req struct {
			Name string `json:"name"`
			Text string `json:"text"`
			Type string `json:"type"`
		}
		if err := json.Unmarshal(body, &req); err != nil || req.Name == "" || req.Type != "secret_text" {
			fail(w, http.StatusBadRequest, 10021, "invalid secret binding")
			return
		}
		if len(req.Text) > 5120 {
			fail(w, http.StatusBadRequest, 10054, "secret too large")
			return
		}
		sec[req.Name] = req.Text
		writeEnvelope(w, http.StatusOK, map[string]any{"name": req.Name, "type": "secret_text"})
	default:
		fail(w, http.StatusMethodNotAllowed, 10000, "method not allowed")
	}
}
