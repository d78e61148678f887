//go:build unix

package forward_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/internal/tokenleak"
	"github.com/nimbus-sh/nimbus/pkg/forward"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// TestHostileRefusalEchoingTheToken: a refusal of the Worker (401, 403,
// 404 with a JSON error) is reported through OnError, which `nimbus
// sandbox forward` shows on stderr. A Worker or a proxy that echoes the
// request's bearer token in the refusal's code or message, in any of the
// forms it may quote it in, must not put it there; and the code and the
// message are bounded as the sandbox client bounds a server's.
func TestHostileRefusalEchoingTheToken(t *testing.T) {
	tok := tokenleak.Token
	for _, f := range tokenleak.Forms(tok) {
		for _, st := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound} {
			for _, in := range []string{"code", "error"} {
				t.Run(f.Name+"/"+strconv.Itoa(st)+"/"+in, func(t *testing.T) {
					refusal := map[string]string{"code": "E_TOKEN_INVALID", "error": "token refused"}
					if in == "code" {
						// Longer than a code is kept (128 bytes): the
						// token is hidden before the code is cut.
						refusal["code"] = "E_" + f.Text + "_" + strings.Repeat("X", 300)
					} else {
						refusal["error"] = "token " + f.Text + " refused"
					}
					var auth string
					worker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						auth = r.Header.Get("Authorization")
						b, _ := json.Marshal(refusal)
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(st)
						_, _ = w.Write(b)
					}))
					t.Cleanup(worker.Close)
					reported := &errorLog{}
					local := forwardTo(t, forward.Options{Endpoint: worker.URL, SandboxID: "job-1", Port: 3000, Token: staticToken(tok), OnError: reported.add})
					req, _ := http.NewRequest(http.MethodGet, local+"/", nil)
					if resp, _ := do(t, req); resp.StatusCode != st {
						t.Fatalf("status %d", resp.StatusCode)
					}
					if auth != "Bearer "+tok {
						t.Fatalf("the Worker got Authorization %q", auth)
					}
					errs := reported.all()
					var re *sc.RemoteError
					if len(errs) != 1 || !errors.As(errs[0], &re) || re.Status != st {
						t.Fatalf("reported %v", errs)
					}
					for what, text := range map[string]string{"error": re.Error(), "code": re.Code} {
						if p := tokenleak.Find(text, tok); p != "" {
							t.Errorf("the %s repeats %q of the token: %.300s", what, p, text)
						}
					}
					if in == "code" && (!strings.Contains(re.Code, "[redacted token]") || len(re.Code) > 180) {
						t.Errorf("the code is not redacted and bounded (%d bytes): %.300s", len(re.Code), re.Code)
					}
					if in == "error" && (!strings.Contains(re.Message, "[redacted token]") || !strings.HasSuffix(re.Message, " refused")) {
						t.Errorf("message %q", re.Message)
					}
				})
			}
		}
	}
}

// TestHostileBrokenAnswerEchoingTheToken: where the Worker's answer is not
// HTTP the forward can read (a status line or a header line that breaks
// the protocol, an upgrade to another protocol than the one asked for),
// net/http quotes what it got, and the forward reports that on stderr and
// to the local client. A Worker that echoes the request's token there must
// not have it shown.
func TestHostileBrokenAnswerEchoingTheToken(t *testing.T) {
	tok := tokenleak.Token
	for _, f := range tokenleak.Forms(tok) {
		for _, tc := range []struct {
			name, head string
			upgrade    bool
		}{
			{"status line", f.Text + "\r\n\r\n", false},
			{"status code", "HTTP/1.1 " + f.Text + " OK\r\n\r\n", false},
			{"header line", "HTTP/1.1 200 OK\r\nBearer " + f.Text + "\r\n\r\n", false},
			{"upgrade", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + f.Text + "\r\n\r\n", true},
		} {
			t.Run(f.Name+"/"+tc.name, func(t *testing.T) {
				worker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					c, buf, err := w.(http.Hijacker).Hijack()
					if err != nil {
						return
					}
					defer c.Close()
					_, _ = buf.WriteString(tc.head)
					_ = buf.Flush()
				}))
				t.Cleanup(worker.Close)
				reported := &errorLog{}
				local := forwardTo(t, forward.Options{Endpoint: worker.URL, SandboxID: "job-1", Port: 3000, Token: staticToken(tok), OnError: reported.add})
				req, _ := http.NewRequest(http.MethodGet, local+"/", nil)
				if tc.upgrade {
					req.Header.Set("Connection", "Upgrade")
					req.Header.Set("Upgrade", "websocket")
				}
				resp, body := do(t, req)
				if resp.StatusCode != http.StatusBadGateway {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				errs := reported.all()
				if len(errs) != 1 || !sc.HasCode(errs[0], forward.CodeUpstream) {
					t.Fatalf("reported %v", errs)
				}
				for what, text := range map[string]string{"report": errs[0].Error(), "answer": body} {
					if p := tokenleak.Find(text, tok); p != "" {
						t.Errorf("the %s repeats %q of the token: %s", what, p, text)
					}
				}
			})
		}
	}
}
