//go:build unix

package localsandbox_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// example is one request/response pair of the spec's examples file
// (testdata/sandbox-api-examples.json, a copy of the spec's).
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

// Examples that need what a local backend does not have: a platform that
// can be overloaded, a Worker with the remote API off, the browser-session
// routes (/new, preview hosts), and a standalone frame.
var notLocal = map[string]string{
	"DO overloaded":       "503 comes from the Cloudflare platform",
	"remote API disabled": "the local backend always enables the remote API",
	"new session":         "browser sessions (/new) are not served locally",
	"preview url":         "preview hosts are not served locally",
	"execStream error frame (example payload only)": "no request",
}

// Messages the examples mark as illustrative: only the code is compared.
var illustrative = map[string]bool{"bad JSON": true, "expired token": true}

var placeholder = regexp.MustCompile(`<jwt([^>]*)>`)

// tokenFor mints the token an example's placeholder describes, e.g.
// "<jwt tn=acme sub=alice scopes=[sandbox:use] sid=job-123>".
func tokenFor(t *testing.T, name, header string) string {
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
	is := token.Issuer{Secret: secret}
	switch name {
	case "expired token":
		is.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	case "bad signature":
		is.Secret = "not-the-server-secret"
	}
	tok, err := is.Mint(in)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + tok
}

// shapeContains reports whether got has every member of want, recursively,
// with the same JSON types (null matches anything: the examples show one
// state of values that may be null in another).
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
				// Optional in the spec ("execId?"): present only when the
				// command was tagged.
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

// frames splits an exec stream body.
func frames(t *testing.T, b []byte) []struct {
	kind byte
	data []byte
} {
	var out []struct {
		kind byte
		data []byte
	}
	for len(b) > 0 {
		if len(b) < 5 {
			t.Fatalf("short frame header")
		}
		n := binary.BigEndian.Uint32(b[1:5])
		out = append(out, struct {
			kind byte
			data []byte
		}{b[0], b[5 : 5+n]})
		b = b[5+n:]
	}
	return out
}

