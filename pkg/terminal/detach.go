package terminal

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultDetachKeys is the ssh-style detach sequence: "~" then "." at the
// start of a line.
const DefaultDetachKeys = "enter,~,."

// DetachKeys is a key sequence that detaches from the session instead of
// reaching it. Create it with ParseDetachKeys.
type DetachKeys struct {
	seq []byte
	// lineStart: the sequence began with "enter": it is recognised only
	// at the start of a line (after Enter, or before anything was typed),
	// and the Enter itself is sent at once.
	lineStart bool
	names     []string
}

// ParseDetachKeys parses a comma-separated key list: "enter" (first only,
// meaning "at the start of a line"), "ctrl-a" … "ctrl-z", "ctrl-@",
// "ctrl-[", "ctrl-\", "ctrl-]", "ctrl-^", "ctrl-_", or one printable
// ASCII character. "" and "none" disable detaching.
func ParseDetachKeys(s string) (*DetachKeys, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "none") {
		return nil, nil
	}
	k := &DetachKeys{}
	for i, raw := range strings.Split(s, ",") {
		name := strings.TrimSpace(raw)
		lower := strings.ToLower(name)
		switch {
		case lower == "enter":
			if i != 0 {
				return nil, errors.New(`"enter" can only come first (it means "at the start of a line")`)
			}
			k.lineStart = true
			k.names = append(k.names, "Enter")
			continue
		case strings.HasPrefix(lower, "ctrl-") && len(name) == 6:
			c := name[5]
			switch {
			case c >= 'a' && c <= 'z':
				k.seq = append(k.seq, c-'a'+1)
			case c >= 'A' && c <= 'Z':
				k.seq = append(k.seq, c-'A'+1)
			case strings.IndexByte("@[\\]^_", c) >= 0:
				k.seq = append(k.seq, c-'@')
			default:
				return nil, fmt.Errorf("unknown key %q", name)
			}
			k.names = append(k.names, "Ctrl-"+strings.ToUpper(name[5:]))
			continue
		case len(name) == 1 && name[0] > ' ' && name[0] < 0x7f:
			k.seq = append(k.seq, name[0])
			k.names = append(k.names, name)
			continue
		}
		return nil, fmt.Errorf("unknown key %q (use enter, ctrl-X or one character, comma-separated)", name)
	}
	if len(k.seq) == 0 {
		return nil, errors.New("no key besides enter")
	}
	return k, nil
}

// String names the sequence for people: "Enter ~ .".
func (k *DetachKeys) String() string {
	if k == nil {
		return "none"
	}
	return strings.Join(k.names, " ")
}

// detacher recognises the detach keys in the input stream.
type detacher struct {
	k         *DetachKeys
	lineStart bool
	held      int // how many keys of the sequence were typed and held back
}

func newDetacher(k *DetachKeys) *detacher { return &detacher{k: k, lineStart: true} }

// feed appends to out the input to send and reports whether the sequence
// was completed (the rest of p is then dropped). Keys that may start the
// sequence are held back until the next key decides; typing the first key
// twice sends it once (as ssh's "~~").
func (d *detacher) feed(out, p []byte) ([]byte, bool) {
	if d == nil || d.k == nil {
		return append(out, p...), false
	}
	seq := d.k.seq
	for _, b := range p {
		if d.held > 0 {
			if b == seq[d.held] {
				d.held++
				if d.held == len(seq) {
					d.held = 0
					return out, true
				}
				continue
			}
			if d.held == 1 && b == seq[0] {
				out = append(out, b)
				d.held = 0
				d.lineStart = false
				continue
			}
			out = append(out, seq[:d.held]...)
			d.held = 0
			d.lineStart = false
		}
		if b == seq[0] && (!d.k.lineStart || d.lineStart) {
			if len(seq) == 1 {
				return out, true
			}
			d.held = 1
			continue
		}
		out = append(out, b)
		d.lineStart = b == '\r' || b == '\n'
	}
	return out, false
}
