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
	esc      bool // the last byte in a string was a backslash
	inStr    bool // inside a string of a member's value
	depth    int  // nesting inside a member's value
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
		if s.state == scanValue && s.inStr && !s.esc && !s.capture {
			// The bulk of a large message: a string nobody keeps (file
			// content), skipped to its next quote or backslash.
			j := bytes.IndexAny(p[i:], `"\`)
			if j < 0 {
				return
			}
			i += j
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
			s.state, s.key, s.keyLong, s.esc = scanInKey, s.key[:0], false, false
		case '}':
			s.state = scanDone
		}
	case scanInKey:
		if !s.esc && c == '"' {
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
		s.esc = !s.esc && c == '\\'
		if len(s.key) < 32 {
			s.key = append(s.key, c)
		} else {
			s.keyLong = true
		}
	case scanColon:
		if c == ':' {
			s.state, s.val, s.valLong, s.inStr, s.esc, s.depth = scanValue, s.val[:0], false, false, false, 0
		}
	case scanValue:
		if s.inStr {
			switch {
			case s.esc:
				s.esc = false
			case c == '\\':
				s.esc = true
			case c == '"':
				s.inStr = false
			}
		} else {
			switch c {
			case '"':
				s.inStr = true
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
