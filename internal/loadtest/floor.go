package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// FloorName is argv[0] under which a benchmark binary runs FloorMain: the
// HTTP floor must be its own process, as `nimbus dev` is.
const FloorName = "nimbus-loadtest-floor"

// floorAnswer is what the HTTP floor answers: a ready result, as small as
// the smallest answer of `nimbus dev`.
var floorAnswer = []byte(`{"ok":true,"result":{"ok":true,"preinstalled":[]}}`)

// FloorHandler is the HTTP floor: it reads the request body and answers
// fixed JSON, with no token check, decoding or sandbox logic. Whatever
// `nimbus dev` spends above it on `ready` is its own.
func FloorHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(floorAnswer)
	})
}

// FloorMain serves the HTTP floor on a loopback port, prints its address
// on stdout, and exits when stdin closes (the benchmark went away).
func FloorMain() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		os.Exit(0)
	}()
	srv := &http.Server{Handler: FloorHandler(), ReadHeaderTimeout: 5 * time.Second}
	_ = srv.Serve(ln)
	os.Exit(1)
}

// SpawnOp is the spawn floor: fork+exec of /bin/sh -c true, waited for.
func SpawnOp() Op {
	return func(ctx context.Context, _ int) error {
		return spawnTrue(&os.ProcAttr{}, "sh -c true")
	}
}

// spawnTrue starts /bin/sh -c true with attr and waits for it: the one
// process every spawn floor measures; what names it in an error.
func spawnTrue(attr *os.ProcAttr, what string) error {
	p, err := os.StartProcess("/bin/sh", []string{"sh", "-c", "true"}, attr)
	if err != nil {
		return err
	}
	st, err := p.Wait()
	if err != nil {
		return err
	}
	if !st.Success() {
		return fmt.Errorf("%s: %v", what, st)
	}
	return nil
}
