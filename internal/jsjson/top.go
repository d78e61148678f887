package jsjson

import (
	"strconv"
	"strings"
)

// RawMember is one top-level member of an object: its key and the exact
// JSON text of its value, sliced from the source without copying.
type RawMember struct {
	Key string
	Raw string
}

// Top is a JSON document validated in full but indexed only at the top
// level. Verifying a token needs a handful of top-level claims; building
// a tree of every value would cost more than the HMAC itself.
type Top struct {
	// Kind is the kind of the document's root value.
	Kind Kind
	// Members are the root object's members in JavaScript order (array
	// indices first, then insertion order; a duplicate key keeps its first
	// position and its last value). Empty unless Kind is Object.
	Members []RawMember
}

// ParseTop validates data as JSON.parse would and indexes the members of
// a root object. data must be valid UTF-8 (see DecodeUTF8Bytes).
func ParseTop(data []byte) (Top, error) { return ParseTopString(string(data)) }

// ParseTopString is ParseTop on a string; the members' keys and values
// are slices of src.
func ParseTopString(src string) (Top, error) {
	var t Top
	var dups keyIndex
	kind, err := ScanTop(src, func(key, raw string) {
		if i := dups.find(key, len(t.Members), func(i int) string { return t.Members[i].Key }); i >= 0 {
			t.Members[i].Raw = raw
			return
		}
		t.Members = append(t.Members, RawMember{Key: key, Raw: raw})
	})
	if err != nil {
		return Top{}, err
	}
	if keyIndexDone != nil && kind == Object {
		keyIndexDone(&dups)
	}
	t.Kind = kind
	if kind == Object {
		if t.Members == nil {
			t.Members = []RawMember{}
		}
		orderRawIntegerKeys(t.Members)
	}
	return t, nil
}

// ScanTop validates src as JSON.parse would and calls member for each
// member of a root object, in source order (a duplicate key is reported
// again; the last report wins). It returns the kind of the root value and
// allocates nothing for documents whose strings have no escapes.
func ScanTop(src string, member func(key, raw string)) (Kind, error) {
	p := parser{src: src}
	p.skipSpace()
	if p.pos >= len(p.src) {
		return 0, p.unexpected()
	}
	kind := Object
	if p.src[p.pos] != '{' {
		start := p.pos
		if err := p.skipValue(0); err != nil {
			return 0, err
		}
		kind = kindOf(src[start])
	} else {
		p.pos++
		if err := p.objectMembers(1, member); err != nil {
			return 0, err
		}
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return 0, p.unexpected()
	}
	return kind, nil
}

func kindOf(c byte) Kind {
	switch c {
	case '{':
		return Object
	case '[':
		return Array
	case '"':
		return String
	case 't', 'f':
		return Bool
	case 'n':
		return Null
	}
	return Number
}

// objectMembers walks the members of an object whose '{' has been
// consumed, through its '}'. With member set it decodes each key and
// reports the value's extent; without, it only validates.
func (p *parser) objectMembers(depth int, member func(key, raw string)) error {
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		return nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return p.unexpected()
		}
		var key string
		var err error
		if member != nil {
			key, err = p.string()
		} else {
			err = p.skipString()
		}
		if err != nil {
			return err
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return p.unexpected()
		}
		p.pos++
		p.skipSpace()
		start := p.pos
		if err := p.skipValue(depth); err != nil {
			return err
		}
		if member != nil {
			member(key, p.src[start:p.pos])
		}
		p.skipSpace()
		if p.pos >= len(p.src) {
			return p.unexpected()
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
			continue
		case '}':
			p.pos++
			return nil
		}
		return p.unexpected()
	}
}

// keyIndex finds an earlier member with the same key, for the duplicate
// rule. Small objects (every real token) are scanned; from linearScanMax
// members on, a map takes over, so an object of n keys costs O(n) instead
// of n²/2 key comparisons (a 1 MiB token of 70000 claims took 28 s).
type keyIndex struct {
	m map[string]int
	// finds and reads count the calls of find and the keys it read (by
	// scan or map), so a test can tell linear from quadratic without a
	// clock (TestDuplicateCheckIsLinear).
	finds, reads int
}

// keyIndexDone, when set by a test, sees each object's keyIndex once the
// object is parsed.
var keyIndexDone func(*keyIndex)

// linearScanMax is the member count up to which a scan beats a map.
const linearScanMax = 16

