//go:build unix

package cmd_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/nimbus-sh/nimbus/internal/freeport"
	"github.com/nimbus-sh/nimbus/internal/proctest"
)

// devEnvKeys are passed to programs run by the status command.
var devEnvKeys = []string{"PATH", "HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "NO_COLOR", "TMPDIR", "JWT_SECRET",
	"NIMBUS_ENDPOINT", "NIMBUS_TOKEN", "NIMBUS_TENANT", "NIMBUS_SUBJECT", "NIMBUS_DEV_DATA", "NIMBUS_DEV_ISOLATION", "DEV_PORT",
	"NIMBUS_LEDGER", "NIMBUS_TOKEN_FILE", "NIMBUS_WRITE_LIMIT"}

var devCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	// status N [-stdin FILE] PROGRAM ARGS...: run PROGRAM (from the
	// script's PATH) and require exit code N; its stdout and stderr become
	// the script's.
	"status": statusCmd(devEnvKeys),
	// waitport PORT: wait until something accepts connections on
	// 127.0.0.1:PORT.
	"waitport": func(ts *testscript.TestScript, neg bool, args []string) {
		deadline := time.Now().Add(20 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+args[0], time.Second)
			if err == nil {
				c.Close()
				return
			}
			if time.Now().After(deadline) {
				ts.Fatalf("nothing listens on port %s: %v", args[0], err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	},
	// httpget URL: GET the URL (no redirects followed); print the status
	// line and the body.
	"httpget": func(ts *testscript.TestScript, neg bool, args []string) {
		c := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(args[0])
		ts.Check(err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ts.Check(err)
		fmt.Fprintf(ts.Stdout(), "%d\n%s", resp.StatusCode, b)
	},
	// wsecho URL MSG: send MSG to the WebSocket at URL, as a page of the
	// URL's origin would, and print the reply.
	"wsecho": func(ts *testscript.TestScript, neg bool, args []string) {
		u, err := url.Parse(args[0])
		ts.Check(err)
		got, err := wsEcho(args[0], "http://"+u.Host, args[1])
		ts.Check(err)
		fmt.Fprintln(ts.Stdout(), got)
	},
	// hangserver NAME: start a server that answers no request in time
	// (after 20s, 503), and set NAME to its URL; hangserver -check NAME
	// fails if a request to it waited that long instead of its client
	// giving up sooner.
	"hangserver": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) < 1 {
			ts.Fatalf("usage: hangserver [-check] NAME")
		}
		if args[0] == "-check" {
			w, ok := hangServers.Load(ts.Getenv("WORK") + " " + args[1])
			if !ok {
				ts.Fatalf("no hangserver %s", args[1])
			}
			if n := w.(*atomic.Int64).Load(); n > 0 {
				ts.Fatalf("%d request(s) to %s waited 20s for an answer", n, args[1])
			}
			return
		}
		waited := new(atomic.Int64)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// With the body read, the server sees the client hang up
			// (the request's context ends).
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(20 * time.Second):
				waited.Add(1)
				http.Error(w, "waited too long", http.StatusServiceUnavailable)
			}
		}))
		ts.Defer(func() {
			srv.CloseClientConnections()
			srv.Close()
		})
		hangServers.Store(ts.Getenv("WORK")+" "+args[0], waited)
		ts.Setenv(args[0], srv.URL)
	},
	// freeport NAME: set NAME to a loopback port that is free now.
	"freeport": func(ts *testscript.TestScript, neg bool, args []string) {
		p, err := freePort()
		ts.Check(err)
		ts.Setenv(args[0], p)
	},
	// installbin PROGRAM DEST: copy PROGRAM from the script's PATH to
	// DEST (mode 0755), e.g. into a sandbox's home, where a sandbox in
	// namespaces can run it (the test's own /tmp is hidden there).
	"installbin": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: installbin PROGRAM DEST")
		}
		var src string
		for _, dir := range strings.Split(ts.Getenv("PATH"), string(os.PathListSeparator)) {
			if p := dir + "/" + args[0]; fileExists(p) {
				src = p
				break
			}
		}
		if src == "" {
			ts.Fatalf("%s not found on the script's PATH", args[0])
		}
		b, err := os.ReadFile(src)
		ts.Check(err)
		dst := ts.MkAbs(args[1])
		ts.Check(os.MkdirAll(filepath.Dir(dst), 0o755))
		ts.Check(os.WriteFile(dst, b, 0o755))
	},
	// setout NAME: set NAME to the last command's stdout, trimmed.
	"setout": func(ts *testscript.TestScript, neg bool, args []string) {
		ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile("stdout")))
	},
	// waitproc ARG...: wait until a process with each argument runs (on
	// this machine, in any pid namespace).
	"waitproc": func(ts *testscript.TestScript, neg bool, args []string) {
		for _, a := range args {
			waitProcs(ts, a, true)
		}
	},
	// noproc ARG...: wait until no process has any of the arguments.
	"noproc": func(ts *testscript.TestScript, neg bool, args []string) {
		for _, a := range args {
			waitProcs(ts, a, false)
		}
	},
	// signal SIG ARG: send SIG (TERM, INT, HUP or KILL) to every process
	// with argument ARG (testscript's kill knows only INT and KILL).
	"signal": func(ts *testscript.TestScript, neg bool, args []string) {
		sigs := map[string]syscall.Signal{"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP, "KILL": syscall.SIGKILL}
		sig, ok := sigs[args[0]]
		if len(args) != 2 || !ok {
			ts.Fatalf("usage: signal TERM|INT|HUP|KILL ARG")
		}
		pids := proctest.WithArg(args[1])
		if len(pids) == 0 {
			ts.Fatalf("no process has argument %s", args[1])
		}
		for _, pid := range pids {
			ts.Check(syscall.Kill(pid, sig))
		}
	},
	// gethost HOST PATH: GET http://127.0.0.1:$DEV_PORT/PATH with the Host
	// header HOST; the status and body go to stdout.
	"gethost": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: gethost HOST PATH")
		}
		req, err := http.NewRequest("GET", "http://127.0.0.1:"+ts.Getenv("DEV_PORT")+args[1], nil)
		ts.Check(err)
		req.Host = args[0]
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
		ts.Check(err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ts.Check(err)
		fmt.Fprintf(ts.Stdout(), "%d %s\n", resp.StatusCode, b)
	},
	// tty N nimbus ARGS...: run nimbus in this process with stdout and
	// stderr marked as terminals (ttyCmd), for the views people get.
	"tty": ttyCmd,
	// mode FILE PERM: the file's permission bits, in octal.
	"mode": func(ts *testscript.TestScript, neg bool, args []string) {
		fi, err := os.Stat(ts.MkAbs(args[0]))
		ts.Check(err)
		if got := fmt.Sprintf("%04o", fi.Mode().Perm()); got != args[1] {
			ts.Fatalf("%s has mode %s, want %s", args[0], got, args[1])
		}
	},
}

