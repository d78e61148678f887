package loadtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Target is a server of the remote sandbox API (`nimbus dev`) and a token
// for it. Its operations are the requests the SDK sends, prepared once,
// so the load generator itself costs little.
type Target struct {
	// Endpoint is the server's base URL, e.g. http://127.0.0.1:8787.
	Endpoint string
	// Token is a sandbox:use token.
	Token string
	// Client sends the requests; NewClient makes a suitable one.
	Client *http.Client
}

// NewClient returns an HTTP client that keeps a connection per worker
// open, as a busy SDK user would, and opens at most conns to each server:
// a worker whose last connection is not back in the pool yet waits for it
// rather than open one more. (A server that bounds its connections, as
// `nimbus dev` does at 256, closes an idle one for room, and a POST sent
// on it at that moment is lost, as HTTP/1.1 allows.)
func NewClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{
			MaxConnsPerHost:     conns,
			MaxIdleConns:        2 * conns, // conns to each of two servers (nimbus and a floor)
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
		},
	}
}

func (t *Target) url(id string) string {
	return strings.TrimRight(t.Endpoint, "/") + "/api/nimbus/v1/sandboxes/" + id + "/rpc"
}

// rpcBody is a request body as the SDK sends it.
func rpcBody(op string, args ...any) []byte {
	b, err := json.Marshal(map[string]any{"profile": "default", "root": "/home/user", "op": op, "args": args})
	if err != nil {
		panic(err)
	}
	return b
}

// post sends body and returns the answer's body, failing on any status
// but 200.
func (t *Target) post(ctx context.Context, id string, body []byte, accept string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url(id), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+t.Token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	resp, err := t.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %.200s", resp.StatusCode, out)
	}
	return out, nil
}

// okEnvelope checks a JSON answer for the success envelope.
func okEnvelope(b []byte) error {
	if !bytes.HasPrefix(b, []byte(`{"ok":true`)) {
		return fmt.Errorf("not ok: %.200s", b)
	}
	return nil
}

// IDs names a sandbox per worker: "<prefix>-<worker>".
func IDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = prefix + "-" + strconv.Itoa(i)
	}
	return ids
}

// ReadyOp is `ready`, the cheapest op, on the worker's sandbox.
func (t *Target) ReadyOp(ids []string) Op {
	body := rpcBody("ready", map[string]any{"preinstall": []string{}})
	return func(ctx context.Context, w int) error {
		b, err := t.post(ctx, ids[w%len(ids)], body, "application/json")
		if err == nil {
			err = okEnvelope(b)
		}
		return err
	}
}

// ExecOp is a buffered `exec` of command on the worker's sandbox; it fails
// unless the command exits 0.
func (t *Target) ExecOp(ids []string, command string) Op {
	body := rpcBody("exec", command)
	return func(ctx context.Context, w int) error { return t.exec(ctx, ids[w%len(ids)], body, command) }
}

// exec sends body, the exec of command, to sandbox id.
func (t *Target) exec(ctx context.Context, id string, body []byte, command string) error {
	b, err := t.post(ctx, id, body, "application/json")
	if err != nil {
		return err
	}
	if !bytes.Contains(b, []byte(`"exitCode":0,`)) {
		return fmt.Errorf("exec %q: %.200s", command, b)
	}
	return nil
}

// ExecStreamOp is `execStream` of command on the worker's sandbox, read
// to its exit frame; it fails unless the command exits 0.
func (t *Target) ExecStreamOp(ids []string, command string) Op {
	body := rpcBody("execStream", command)
	return func(ctx context.Context, w int) error {
		b, err := t.post(ctx, ids[w%len(ids)], body, "application/vnd.nimbus.exec-stream")
		if err != nil {
			return err
		}
		for len(b) >= 5 {
			kind, n := b[0], int(binary.BigEndian.Uint32(b[1:5]))
			if len(b) < 5+n {
				break
			}
			payload := b[5 : 5+n]
			b = b[5+n:]
			switch kind {
			case 3:
				if !bytes.Contains(payload, []byte(`"exitCode":0,`)) {
					return fmt.Errorf("execStream %q: %s", command, payload)
				}
				return nil
			case 4:
				return fmt.Errorf("execStream %q: %s", command, payload)
			}
		}
		return errors.New("execStream: the stream ended without an exit frame")
	}
}

// WriteReadOp writes size bytes of text to a file of the worker's sandbox
// and reads them back: one op is the pair.
func (t *Target) WriteReadOp(ids []string, size int) Op {
	data := strings.Repeat("0123456789abcdef", size/16+1)[:size]
	write := rpcBody("writeFile", "/home/user/loadtest.txt", data)
	read := rpcBody("readFile", "/home/user/loadtest.txt")
	want, _ := json.Marshal(data)
	return func(ctx context.Context, w int) error {
		id := ids[w%len(ids)]
		b, err := t.post(ctx, id, write, "application/json")
		if err == nil {
			err = okEnvelope(b)
		}
		if err != nil {
			return err
		}
		if b, err = t.post(ctx, id, read, "application/json"); err != nil {
			return err
		}
		if !bytes.Contains(b, want) {
			return fmt.Errorf("readFile: %.200s", b)
		}
		return nil
	}
}

// WriteOp writes a small file to sandbox ids[i] for the i-th operation
// overall (each id once when the run is len(ids) operations long): it
// loads a sandbox, as a CI job's first request does.
func (t *Target) WriteOp(ids []string) Op {
	write := rpcBody("writeFile", "/home/user/hello.txt", "hello")
	return eachID(ids, func(ctx context.Context, id string) error {
		b, err := t.post(ctx, id, write, "application/json")
		if err == nil {
			err = okEnvelope(b)
		}
		return err
	})
}

// ExecEachOp is ExecOp on sandbox ids[i] for the i-th operation overall:
// each sandbox runs one command (and starts an init for it).
func (t *Target) ExecEachOp(ids []string, command string) Op {
	body := rpcBody("exec", command)
	return eachID(ids, func(ctx context.Context, id string) error { return t.exec(ctx, id, body, command) })
}

// eachID runs op on ids in turn, one id per operation; operations past
// the last id do nothing.
func eachID(ids []string, op func(ctx context.Context, id string) error) Op {
	next := make(chan string, len(ids))
	for _, id := range ids {
		next <- id
	}
	close(next)
	return func(ctx context.Context, _ int) error {
		id, ok := <-next
		if !ok {
			return nil
		}
		return op(ctx, id)
	}
}
