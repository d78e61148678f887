package sandboxclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// This file decodes the success envelope of readFileBytes and readRange
// while it arrives, streaming the base64 text of the bytes result through a
// decoder into the caller's writer. Memory stays at a few buffers whatever
// the file size, instead of holding the JSON body, the base64 text and the
// decoded bytes at once.

// errBadEnvelope marks a body that is not the expected JSON envelope.
var errBadEnvelope = errors.New("malformed JSON envelope")

// streamScanner is a minimal pull scanner over JSON text.
type streamScanner struct {
	br *bufio.Reader
}

func (s *streamScanner) peek() (byte, error) {
	for {
		b, err := s.br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b, s.br.UnreadByte()
	}
}

func (s *streamScanner) expect(want byte) error {
	b, err := s.peek()
	if err != nil {
		return err
	}
	if b != want {
		return errBadEnvelope
	}
	_, err = s.br.ReadByte()
	return err
}

// stringReader yields the unescaped content of a JSON string whose opening
// quote has been consumed, and io.EOF at its closing quote.
type stringReader struct {
	br   *bufio.Reader
	done bool
	rest []byte // pending UTF-8 bytes of an escaped rune
}

func (r *stringReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.rest) > 0 {
			c := copy(p[n:], r.rest)
			r.rest = r.rest[c:]
			n += c
			continue
		}
		if r.done {
			break
		}
		// Fast path: copy the buffered run up to the next quote or escape.
		buf, _ := r.br.Peek(r.br.Buffered())
		run := 0
		for run < len(buf) && run < len(p)-n && buf[run] != '"' && buf[run] != '\\' && buf[run] >= 0x20 {
			run++
		}
		if run > 0 {
			copy(p[n:], buf[:run])
			_, _ = r.br.Discard(run)
			n += run
			continue
		}
		b, err := r.br.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		switch {
		case b == '"':
			r.done = true
		case b == '\\':
			e, err := r.br.ReadByte()
			if err != nil {
				return n, io.ErrUnexpectedEOF
			}
			switch e {
			case '"', '\\', '/':
				p[n] = e
				n++
			case 'b':
				r.rest = []byte{'\b'}
			case 'f':
				r.rest = []byte{'\f'}
			case 'n':
				r.rest = []byte{'\n'}
			case 'r':
				r.rest = []byte{'\r'}
			case 't':
				r.rest = []byte{'\t'}
			case 'u':
				var hex [4]byte
				if _, err := io.ReadFull(r.br, hex[:]); err != nil {
					return n, io.ErrUnexpectedEOF
				}
				v, err := strconv.ParseUint(string(hex[:]), 16, 16)
				if err != nil {
					return n, errBadEnvelope
				}
				r.rest = utf8.AppendRune(nil, rune(v))
			default:
				return n, errBadEnvelope
			}
		case b < 0x20:
			return n, errBadEnvelope
		default:
			p[n] = b
			n++
		}
	}
	if n == 0 && r.done {
		return 0, io.EOF
	}
	return n, nil
}

// str reads a whole (small) JSON string value.
func (s *streamScanner) str(limit int64) (string, error) {
	if err := s.expect('"'); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(&stringReader{br: s.br}, limit))
	return string(b), err
}

// maxSkipDepth bounds the nesting of values skipped in an envelope. The
// envelope itself nests two levels; a server may add fields, but nothing
// it legitimately sends comes near this.
const maxSkipDepth = 1000

// errTooDeep marks a value nested deeper than maxSkipDepth.
var errTooDeep = errors.New("JSON value nested too deeply")

// skip reads and discards one JSON value of any type. It keeps the open
// containers on a small explicit stack instead of recursing, so what a
// server sends can never grow the goroutine stack.
func (s *streamScanner) skip() error {
	var open []byte // closers of the containers being skipped, innermost last
	for {
		b, err := s.peek()
		if err != nil {
			return err
		}
		switch b {
		case '"':
			_, _ = s.br.ReadByte()
			if _, err := io.Copy(io.Discard, &stringReader{br: s.br}); err != nil {
				return err
			}
		case '{', '[':
			_, _ = s.br.ReadByte()
			if len(open) >= maxSkipDepth {
				return errTooDeep
			}
			closer := byte('}')
			if b == '[' {
				closer = ']'
			}
			c, err := s.peek()
			if err != nil {
				return err
			}
			if c != closer {
				open = append(open, closer)
				if closer == '}' {
					if err := s.key(); err != nil {
						return err
					}
				}
				continue // the first element
			}
			_, _ = s.br.ReadByte() // an empty container
		default:
			if err := s.scalar(); err != nil {
				return err
			}
		}
		// A value ended: close the containers it ends, or move on to the
		// next element of the innermost one.
		for {
			if len(open) == 0 {
				return nil
			}
			c, err := s.peek()
			if err != nil {
				return err
			}
			top := open[len(open)-1]
			if c == top {
				_, _ = s.br.ReadByte()
				open = open[:len(open)-1]
				continue
			}
			if err := s.expect(','); err != nil {
				return err
			}
			if top == '}' {
				if err := s.key(); err != nil {
					return err
				}
			}
			break
		}
	}
}

