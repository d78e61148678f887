// Package cftest is an in-process fake of the Cloudflare API v4 endpoints
// nimbus uses. It speaks the v4 envelope, checks the bearer token and the
// token's permissions, validates bucket names, stores R2 objects (PUT, GET,
// DELETE, listing by prefix with cursors), records every request and can be
// switched into the failure modes setup and runtime sync must survive.
package cftest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-sh/nimbus/internal/reqlog"
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
	// Body is the request body when it is at most 1 MiB (object uploads
	// can be large); Size is its length in any case.
	Body   []byte
	Size   int64
	Header http.Header
}

// MaxObjectSize is the largest object the REST API accepts in one PUT
// (about 300 MiB); larger bodies are answered 413.
const MaxObjectSize = 300 << 20

// MaxListPage is the largest per_page the object listing accepts.
const MaxListPage = 1000

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
	// Body, when set, is sent verbatim instead of the v4 envelope (with
	// ContentType, default application/json): the answers of a proxy,
	// a captive portal or a connection cut short.
	Body        string
	ContentType string
	// Hang, instead of answering, holds the request until the client gives
	// up or ReleaseHangs is called (for interrupted-transfer tests).
	Hang bool
	// Lost makes the request take effect before the fault is answered, as
	// when a gateway loses the API's response: the client sees a failure
	// for a change that was made.
	Lost bool
}

// hook runs before a matching request is handled, once.
type hook struct {
	method, pathSuffix string
	fn                 func()
	done               bool
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

	// ListLimit, when positive, caps every object listing page below the
	// per_page asked for, so tests exercise cursors with few objects.
	ListLimit int

	buckets map[string]map[string]time.Time // account -> bucket -> created
	scripts map[string]map[string]map[string]string
	objects map[string]object
	hooks   []*hook
	hanging chan struct{}
	// log records the requests and holds the faults; it has a lock of
	// its own.
	log reqlog.Log[Request, Fault]
	// conns lets ResetRequests wait for requests already sent.
	conns reqlog.Conns
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
		hanging:    make(chan struct{}),
	}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Server.Config.ConnState = s.conns.ConnState
	s.Server.Start()
	return s
}

// Close releases hanging requests and shuts the server down.
func (s *Server) Close() {
	s.ReleaseHangs()
	s.Server.Close()
}

// ReleaseHangs lets every request held by a Hang fault fail now.
func (s *Server) ReleaseHangs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.hanging:
	default:
		close(s.hanging)
	}
}

// Before registers fn to run once, before the first request whose method
// and path suffix match is handled (and before its answer is sent), so a
// test can change the fake's state at a precise point of a client's flow.
func (s *Server) Before(method, pathSuffix string, fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, &hook{method: method, pathSuffix: pathSuffix, fn: fn})
}

