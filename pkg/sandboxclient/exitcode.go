package sandboxclient

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// A remote exit code is whatever number the Worker reports. A POSIX exit
// status is an integer from 0 to 255, but the sandbox's shell is not bound
// by that: it can report 256, -1 or 1.5. The client keeps the number as
// sent (ExitCodeRaw) and gives ExitCode as an int only when the number is
// an integer that fits in 32 bits; otherwise ExitCode is -1 (as
// os.ProcessState.ExitCode is for a process that did not exit normally),
// so it is never mistaken for success. Callers that turn it into a process
// status must not mask it (256 & 0xff is 0).

// decodeExitCode reads the exitCode member: a JSON number, nothing else.
// The number is read exactly, in decimal: a float conversion would round
// a tiny non-zero number (1e-400) to 0, a success, and a fraction next to
// an integer (2.0000000000000001) to that integer.
func decodeExitCode(raw json.RawMessage) (code int, num json.Number, ok bool) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') || !json.Valid([]byte(s)) {
		return 0, "", false
	}
	if c, exact := exactInt32(s); exact {
		return c, json.Number(s), true
	}
	// Not an integer, or out of range.
	return -1, json.Number(s), true
}

// exactInt32 returns the value of the JSON number s when it is exactly an
// integer within 32 bits.
func exactInt32(s string) (int, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, exp, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return 0, true // 0, -0, 0.000, 0e99: zero whatever the exponent
	}
	// The value is 0.<digits> × 10^point.
	point := int64(len(intPart)) - int64(len(intPart+frac)-len(digits))
	if hasExp {
		e, err := strconv.ParseInt(exp, 10, 32)
		if err != nil {
			return 0, false // |exponent| beyond 2^31 on a non-zero number
		}
		point += e
	}
	digits = strings.TrimRight(digits, "0")
	if point < int64(len(digits)) || point > 10 {
		return 0, false // a fraction, or 11 digits or more
	}
	v, _ := strconv.ParseInt(digits+strings.Repeat("0", int(point)-len(digits)), 10, 64)
	if neg {
		v = -v
	}
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, false
	}
	return int(v), true
}

// exitNumber is the exit code as it goes back out in JSON: as the server
// sent it when known.
func exitNumber(code int, raw json.Number) json.Number {
	if raw != "" {
		return raw
	}
	return json.Number(strconv.Itoa(code))
}

// UnmarshalJSON decodes a result; exitCode is required and may be any
// JSON number (see ExitCodeRaw).
func (r *ExecResult) UnmarshalJSON(data []byte) error {
	type plain ExecResult
	var w struct {
		*plain
		ExitCode json.RawMessage `json:"exitCode"`
		Success  *bool           `json:"success"`
	}
	w.plain = (*plain)(r)
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	code, raw, ok := decodeExitCode(w.ExitCode)
	if !ok {
		return &Error{Code: CodeBadResponse, Message: "the result has no numeric exitCode"}
	}
	if deniesZero(code, w.Success) {
		return &Error{Code: CodeBadResponse, Message: "the result says exitCode " + string(raw) + ` but "success":false: whether the command succeeded is in doubt`}
	}
	r.ExitCode, r.ExitCodeRaw = code, raw
	r.Success = w.Success != nil && *w.Success
	return nil
}

// deniesZero reports a result that contradicts itself in the one way that
// would pass a failure for a success: exit code 0 with "success":false
// (the Worker sets success to exitCode == 0). Which of the two is wrong
// cannot be known, and a CI job must not go green on the doubt. A missing
// success is no contradiction (older or minimal servers), and a non-zero
// code with "success":true already fails.
func deniesZero(code int, success *bool) bool {
	return code == 0 && success != nil && !*success
}

// MarshalJSON encodes the result with exitCode as the server sent it.
func (r ExecResult) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Command   string      `json:"command"`
		ExitCode  json.Number `json:"exitCode"`
		Success   bool        `json:"success"`
		Duration  int64       `json:"duration"`
		Timestamp int64       `json:"timestamp"`
		Stdout    string      `json:"stdout"`
		Stderr    string      `json:"stderr"`
	}{r.Command, exitNumber(r.ExitCode, r.ExitCodeRaw), r.Success, r.Duration, r.Timestamp, r.Stdout, r.Stderr})
}

// UnmarshalJSON decodes a process exit; code is required and may be any
// JSON number (see CodeRaw).
func (e *LogExit) UnmarshalJSON(data []byte) error {
	type plain LogExit
	var w struct {
		*plain
		Code json.RawMessage `json:"code"`
	}
	w.plain = (*plain)(e)
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	code, raw, ok := decodeExitCode(w.Code)
	if !ok {
		return &Error{Code: CodeBadResponse, Message: "the process exit has no numeric code"}
	}
	e.Code, e.CodeRaw = code, raw
	return nil
}

// MarshalJSON encodes the exit with its code as the server sent it.
func (e LogExit) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Code   json.Number `json:"code"`
		At     int64       `json:"at"`
		Reason *string     `json:"reason,omitempty"`
	}{exitNumber(e.Code, e.CodeRaw), e.At, e.Reason})
}
