package mcpserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// CodeFrameTooLarge: a stdio message was longer than MaxMessage. With its
// id recovered, that request is answered with this code and the session
// goes on; without, RunStdio fails with a *FrameError.
const CodeFrameTooLarge = "E_MCP_FRAME_TOO_LARGE"

// FrameError is how RunStdio ends when the client sent a message longer
// than MaxMessage whose id could not be recovered (a notification, a
// batch, an id beyond the part of the message that was looked at): no
// request can be answered, and the client would wait for ever.
type FrameError struct {
	// Size is how many bytes of the message were read before it was
	// dropped (at least MaxMessage+1).
	Size int64
}

// Error says what was dropped.
func (e *FrameError) Error() string {
	return fmt.Sprintf("the client sent a message of more than %d MiB (the most nimbus mcp reads in one message) and it names no request id to answer", MaxMessage>>20)
}

// Code returns CodeFrameTooLarge.
func (e *FrameError) Code() string { return CodeFrameTooLarge }

// RunStdio serves one client over newline-delimited JSON-RPC on in and
// out (standard input and output), as Run does with the SDK's IOTransport,
// with two differences that keep a client's requests from going
// unanswered:
//
//   - The end of in does not end the session while requests read from it
//     are running: their replies are written first, however long the
//     tools take (each is bounded by its own timeout). The SDK cancels
//     them and closes the session at once, so `printf 'initialize…
//     tools/call…' | nimbus mcp` got no reply at all. A client that is
//     gone (out, a pipe or socket, has no reader any more: it was killed)
//     is not waited for: its calls are cancelled at once. Messages are
//     told apart as the SDK's decoder does, not line by line, so that a
//     message spread over several lines (MCP forbids it; the SDK reads
//     it as one message) is waited for once, and the requests after it
//     too, while a line inside it that looks like a request is not.
//   - A message longer than MaxMessage is dropped, not buffered: when its
//     request id can be recovered, that request gets a JSON-RPC error
//     (CodeFrameTooLarge) and the session goes on; otherwise RunStdio
//     returns a *FrameError once running requests are answered. The SDK
//     ended the session with its read error in both cases.
//
// It returns nil when in ends, and ctx.Err() when ctx ends. out is not
// closed.
func (s *Server) RunStdio(ctx context.Context, in io.Reader, out io.Writer) error {
	p := &pending{ids: map[jsonrpc.ID]bool{}, done: make(chan struct{})}
	defer p.close()
	w := &stdioWriter{w: out, p: p}
	r := &stdioReader{br: bufio.NewReaderSize(in, 64<<10), w: w, p: p, log: s.o.Logger}
	// Lines are bounded here; the SDK's own bound (which counts from the
	// end of the previous message) only catches a value spread over
	// several lines, which no MCP client sends.
	err := s.Run(ctx, &mcp.IOTransport{Reader: r, Writer: w, MaxLineLength: 2*MaxMessage + 2})
	var fe *FrameError
	if errors.As(err, &fe) {
		return fe
	}
	return err
}

// pending is the set of requests read from the client and not yet
// answered.
type pending struct {
	mu     sync.Mutex
	ids    map[jsonrpc.ID]bool
	closed bool
	done   chan struct{} // closed by close
}

func (p *pending) add(id jsonrpc.ID) {
	p.mu.Lock()
	p.ids[id] = true
	p.mu.Unlock()
}

func (p *pending) remove(id jsonrpc.ID) {
	p.mu.Lock()
	delete(p.ids, id)
	p.mu.Unlock()
}

func (p *pending) empty() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ids) == 0 || p.closed
}

// close ends every wait: the session is over, or out failed.
func (p *pending) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
}

// stdioReader hands the SDK the client's messages one whole line at a
// time, after noting the requests they carry.
type stdioReader struct {
	br  *bufio.Reader
	w   *stdioWriter
	p   *pending
	log *slog.Logger

	line  []byte // what the SDK has yet to read of the current line
	end   error  // the error returned once every pending request is answered
	frame framer // where the SDK's messages start and end
}

func (r *stdioReader) Read(b []byte) (int, error) {
	for len(r.line) == 0 {
		if r.end != nil {
			return 0, r.drain(r.end)
		}
		line, err := r.next()
		if err != nil {
			r.end = err
			continue
		}
		r.line = line
	}
	n := copy(b, r.line)
	r.line = r.line[n:]
	return n, nil
}

// drain waits until every request read has been answered, the session
// is closed, or the client is gone (killed: its running calls are then
// cancelled at once, as before), and returns err.
func (r *stdioReader) drain(err error) error {
	var gone <-chan struct{}
	for i := 0; ; i++ {
		changed := r.w.changed.C()
		if r.p.empty() {
			return err
		}
		if i == 0 {
			gone = watchHangup(r.w.w, r.p.done)
		}
		select {
		case <-changed:
		case <-r.p.done:
		case <-gone:
			return err
		}
	}
}

