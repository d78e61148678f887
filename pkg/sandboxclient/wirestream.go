package sandboxclient

import (
	"bufio"
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

// skip reads and discards one JSON value of any type.
func (s *streamScanner) skip() error {
	b, err := s.peek()
	if err != nil {
		return err
	}
	switch b {
	case '"':
		_, _ = s.br.ReadByte()
		_, err := io.Copy(io.Discard, &stringReader{br: s.br})
		return err
	case '{', '[':
		_, _ = s.br.ReadByte()
		closer := byte('}')
		if b == '[' {
			closer = ']'
		}
		first := true
		for {
			c, err := s.peek()
			if err != nil {
				return err
			}
			if c == closer {
				_, err := s.br.ReadByte()
				return err
			}
			if !first {
				if err := s.expect(','); err != nil {
					return err
				}
			}
			first = false
			if b == '{' {
				if _, err := s.str(1 << 20); err != nil {
					return err
				}
				if err := s.expect(':'); err != nil {
					return err
				}
			}
			if err := s.skip(); err != nil {
				return err
			}
		}
	default:
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

// bytesEnvelope is what decodeBytesEnvelope learnt besides the bytes.
type bytesEnvelope struct {
	ok       *bool
	found    bool
	wireType string
	errMsg   string
	code     string
}

// decodeBytesEnvelope scans one JSON envelope from br, streaming the
// decoded bytes of a bytes-wire result into w.
func decodeBytesEnvelope(br *bufio.Reader, w io.Writer) (bytesEnvelope, error) {
	var env bytesEnvelope
	sc := &streamScanner{br: br}
	err := sc.members(func(key string) error {
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
			return sc.members(func(k string) error {
				switch k {
				case "__nimbusWireType":
					v, err := sc.str(64)
					env.wireType = v
					return err
				case "base64":
					if err := sc.expect('"'); err != nil {
						return err
					}
					env.found = true
					return decodeBase64(w, &stringReader{br: sc.br})
				}
				return sc.skip()
			})
		}
		return sc.skip()
	})
	return env, err
}

// base64Chunk is the base64 text decoded per step (a multiple of 4).
const base64Chunk = 128 << 10

// decodeBase64 decodes the base64 text read from r into w in large
// blocks. (base64.NewDecoder filters newlines byte by byte and writes
// small pieces; a JSON string holds none, and big writes mean fewer
// syscalls.)
func decodeBase64(w io.Writer, r io.Reader) error {
	in := make([]byte, base64Chunk)
	out := make([]byte, base64.StdEncoding.DecodedLen(base64Chunk))
	have := 0 // undecoded bytes at the start of in
	for {
		n, rerr := io.ReadAtLeast(r, in[have:], 1)
		have += n
		if rerr != nil && rerr != io.EOF {
			return rerr // a truncated string is io.ErrUnexpectedEOF
		}
		full := have - have%4
		if rerr == io.EOF {
			full = have // a trailing partial quad is corrupt input
		}
		if full > 0 {
			m, err := base64.StdEncoding.Decode(out, in[:full])
			if err != nil {
				return err
			}
			if _, err := w.Write(out[:m]); err != nil {
				return err
			}
			have = copy(in, in[full:have])
		}
		if rerr == io.EOF {
			return nil
		}
	}
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
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	if c, perr := (&streamScanner{br: br}).peek(); perr != nil || c != '{' {
		return false, 0, notEnabled(resp, nil)
	}
	lw := &limitedWriter{w: w, max: max}
	env, perr := decodeBytesEnvelope(br, lw)
	found = env.found
	switch {
	case perr == nil:
	case errors.Is(perr, errTooMuch):
		return false, lw.n, &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: fmt.Sprintf("%s: the server sent more than the %d bytes requested", op, max)}
	case ctx.Err() != nil:
		return false, lw.n, ctx.Err()
	default:
		var ce *Error
		var corrupt base64.CorruptInputError
		switch {
		case errors.As(perr, &ce):
			ce.Status = resp.StatusCode
			ce.Message = op + ": " + ce.Message
			return false, lw.n, ce
		case errors.As(perr, &corrupt), errors.Is(perr, errBadEnvelope), errors.Is(perr, io.ErrUnexpectedEOF), errors.Is(perr, io.EOF):
			return false, lw.n, &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: op + ": malformed or truncated answer", Err: perr}
		}
		return false, lw.n, &Error{Code: CodeTransport, Message: op + ": reading the answer failed", Err: perr}
	}
	ok, wireType := env.ok, env.wireType
	errMsg, code := env.errMsg, env.code
	if ok == nil {
		return false, lw.n, notEnabled(resp, nil)
	}
	if !*ok {
		env := envelope{Error: errMsg, Code: code}
		return false, lw.n, remoteError(op, resp, &env)
	}
	if found && wireType != wireTypeBytes {
		return false, lw.n, &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: op + ": expected a bytes wire object, got __nimbusWireType " + quote(wireType)}
	}
	return found, lw.n, nil
}
