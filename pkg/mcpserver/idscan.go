package mcpserver

import (
	"bytes"
	"encoding/json"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// idScan finds the "id" and "method" members of a JSON-RPC message given
// in pieces, keeping only those members' values (each up to
// scanValueLimit bytes): a message of any size is looked at in constant
// memory, and without a second full decoding of the ones that are kept.
// Keys match exactly, as the SDK's decoder matches them. A message that
// is not a JSON object yields nothing.
type idScan struct {
	state    int
	keyEsc   bool       // the last byte in the key was a backslash
	str      jsonString // strings of a member's value
	depth    int        // nesting inside a member's value
	key      []byte
	keyLong  bool
	val      []byte
	valLong  bool
	capture  bool // the current value is id or method
	isMethod bool

	// hasID and hasMethod say the members were present.
	hasID, hasMethod bool
	rawID            []byte
	idLong           bool
	// method is the method, up to scanValueLimit bytes of it.
	method string
}

// scanValueLimit bounds the id and method kept: real ones are short.
const scanValueLimit = 256

const (
	scanStart = iota // before the opening brace
	scanKey          // before a key, or the closing brace
	scanInKey        // inside a key
	scanColon        // after a key
	scanValue        // inside a member's value
	scanDone         // after the object, or not an object
)

func (s *idScan) feed(p []byte) {
	for i := 0; i < len(p); i++ {
		if s.state == scanDone {
			return
		}
		if s.state == scanValue && !s.capture {
			// A string nobody keeps (file content) is skipped.
			if i = s.str.next(p, i); i == len(p) {
				return
			}
		}
		s.step(p[i])
	}
}

func (s *idScan) step(c byte) {
	switch s.state {
	case scanStart:
		switch c {
		case ' ', '\t', '\r', '\n':
		case '{':
			s.state = scanKey
		default:
			s.state = scanDone
		}
	case scanKey:
		switch c {
		case '"':
			s.state, s.key, s.keyLong, s.keyEsc = scanInKey, s.key[:0], false, false
		case '}':
			s.state = scanDone
		}
	case scanInKey:
		if !s.keyEsc && c == '"' {
			s.state = scanColon
			var k string
			if !s.keyLong && json.Unmarshal(append(append([]byte{'"'}, s.key...), '"'), &k) == nil {
				s.capture = k == "id" || k == "method"
				s.isMethod = k == "method"
			} else {
				s.capture = false
			}
			return
		}
		s.keyEsc = !s.keyEsc && c == '\\'
		if len(s.key) < 32 {
			s.key = append(s.key, c)
		} else {
			s.keyLong = true
		}
	case scanColon:
		if c == ':' {
			s.state, s.val, s.valLong, s.str, s.depth = scanValue, s.val[:0], false, jsonString{}, 0
		}
	case scanValue:
		if s.str.step(c) {
			switch c {
			case '{', '[':
				s.depth++
			case ']':
				s.depth--
			case '}':
				if s.depth == 0 {
					s.endValue()
					s.state = scanDone
					return
				}
				s.depth--
			case ',':
				if s.depth == 0 {
					s.endValue()
					s.state = scanKey
					return
				}
			}
		}
		if s.capture {
			if len(s.val) < scanValueLimit {
				s.val = append(s.val, c)
			} else {
				s.valLong = true
			}
		}
	}
}

// endValue keeps the value of id or method.
func (s *idScan) endValue() {
	if !s.capture {
		return
	}
	if s.isMethod {
		s.hasMethod = true
		var m string
		if !s.valLong && json.Unmarshal(s.val, &m) == nil {
			s.method = m
		} else {
			s.method = ""
		}
		return
	}
	s.hasID = true
	s.rawID = append(s.rawID[:0], s.val...)
	s.idLong = s.valLong
}

// id returns the message's id as the SDK reads it, if it has a valid one.
func (s *idScan) id() (jsonrpc.ID, bool) {
	if !s.hasID || s.idLong {
		return jsonrpc.ID{}, false
	}
	var v any
	if json.Unmarshal(s.rawID, &v) != nil {
		return jsonrpc.ID{}, false
	}
	id, err := jsonrpc.MakeID(v)
	if err != nil || !id.IsValid() {
		return jsonrpc.ID{}, false
	}
	return id, true
}

// request returns the id of a request that expects a reply (a call).
func (s *idScan) request() (jsonrpc.ID, bool) {
	if !s.hasMethod {
		return jsonrpc.ID{}, false
	}
	return s.id()
}

// jsonString follows the strings of a JSON text byte by byte, so that
// quotes, brackets and commas inside them are not taken for structure.
// The stdio framer and idScan share it.
type jsonString struct {
	in  bool // inside a string
	esc bool // after a backslash in it
}

// step follows c and reports whether it is structure: outside every
// string, and not the quote that opens one.
func (s *jsonString) step(c byte) bool {
	if !s.in {
		s.in = c == '"'
		return !s.in
	}
	switch {
	case s.esc:
		s.esc = false
	case c == '\\':
		s.esc = true
	case c == '"':
		s.in = false
	}
	return false
}

// next returns where step must look next from p[i]: i, or inside a string
// its next quote or backslash (len(p) when there is none), so that the
// bulk of a large message, such as a file's content, is skipped at the
// speed of bytes.IndexAny.
func (s *jsonString) next(p []byte, i int) int {
	if !s.in || s.esc {
		return i
	}
	j := bytes.IndexAny(p[i:], `"\\`)
	if j < 0 {
		return len(p)
	}
	return i + j
}
