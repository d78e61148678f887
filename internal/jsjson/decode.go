package jsjson

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// SyntaxError describes why input is not JSON. The wording follows the
// V8 engine's JSON.parse messages closely, but only its presence matters.
type SyntaxError struct {
	Msg string
	Pos int
}

// Error returns the message as JSON.parse would word it.
func (e *SyntaxError) Error() string { return e.Msg }

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 512

// Parse parses data as JSON.parse does: surrounding JSON whitespace is
// allowed, a duplicate key keeps its first position and takes its last
// value, and integer-like keys are ordered first, ascending, as JavaScript
// objects order them. data must be valid UTF-8 (see DecodeUTF8).
//
// Parse allocates little: one string holding the input, from which
// unescaped strings are sliced, and one arena holding the children of
// every array and object.
func Parse(data []byte) (Value, error) {
	// Every member or element follows a '{', '[' or ','; so this bounds
	// the number of children in the document.
	bound := bytes.Count(data, []byte{','}) + bytes.Count(data, []byte{'['}) + bytes.Count(data, []byte{'{'})
	buf := make([]Member, 0, 2*bound)
	p := parser{
		src:   string(data),
		stack: buf[bound:bound],
		arena: buf[:0:bound],
	}
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return Value{}, err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return Value{}, p.unexpected()
	}
	return v, nil
}

type parser struct {
	// src is the input; strings without escapes are sliced from it.
	src string
	pos int
	// stack collects the children of the containers being parsed; when a
	// container closes, its children move to arena, contiguously.
	stack []Member
	arena []Member
}

// push adds a child of the innermost open container.
func (p *parser) push(m Member) { p.stack = append(p.stack, m) }

// take moves the children pushed since mark into the arena and returns
// them. The arena never grows in place, so earlier results stay valid.
func (p *parser) take(mark int) []Member {
	children := p.stack[mark:]
	if len(p.arena)+len(children) > cap(p.arena) {
		p.arena = make([]Member, 0, max(len(children), cap(p.arena)))
	}
	start := len(p.arena)
	p.arena = append(p.arena, children...)
	clear(children)
	p.stack = p.stack[:mark]
	return p.arena[start:len(p.arena):len(p.arena)]
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) unexpected() error {
	if p.pos >= len(p.src) {
		return &SyntaxError{Msg: "Unexpected end of JSON input", Pos: p.pos}
	}
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
	return &SyntaxError{Msg: fmt.Sprintf("Unexpected token '%c', is not valid JSON at position %d", r, p.pos), Pos: p.pos}
}

func (p *parser) value(depth int) (Value, error) {
	if depth > maxDepth {
		return Value{}, &SyntaxError{Msg: "JSON nested too deeply", Pos: p.pos}
	}
	if p.pos >= len(p.src) {
		return Value{}, p.unexpected()
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.string()
		return Value{Kind: String, Str: s}, err
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true", Value{Kind: Bool, Bool: true})
	case c == 'f':
		return p.literal("false", Value{Kind: Bool})
	case c == 'n':
		return p.literal("null", Value{Kind: Null})
	}
	return Value{}, p.unexpected()
}

func (p *parser) literal(word string, v Value) (Value, error) {
	for i := 0; i < len(word); i++ {
		if p.pos >= len(p.src) || p.src[p.pos] != word[i] {
			return Value{}, p.unexpected()
		}
		p.pos++
	}
	return v, nil
}

func (p *parser) object(depth int) (Value, error) {
	p.pos++ // '{'
	mark := len(p.stack)
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		return Value{Kind: Object, Items: []Member{}}, nil
	}
	intKeys := false
	var dups keyIndex
	for {
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return Value{}, p.unexpected()
		}
		key, err := p.string()
		if err != nil {
			return Value{}, err
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return Value{}, p.unexpected()
		}
		p.pos++
		p.skipSpace()
		val, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		if i := dups.find(key, len(p.stack)-mark, func(i int) string { return p.stack[mark+i].Key }); i >= 0 {
			p.stack[mark+i].Value = val
		} else {
			p.push(Member{Key: key, Value: val})
			if !intKeys {
				_, intKeys = arrayIndex(key)
			}
		}
		p.skipSpace()
		if p.pos >= len(p.src) {
			return Value{}, p.unexpected()
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
			continue
		case '}':
			p.pos++
			if keyIndexDone != nil {
				keyIndexDone(&dups)
			}
			items := p.take(mark)
			if intKeys {
				orderIntegerKeys(items)
			}
			return Value{Kind: Object, Items: items}, nil
		}
		return Value{}, p.unexpected()
	}
}

