package sandboxserver

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// This file decodes request bodies while they arrive. A writeFile of 20 MiB
// is 27 MiB of base64 text; decoding it with encoding/json would hold the
// body, the decoder's buffer, the base64 string and the decoded bytes at
// once (five times the payload). Here the base64 text of a bytes wire
// object is decoded as it is read, so a request costs about twice its
// decoded payload, whatever its size.

// Limits of a request body, beyond the byte limit the caller applies.
const (
	// MaxDepth bounds the nesting of arrays and objects (encoding/json's
	// own limit).
	MaxDepth = 10000
	// MaxValues bounds the number of JSON values in one body: no request
	// of the API has more than a few hundred, while a body of small values
	// costs tens of bytes of memory for each byte of input.
	MaxValues = 100000
)

// BodyError is a body that is not one valid JSON object; its message is
// what follows "Invalid JSON body: " in the answer.
type BodyError struct {
	// Offset is the byte offset where the problem was found.
	Offset int64
	msg    string
}

// Error returns the message sent to the client with E_BAD_JSON.
func (e *BodyError) Error() string { return e.msg }

// ReadBody decodes a request body from r, which must hold exactly one JSON
// object: numbers are kept as json.Number (so coercion sees what the client
// sent), strings are valid UTF-8 (invalid bytes become U+FFFD, as with
// encoding/json), and bytes wire objects at any depth become []byte, other
// members or not, as the Worker's wire decoder reads them; an object whose
// base64 atob refuses stays an object. Duplicate member names are refused:
// JavaScript clients cannot produce them, and a later "base64" silently
// replacing an earlier one would be data chosen by whoever built the body
// last.
//
// Errors are *BodyError for bad JSON; errors of r (a size limit, a
// timeout, a client gone) are returned unchanged.
func ReadBody(r io.Reader) (map[string]any, error) { return readBodySized(r, -1) }

// Body readers, pooled: most requests are a few hundred bytes and take a
// small buffer; large or unknown sizes take a large one, so that a 20 MiB
// write is read in few calls.
var (
	smallReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, smallBodyBuf) }}
	largeReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}
)

const smallBodyBuf = 4 << 10

