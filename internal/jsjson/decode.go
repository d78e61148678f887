package jsjson

import (
	"errors"
	"fmt"
	"sort"
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

func (e *SyntaxError) Error() string { return e.Msg }

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 512

var errDepth = errors.New("JSON nested too deeply")

// Parse parses data as JSON.parse does: surrounding JSON whitespace is
// allowed, a duplicate key keeps its first position and takes its last
// value, and integer-like keys are ordered first, ascending, as JavaScript
// objects order them. data must be valid UTF-8 (see DecodeUTF8).
func Parse(data []byte) (Value, error) {
	p := parser{data: data}
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return Value{}, err
	}
	p.skipSpace()
	if p.pos < len(p.data) {
		return Value{}, p.unexpected()
	}
	return v, nil
}

type parser struct {
	data []byte
	pos  int
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) unexpected() error {
	if p.pos >= len(p.data) {
		return &SyntaxError{Msg: "Unexpected end of JSON input", Pos: p.pos}
	}
	r, _ := utf8.DecodeRune(p.data[p.pos:])
	return &SyntaxError{Msg: fmt.Sprintf("Unexpected token '%c', is not valid JSON at position %d", r, p.pos), Pos: p.pos}
}

func (p *parser) value(depth int) (Value, error) {
	if depth > maxDepth {
		return Value{}, &SyntaxError{Msg: errDepth.Error(), Pos: p.pos}
	}
	if p.pos >= len(p.data) {
		return Value{}, p.unexpected()
	}
	switch c := p.data[p.pos]; {
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
		if p.pos >= len(p.data) || p.data[p.pos] != word[i] {
			return Value{}, p.unexpected()
		}
		p.pos++
	}
	return v, nil
}

func (p *parser) object(depth int) (Value, error) {
	p.pos++ // '{'
	v := Value{Kind: Object, Obj: make([]Member, 0, 8)}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return v, nil
	}
	intKeys := false
	for {
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return Value{}, p.unexpected()
		}
		key, err := p.string()
		if err != nil {
			return Value{}, err
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return Value{}, p.unexpected()
		}
		p.pos++
		p.skipSpace()
		val, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		dup := false
		for i := range v.Obj {
			if v.Obj[i].Key == key {
				v.Obj[i].Value = val
				dup = true
				break
			}
		}
		if !dup {
			v.Obj = append(v.Obj, Member{Key: key, Value: val})
			if !intKeys {
				_, intKeys = arrayIndex(key)
			}
		}
		p.skipSpace()
		if p.pos >= len(p.data) {
			return Value{}, p.unexpected()
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
			continue
		case '}':
			p.pos++
			if intKeys {
				orderIntegerKeys(v.Obj)
			}
			return v, nil
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
	sort.SliceStable(obj, func(i, j int) bool {
		a, aok := arrayIndex(obj[i].Key)
		b, bok := arrayIndex(obj[j].Key)
		switch {
		case aok && bok:
			return a < b
		default:
			return aok && !bok
		}
	})
}

func (p *parser) array(depth int) (Value, error) {
	p.pos++ // '['
	v := Value{Kind: Array, Arr: make([]Value, 0, 4)}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return v, nil
	}
	for {
		p.skipSpace()
		e, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		v.Arr = append(v.Arr, e)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return Value{}, p.unexpected()
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
			continue
		case ']':
			p.pos++
			return v, nil
		}
		return Value{}, p.unexpected()
	}
}

func (p *parser) number() (Value, error) {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	if p.pos >= len(p.data) {
		return Value{}, p.unexpected()
	}
	switch c := p.data[p.pos]; {
	case c == '0':
		p.pos++
	case c >= '1' && c <= '9':
		p.digits()
	default:
		return Value{}, p.unexpected()
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if !p.digits() {
			return Value{}, p.unexpected()
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if !p.digits() {
			return Value{}, p.unexpected()
		}
	}
	// ParseFloat reports out-of-range values as ±Inf or 0 with an error;
	// JavaScript silently yields the same values, so the error is ignored.
	f, _ := strconv.ParseFloat(string(p.data[start:p.pos]), 64)
	return Value{Kind: Number, Num: f}, nil
}

func (p *parser) digits() bool {
	start := p.pos
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
	}
	return p.pos > start
}

func (p *parser) string() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	// Fast path: no escapes.
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if c == '"' {
			s := intern(p.data[start:p.pos])
			p.pos++
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.pos++
	}
	buf := append([]byte(nil), p.data[start:p.pos]...)
	for p.pos < len(p.data) {
		c := p.data[p.pos]
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
		if p.pos >= len(p.data) {
			break
		}
		esc := p.data[p.pos]
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
				if p.pos+6 <= len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
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
	if p.pos+4 > len(p.data) {
		return 0, false
	}
	var r rune
	for i := 0; i < 4; i++ {
		c := p.data[p.pos+i]
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

// intern returns well-known token strings without allocating, since the
// same few keys and values appear in every payload nimbus parses.
func intern(b []byte) string {
	switch string(b) {
	case "scope":
		return "scope"
	case "nimbus":
		return "nimbus"
	case "tn":
		return "tn"
	case "sub":
		return "sub"
	case "scopes":
		return "scopes"
	case "sid":
		return "sid"
	case "jti":
		return "jti"
	case "iat":
		return "iat"
	case "exp":
		return "exp"
	case "alg":
		return "alg"
	case "typ":
		return "typ"
	case "HS256":
		return "HS256"
	case "JWT":
		return "JWT"
	case "sandbox:use":
		return "sandbox:use"
	}
	return string(b)
}
