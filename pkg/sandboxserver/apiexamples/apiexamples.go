// Package apiexamples replays the request/response examples of the remote
// sandbox API (the spec's sandbox-api-examples.json, kept in testdata)
// against a running server, over HTTP, and compares what it answers:
// status, headers, error code and message, the shape of the result (the
// keys and JSON types, not volatile values such as times and pids), whether
// a result is present at all, and the frames of an exec stream. It also
// holds the list of ops the upstream SDK sends. It exists for tests: the
// local backend's own, and the end-to-end test of `nimbus dev`.
package apiexamples

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

//go:embed testdata/sandbox-api-examples.json
var examplesJSON []byte

//go:embed testdata/sdk-ops.txt
var sdkOps string

// SDKOps returns the ops the upstream SDK sends over HTTP (the list in
// testdata/sdk-ops.txt, whose comments say where it comes from).
func SDKOps() []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(sdkOps))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// Profiles are the two server profiles the policy examples assume (their
// notes say which): "blocked" refuses on-demand installs, "noruby" does
// not allow ruby.
func Profiles() map[string]sandboxserver.Profile {
	off := false
	return map[string]sandboxserver.Profile{
		"blocked": {Runtimes: &sandboxserver.Runtimes{Preinstall: []string{"shell"}, OnDemand: &off, Allow: []string{"node", "python", "ruby", "shell"}}},
		"noruby":  {Runtimes: &sandboxserver.Runtimes{Allow: []string{"node", "python", "shell"}}},
	}
}

// Target is the server under test.
type Target struct {
	// URL is its endpoint (origin).
	URL string
	// Client reaches it; nil means http.DefaultClient.
	Client *http.Client
	// Secret is its JWT_SECRET.
	Secret string
	// NoSecretURL is a server of the same kind without JWT_SECRET, for the
	// example of that configuration; "" leaves the example out.
	NoSecretURL string
	// HasProfiles says the server has the example Profiles; without them
	// the two policy examples are left out.
	HasProfiles bool
	// Server returns the shell command of the example's "node server.js":
	// a background server that listens on 127.0.0.1:port and writes a
	// line to stdout.
	Server func(port int) string
}

// Summary counts the examples.
type Summary struct {
	// Total is the number of examples in the file.
	Total int
	// Replayed were sent to the server; Matched answered as the example
	// says (the others are reported with t.Errorf).
	Replayed, Matched int
	// NotReplayed says why each of the others was left out.
	NotReplayed map[string]string
}

// String is a one-line report: "46 of 46 replayed examples match (54 in
// the file; not replayed: …)".
func (s Summary) String() string {
	var why []string
	for name, reason := range s.NotReplayed {
		why = append(why, name+": "+reason)
	}
	sort.Strings(why)
	return strconv.Itoa(s.Matched) + " of " + strconv.Itoa(s.Replayed) + " replayed examples match (" + strconv.Itoa(s.Total) +
		" in the file; not replayed: " + strings.Join(why, "; ") + ")"
}

// example is one request/response pair.
type example struct {
	Name    string `json:"name"`
	Note    string `json:"note"`
	Request *struct {
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
		BodyRaw *string           `json:"body_raw"`
	} `json:"request"`
	Response struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
		BodyHex string            `json:"body_hex"`
	} `json:"response"`
}

// notLocal are the examples no local server can replay.
var notLocal = map[string]string{
	"DO overloaded":       "503 comes from the Cloudflare platform",
	"remote API disabled": "a local server always serves the remote API",
	"new session":         "browser sessions (/new) are not served locally",
	"preview url":         "preview hosts are not served locally",
	"execStream error frame (example payload only)": "no request",
}

// policyExamples need the example Profiles.
var policyExamples = map[string]bool{"installRuntime blocked by policy": true, "runtime not allowed": true}

// illustrative examples show a message only as an illustration: only the
// code is compared.
var illustrative = map[string]bool{"bad JSON": true, "expired token": true}

