package sandboxserver

import (
	"encoding/json"
	"github.com/nimbus-sh/nimbus/internal/idrule"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// Call is one decoded, authenticated rpc request.
type Call struct {
	// Op is the operation name ("" when the body has none).
	Op string
	// Args are the positional arguments, bytes already decoded.
	Args []any
	// ProfileName is the requested profile, "default" when none.
	ProfileName string
	// Profile is the server-side profile ProfileName resolves to.
	Profile Profile
	// Root is the requested root, else the profile's, else /home/user; it
	// is passed on as sent (backends normalise it as they need).
	Root string
	// ID is the sandbox id from the path; DO is the Durable Object name
	// "<tenant>:<subject or _>:<id>".
	ID, DO string
	// Principal is who the token says is calling.
	Principal Principal
	// Request is the HTTP request that carried the call (its host, for
	// URLs a backend answers), nil when there is none.
	Request *http.Request
}

// Arg returns argument i, nil when absent.
func (c *Call) Arg(i int) any {
	if i < len(c.Args) {
		return c.Args[i]
	}
	return nil
}

// Str applies the "string" rule: the argument must be a JSON string.
func (c *Call) Str(i int, name string) (string, *Error) {
	s, ok := c.Arg(i).(string)
	if !ok {
		return "", ArgError(name + " must be a string")
	}
	return s, nil
}

// Num applies the "number" rule: whatever JavaScript's Number() makes a
// finite number.
func (c *Call) Num(i int, name string) (float64, *Error) {
	f, ok := Number(c.Arg(i), i < len(c.Args))
	if !ok {
		return 0, ArgError(name + " must be a number")
	}
	return f, nil
}

// Obj applies the "object" rule: anything that is not an object is {},
// returned as a nil map (it reads as empty; callers only read it). Not an
// empty map literal: Obj is inlined, and the literal would be a map
// allocated in each caller's stack frame (about 270 bytes), on the stack
// for as long as the caller runs.
func (c *Call) Obj(i int) map[string]any {
	m, _ := c.Arg(i).(map[string]any)
	return m
}

// FileOpts refuses cred in trailing file options: credentials never cross
// the remote API.
func (c *Call) FileOpts(i int) *Error {
	if _, has := c.Obj(i)["cred"]; has {
		return ArgError("cred is not accepted over the remote API")
	}
	return nil
}

// Number is JavaScript's Number() for decoded JSON values, reporting
// whether the result is finite. present false is undefined (NaN), while a
// JSON null is 0; a one-element array is its element.
func Number(v any, present bool) (float64, bool) {
	var f float64
	var err error
	switch t := v.(type) {
	case json.Number:
		f, err = strconv.ParseFloat(string(t), 64)
	case string:
		s := strings.TrimSpace(t)
		switch {
		case s == "":
		case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
			var n uint64
			n, err = strconv.ParseUint(s[2:], 16, 64)
			f = float64(n)
		default:
			f, err = strconv.ParseFloat(s, 64)
		}
	case bool:
		if t {
			f = 1
		}
	case nil:
		if !present {
			return 0, false
		}
	case []any:
		switch len(t) {
		case 0:
		case 1:
			return Number(t[0], true)
		default:
			return 0, false
		}
	default:
		return 0, false
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// ValidID reports whether id satisfies the sandbox id rule
// ^[A-Za-z0-9._-]{1,128}$. (Validators here are plain loops: compiling
// regular expressions at init would cost every nimbus start-up.)
func ValidID(id string) bool { return idrule.Valid(id) }

// ValidTag checks ^[A-Za-z0-9][A-Za-z0-9._:-]*$ with a maximum length,
// the rule of execId (160) and shellId.
func ValidTag(s string, maxLen int) bool {
	if len(s) == 0 || len(s) > maxLen || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !idrule.Byte(s[i]) && s[i] != ':' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