// statusCmd returns the status command (exitCodeCmd), passing the
// script's values of keys to the program.
func statusCmd(keys []string) func(ts *testscript.TestScript, neg bool, args []string) {
	return exitCodeCmd(keys)
}

// waitProcs waits until processes with argument arg run (or, with
// running false, until none is left).
func waitProcs(ts *testscript.TestScript, arg string, running bool) {
	deadline := time.Now().Add(proctest.Bound)
	for (len(proctest.WithArg(arg)) > 0) != running {
		if time.Now().After(deadline) {
			ts.Fatalf("processes with argument %s: still running = %v", arg, !running)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (string, error) {
	p, err := freeport.Pick()
	return strconv.Itoa(p), err
}

// hangServers are the counts of requests each hangserver made wait, by
// the script's work directory and the server's name.
var hangServers sync.Map

// TestDevScripts drives `nimbus dev` and `nimbus sandbox --local` as a user
// would, through the real binary.
func TestDevScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:   "testdata/dev",
		Cmds:  devCmds,
		Setup: devSetup,
	})
}

// devSetup gives a script a clean environment (no secrets or config from
// the developer's shell) and a free port in DEV_PORT.
func devSetup(env *testscript.Env) error {
	env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/.config")
	env.Setenv("XDG_CACHE_HOME", env.WorkDir+"/.cache")
	env.Setenv("HOME", env.WorkDir)
	env.Setenv("NO_COLOR", "")
	port, err := freePort()
	if err != nil {
		return err
	}
	env.Setenv("DEV_PORT", port)
	// MARK makes sleep durations no other process has (see proctest).
	env.Setenv("MARK", strings.TrimPrefix(proctest.Marker(), "3600."))
	return nil
}