// arrayIndex reports whether key is a canonical array index, which
// JavaScript objects enumerate before all other keys.
func arrayIndex(key string) (uint64, bool) {
	if key == "" || len(key) > 10 || (len(key) > 1 && key[0] == '0') {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(key); i++ {
		if key[i] < '0' || key[i] > '9' {
			return 0, false
		}
		n = n*10 + uint64(key[i]-'0')
	}
	return n, n < 1<<32-1
}

func orderIntegerKeys(obj []Member) {
	slices.SortStableFunc(obj, func(x, y Member) int {
		a, aok := arrayIndex(x.Key)
		b, bok := arrayIndex(y.Key)
		switch {
		case aok && bok:
			return cmp.Compare(a, b)
		case aok:
			return -1
		case bok:
			return 1
		}
		return 0
	})
}

func (p *parser) array(depth int) (Value, error) {
	p.pos++ // '['
	mark := len(p.stack)
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.pos++
		return Value{Kind: Array, Items: []Member{}}, nil
	}
	for {
		p.skipSpace()
		e, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		p.push(Member{Value: e})
		p.skipSpace()
		if p.pos >= len(p.src) {
			return Value{}, p.unexpected()
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
			continue
		case ']':
			p.pos++
			return Value{Kind: Array, Items: p.take(mark)}, nil
		}
		return Value{}, p.unexpected()
	}
}

func (p *parser) number() (Value, error) {
	start := p.pos
	if err := p.skipNumber(); err != nil {
		return Value{}, err
	}
	// ParseFloat reports out-of-range values as ±Inf or 0 with an error;
	// JavaScript silently yields the same values, so the error is ignored.
	f, _ := strconv.ParseFloat(p.src[start:p.pos], 64)
	return Value{Kind: Number, Num: f}, nil
}

// skipNumber checks the JSON number grammar and moves past the number.
func (p *parser) skipNumber() error {
	if p.src[p.pos] == '-' {
		p.pos++
	}
	if p.pos >= len(p.src) {
		return p.unexpected()
	}
	switch c := p.src[p.pos]; {
	case c == '0':
		p.pos++
	case c >= '1' && c <= '9':
		p.digits()
	default:
		return p.unexpected()
	}
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		if !p.digits() {
			return p.unexpected()
		}
	}
	if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.pos++
		}
		if !p.digits() {
			return p.unexpected()
		}
	}
	return nil
}

func (p *parser) digits() bool {
	start := p.pos
	for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
	}
	return p.pos > start
}

func (p *parser) string() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	// Fast path: no escapes, so the string is a slice of the input.
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '"' {
			s := p.src[start:p.pos]
			p.pos++
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.pos++
	}
	buf := append([]byte(nil), p.src[start:p.pos]...)
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), nil
		case c < 0x20:
			return "", &SyntaxError{Msg: fmt.Sprintf("Bad control character in string literal in JSON at position %d", p.pos), Pos: p.pos}
		case c != '\\':
			buf = append(buf, c)
			p.pos++
			continue
		}
		p.pos++
		if p.pos >= len(p.src) {
			break
		}
		esc := p.src[p.pos]
		p.pos++
		switch esc {
		case '"', '\\', '/':
			buf = append(buf, esc)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", &SyntaxError{Msg: fmt.Sprintf("Bad Unicode escape in JSON at position %d", p.pos), Pos: p.pos}
			}
			if utf16.IsSurrogate(r) {
				// A high surrogate followed by an escaped low one is a pair;
				// a lone surrogate cannot be held in a Go string.
				if p.pos+6 <= len(p.src) && p.src[p.pos] == '\\' && p.src[p.pos+1] == 'u' {
					save := p.pos
					p.pos += 2
					if r2, ok := p.hex4(); ok {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							buf = utf8.AppendRune(buf, dec)
							continue
						}
					}
					p.pos = save
				}
				r = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, r)
		default:
			p.pos--
			return "", &SyntaxError{Msg: fmt.Sprintf("Bad escaped character in JSON at position %d", p.pos), Pos: p.pos}
		}
	}
	return "", &SyntaxError{Msg: "Unterminated string in JSON at position " + strconv.Itoa(p.pos), Pos: p.pos}
}

func (p *parser) hex4() (rune, bool) {
	if p.pos+4 > len(p.src) {
		return 0, false
	}
	var r rune
	for i := 0; i < 4; i++ {
		c := p.src[p.pos+i]
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.pos += 4
	return r, true
}