// WaitRequest blocks until a request with this method and path suffix has
// arrived, or until timeout; it reports whether one did.
func (s *Server) WaitRequest(method, pathSuffix string, timeout time.Duration) bool {
	return s.log.Wait(method, pathSuffix, timeout)
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

// SetSecret puts a secret on a deployed Worker directly, as wrangler would.
func (s *Server) SetSecret(account, script, name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.scripts[account][script]; sec != nil {
		sec[name] = value
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

// PutObject stores an object directly, as another writer would.
func (s *Server) PutObject(account, bucket, key string, data []byte, contentType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[account+"/"+bucket+"/"+key] = object{data: slices.Clone(data), contentType: contentType}
}

// DeleteObject removes an object directly.
func (s *Server) DeleteObject(account, bucket, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects, account+"/"+bucket+"/"+key)
}

// ObjectKeys lists the keys of a bucket under prefix, sorted.
func (s *Server) ObjectKeys(account, bucket, prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keysLocked(account, bucket, prefix)
}

func (s *Server) keysLocked(account, bucket, prefix string) []string {
	var out []string
	base := account + "/" + bucket + "/"
	for id := range s.objects {
		if k, ok := strings.CutPrefix(id, base); ok && strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// AddFault installs a fault.
func (s *Server) AddFault(f Fault) { s.log.AddFault(f.Method, f.PathSuffix, f.Times, f) }

// Requests returns a copy of the recorded requests.
func (s *Server) Requests() []Request { return s.log.Requests() }

// ResetRequests forgets the recorded requests.
// Requests a client sent before (a CLI run that has exited) are
// recorded first, so that they are not counted after the reset.
func (s *Server) ResetRequests() {
	s.conns.WaitIdle(2 * time.Second)
	s.log.Reset()
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
func (s *Server) Summary() string { return s.log.Summary() }

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
	path := strings.TrimPrefix(r.URL.EscapedPath(), BasePath)
	limit := int64(8 << 20)
	if r.Method == http.MethodPut && strings.Contains(path, "/objects/") {
		limit = MaxObjectSize
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		// The client went away mid-upload; nothing is stored.
		return
	}
	rec := Request{Method: r.Method, Path: path, Query: r.URL.RawQuery, Size: int64(len(body)), Header: r.Header.Clone()}
	if len(body) <= 1<<20 {
		rec.Body = body
	}
	fault, faulty := s.log.Record(r.Method, path, rec)
	s.mu.Lock()
	var run []func()
	for _, h := range s.hooks {
		if !h.done && (h.method == "" || h.method == r.Method) && strings.HasSuffix(path, h.pathSuffix) {
			h.done = true
			run = append(run, h.fn)
		}
	}
	hanging := s.hanging
	s.mu.Unlock()
	for _, fn := range run {
		fn()
	}
	if faulty && fault.Hang {
		select {
		case <-r.Context().Done():
		case <-hanging:
		}
		fail(w, http.StatusServiceUnavailable, 10001, "held by a test and released")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !strings.HasPrefix(r.URL.Path, BasePath+"/") {
		fail(w, http.StatusNotFound, 7003, "No route for that URI")
		return
	}
	if faulty {
		if fault.Lost {
			s.route(httptest.NewRecorder(), r, path, body, limit)
		}
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		if fault.Body != "" {
			ct := fault.ContentType
			if ct == "" {
				ct = "application/json"
			}
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(fault.Status)
			_, _ = io.WriteString(w, fault.Body)
			return
		}
		fail(w, fault.Status, fault.Code, fault.Message)
		return
	}
	s.route(w, r, path, body, limit)
}

// route answers an API request (under s.mu).
func (s *Server) route(w http.ResponseWriter, r *http.Request, path string, body []byte, limit int64) {
	if int64(len(body)) > limit {
		fail(w, http.StatusRequestEntityTooLarge, 100, "Request entity too large")
		return
	}
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
	case len(rest) == 4 && rest[0] == "r2" && rest[1] == "buckets" && rest[3] == "objects" && r.Method == http.MethodGet:
		if need(PermR2Read) {
			s.listObjects(w, r, id, rest[2])
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

// objectJSON describes an object as the REST API does; sizes arrive as
// strings there, which clients must accept.
func objectJSON(key string, o object) map[string]any {
	return map[string]any{
		"key": key, "size": strconv.Itoa(len(o.data)), "etag": fmt.Sprintf("%x", len(o.data)),
		"last_modified": "2026-11-29T00:00:00.000Z", "http_metadata": map[string]any{"contentType": o.contentType},
		"custom_metadata": map[string]any{}, "storage_class": "Standard",
	}
}

func (s *Server) listObjects(w http.ResponseWriter, r *http.Request, account, bucket string) {
	if s.r2Disabled[account] {
		fail(w, http.StatusForbidden, 10042, "Please enable R2 through the Cloudflare Dashboard.")
		return
	}
	if _, ok := s.buckets[account][bucket]; !ok {
		fail(w, http.StatusNotFound, 10006, "The specified bucket does not exist.")
		return
	}
	q := r.URL.Query()
	perPage := 1000
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxListPage {
			fail(w, http.StatusBadRequest, 10029, "per_page must be between 1 and 1000")
			return
		}
		perPage = n
	}
	if s.ListLimit > 0 && perPage > s.ListLimit {
		perPage = s.ListLimit
	}
	keys := s.keysLocked(account, bucket, q.Get("prefix"))
	start := 0
	if c := q.Get("cursor"); c != "" {
		after, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil {
			fail(w, http.StatusBadRequest, 10029, "The cursor is invalid.")
			return
		}
		start = sort.SearchStrings(keys, string(after)+"\x00")
	}
	end := min(start+perPage, len(keys))
	page := []map[string]any{}
	for _, k := range keys[start:end] {
		page = append(page, objectJSON(k, s.objects[account+"/"+bucket+"/"+k]))
	}
	info := map[string]any{"is_truncated": end < len(keys), "per_page": perPage, "cursor": ""}
	if end < len(keys) {
		info["cursor"] = base64.RawURLEncoding.EncodeToString([]byte(keys[end-1]))
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"success": true, "errors": []any{}, "messages": []any{}, "result": page, "result_info": info,
	})
}

func (s *Server) objectRoute(w http.ResponseWriter, r *http.Request, t *Token, account, bucket, key string, body []byte) {
	if s.r2Disabled[account] {
		fail(w, http.StatusForbidden, 10042, "Please enable R2 through the Cloudflare Dashboard.")
		return
	}
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
		o := object{data: slices.Clone(body), contentType: r.Header.Get("Content-Type")}
		s.objects[id] = o
		res := objectJSON(key, o)
		res["uploaded"] = "2026-11-29T00:00:00.000Z"
		writeEnvelope(w, http.StatusOK, res)
	case http.MethodDelete:
		if !t.can(PermR2Write) {
			fail(w, http.StatusForbidden, 10000, "Authentication error")
			return
		}
		delete(s.objects, id) // deleting a missing key succeeds, as in R2
		writeEnvelope(w, http.StatusOK, map[string]any{})
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
