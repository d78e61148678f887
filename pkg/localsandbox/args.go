package localsandbox

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// execOpts validates ExecOptions as the Worker and the session do.
func execOpts(c *sandboxserver.Call, i int) (map[string]any, *sandboxserver.Error) {
	o := c.Obj(i)
	if _, has := o["cred"]; has {
		return nil, sandboxserver.ArgError("cred is not accepted over the remote API")
	}
	if v, has := o["execId"]; has {
		s, _ := v.(string)
		if !sandboxserver.ValidTag(s, 160) {
			return nil, sandboxserver.ArgError(fmt.Sprintf("execId must be 1 to 160 characters from A-Z a-z 0-9 . _ : - and start with a letter or digit, got %d characters", len([]rune(s))))
		}
	}
	if v, has := o["cwd"]; has {
		s, _ := v.(string)
		if !strings.HasPrefix(s, "/") {
			return nil, sandboxserver.RPCError("cwd must be an absolute POSIX path starting with '/', got " + jsString(v))
		}
	} else if _, named := o["shellId"]; !named && !strings.HasPrefix(c.Root, "/") {
		// Without a named shell the Worker's dispatcher passes the root as
		// the cwd, where a relative one fails the same way.
		return nil, sandboxserver.RPCError("cwd must be an absolute POSIX path starting with '/', got " + c.Root)
	}
	if v, has := o["shellId"]; has {
		s, _ := v.(string)
		if !sandboxserver.ValidTag(s, 160) {
			return nil, sandboxserver.RPCError("Invalid shellId: " + jsString(v))
		}
	}
	if v, has := o["shellRoot"]; has {
		s, _ := v.(string)
		if !strings.HasPrefix(s, "/") {
			return nil, sandboxserver.RPCError("shellRoot must be an absolute POSIX path starting with '/', got " + jsString(v))
		}
	}
	if v, has := o["env"]; has {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, sandboxserver.RPCError("env must be an object of strings")
		}
		for k, x := range m {
			if _, ok := x.(string); !ok {
				return nil, sandboxserver.RPCError("env." + k + " must be a string")
			}
			if k == "" || strings.ContainsAny(k, "=\x00") {
				return nil, sandboxserver.RPCError("invalid environment variable name " + strconv.Quote(k))
			}
		}
	}
	if v, has := o["stdin"]; has {
		if _, ok := v.(string); !ok {
			return nil, sandboxserver.RPCError("stdin must be a string")
		}
	}
	if v, has := o["timeoutMs"]; has {
		f, ok := sandboxserver.Number(v, true)
		if !ok || f < 0 {
			return nil, sandboxserver.RPCError("timeoutMs must be a positive number")
		}
	}
	return o, nil
}

// MaxTimeoutMs is the largest timeoutMs honoured: 2^31-1 ms (24.8 days),
// the longest delay a JavaScript timer takes. Larger values are clamped to
// it; converted as they are, they would overflow time.Duration (1e300 ms
// became a negative duration that killed the command at once).
const MaxTimeoutMs = 1<<31 - 1

// timeoutMs returns the option as a number (0 when absent), clamped to
// MaxTimeoutMs.
func timeoutMs(o map[string]any) float64 {
	v, has := o["timeoutMs"]
	if !has {
		return 0
	}
	f, _ := sandboxserver.Number(v, true)
	return min(f, MaxTimeoutMs)
}

func jsString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return "undefined"
	case json.Number:
		return string(t)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// truthy is JavaScript's Boolean(v) for a decoded JSON value: false, 0,
// -0, NaN, "" and null are falsy; objects, arrays and bytes are truthy.
func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case string:
		return t != ""
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		return err != nil || f != 0 // a JSON number too large for a float64 is ±Infinity
	}
	return true
}