const exampleOrigin = "https://nimbus.example.com"

var placeholder = regexp.MustCompile(`<jwt([^>]*)>`)

// Replay sends every example's request to tg and compares the answer,
// reporting each difference with t.Errorf.
func Replay(t testing.TB, tg Target) Summary {
	t.Helper()
	var file struct {
		Examples []example `json:"examples"`
	}
	if err := json.Unmarshal(examplesJSON, &file); err != nil {
		t.Fatal(err)
	}
	client := tg.Client
	if client == nil {
		client = http.DefaultClient
	}
	noRedirect := *client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	sum := Summary{Total: len(file.Examples), NotReplayed: map[string]string{}}
	r := &replayer{t: t, tg: tg, client: &noRedirect}
	r.setup()
	// The file tells a story in which the server is signalled and killed
	// before its port is listed and exposed; a port is listed only while
	// something listens on it, so the port examples go first.
	var exs, late []example
	for _, ex := range file.Examples {
		if ex.Name == "signalProcess" || ex.Name == "killProcess" {
			late = append(late, ex)
			continue
		}
		exs = append(exs, ex)
		if ex.Name == "unexposePort" {
			exs, late = append(exs, late...), nil
		}
	}
	exs = append(exs, late...)
	for _, ex := range exs {
		why, skip := notLocal[ex.Name]
		switch {
		case skip || ex.Request == nil:
		case policyExamples[ex.Name] && !tg.HasProfiles:
			why, skip = "the server has no profile configuration", true
		case ex.Name == "no JWT_SECRET, no allowLegacy" && tg.NoSecretURL == "":
			why, skip = "the server always has a secret", true
		}
		if skip {
			sum.NotReplayed[ex.Name] = why
			continue
		}
		sum.Replayed++
		if r.replay(ex) {
			sum.Matched++
		}
	}
	return sum
}

type replayer struct {
	t      testing.TB
	tg     Target
	client *http.Client
	pid    json.Number // of the example's server process, once started
	port   int         // it listens on
}

// rpc posts one op as a full-trust caller of the examples' sandbox.
func (r *replayer) rpc(op string, args ...any) (int, []byte) {
	b, _ := json.Marshal(map[string]any{"op": op, "args": args})
	req, _ := http.NewRequest(http.MethodPost, r.tg.URL+"/api/nimbus/v1/sandboxes/job-123/rpc", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", r.bearer("<jwt tn=acme sub=alice>", ""))
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// setup creates what the examples assume exists: an app directory and a
// log file, in a sandbox that starts empty.
func (r *replayer) setup() {
	r.rpc("destroy", map[string]any{})
	for _, c := range [][]any{{"mkdir", "/home/user/app"}, {"writeFile", "/home/user/big.log", "hello world\n"}} {
		if st, body := r.rpc(c[0].(string), c[1:]...); st != 200 {
			r.t.Fatalf("setup %v: %d %s", c, st, body)
		}
	}
}

// bearer mints the token a placeholder describes, e.g. "<jwt tn=acme
// sub=alice scopes=[sandbox:use] sid=job-123>".
func (r *replayer) bearer(header, name string) string {
	m := placeholder.FindStringSubmatch(header)
	if m == nil {
		return header
	}
	tn, sub := "acme", "alice"
	in := token.Input{Tenant: &tn, Subject: &sub}
	for _, f := range strings.Fields(m[1]) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "tn":
			tn = v
		case "sub":
			sub = v
		case "sid":
			in.SessionID = &v
		case "scopes":
			in.Scopes = strings.Split(strings.Trim(v, "[]"), ",")
		}
	}
	is := token.Issuer{Secret: r.tg.Secret}
	switch name {
	case "expired token":
		is.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	case "bad signature":
		is.Secret = "not-the-server-secret"
	}
	tok, err := is.Mint(in)
	if err != nil {
		r.t.Fatal(err)
	}
	return "Bearer " + tok
}