// readBodySized is ReadBody of a body of size bytes (-1: unknown).
func readBodySized(r io.Reader, size int64) (map[string]any, error) {
	var obj map[string]any
	err := readTop(r, size, func(p *parser) error {
		v, err := p.value(0)
		if err != nil {
			return err
		}
		var ok bool
		if obj, ok = v.(map[string]any); !ok {
			// A bytes wire object is not a request either.
			return p.fail("body must be a JSON object")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// readEnvelope decodes an rpc body as readBodySized does, into the
// members the handler reads: the top-level object is not built as a map.
func readEnvelope(r io.Reader, size int64, e *rpcEnvelope) error {
	return readTop(r, size, func(p *parser) error {
		if err := p.members(1, e); err != nil {
			return err
		}
		if e.seen == 0 && e.rest != nil {
			// Nothing the handler reads: it may be a bytes wire object,
			// which is not a request.
			if _, ok := finishObject(e.rest).(map[string]any); !ok {
				return p.fail("body must be a JSON object")
			}
		}
		return nil
	})
}

// readTop reads a body of size bytes (-1: unknown) that must be one JSON
// object, which top parses.
func readTop(r io.Reader, size int64, top func(p *parser) error) error {
	pool := &largeReaders
	if size >= 0 && size <= smallBodyBuf {
		pool = &smallReaders
	}
	br := pool.Get().(*bufio.Reader)
	br.Reset(r)
	p := parsers.Get().(*parser)
	*p = parser{br: br, buf: p.buf}
	defer func() {
		br.Reset(nil)
		pool.Put(br)
		p.br = nil
		p.buf.reset()
		parsers.Put(p)
	}()
	c, err := p.skipSpace()
	if err != nil {
		if err == io.EOF {
			return p.fail("empty body")
		}
		return err
	}
	if c != '{' {
		// Nothing else can be a request: fail before reading on.
		return p.fail("body must be a JSON object")
	}
	if err := top(p); err != nil {
		return err
	}
	if _, err := p.skipSpace(); err != io.EOF {
		if err != nil {
			return err
		}
		return p.fail("unexpected data after the JSON value")
	}
	return nil
}

// rpcEnvelope is the top level of an rpc body: the members the handler
// reads, and the others (kept to refuse duplicates and to recognise a
// bytes wire object).
type rpcEnvelope struct {
	op, args, profile, root, diag any
	seen                          uint8 // bits of the members above
	rest                          map[string]any
}

// slot returns where the member key goes, with the bit it sets (0 for
// the others).
func (e *rpcEnvelope) slot(key string) (*any, uint8) {
	switch key {
	case "op":
		return &e.op, 1
	case "args":
		return &e.args, 2
	case "profile":
		return &e.profile, 4
	case "root":
		return &e.root, 8
	case "diag":
		return &e.diag, 16
	}
	return nil, 0
}

func (e *rpcEnvelope) has(key string) bool {
	if _, bit := e.slot(key); bit != 0 {
		return e.seen&bit != 0
	}
	_, ok := e.rest[key]
	return ok
}

func (e *rpcEnvelope) set(key string, v any) {
	if dst, bit := e.slot(key); bit != 0 {
		*dst = v
		e.seen |= bit
		return
	}
	if e.rest == nil {
		e.rest = map[string]any{}
	}
	e.rest[key] = v
}

// objectSink receives the members of an object as they are parsed.
type objectSink interface {
	has(key string) bool
	set(key string, v any)
}

// mapSink builds an object as a map.
type mapSink map[string]any

func (m mapSink) has(key string) bool   { _, ok := m[key]; return ok }
func (m mapSink) set(key string, v any) { m[key] = v }

// DecodeBody is ReadBody of a body already in memory.
func DecodeBody(body []byte) (map[string]any, error) {
	return ReadBody(bytes.NewReader(body))
}

// parsers are pooled with the buffer of their strings (see chunks.reset).
var parsers = sync.Pool{New: func() any { return new(parser) }}

// parser is a recursive-descent JSON parser over a buffered reader.
type parser struct {
	br     *bufio.Reader
	off    int64
	values int
	buf    chunks
}

func (p *parser) fail(format string, args ...any) error {
	return &BodyError{Offset: p.off, msg: fmt.Sprintf(format, args...)}
}

// eof turns the end of the input inside a value into a syntax error.
func (p *parser) eof(err error) error {
	if err == io.EOF {
		return p.fail("unexpected end of JSON input")
	}
	return err
}

func (p *parser) readByte() (byte, error) {
	c, err := p.br.ReadByte()
	if err == nil {
		p.off++
	}
	return c, err
}

func (p *parser) discard(n int) {
	_, _ = p.br.Discard(n)
	p.off += int64(n)
}

// skipSpace skips whitespace and returns the next byte without consuming
// it.
func (p *parser) skipSpace() (byte, error) {
	for {
		buf, err := p.br.Peek(1)
		if err != nil {
			return 0, err
		}
		switch buf[0] {
		case ' ', '\t', '\r', '\n':
			p.discard(1)
			continue
		}
		return buf[0], nil
	}
}

func (p *parser) expect(lit string) error {
	for i := 0; i < len(lit); i++ {
		c, err := p.readByte()
		if err != nil {
			return p.eof(err)
		}
		if c != lit[i] {
			return p.fail("invalid character %s in literal %s (expecting %s)", quoteChar(c), lit, quoteChar(lit[i]))
		}
	}
	return nil
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

// value parses the value that starts at the next non-space byte.
func (p *parser) value(depth int) (any, error) {
	c, err := p.skipSpace()
	if err != nil {
		return nil, p.eof(err)
	}
	p.values++
	if p.values > MaxValues {
		return nil, p.fail("more than %d values", MaxValues)
	}
	switch {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		p.discard(1)
		return p.str(&p.buf)
	case c == 't':
		return true, p.expect("true")
	case c == 'f':
		return false, p.expect("false")
	case c == 'n':
		return nil, p.expect("null")
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return nil, p.fail("invalid character %s looking for beginning of value", quoteChar(c))
}

func (p *parser) object(depth int) (any, error) {
	obj := map[string]any{}
	if err := p.members(depth, mapSink(obj)); err != nil {
		return nil, err
	}
	return finishObject(obj), nil
}

// members parses an object (the next byte is its '{') into to.
func (p *parser) members(depth int, to objectSink) error {
	if depth > MaxDepth {
		return p.fail("exceeded max depth")
	}
	p.discard(1)
	c, err := p.skipSpace()
	if err != nil {
		return p.eof(err)
	}
	if c == '}' {
		p.discard(1)
		return nil
	}
	for {
		c, err := p.skipSpace()
		if err != nil {
			return p.eof(err)
		}
		if c != '"' {
			return p.fail("invalid character %s looking for beginning of object key string", quoteChar(c))
		}
		p.discard(1)
		k, err := p.str(&p.buf)
		if err != nil {
			return err
		}
		key := k.(string)
		if to.has(key) {
			return p.fail("duplicate key %s", strconv.Quote(key))
		}
		if c, err = p.skipSpace(); err != nil {
			return p.eof(err)
		}
		if c != ':' {
			return p.fail("invalid character %s after object key", quoteChar(c))
		}
		p.discard(1)
		var v any
		if key == "base64" {
			v, err = p.base64Value(depth)
		} else {
			v, err = p.value(depth)
		}
		if err != nil {
			return err
		}
		to.set(key, v)
		if c, err = p.skipSpace(); err != nil {
			return p.eof(err)
		}
		p.discard(1)
		switch c {
		case ',':
			continue
		case '}':
			return nil
		}
		return p.fail("invalid character %s after object key:value pair", quoteChar(c))
	}
}

func (p *parser) array(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, p.fail("exceeded max depth")
	}
	p.discard(1)
	out := []any{}
	c, err := p.skipSpace()
	if err != nil {
		return nil, p.eof(err)
	}
	if c == ']' {
		p.discard(1)
		return out, nil
	}
	for {
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		c, err := p.skipSpace()
		if err != nil {
			return nil, p.eof(err)
		}
		p.discard(1)
		switch c {
		case ',':
			continue
		case ']':
			return out, nil
		}
		return nil, p.fail("invalid character %s after array element", quoteChar(c))
	}
}

// number reads a JSON number (RFC 8259 grammar) as a json.Number.
func (p *parser) number() (any, error) {
	var b []byte
	digits := func() (int, error) {
		n := 0
		for {
			buf, err := p.br.Peek(1)
			if err != nil || buf[0] < '0' || buf[0] > '9' {
				if err == io.EOF {
					err = nil
				}
				return n, err
			}
			b = append(b, buf[0])
			p.discard(1)
			n++
			if len(b) > 4096 {
				return n, p.fail("number too long")
			}
		}
	}
	peek := func() byte {
		buf, err := p.br.Peek(1)
		if err != nil {
			return 0
		}
		return buf[0]
	}
	if peek() == '-' {
		b = append(b, '-')
		p.discard(1)
	}
	if peek() == '0' {
		b = append(b, '0')
		p.discard(1)
	} else if n, err := digits(); err != nil {
		return nil, err
	} else if n == 0 {
		return nil, p.numberError()
	}
	if peek() == '.' {
		b = append(b, '.')
		p.discard(1)
		if n, err := digits(); err != nil {
			return nil, err
		} else if n == 0 {
			return nil, p.numberError()
		}
	}
	if c := peek(); c == 'e' || c == 'E' {
		b = append(b, c)
		p.discard(1)
		if c := peek(); c == '+' || c == '-' {
			b = append(b, c)
			p.discard(1)
		}
		if n, err := digits(); err != nil {
			return nil, err
		} else if n == 0 {
			return nil, p.numberError()
		}
	}
	return json.Number(b), nil
}

func (p *parser) numberError() error {
	buf, err := p.br.Peek(1)
	if err != nil {
		return p.eof(err)
	}
	return p.fail("invalid character %s in numeric literal", quoteChar(buf[0]))
}

// sink receives the UTF-8 bytes of a string's value as it is read.
type sink interface{ write(b []byte) }

// str reads the rest of a string whose opening quote was consumed.
func (p *parser) str(c *chunks) (any, error) {
	c.reset()
	if err := p.strTo(c); err != nil {
		return nil, err
	}
	if len(c.list) == 1 && c.n <= maxInterned {
		// The lookup converts without allocating.
		if v, ok := interned()[string(c.list[0])]; ok {
			return v, nil
		}
	}
	return c.String(), nil
}

// interned are the strings every request carries (member names and
// values of the envelope, op names), boxed once: a request decodes them
// without allocating. The table is made on first use, not at start-up.
var interned = sync.OnceValue(func() map[string]any {
	m := map[string]any{}
	for _, s := range []string{
		"op", "args", "profile", "root", "diag", "default", "/home/user",
		"__nimbusWireType", "bytes", "base64", "preinstall", "encoding", "utf8", "utf-8",
		"cwd", "env", "timeout", "timeoutMs", "recursive", "force", "mode", "offset", "length",
		"ready", "bootProbe", "exec", "execStream", "runCode", "startProcess", "detachExec",
		"readFile", "readFileBytes", "writeFile", "stat", "lstat", "readlink", "readdir", "exists",
		"mkdir", "rename", "chmod", "readRange", "deleteFile", "destroy",
		"listRuntimes", "installRuntime", "ensureRuntimes",
		"listProcesses", "processLogs", "killProcess", "signalProcess",
		"writeProcessInput", "endProcessInput", "resizeProcess",
		"listPorts", "exposePort", "unexposePort",
		"listApps", "exposeApp", "rotateLink", "removeApp", "ensureDurableApp", "removeDurableApp",
	} {
		m[s] = s
	}
	return m
})

// maxInterned is the length of the longest interned string, or more.
const maxInterned = 24

// strTo reads the rest of a string into s: escapes are resolved, lone
// surrogates and invalid UTF-8 become U+FFFD, control characters are
// refused, as encoding/json does.
func (p *parser) strTo(s sink) error {
	var enc [utf8.UTFMax]byte
	for {
		if _, err := p.br.Peek(1); err != nil {
			return p.eof(err)
		}
		buf, _ := p.br.Peek(p.br.Buffered())
		i := 0
		if d, ok := s.(*b64); ok && d.text == nil {
			// The base64 text of a write, tens of MiB. Fast path: the
			// buffered text up to the next quote is decoded straight from
			// the buffer, the decoder checking every character; it only
			// ignores line breaks, which JSON refuses in a string, and a
			// backslash would start an escape, so those are looked for
			// first (IndexByte is vectorised, a loop over the bytes is
			// not). A group ending in padding is decoded only where the
			// string ends. Anything else goes the byte-by-byte way below.
			if len(d.pend) > 0 {
				// Text pending from the way below: complete its last
				// group and decode it, since more text follows.
				need := (4 - len(d.pend)%4) % 4
				if need < len(buf) && buf[need] != '"' && allBase64(buf[:need]) {
					d.pend = append(d.pend, buf[:need]...)
					if d.flush(false) {
						p.discard(need)
						continue
					}
					d.pend = d.pend[:len(d.pend)-need]
				}
			}
			if len(d.pend) == 0 {
				q := bytes.IndexByte(buf, '"')
				end := q >= 0
				if !end {
					q = len(buf)
				}
				seg := buf[:q&^3]
				if len(seg) > 0 && bytes.IndexByte(seg, '\\') < 0 && bytes.IndexByte(seg, '\n') < 0 && bytes.IndexByte(seg, '\r') < 0 &&
					d.decode(seg, end && len(seg) == q) {
					p.discard(len(seg))
					continue
				}
			}
			// One scan finds the run of base64 characters (all plain
			// bytes) and d takes it as already checked.
			for i < len(buf) && base64Byte[buf[i]] {
				i++
			}
			if i > 0 {
				d.writeChecked(buf[:i])
				p.discard(i)
				continue
			}
		}
		for i < len(buf) && plainByte[buf[i]] {
			i++
		}
		if i > 0 {
			s.write(buf[:i])
			p.discard(i)
			continue
		}
		c := buf[0]
		switch {
		case c == '"':
			p.discard(1)
			return nil
		case c < 0x20:
			return p.fail("invalid character %s in string literal", quoteChar(c))
		case c == '\\':
			r, err := p.escape()
			if err != nil {
				return err
			}
			s.write(enc[:utf8.EncodeRune(enc[:], r)])
		default:
			// A multi-byte sequence may straddle the buffer's end.
			more, _ := p.br.Peek(utf8.UTFMax)
			r, size := utf8.DecodeRune(more)
			if r == utf8.RuneError && size == 1 {
				s.write([]byte("\uFFFD"))
			} else {
				s.write(more[:size])
			}
			p.discard(size)
		}
	}
}

// escape reads one escape sequence (the backslash included) and returns
// the rune it stands for.
func (p *parser) escape() (rune, error) {
	p.discard(1)
	c, err := p.readByte()
	if err != nil {
		return 0, p.eof(err)
	}
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, err := p.hex4()
		if err != nil {
			return 0, err
		}
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		// A high surrogate pairs with an immediately following \u escape;
		// anything else leaves it a replacement character and the next
		// escape is read on its own.
		next, _ := p.br.Peek(6)
		if len(next) == 6 && next[0] == '\\' && next[1] == 'u' {
			if r2, ok := parseHex4(next[2:]); ok {
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					p.discard(6)
					return dec, nil
				}
			}
		}
		return utf8.RuneError, nil
	}
	return 0, p.fail("invalid character %s in string escape code", quoteChar(c))
}

func (p *parser) hex4() (rune, error) {
	buf, err := p.br.Peek(4)
	for i, c := range buf {
		if _, ok := parseHex4([]byte{'0', '0', '0', c}); !ok {
			p.discard(i)
			return 0, p.fail("invalid character %s in \\u hexadecimal character escape", quoteChar(c))
		}
	}
	if len(buf) < 4 {
		return 0, p.eof(err)
	}
	r, _ := parseHex4(buf)
	p.discard(4)
	return r, nil
}

func parseHex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}

// base64Value parses the value of a "base64" member. A string is decoded
// while it is read, as long as it stays canonical base64 (the alphabet,
// padding only at the end, zero pad bits), so that only the decoded bytes
// are held; whether it becomes bytes is decided when its object ends.
func (p *parser) base64Value(depth int) (any, error) {
	c, err := p.skipSpace()
	if err != nil {
		return nil, p.eof(err)
	}
	if c != '"' {
		return p.value(depth)
	}
	p.values++
	if p.values > MaxValues {
		return nil, p.fail("more than %d values", MaxValues)
	}
	p.discard(1)
	d := &b64{}
	if err := p.strTo(d); err != nil {
		return nil, err
	}
	return d.finish(), nil
}

// b64 is the sink of a "base64" string: canonical text is decoded in
// windows; the first byte that breaks canonical form turns it back into
// text (re-encoding what was decoded gives exactly the text read).
type b64 struct {
	decoded chunks
	pend    []byte // text not decoded yet: less than a window
	text    *chunks
}

// b64Window is how much text is decoded at once (a multiple of 4).
const b64Window = 16 << 10

// strict decodes canonical base64 only.
var strict = base64.StdEncoding.Strict()

func (d *b64) write(b []byte) {
	if d.text != nil {
		d.text.write(b)
		return
	}
	for _, c := range b {
		if !base64Byte[c] {
			d.toText()
			d.text.write(b)
			return
		}
	}
	d.writeChecked(b)
}

// writeChecked is write of text known to hold base64 characters only.
// Whole windows are decoded from b itself when nothing is pending, rather
// than copied to pend first.
func (d *b64) writeChecked(b []byte) {
	if d.text != nil {
		d.text.write(b)
		return
	}
	for len(d.pend) == 0 && len(b) > b64Window {
		if !d.decode(b[:b64Window], false) {
			d.toText()
			d.text.write(b)
			return
		}
		b = b[b64Window:]
	}
	for len(b) > 0 {
		// A full window is decoded only once more text follows, so that
		// the padding of a string that ends there is seen as its end.
		if len(d.pend) == b64Window && !d.flush(false) {
			d.toText()
			d.text.write(b)
			return
		}
		n := min(len(b), b64Window-len(d.pend))
		d.pend = append(d.pend, b[:n]...)
		b = b[n:]
	}
}

// Byte classes of the hot loops, as tables: a request's base64 text is
// tens of MiB, and a table lookup per byte is several times cheaper than
// the comparisons (this decoding bounded upload throughput).
var (
	// plainByte marks the bytes a JSON string holds as they are: printable
	// ASCII other than the quote and the backslash.
	plainByte = byteClass(func(c byte) bool { return c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' })
	// base64Byte marks the characters of (padded) standard base64.
	base64Byte = byteClass(func(c byte) bool {
		return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '='
	})
)

func allBase64(b []byte) bool {
	for _, c := range b {
		if !base64Byte[c] {
			return false
		}
	}
	return true
}

func byteClass(in func(byte) bool) *[256]bool {
	var t [256]bool
	for c := range 256 {
		t[c] = in(byte(c))
	}
	return &t
}

// flush decodes the pending text; at the end of the string the last group
// may carry padding. It reports false when the text is not canonical.
func (d *b64) flush(last bool) bool {
	if !d.decode(d.pend, last) {
		return false
	}
	d.pend = d.pend[:0]
	return true
}

// decode appends the bytes of text to decoded; last says that text ends
// the string (only then may it end in padding). It reports false, having
// appended nothing, when the text is not canonical.
func (d *b64) decode(text []byte, last bool) bool {
	if len(text) == 0 {
		return true
	}
	if len(text)%4 != 0 || !last && text[len(text)-1] == '=' {
		return false
	}
	out := d.decoded.grow(strict.DecodedLen(len(text)))
	n, err := strict.Decode(out, text)
	if err != nil {
		d.decoded.shrink(len(out))
		return false
	}
	d.decoded.shrink(len(out) - n)
	return true
}

// toText abandons decoding: the text so far is the re-encoded bytes and
// the pending text.
func (d *b64) toText() {
	t := &chunks{}
	enc := base64.NewEncoder(base64.StdEncoding, t)
	d.decoded.each(func(b []byte) { _, _ = enc.Write(b) })
	_ = enc.Close()
	t.write(d.pend)
	d.text, d.pend = t, nil
	d.decoded = chunks{}
}

// finish returns the string's value: *b64Text when it decoded, else a
// plain string.
func (d *b64) finish() any {
	if d.text == nil && d.flush(true) {
		return &b64Text{data: d.decoded}
	}
	if d.text == nil {
		d.toText()
	}
	return d.text.String()
}

// b64Text is a canonical base64 string held decoded until its object ends.
type b64Text struct{ data chunks }

// finishObject turns a finished object into []byte when it is a bytes wire
// object, and gives its other "base64" member its string value back.
func finishObject(obj map[string]any) any {
	v, has := obj["base64"]
	if !has {
		return obj
	}
	// As the Worker's WireDecoder: "__nimbusWireType" is "bytes" and
	// "base64" a string; other members do not matter.
	wire := obj["__nimbusWireType"] == "bytes"
	switch t := v.(type) {
	case *b64Text:
		if wire {
			return t.data.Bytes()
		}
		var s chunks
		enc := base64.NewEncoder(base64.StdEncoding, &s)
		t.data.each(func(b []byte) { _, _ = enc.Write(b) })
		_ = enc.Close()
		obj["base64"] = s.String()
	case string:
		// Text that is not canonical may still be base64 to the Worker's
		// atob (white space, missing padding, nonzero pad bits).
		if wire {
			if b, ok := forgivingBase64(t); ok {
				return b
			}
		}
	}
	return obj
}

// forgivingBase64 decodes as atob does (WHATWG "forgiving-base64
// decode"): ASCII white space is ignored, padding is optional but must be
// right when present, and bits beyond the last byte are dropped.
func forgivingBase64(s string) ([]byte, bool) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\f', '\r', ' ':
			return -1
		}
		return r
	}, s)
	if len(s)%4 == 0 {
		if strings.HasSuffix(s, "==") {
			s = s[:len(s)-2]
		} else if strings.HasSuffix(s, "=") {
			s = s[:len(s)-1]
		}
	}
	if len(s)%4 == 1 {
		return nil, false
	}
	for i := 0; i < len(s); i++ {
		if !base64Byte[s[i]] || s[i] == '=' {
			return nil, false
		}
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	return b, err == nil
}

// chunks is a byte buffer made of pieces that never move once written, so
// growing it never copies what it holds; its content is copied once, into
// a value of exactly its size.
type chunks struct {
	list [][]byte
	n    int
}

const (
	firstChunk   = 512
	maxChunk     = 1 << 20
	maxKeptChunk = 64 << 10
)

// reset empties c, keeping one chunk to write into: the largest it has
// (the last), unless that is larger than maxKeptChunk, so that a pooled
// parser that read a few KiB of text once reads the next in one chunk.
func (c *chunks) reset() {
	if len(c.list) > 0 {
		keep := c.list[len(c.list)-1]
		if cap(keep) > maxKeptChunk {
			keep = c.list[0]
		}
		clear(c.list[1:])
		c.list = c.list[:1]
		c.list[0] = keep[:0]
	}
	c.n = 0
}

// grow returns n writable bytes at the end, counted as written.
func (c *chunks) grow(n int) []byte {
	last := len(c.list) - 1
	if last < 0 || cap(c.list[last])-len(c.list[last]) < n {
		size := firstChunk
		if last >= 0 {
			size = min(2*cap(c.list[last]), maxChunk)
		}
		c.list = append(c.list, make([]byte, 0, max(size, n)))
		last++
	}
	b := c.list[last]
	c.list[last] = b[:len(b)+n]
	c.n += n
	return c.list[last][len(b):]
}

// shrink forgets the last n bytes written by grow.
func (c *chunks) shrink(n int) {
	last := len(c.list) - 1
	c.list[last] = c.list[last][:len(c.list[last])-n]
	c.n -= n
}

func (c *chunks) write(b []byte) {
	for len(b) > 0 {
		last := len(c.list) - 1
		if last < 0 || len(c.list[last]) == cap(c.list[last]) {
			size := firstChunk
			if last >= 0 {
				size = min(2*cap(c.list[last]), maxChunk)
			}
			c.list = append(c.list, make([]byte, 0, size))
			last++
		}
		n := min(len(b), cap(c.list[last])-len(c.list[last]))
		c.list[last] = append(c.list[last], b[:n]...)
		c.n += n
		b = b[n:]
	}
}

// Write lets an encoder write into c.
func (c *chunks) Write(b []byte) (int, error) {
	c.write(b)
	return len(b), nil
}

func (c *chunks) each(fn func([]byte)) {
	for _, b := range c.list {
		if len(b) > 0 {
			fn(b)
		}
	}
}

// Bytes returns the content in a new slice of exactly its length.
func (c *chunks) Bytes() []byte {
	out := make([]byte, 0, c.n)
	c.each(func(b []byte) { out = append(out, b...) })
	return out
}

// String returns the content as a string.
func (c *chunks) String() string {
	if len(c.list) == 1 {
		return string(c.list[0])
	}
	var sb strings.Builder
	sb.Grow(c.n)
	c.each(func(b []byte) { sb.Write(b) })
	return sb.String()
}

// IsBodyError reports whether err is a body that is not valid JSON (as
// opposed to a failure to read it).
func IsBodyError(err error) bool {
	var be *BodyError
	return errors.As(err, &be)
}