// Close ends a wait for the pending replies: the SDK closes the
// connection when it ends the session (a failed write, ctx cancelled).
// The client's input is left open, as the SDK's IOTransport over
// os.Stdin leaves it.
func (r *stdioReader) Close() error {
	r.p.close()
	return nil
}

// next returns the next line, with its end, having noted its request. A
// line longer than MaxMessage is answered here and skipped.
func (r *stdioReader) next() ([]byte, error) {
	for {
		line, big, err := r.readLine()
		if big == nil {
			if err != nil {
				return nil, err
			}
			r.note(line)
			return line, nil
		}
		if aerr := r.tooLarge(big); aerr != nil {
			return nil, aerr
		}
		if err != nil {
			return nil, err
		}
	}
}

// readLine reads one line. When it is longer than MaxMessage, the rest
// is skipped, not kept: big then describes it, and err is how reading
// its end went (nil, or io.EOF for a last line without a newline).
func (r *stdioReader) readLine() (line []byte, big *bigLine, err error) {
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(line)+len(chunk) > MaxMessage+2 { // the message, "\r\n"
			big = &bigLine{}
			big.add(line)
			for {
				big.add(chunk)
				if err != bufio.ErrBufferFull {
					break
				}
				chunk, err = r.br.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return nil, nil, err
			}
			return nil, big, err
		}
		line = append(line, chunk...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(line) > 0:
			// A last message without its newline is still a message:
			// the next read ends the input.
			err = nil
		case err != nil:
			return nil, nil, err
		}
		if len(bytes.TrimRight(line, "\r\n")) > MaxMessage {
			big = &bigLine{}
			big.add(line)
			return nil, big, nil
		}
		return line, nil, nil
	}
}

// bigLine is a line longer than MaxMessage, seen but not kept.
type bigLine struct {
	n    int64
	scan idScan
}

func (b *bigLine) add(p []byte) {
	b.n += int64(len(p))
	b.scan.feed(p)
}

// tooLarge answers the request of a line longer than MaxMessage with an
// error. It returns the error that ends the session when there is no
// request to answer.
func (r *stdioReader) tooLarge(big *bigLine) error {
	id, ok := big.scan.request()
	if !ok {
		r.log.Error("message too large", "bytes", big.n, "code", CodeFrameTooLarge, "answered", false)
		return &FrameError{Size: big.n}
	}
	r.log.Warn("message too large", "bytes", big.n, "code", CodeFrameTooLarge, "method", big.scan.method, "answered", true)
	msg, err := jsonrpc.EncodeMessage(&jsonrpc.Response{ID: id, Error: &jsonrpc.Error{
		Code: jsonrpc.CodeInvalidRequest,
		Message: fmt.Sprintf("the message is more than %d MiB, the most nimbus mcp reads in one message [%s]; "+
			"send a large file in parts (writeFile each part, then exec cat to join them)", MaxMessage>>20, CodeFrameTooLarge),
		Data: json.RawMessage(`{"code":"` + CodeFrameTooLarge + `"}`),
	}})
	if err != nil {
		return err
	}
	return r.w.inject(append(msg, '\n'))
}

// note follows the messages the SDK reads in line and records the
// requests of those that end in it.
func (r *stdioReader) note(line []byte) {
	r.frame.feed(line, r.noteMessage)
}

// noteMessage records the request a message carries (or, in a batch, the
// requests), and forgets the one a notifications/cancelled names, whose
// reply may not come. scan has looked at the whole message; msg is the
// message itself, or nil when it was spread over several lines and too
// large to keep.
func (r *stdioReader) noteMessage(scan *idScan, msg []byte) {
	if scan == nil { // a batch
		ids, ok := batchIDs(msg, true)
		if !ok {
			// Not one the SDK takes either (it ends the session), or
			// too large to keep: stop noting, as where messages start
			// and end is no longer known for sure.
			r.frame.lost = true
			return
		}
		for _, id := range ids {
			r.p.add(id)
		}
		return
	}
	if id, ok := scan.request(); ok {
		r.p.add(id)
		return
	}
	if scan.method == "notifications/cancelled" && msg != nil {
		var n struct {
			Params struct {
				RequestID any `json:"requestId"`
			} `json:"params"`
		}
		if json.Unmarshal(msg, &n) == nil {
			if id, err := jsonrpc.MakeID(n.Params.RequestID); err == nil && id.IsValid() {
				r.p.remove(id)
				r.w.changed.Broadcast()
			}
		}
	}
}

// framer tells where the JSON values the SDK's decoder reads start and
// end in the lines it is fed, whatever lines they span: nesting is
// followed outside strings. It does not check the JSON: a value the SDK
// finds invalid ends the session, and with it every wait.
type framer struct {
	depth int        // nesting inside the current value; 0 between values
	str   jsonString // the value's strings
	batch bool       // the current value is an array
	scan  idScan
	// spans says the current value began in an earlier line; kept is
	// what of it was read so far, up to MaxMessage+2 bytes, and tooBig
	// that it grew beyond and was let go.
	spans  bool
	kept   []byte
	tooBig bool
	// lost says a value was not an object or an array (the SDK ends the
	// session on it) or a batch could not be read: nothing more is
	// noted, so the end of the input waits only for what was noted.
	lost bool
}