// find returns the index of key among the n members so far (key(i) is
// member i's key), or -1, and then counts key as member n.
func (x *keyIndex) find(key string, n int, keyAt func(int) string) int {
	x.finds++
	if x.m == nil {
		for i := 0; i < n; i++ {
			x.reads++
			if keyAt(i) == key {
				return i
			}
		}
		if n < linearScanMax {
			return -1
		}
		x.m = make(map[string]int, 2*n)
		for i := 0; i < n; i++ {
			x.reads++
			x.m[keyAt(i)] = i
		}
	} else if i, ok := x.m[key]; ok {
		x.reads++
		return i
	}
	x.reads++
	x.m[key] = n
	return -1
}

// orderRawIntegerKeys puts array-index keys first, ascending, as
// JavaScript enumerates object keys.
func orderRawIntegerKeys(ms []RawMember) {
	// Insertion sort keeps it stable and allocation-free; top-level
	// objects are small.
	less := func(x, y string) bool {
		a, aok := arrayIndex(x)
		b, bok := arrayIndex(y)
		return aok && (!bok || a < b)
	}
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && less(ms[j].Key, ms[j-1].Key); j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// skipValue validates one value and moves past it without building it.
func (p *parser) skipValue(depth int) error {
	if depth > maxDepth {
		return &SyntaxError{Msg: "JSON nested too deeply", Pos: p.pos}
	}
	if p.pos >= len(p.src) {
		return p.unexpected()
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		p.pos++
		return p.objectMembers(depth+1, nil)
	case c == '[':
		p.pos++
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == ']' {
			p.pos++
			return nil
		}
		for {
			p.skipSpace()
			if err := p.skipValue(depth + 1); err != nil {
				return err
			}
			p.skipSpace()
			if p.pos >= len(p.src) {
				return p.unexpected()
			}
			switch p.src[p.pos] {
			case ',':
				p.pos++
				continue
			case ']':
				p.pos++
				return nil
			}
			return p.unexpected()
		}
	case c == '"':
		return p.skipString()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.skipNumber()
	case c == 't':
		_, err := p.literal("true", Value{})
		return err
	case c == 'f':
		_, err := p.literal("false", Value{})
		return err
	case c == 'n':
		_, err := p.literal("null", Value{})
		return err
	}
	return p.unexpected()
}

// skipString validates a string without decoding it, unless it has
// escapes, whose validation is the decoder's.
func (p *parser) skipString() error {
	start := p.pos
	for i := p.pos + 1; i < len(p.src); i++ {
		c := p.src[i]
		if c == '"' {
			p.pos = i + 1
			return nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	p.pos = start
	_, err := p.string()
	return err
}

// StringOf returns the string a raw JSON value holds, and false when the
// value is not a string. Strings without escapes are returned without
// copying.
func StringOf(raw string) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if !strings.ContainsRune(inner, '\\') {
		return inner, true
	}
	v, err := Parse([]byte(raw))
	if err != nil || v.Kind != String {
		return "", false
	}
	return v.Str, true
}

// IsNumber reports whether a raw JSON value (already validated) is a
// number, without converting it.
func IsNumber(raw string) bool {
	return raw != "" && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9')
}

// NumberOf returns the number a raw JSON value holds, and false when the
// value is not a number.
func NumberOf(raw string) (float64, bool) {
	if raw == "" || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return 0, false
	}
	// Fast path for the common case, a plain integer such as a UNIX time,
	// which is exact in float64 below 2^53 (16 digits are not always).
	if len(raw) <= 15 {
		var n int64
		i := 0
		for ; i < len(raw) && raw[i] >= '0' && raw[i] <= '9'; i++ {
			n = n*10 + int64(raw[i]-'0')
		}
		if i == len(raw) {
			return float64(n), true
		}
	}
	f, _ := strconv.ParseFloat(raw, 64)
	return f, true
}

// IsArrayOfStrings reports whether a raw JSON value is an array whose
// elements are all strings.
func IsArrayOfStrings(raw string) bool {
	if raw == "" || raw[0] != '[' {
		return false
	}
	p := parser{src: raw, pos: 1}
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		return true
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return false
		}
		if p.skipString() != nil {
			return false
		}
		p.skipSpace()
		if p.pos >= len(p.src) {
			return false
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case ']':
			return true
		default:
			return false
		}
	}
}

// Normalize re-serialises a raw JSON value as JSON.stringify would, e.g.
// "1.0e3" becomes "1000".
func Normalize(raw string) string {
	v, err := Parse([]byte(raw))
	if err != nil {
		return raw
	}
	return string(Marshal(v))
}

// ToValue builds the full tree of a Top document's root object.
func (t Top) ToValue() Value {
	items := make([]Member, len(t.Members))
	for i, m := range t.Members {
		v, _ := Parse([]byte(m.Raw))
		items[i] = Member{Key: m.Key, Value: v}
	}
	return Value{Kind: Object, Items: items}
}
