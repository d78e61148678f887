package sandboxclient

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// wireTypeBytes is the marker value of the one special wire type.
const wireTypeBytes = "bytes"

// Bytes is binary data carried as the bytes wire type
// {"__nimbusWireType":"bytes","base64":"…"} in both directions.
type Bytes []byte

var bytesPrefix = []byte(`{"__nimbusWireType":"bytes","base64":"`)

// MarshalJSON encodes b as the bytes wire object.
func (b Bytes) MarshalJSON() ([]byte, error) {
	n := base64.StdEncoding.EncodedLen(len(b))
	out := make([]byte, 0, len(bytesPrefix)+n+2)
	out = append(out, bytesPrefix...)
	out = base64.StdEncoding.AppendEncode(out, b)
	return append(out, '"', '}'), nil
}

// UnmarshalJSON decodes the bytes wire object. It decodes the base64 text in
// place from the raw JSON, so no intermediate string of the encoded form is
// kept.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	if bytes.Equal(data, []byte("null")) {
		*b = nil
		return nil
	}
	// Keys are matched exactly (encoding/json's struct matching would also
	// accept other cases, which the wire type never uses).
	var w map[string]json.RawMessage
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	var typ string
	if t, ok := w["__nimbusWireType"]; !ok || json.Unmarshal(t, &typ) != nil || typ != wireTypeBytes {
		return &Error{Code: CodeBadResponse, Message: "expected a bytes wire object, got __nimbusWireType " + quote(typ)}
	}
	raw := w["base64"]
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' || bytes.IndexByte(raw[1:len(raw)-1], '\\') >= 0 {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return &Error{Code: CodeBadResponse, Message: "bytes wire object has no base64 string", Err: err}
		}
		raw = []byte(`"` + s + `"`)
	}
	enc := raw[1 : len(raw)-1]
	out := make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
	n, err := base64.StdEncoding.Decode(out, enc)
	if err != nil {
		return &Error{Code: CodeBadResponse, Message: "bytes wire object has invalid base64", Err: err}
	}
	*b = out[:n]
	return nil
}

func quote(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// requestBody is the JSON object posted to the rpc route. Field order follows
// the SDK so recorded bodies read naturally.
type requestBody struct {
	Profile string `json:"profile"`
	Root    string `json:"root"`
	Tenant  string `json:"tenant,omitempty"`
	Subject string `json:"subject,omitempty"`
	Op      string `json:"op"`
	Args    []any  `json:"args"`
	Diag    bool   `json:"diag,omitempty"`
}

// envelope is the JSON answer of every non-stream op. Result is set by the
// caller to a pointer to the destination so the result decodes in one pass;
// a missing or null result leaves the destination untouched. For an op
// whose result is required it is a *resultSlot, which records whether one
// arrived.
type envelope struct {
	OK      *bool  `json:"ok"`
	Result  any    `json:"result"`
	Error   string `json:"error"`
	Message string `json:"message"`
	Code    string `json:"code"`
	RPCMs   *int64 `json:"rpcMs"`
}

// nullableOp reports the ops that may answer a null (or, from older
// servers, absent) result: the reads of a path that does not exist
// (sandbox-api.md §1.7). Every other op that returns something must send
// it: a success without its result is a malformed answer, not a zero value
// (exit code 0, pid 0, an empty listing) that would pass for success. (A
// switch, not a map: nothing is built at start-up.)
func nullableOp(op string) bool {
	switch op {
	case "readFile", "readFileBytes", "readRange", "stat", "lstat", "readlink":
		return true
	}
	return false
}

// resultSlot decodes a required result into dest and records that a
// non-null one arrived (encoding/json does not call it for null: it sets
// the envelope's Result to nil instead).
type resultSlot struct {
	dest any
	seen bool
}

// UnmarshalJSON decodes the result into the destination.
func (r *resultSlot) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	r.seen = true
	return json.Unmarshal(b, r.dest)
}

// UnmarshalJSON decodes the envelope after exactMembers checked it.
func (e *envelope) UnmarshalJSON(data []byte) error {
	if err := exactMembers(data, "the answer"); err != nil {
		return err
	}
	type plain envelope
	return json.Unmarshal(data, (*plain)(e))
}

// decisiveNames are the member names that decide whether an answer is a
// success: the envelope's, an exit record's (exec, exit frame, process
// exit, install) and the "ok" of the ready, destroy and process results.
var decisiveNames = [...]string{"ok", "result", "error", "message", "code", "exitCode", "success"}

// exactMembers refuses the JSON value data when an object in it has a
// member named like one of decisiveNames but for letter case ("OK",
// "exitcode", or "o\u212a" with the Kelvin sign): encoding/json would take
// it for that field, the last of the two winning, while the wire's names
// are case-sensitive and a JavaScript client (the SDK) ignores such a
// member. Read the Go way, {"ok":false,…,"OK":true} is a success and an
// exit record's "ExitCode":0 after "exitCode":1 a command that passed: a
// broken server's answer must not be read as something the SDK would not
// read. what names the value in the error. data must be valid JSON (what
// an UnmarshalJSON method is given).
func exactMembers(data []byte, what string) error {
	for i := 0; i < len(data); i++ {
		if data[i] != '"' {
			continue
		}
		start, escaped := i, false
		for i++; i < len(data); i++ {
			k := bytes.IndexAny(data[i:], `"\`)
			if k < 0 {
				return nil // not valid JSON: the decoder says why
			}
			if i += k; data[i] == '"' {
				break
			}
			escaped = true
			i++ // the escaped byte
		}
		j := i + 1
		for j < len(data) && (data[j] == ' ' || data[j] == '\t' || data[j] == '\n' || data[j] == '\r') {
			j++
		}
		if j >= len(data) || data[j] != ':' {
			continue // a value, not a member name
		}
		name := string(data[start+1 : i])
		if escaped && json.Unmarshal(data[start:i+1], &name) != nil {
			continue
		}
		for _, n := range decisiveNames {
			if name != n && strings.EqualFold(name, n) {
				return &Error{Code: CodeBadResponse, Message: what + " has a member " + quote(bound(name, 64)) + " where " + quote(n) + " is expected: names differing in letter case are not the same member, and which one the server meant cannot be known"}
			}
		}
	}
	return nil
}