// request builds the example's request for the server under test: the
// example's own, with the server's origin, real tokens, and the values
// only this run knows (the server process's command, pid and port).
func (r *replayer) request(ex example) (*http.Request, map[string]any) {
	base := r.tg.URL
	if ex.Name == "no JWT_SECRET, no allowLegacy" {
		base = r.tg.NoSecretURL
	}
	u := strings.Replace(ex.Request.URL, exampleOrigin, base, 1)
	var body io.Reader
	var reqBody map[string]any
	if ex.Request.BodyRaw != nil {
		body = strings.NewReader(*ex.Request.BodyRaw)
	} else if len(ex.Request.Body) > 0 && string(ex.Request.Body) != "null" {
		dec := json.NewDecoder(bytes.NewReader(ex.Request.Body))
		dec.UseNumber()
		if err := dec.Decode(&reqBody); err != nil {
			r.t.Fatal(err)
		}
		args, _ := reqBody["args"].([]any)
		switch ex.Name {
		case "startProcess":
			r.port = freePort(r.t)
			args[0] = r.tg.Server(r.port)
		case "installRuntime blocked by policy":
			reqBody["profile"] = "blocked"
		case "runtime not allowed":
			reqBody["profile"] = "noruby"
		}
		if len(args) > 0 {
			if args[0] == json.Number("1000002") && r.pid != "" {
				args[0] = r.pid
			}
			if args[0] == json.Number("3000") && r.port != 0 {
				args[0] = json.Number(strconv.Itoa(r.port))
			}
		}
		b, _ := json.Marshal(reqBody)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(ex.Request.Method, u, body)
	if err != nil {
		r.t.Fatal(err)
	}
	for k, v := range ex.Request.Headers {
		if k == "Authorization" {
			v = r.bearer(v, ex.Name)
		}
		req.Header.Set(k, v)
	}
	return req, reqBody
}

// replay sends one example and reports whether the answer matches.
func (r *replayer) replay(ex example) bool {
	t := r.t
	req, reqBody := r.request(ex)
	resp, err := r.client.Do(req)
	if err != nil {
		t.Errorf("%s: %v", ex.Name, err)
		return false
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != ex.Response.Status {
		t.Errorf("%s: status %d, want %d (%s)", ex.Name, resp.StatusCode, ex.Response.Status, got)
		return false
	}
	ok := true
	for k, v := range ex.Response.Headers {
		if resp.Header.Get(k) != v {
			t.Errorf("%s: header %s = %q, want %q", ex.Name, k, resp.Header.Get(k), v)
			ok = false
		}
	}
	if ex.Response.BodyHex != "" {
		return r.sameFrames(ex, got) && ok
	}
	if len(ex.Response.Body) == 0 || string(ex.Response.Body) == "null" {
		if len(got) != 0 {
			t.Errorf("%s: body %q, want none", ex.Name, got)
			return false
		}
		return ok
	}
	var w, g map[string]any
	_ = json.Unmarshal(ex.Response.Body, &w)
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s: not JSON: %q", ex.Name, got)
		return false
	}
	if w["ok"] == false {
		profile, _ := reqBody["profile"].(string)
		msg := strings.ReplaceAll(w["error"].(string), "'default'", "'"+profile+"'")
		if g["ok"] != false || g["code"] != w["code"] || (!illustrative[ex.Name] && g["error"] != msg) {
			t.Errorf("%s: got %s, want %s", ex.Name, got, ex.Response.Body)
			return false
		}
		return ok
	}
	if d := shapeContains(w, g, "body"); d != "" {
		t.Errorf("%s: %s\n got %s\nwant %s", ex.Name, d, got, ex.Response.Body)
		ok = false
	}
	_, wantResult := w["result"]
	if _, has := g["result"]; has != wantResult {
		t.Errorf("%s: result present %v in %s, want %v", ex.Name, has, got, wantResult)
		ok = false
	}
	if ex.Name == "startProcess" {
		res, _ := g["result"].(map[string]any)
		b, _ := json.Marshal(res["pid"])
		r.pid = json.Number(b)
		r.waitListening()
	}
	return ok
}

// waitListening waits until the example's server accepts connections, so
// the examples after it (logs, ports) see it serving.
func (r *replayer) waitListening() {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)), time.Second)
		if err == nil {
			_ = c.Close()
			// Its first line of output follows the listen closely.
			time.Sleep(100 * time.Millisecond)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Errorf("startProcess: the server never listened on %d", r.port)
}