// TestSpecExamples replays the spec's request/response examples against
// the local backend: same statuses, codes and messages, same result
// shapes, same stream frames.
func TestSpecExamples(t *testing.T) {
	raw, err := os.ReadFile("testdata/sandbox-api-examples.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Examples []example `json:"examples"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	off := false
	profiles := map[string]localsandbox.Profile{
		// The two policy examples' profiles (their notes say which).
		"blocked": {Runtimes: &localsandbox.Runtimes{Preinstall: []string{"shell"}, OnDemand: &off, Allow: []string{"node", "python", "ruby", "shell"}}},
		"noruby":  {Runtimes: &localsandbox.Runtimes{Allow: []string{"node", "python", "shell"}}},
	}
	s, hs := newServer(t, func(o *localsandbox.Options) { o.Profiles = profiles })
	_, nosecret := newServer(t, func(o *localsandbox.Options) { o.Secret = "" })
	sb := box(t, hs.URL, "job-123")
	// State the examples assume: an app directory and a log file.
	if err := sb.Mkdir(ctx(t), "/home/user/app"); err != nil {
		t.Fatal(err)
	}
	if err := sb.WriteFile(ctx(t), "/home/user/big.log", []byte("hello world\n")); err != nil {
		t.Fatal(err)
	}
	var pid json.Number
	ran := 0
	for _, ex := range file.Examples {
		if why, skip := notLocal[ex.Name]; skip || ex.Request == nil {
			t.Logf("%s: not replayed (%s)", ex.Name, why)
			continue
		}
		ran++
		base := hs.URL
		if ex.Name == "no JWT_SECRET, no allowLegacy" {
			base = nosecret.URL
		}
		u := strings.Replace(ex.Request.URL, "https://nimbus.example.com", base, 1)
		var body io.Reader
		var reqBody map[string]any
		if ex.Request.BodyRaw != nil {
			body = strings.NewReader(*ex.Request.BodyRaw)
		} else if len(ex.Request.Body) > 0 && string(ex.Request.Body) != "null" {
			dec := json.NewDecoder(bytes.NewReader(ex.Request.Body))
			dec.UseNumber()
			if err := dec.Decode(&reqBody); err != nil {
				t.Fatal(err)
			}
			switch ex.Name {
			case "startProcess":
				// The host may have no node: any long-running command will do.
				reqBody["args"].([]any)[0] = "echo listening on 3000; sleep 30"
			case "installRuntime blocked by policy":
				reqBody["profile"] = "blocked"
			case "runtime not allowed":
				reqBody["profile"] = "noruby"
			}
			if args, ok := reqBody["args"].([]any); ok && len(args) > 0 && args[0] == json.Number("1000002") && pid != "" {
				args[0] = pid
			}
			b, _ := json.Marshal(reqBody)
			body = bytes.NewReader(b)
		}
		req, err := http.NewRequest(ex.Request.Method, u, body)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range ex.Request.Headers {
			if k == "Authorization" {
				v = tokenFor(t, ex.Name, v)
			}
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != ex.Response.Status {
			t.Errorf("%s: status %d, want %d (%s)", ex.Name, resp.StatusCode, ex.Response.Status, got)
			continue
		}
		for k, v := range ex.Response.Headers {
			if resp.Header.Get(k) != v {
				t.Errorf("%s: header %s = %q, want %q", ex.Name, k, resp.Header.Get(k), v)
			}
		}
		if ex.Response.BodyHex != "" {
			want, _ := hex.DecodeString(ex.Response.BodyHex)
			wf, gf := frames(t, want), frames(t, got)
			if runtime.GOOS != "linux" {
				// Only Linux reads both pipes from one poller; elsewhere the
				// two streams' frames may swap, so compare them per stream.
				sort.SliceStable(wf, func(i, j int) bool { return wf[i].kind < wf[j].kind })
				sort.SliceStable(gf, func(i, j int) bool { return gf[i].kind < gf[j].kind })
			}
			if len(wf) != len(gf) {
				t.Errorf("%s: %d frames, want %d", ex.Name, len(gf), len(wf))
				continue
			}
			for i := range wf {
				if wf[i].kind != gf[i].kind {
					t.Errorf("%s: frame %d kind %d, want %d", ex.Name, i, gf[i].kind, wf[i].kind)
				} else if wf[i].kind < 3 && !bytes.Equal(wf[i].data, gf[i].data) {
					t.Errorf("%s: frame %d %q, want %q", ex.Name, i, gf[i].data, wf[i].data)
				} else if wf[i].kind == 3 {
					var w, g any
					_ = json.Unmarshal(wf[i].data, &w)
					_ = json.Unmarshal(gf[i].data, &g)
					if d := shapeContains(w, g, "exit"); d != "" || g.(map[string]any)["exitCode"] != w.(map[string]any)["exitCode"] {
						t.Errorf("%s: exit frame %s (%s)", ex.Name, gf[i].data, d)
					}
				}
			}
			continue
		}
		if len(ex.Response.Body) == 0 || string(ex.Response.Body) == "null" {
			if len(got) != 0 {
				t.Errorf("%s: body %q, want none", ex.Name, got)
			}
			continue
		}
		var w, g map[string]any
		_ = json.Unmarshal(ex.Response.Body, &w)
		if err := json.Unmarshal(got, &g); err != nil {
			t.Errorf("%s: not JSON: %q", ex.Name, got)
			continue
		}
		if w["ok"] == false {
			msg := strings.ReplaceAll(w["error"].(string), "'default'", "'"+strings.TrimSpace(asString(reqBody["profile"]))+"'")
			if g["ok"] != false || g["code"] != w["code"] || (!illustrative[ex.Name] && g["error"] != msg) {
				t.Errorf("%s: got %s, want %s", ex.Name, got, ex.Response.Body)
			}
			continue
		}
		if d := shapeContains(w, g, "body"); d != "" {
			t.Errorf("%s: %s\n got %s\nwant %s", ex.Name, d, got, ex.Response.Body)
		}
		if _, has := w["result"]; !has {
			if _, has := g["result"]; has {
				t.Errorf("%s: result present in %s, want absent", ex.Name, got)
			}
		}
		if ex.Name == "startProcess" {
			pid = json.Number(json.Number(mustNumber(g["result"].(map[string]any)["pid"])))
		}
	}
	if ran < 40 {
		t.Fatalf("only %d examples replayed", ran)
	}
	_ = s
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

func mustNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