// key reads an object key and its colon.
func (s *streamScanner) key() error {
	if _, err := s.str(1 << 20); err != nil {
		return err
	}
	return s.expect(':')
}

// scalar reads a number or a literal up to the next delimiter.
func (s *streamScanner) scalar() error {
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\r' || c == '\t' {
			return s.br.UnreadByte()
		}
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || c >= 'a' && c <= 'z') {
			return errBadEnvelope
		}
	}
}

// members iterates over the members of an object, calling fn with each key
// positioned at its value; fn must consume the value.
func (s *streamScanner) members(fn func(key string) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	first := true
	for {
		c, err := s.peek()
		if err != nil {
			return err
		}
		if c == '}' {
			_, err := s.br.ReadByte()
			return err
		}
		if !first {
			if err := s.expect(','); err != nil {
				return err
			}
		}
		first = false
		key, err := s.str(1 << 16)
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := fn(key); err != nil {
			return err
		}
	}
}

// limitedWriter fails once more than max bytes are written.
type limitedWriter struct {
	w   io.Writer
	n   int64
	max int64
}

var errTooMuch = errors.New("more bytes than requested")

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n+int64(len(p)) > l.max {
		return 0, errTooMuch
	}
	n, err := l.w.Write(p)
	l.n += int64(n)
	return n, err
}

// holdLimit is how many decoded bytes an answer may hold back before
// they reach the caller's writer. An answer up to this size reaches the
// caller only once the whole envelope is read and good (ok, the bytes wire
// type, no repeated key, nothing after it), so a bad one writes nothing; a
// longer one starts flowing once its opening (ok true, then the wire type)
// is known good, so memory stays bounded whatever the file size.
const holdLimit = 1 << 20

// holdPiece is the size of the pieces held bytes are kept in.
const holdPiece = 64 << 10

// holdWriter keeps what is written until flush, or until more than hold
// bytes are pending and ready says the answer's opening is good; from then
// on writes go straight through. n counts the bytes that reached w. Held
// bytes are copied into pieces of holdPiece bytes, so holding costs what
// is held, in few allocations, and nothing is copied twice.
type holdWriter struct {
	w       io.Writer
	hold    int
	ready   func() bool
	pieces  [][]byte
	held    int
	flowing bool
	n       int64
}

