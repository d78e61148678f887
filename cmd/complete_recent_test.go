//go:build unix

package cmd_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/nimbus-sh/nimbus/internal/recentids"
	"github.com/nimbus-sh/nimbus/pkg/ledger"
)

func init() {
	devCmds["rpcproxy"] = cmdRPCProxy
	devCmds["padfile"] = cmdPadFile
	devCmds["garble"] = cmdGarble
	devCmds["recentid"] = cmdRecentID
	devCmds["ledgeradd"] = cmdLedgerAdd
}

// rpcProxies are the requests each rpcproxy forwarded and not yet
// printed, by the script's work directory and the proxy's name.
var rpcProxies sync.Map

type rpcLog struct {
	mu   sync.Mutex
	seen []string
}

// cmdRPCProxy is rpcproxy NAME TARGET: start a reverse proxy to TARGET
// that records the sandbox id and op of every request it forwards, and
// set NAME to its URL; rpcproxy -seen NAME prints the requests recorded
// since the last -seen ("<id> <op>" per line; "<method> <path>" for
// requests that are no RPC) and forgets them.
func cmdRPCProxy(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: rpcproxy NAME TARGET | rpcproxy -seen NAME")
	}
	if args[0] == "-seen" {
		v, ok := rpcProxies.Load(ts.Getenv("WORK") + " " + args[1])
		if !ok {
			ts.Fatalf("no rpcproxy %s", args[1])
		}
		l := v.(*rpcLog)
		// Called even with nothing to print: it makes stdout this
		// command's, not the one before.
		out := ts.Stdout()
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, s := range l.seen {
			fmt.Fprintln(out, s)
		}
		l.seen = nil
		return
	}
	target, err := url.Parse(args[1])
	ts.Check(err)
	l := &rpcLog{}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		what := r.Method + " " + r.URL.Path
		if rest, ok := strings.CutPrefix(r.URL.Path, "/api/nimbus/v1/sandboxes/"); ok && strings.HasSuffix(rest, "/rpc") {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
			var body struct {
				Op string `json:"op"`
			}
			_ = json.Unmarshal(b, &body)
			what = strings.TrimSuffix(rest, "/rpc") + " " + body.Op
		}
		l.mu.Lock()
		l.seen = append(l.seen, what)
		l.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	ts.Defer(srv.Close)
	rpcProxies.Store(ts.Getenv("WORK")+" "+args[0], l)
	ts.Setenv(args[0], srv.URL)
}

// cmdPadFile is padfile FILE N: append N spaces to FILE.
func cmdPadFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: padfile FILE N")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_APPEND|os.O_WRONLY, 0)
	ts.Check(err)
	_, err = f.Write(bytes.Repeat([]byte{' '}, n))
	ts.Check(err)
	ts.Check(f.Close())
}

// cmdGarble is garble FILE: overwrite the first two bytes of FILE with
// a NUL and an invalid UTF-8 byte, as a disk error would, keeping the rest.
func cmdGarble(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: garble FILE")
	}
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_WRONLY, 0)
	ts.Check(err)
	_, err = f.WriteAt([]byte{0, 0xff}, 0)
	ts.Check(err)
	ts.Check(f.Close())
}

// cmdRecentID is recentid FILE ENDPOINT OWNER ID: record ID as a
// sandbox used at ENDPOINT (default base path) with tokens of OWNER in
// the recently used sandboxes FILE, as a successful command there
// would, for the completion of a Worker no command can succeed with
// (one that hangs, or refuses the token).
func cmdRecentID(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: recentid FILE ENDPOINT OWNER ID")
	}
	ts.Check(recentids.Remember(ts.MkAbs(args[0]), recentids.Site{Endpoint: args[1], Owner: args[2]}, []string{args[3]}, time.Now()))
}

// cmdLedgerAdd is ledgeradd [-done] FILE ENDPOINT ID: record ID at
// ENDPOINT (default base path) in the cleanup ledger FILE as versions
// before the ledger recorded an owner did, with none; -done records that
// this owner-less record's sandbox is gone.
func cmdLedgerAdd(ts *testscript.TestScript, neg bool, args []string) {
	done := len(args) > 0 && args[0] == "-done"
	if done {
		args = args[1:]
	}
	if neg || len(args) != 3 {
		ts.Fatalf("usage: ledgeradd [-done] FILE ENDPOINT ID")
	}
	l, e := ledger.New(ts.MkAbs(args[0])), ledger.Entry{ID: args[2], Endpoint: args[1], By: "sandbox run"}
	if done {
		ts.Check(l.Forget(e))
		return
	}
	ts.Check(l.Record(e))
}