// sameFrames compares an exec stream with the example's frames: kinds and
// output bytes exactly, the exit frame's shape and exit code.
func (r *replayer) sameFrames(ex example, got []byte) bool {
	t := r.t
	want, _ := hex.DecodeString(ex.Response.BodyHex)
	wf, gf := frames(want), frames(got)
	if gf == nil {
		t.Errorf("%s: malformed stream %q", ex.Name, got)
		return false
	}
	if runtime.GOOS != "linux" {
		// Only Linux reads both pipes from one poller; elsewhere the two
		// streams' frames may swap, so they are compared per stream.
		sort.SliceStable(wf, func(i, j int) bool { return wf[i].kind < wf[j].kind })
		sort.SliceStable(gf, func(i, j int) bool { return gf[i].kind < gf[j].kind })
	}
	if len(wf) != len(gf) {
		t.Errorf("%s: %d frames, want %d", ex.Name, len(gf), len(wf))
		return false
	}
	ok := true
	for i := range wf {
		switch {
		case wf[i].kind != gf[i].kind:
			t.Errorf("%s: frame %d kind %d, want %d", ex.Name, i, gf[i].kind, wf[i].kind)
			ok = false
		case wf[i].kind < 3 && !bytes.Equal(wf[i].data, gf[i].data):
			t.Errorf("%s: frame %d %q, want %q", ex.Name, i, gf[i].data, wf[i].data)
			ok = false
		case wf[i].kind == 3:
			var w, g map[string]any
			_ = json.Unmarshal(wf[i].data, &w)
			if json.Unmarshal(gf[i].data, &g) != nil || shapeContains(w, g, "exit") != "" || g["exitCode"] != w["exitCode"] {
				t.Errorf("%s: exit frame %s, want %s", ex.Name, gf[i].data, wf[i].data)
				ok = false
			}
		}
	}
	return ok
}

type frame struct {
	kind byte
	data []byte
}

// frames splits an exec stream body; nil if it is malformed.
func frames(b []byte) []frame {
	out := []frame{}
	for len(b) > 0 {
		if len(b) < 5 {
			return nil
		}
		n := binary.BigEndian.Uint32(b[1:5])
		if uint64(len(b)-5) < uint64(n) {
			return nil
		}
		out = append(out, frame{b[0], b[5 : 5+n]})
		b = b[5+n:]
	}
	return out
}

// shapeContains reports where got lacks a member of want, recursively, or
// has another JSON type ("" if none). null matches anything (an example
// shows one state of values that may be null in another), arrays compare
// their first elements when both have one, and execId may be absent (it
// is optional: present only for tagged commands).
func shapeContains(want, got any, path string) string {
	if want == nil || got == nil {
		return ""
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path + ": not an object"
		}
		for k, wv := range w {
			gv, has := g[k]
			if !has && k == "execId" {
				continue
			}
			if !has {
				return path + "." + k + ": missing"
			}
			if d := shapeContains(wv, gv, path+"."+k); d != "" {
				return d
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return path + ": not an array"
		}
		if len(w) > 0 && len(g) > 0 {
			return shapeContains(w[0], g[0], path+"[0]")
		}
	default:
		if reflect.TypeOf(want) != reflect.TypeOf(got) {
			return path + ": type differs"
		}
	}
	return ""
}

// freePort returns a port nothing listens on now.
func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