func (h *holdWriter) Write(p []byte) (int, error) {
	if h.flowing {
		n, err := h.w.Write(p)
		h.n += int64(n)
		return n, err
	}
	if k := len(h.pieces) - 1; k >= 0 && cap(h.pieces[k])-len(h.pieces[k]) >= len(p) {
		h.pieces[k] = append(h.pieces[k], p...)
	} else {
		h.pieces = append(h.pieces, append(make([]byte, 0, max(len(p), holdPiece)), p...))
	}
	h.held += len(p)
	if h.held > h.hold && h.ready() {
		if err := h.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flush writes what is held and lets later writes through.
func (h *holdWriter) flush() error {
	h.flowing = true
	pieces := h.pieces
	h.pieces, h.held = nil, 0
	for _, p := range pieces {
		n, err := h.w.Write(p)
		h.n += int64(n)
		if err != nil {
			return err
		}
	}
	return nil
}

// envelopeSlack is what a bytes answer may carry besides the base64 text:
// the envelope, rpcMs, fields a newer server adds.
const envelopeSlack = 1 << 20

// errAnswerTooBig marks an answer longer than the request can explain.
var errAnswerTooBig = errors.New("answer longer than the requested bytes")

// limitReader fails with errAnswerTooBig once more than left bytes arrive.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One more byte tells a body that ends exactly here from a longer one.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, errAnswerTooBig
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// bytesEnvelope is what decodeBytesEnvelope learnt besides the bytes.
type bytesEnvelope struct {
	ok *bool
	// object is set when the result is a JSON object; found when that
	// object has base64. Only a null or absent result means "no such
	// file": any other object is a malformed answer, never a missing file.
	object   bool
	found    bool
	wireType string
	errMsg   string
	code     string
}

// good reports whether the envelope is a success whose result, if any, is
// a bytes wire object.
func (e *bytesEnvelope) good() bool {
	return e.ok != nil && *e.ok && (!e.object || e.found && e.wireType == wireTypeBytes)
}

// repeated is the error of a key an envelope or its result carries twice:
// encoding/json would keep the last, a streaming decoder would have used
// the first, so neither is trusted.
func repeated(key string) error {
	return &Error{Code: CodeBadResponse, Message: "the answer repeats the key " + quote(key)}
}

// decodeBytesEnvelope scans one JSON envelope from br (and nothing after
// it but white space), decoding the bytes of a bytes-wire result: at most
// max bytes, else errTooMuch. The bytes reach w only for a good answer
// (see holdLimit); written is how many did.
func decodeBytesEnvelope(br *bufio.Reader, w io.Writer, max int64) (env bytesEnvelope, written int64, err error) {
	hw := &holdWriter{w: w, hold: holdLimit, ready: func() bool { return env.ok != nil && *env.ok && env.wireType == wireTypeBytes }}
	lw := &limitedWriter{w: hw, max: max}
	sc := &streamScanner{br: br}
	seen := map[string]bool{}
	err = sc.members(func(key string) error {
		switch key {
		case "ok", "error", "message", "code", "result":
			if seen[key] {
				return repeated(key)
			}
			seen[key] = true
		}
		switch key {
		case "ok":
			c, err := sc.peek()
			if err != nil {
				return err
			}
			if c != 't' && c != 'f' {
				return errBadEnvelope
			}
			v := c == 't'
			env.ok = &v
			return sc.skip()
		case "error", "message", "code":
			c, err := sc.peek()
			if err != nil || c != '"' {
				return sc.skip()
			}
			v, err := sc.str(1 << 16)
			if key == "code" {
				env.code = v
			} else if env.errMsg == "" || key == "error" {
				env.errMsg = v
			}
			return err
		case "result":
			c, err := sc.peek()
			if err != nil {
				return err
			}
			if c != '{' {
				if c == 'n' {
					return sc.skip()
				}
				return &Error{Code: CodeBadResponse, Message: "result is not a bytes wire object"}
			}
			env.object = true
			inner := map[string]bool{}
			return sc.members(func(k string) error {
				switch k {
				case "__nimbusWireType", "base64":
					if inner[k] {
						return repeated(k)
					}
					inner[k] = true
				}
				switch k {
				case "__nimbusWireType":
					v, err := sc.str(64)
					env.wireType = v
					if err == nil && v != wireTypeBytes {
						return &Error{Code: CodeBadResponse, Message: "expected a bytes wire object, got __nimbusWireType " + quote(v)}
					}
					return err
				case "base64":
					env.found = true
					if env.ok != nil && !*env.ok {
						// A failure's result is not the caller's data.
						return sc.skip()
					}
					if err := sc.expect('"'); err != nil {
						return err
					}
					return decodeBase64(lw, &stringReader{br: sc.br}, max)
				}
				return sc.skip()
			})
		}
		return sc.skip()
	})
	if err == nil {
		// One envelope: anything after it but white space is not the API's.
		if _, perr := sc.peek(); perr == nil {
			err = &Error{Code: CodeBadResponse, Message: "data after the JSON envelope"}
		} else if perr != io.EOF {
			err = perr
		}
	}
	if err == nil && env.good() {
		err = hw.flush()
	}
	return env, hw.n, err
}

// base64Chunk is the most base64 text decoded per step (a multiple of 4).
const base64Chunk = 128 << 10

// decodeBase64 decodes the base64 text read from r into w in blocks of up
// to base64Chunk, sized down for answers of at most max bytes so a small
// read does not allocate for a big one. (base64.NewDecoder filters newlines
// byte by byte and writes small pieces; big writes mean fewer syscalls.)
// Like base64.NewDecoder it ignores \r and \n (a JSON string may carry them
// escaped); text after padding is corrupt wherever a block ends.
func decodeBase64(w io.Writer, r io.Reader, max int64) error {
	chunk := base64Chunk
	if enc := base64.StdEncoding.EncodedLen(int(min(max, base64Chunk))) + 4; enc < chunk {
		chunk = enc // a multiple of 4: one more quad tells "too much" apart
	}
	in := make([]byte, chunk)
	out := make([]byte, base64.StdEncoding.DecodedLen(chunk))
	have := 0       // undecoded bytes at the start of in
	var done int64  // base64 bytes decoded so far
	padded := false // the last decoded quad held padding
	for {
		n, rerr := io.ReadAtLeast(r, in[have:], 1)
		have += dropNewlines(in[have : have+n])
		if rerr != nil && rerr != io.EOF {
			return rerr // a truncated string is io.ErrUnexpectedEOF
		}
		full := have - have%4
		if rerr == io.EOF {
			full = have // a trailing partial quad is corrupt input
		}
		if full > 0 {
			if padded {
				return base64.CorruptInputError(done)
			}
			m, err := base64.StdEncoding.Decode(out, in[:full])
			if err != nil {
				if c, ok := err.(base64.CorruptInputError); ok {
					err = c + base64.CorruptInputError(done)
				}
				return err
			}
			if _, err := w.Write(out[:m]); err != nil {
				return err
			}
			padded = in[full-1] == '='
			done += int64(full)
			have = copy(in, in[full:have])
		}
		if rerr == io.EOF {
			return nil
		}
	}
}

// dropNewlines removes \r and \n from p in place and returns the length
// left; the common case, none, costs two IndexByte scans.
func dropNewlines(p []byte) int {
	if bytes.IndexByte(p, '\n') < 0 && bytes.IndexByte(p, '\r') < 0 {
		return len(p)
	}
	n := 0
	for _, c := range p {
		if c != '\n' && c != '\r' {
			p[n] = c
			n++
		}
	}
	return n
}

// streamBytesCall runs a bytes-returning op (readFileBytes, readRange) and
// streams the decoded result into w, at most max bytes. found is false when
// the result is null or absent (the file does not exist).
func (s *Sandbox) streamBytesCall(ctx context.Context, op string, args []any, w io.Writer, max int64) (found bool, n int64, err error) {
	if err := s.ensureReady(ctx); err != nil {
		return false, 0, err
	}
	b, err := json.Marshal(s.body(op, args))
	if err != nil {
		return false, 0, newError(CodeInvalidArgument, op+": cannot encode arguments", err)
	}
	resp, err := s.c.send(ctx, s.rpcRequest(op, staticBody(b), mediaJSON))
	if err != nil {
		return false, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return false, 0, s.c.decodeEnvelope(ctx, op, resp, nil)
	}
	defer resp.Body.Close()
	// The answer is the base64 text of at most max bytes plus a small
	// envelope: a server that sends more (junk fields, endless nesting) is
	// cut off instead of being read forever.
	limit := int64(base64.StdEncoding.EncodedLen(int(max))) + envelopeSlack
	cut := &cutReader{r: resp.Body}
	body := &limitReader{r: cut, left: limit}
	br := bufio.NewReaderSize(body, 64<<10)
	if c, perr := (&streamScanner{br: br}).peek(); perr != nil || c != '{' {
		head, _ := br.Peek(min(br.Buffered(), headSize))
		return false, 0, s.c.unexpectedAnswer(op, resp, head)
	}
	env, written, perr := decodeBytesEnvelope(br, w, max)
	found = env.found
	switch {
	case perr == nil:
	case errors.Is(perr, errTooMuch):
		return false, written, &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: fmt.Sprintf("%s: the server sent more than the %d bytes requested", op, max)}
	case errors.Is(perr, errAnswerTooBig):
		return false, written, &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: fmt.Sprintf("%s: the answer exceeds %d bytes, more than %d bytes of data can explain", op, limit, max)}
	case ctx.Err() != nil:
		return false, written, ctx.Err()
	default:
		var ce *Error
		var corrupt base64.CorruptInputError
		switch {
		case cut.cut:
			return false, written, cutShort(op, resp, cut.n)
		case errors.As(perr, &ce):
			ce.Status = resp.StatusCode
			ce.Message = op + ": " + ce.Message
			return false, written, ce
		case errors.As(perr, &corrupt), errors.Is(perr, errBadEnvelope), errors.Is(perr, errTooDeep), errors.Is(perr, io.ErrUnexpectedEOF), errors.Is(perr, io.EOF):
			return false, written, &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: op + ": malformed or truncated answer", Err: perr}
		}
		return false, written, &Error{Code: CodeTransport, Message: op + ": reading the answer failed", Err: perr}
	}
	ok, wireType := env.ok, env.wireType
	errMsg, code := env.errMsg, env.code
	if ok == nil {
		return false, written, s.c.unexpectedAnswer(op, resp, nil)
	}
	if !*ok {
		env := envelope{Error: errMsg, Code: code}
		return false, written, remoteError(op, resp, &env)
	}
	if env.object && !found {
		return false, written, &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: op + ": the result is neither null nor a bytes wire object (it has no base64)"}
	}
	if found && wireType != wireTypeBytes {
		return false, written, &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: op + ": expected a bytes wire object, got __nimbusWireType " + quote(wireType)}
	}
	return found, written, nil
}
