//go:build unix

package job_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/job"
)

// countingBackend is backend with a count of the requests it was sent.
func countingBackend(t *testing.T) (url string, dir func(id string) string, requests *atomic.Int64) {
	t.Helper()
	srv, err := localsandbox.New(localsandbox.Options{DataDir: t.TempDir(), Secret: secret, HostEnv: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	requests = &atomic.Int64{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return hs.URL, func(id string) string { return srv.SandboxDir("acme:_:" + id) }, requests
}

// TestRunRefusesBadSpecsBeforeTheSandbox: each bad spec, given to Run with
// a real upload and a command beside it, is refused with its SpecError
// before any request: no sandbox made, nothing uploaded, run or
// downloaded, nothing to destroy. An empty download Remote used to bring
// the command's whole working directory back.
func TestRunRefusesBadSpecsBeforeTheSandbox(t *testing.T) {
	url, dir, requests := countingBackend(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "in.txt"), []byte("input"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A good spec reaches the sandbox: the count is the backend's.
	good := job.Spec{Uploads: []job.Upload{{Local: src, Remote: "app"}}, Downloads: []job.Download{{Remote: "in.txt", Local: t.TempDir() + "/"}}, Command: "true"}
	if res, err := job.Run(context.Background(), sandbox(t, url, "job-good"), good, nil, &bytes.Buffer{}, &bytes.Buffer{}); err != nil || res.Err != nil || !res.Reached {
		t.Fatalf("good spec: %+v %v", res, err)
	}
	if requests.Load() == 0 {
		t.Fatal("the backend counted no request of a good spec")
	}
	for i, c := range badSpecs {
		t.Run(c.name, func(t *testing.T) {
			if c.goos != "" {
				job.SetLocalOS(t, c.goos)
			}
			spec := c.spec
			if spec.Uploads == nil {
				spec.Uploads = []job.Upload{{Local: src, Remote: "app"}}
			}
			if c.want.Field != job.FieldCommand {
				spec.Command = "echo ran > ran.txt"
			}
			cwd := t.TempDir()
			t.Chdir(cwd)
			id := "job-bad-" + string(rune('a'+i))
			sb := sandbox(t, url, id)
			before := requests.Load()
			rec := &recorder{}
			var out bytes.Buffer
			res, err := job.Run(context.Background(), sb, spec, rec.add, &out, &out)
			if n := requests.Load() - before; n != 0 {
				t.Errorf("%d request(s) sent", n)
			}
			if rec.String() != "" || out.Len() != 0 {
				t.Errorf("events %q, output %q; want none", rec, out.String())
			}
			if _, err := os.Stat(dir(id)); !os.IsNotExist(err) {
				t.Errorf("sandbox %s was made: %v", id, err)
			}
			if ents, _ := os.ReadDir(cwd); len(ents) != 0 {
				t.Errorf("the working directory got %s", ents[0].Name())
			}
			checkSpecError(t, c, err)
			if res == nil || res.Err != err || res.Reached || res.Destroyed || res.Ran || res.ID != id {
				t.Fatalf("result %+v; want the error, nothing reached or destroyed", res)
			}
		})
	}
}