// feed follows line and calls done for each value that ends in it: scan
// is nil for a batch, and msg is the value, nil when it was too large to
// keep.
func (f *framer) feed(line []byte, done func(scan *idScan, msg []byte)) {
	start := 0 // where the current value's part in line begins
	for i := 0; i < len(line) && !f.lost; i++ {
		c := line[i]
		if f.depth == 0 {
			switch c {
			case ' ', '\t', '\r', '\n':
				continue
			case '{', '[':
				f.depth, f.str, f.batch = 1, jsonString{}, c == '['
				f.scan, f.spans, f.kept, f.tooBig = idScan{}, false, f.kept[:0], false
				start = i
				continue
			default:
				f.lost = true
				return
			}
		}
		// The bulk of a large message, a string (file content), is
		// skipped.
		if i = f.str.next(line, i); i == len(line) {
			break
		}
		if c = line[i]; !f.str.step(c) {
			continue
		}
		switch c {
		case '{', '[':
			f.depth++
		case '}', ']':
			f.depth--
			if f.depth > 0 {
				continue
			}
			msg := line[start : i+1]
			if f.spans {
				f.take(msg)
				msg = f.kept
				if f.tooBig {
					msg = nil
				}
			} else if !f.batch {
				f.scan.feed(msg)
			}
			if f.batch {
				done(nil, msg)
			} else {
				done(&f.scan, msg)
			}
			f.spans, f.kept = false, f.kept[:0]
			if cap(f.kept) > 64<<10 {
				f.kept = nil // not held for the rest of the session
			}
		}
	}
	if f.depth > 0 && !f.lost {
		f.take(line[start:])
		f.spans = true
	}
}

// take adds the part of a value spanning lines that one line holds.
func (f *framer) take(p []byte) {
	if !f.batch {
		f.scan.feed(p)
	}
	if f.tooBig {
		return
	}
	if len(f.kept)+len(p) > MaxMessage+2 {
		f.kept, f.tooBig = nil, true
		return
	}
	f.kept = append(f.kept, p...)
}

// stdioWriter passes the SDK's messages to out and forgets the requests
// they answer.
type stdioWriter struct {
	mu      sync.Mutex
	w       io.Writer
	p       *pending
	partial []byte // the start of a message not yet ended by "\n"
	changed signal
}

func (w *stdioWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.w.Write(b)
	if err != nil {
		w.p.close()
		return n, err
	}
	// The SDK writes whole messages, one per call; a message split across
	// calls is put together before it is looked at.
	rest := b
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			w.partial = append(w.partial, rest...)
			break
		}
		msg := rest[:i]
		if len(w.partial) > 0 {
			msg = append(w.partial, msg...)
			w.partial = nil
		}
		w.answered(msg)
		rest = rest[i+1:]
	}
	w.changed.Broadcast()
	return n, nil
}

// inject writes a message of the reader's own between the SDK's.
func (w *stdioWriter) inject(msg []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		// Never inside one of the SDK's messages (it does not split them).
		return errors.New("mcpserver: a reply was cut in two")
	}
	if _, err := w.w.Write(msg); err != nil {
		w.p.close()
		return err
	}
	return nil
}

// Close leaves out open: the process still writes to it.
func (w *stdioWriter) Close() error { return nil }

// answered forgets the requests a message of the server answers.
func (w *stdioWriter) answered(msg []byte) {
	msg = bytes.TrimSpace(msg)
	if len(msg) > 0 && msg[0] == '[' {
		ids, _ := batchIDs(msg, false)
		for _, id := range ids {
			w.p.remove(id)
		}
		return
	}
	var scan idScan
	scan.feed(msg)
	if id, ok := scan.id(); ok && !scan.hasMethod {
		w.p.remove(id)
	}
}

// batchIDs returns the ids of a JSON-RPC batch's requests (requests true:
// members with a method) or of its responses (false: members without
// one); ok is false when b is not a batch.
func batchIDs(b []byte, requests bool) (ids []jsonrpc.ID, ok bool) {
	var batch []struct {
		ID     any    `json:"id"`
		Method string `json:"method"`
	}
	if json.Unmarshal(b, &batch) != nil {
		return nil, false
	}
	for _, m := range batch {
		if id, err := jsonrpc.MakeID(m.ID); err == nil && id.IsValid() && (m.Method != "") == requests {
			ids = append(ids, id)
		}
	}
	return ids, true
}

// signal is a broadcast that can be waited for in a select.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// C returns a channel closed by the next Broadcast: take it before
// looking at what Broadcast announces, so that no change is missed.
func (s *signal) C() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Broadcast closes the channel C returned.
func (s *signal) Broadcast() {
	s.mu.Lock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
	s.mu.Unlock()
}
