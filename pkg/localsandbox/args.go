package localsandbox

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// call is one decoded rpc request.
type call struct {
	op      string
	args    []any
	profile string
	prof    Profile
	root    string
	do      string
	id      string
}

// The argument coercion rules of the Worker: "string" must be a string;
// "number" is whatever JavaScript's Number() makes finite; "object" treats
// a non-object as {}.

func (c *call) arg(i int) (any, bool) {
	if i < len(c.args) {
		return c.args[i], true
	}
	return nil, false
}

func (c *call) str(i int, name string) (string, *apiError) {
	v, _ := c.arg(i)
	s, ok := v.(string)
	if !ok {
		return "", argErr(name + " must be a string")
	}
	return s, nil
}

func (c *call) num(i int, name string) (float64, *apiError) {
	v, present := c.arg(i)
	f, ok := jsNumber(v, present)
	if !ok {
		return 0, argErr(name + " must be a number")
	}
	return f, nil
}

// jsNumber is JavaScript's Number() for decoded JSON values; absent is
// undefined (NaN) while a JSON null is 0.
func jsNumber(v any, present bool) (float64, bool) {
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
			return jsNumber(t[0], true)
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

func (c *call) obj(i int) map[string]any {
	v, _ := c.arg(i)
	if m, ok := v.(map[string]any); ok {
		return m
	}
	return map[string]any{}
}

// fileOpts refuses cred in the trailing file options.
func (c *call) fileOpts(i int) *apiError {
	if _, has := c.obj(i)["cred"]; has {
		return argErr("cred is not accepted over the remote API")
	}
	return nil
}

// execOpts validates ExecOptions as the Worker and the session do.
func (c *call) execOpts(i int) (map[string]any, *apiError) {
	o := c.obj(i)
	if _, has := o["cred"]; has {
		return nil, argErr("cred is not accepted over the remote API")
	}
	if v, has := o["execId"]; has {
		s, _ := v.(string)
		if !validTag(s, 160) {
			return nil, argErr(fmt.Sprintf("execId must be 1 to 160 characters from A-Z a-z 0-9 . _ : - and start with a letter or digit, got %d characters", len([]rune(s))))
		}
	}
	if v, has := o["cwd"]; has {
		s, _ := v.(string)
		if !strings.HasPrefix(s, "/") {
			return nil, rpcErr("cwd must be an absolute POSIX path starting with '/', got " + jsString(v))
		}
	}
	if v, has := o["shellId"]; has {
		s, _ := v.(string)
		if !validTag(s, 160) {
			return nil, rpcErr("Invalid shellId: " + jsString(v))
		}
	}
	if v, has := o["shellRoot"]; has {
		s, _ := v.(string)
		if !strings.HasPrefix(s, "/") {
			return nil, rpcErr("shellRoot must be an absolute POSIX path starting with '/', got " + jsString(v))
		}
	}
	if v, has := o["env"]; has {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, rpcErr("env must be an object of strings")
		}
		for k, x := range m {
			if _, ok := x.(string); !ok {
				return nil, rpcErr("env." + k + " must be a string")
			}
			if k == "" || strings.ContainsAny(k, "=\x00") {
				return nil, rpcErr("invalid environment variable name " + strconv.Quote(k))
			}
		}
	}
	if v, has := o["stdin"]; has {
		if _, ok := v.(string); !ok {
			return nil, rpcErr("stdin must be a string")
		}
	}
	if v, has := o["timeoutMs"]; has {
		f, ok := jsNumber(v, true)
		if !ok || f < 0 {
			return nil, rpcErr("timeoutMs must be a positive number")
		}
	}
	return o, nil
}

// timeoutMs returns the option as a number (0 when absent).
func timeoutMs(o map[string]any) float64 {
	v, has := o["timeoutMs"]
	if !has {
		return 0
	}
	f, _ := jsNumber(v, true)
	return f
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

// policy applies the profile's runtime policy (§2.7) for action "use",
// "preinstall" or "onDemand".
func (c *call) policy(spec, action string) *apiError {
	name, _, _ := strings.Cut(spec, "@")
	rt := c.prof.Runtimes
	if rt == nil {
		return nil
	}
	if rt.Allow != nil && !contains(rt.Allow, name) {
		return &apiError{403, "E_RUNTIME_NOT_ALLOWED", fmt.Sprintf("Nimbus runtime '%s' is not allowed by sandbox profile '%s'", name, c.profile)}
	}
	if action == "onDemand" && rt.OnDemand != nil && !*rt.OnDemand {
		for _, p := range rt.Preinstall {
			if n, _, _ := strings.Cut(p, "@"); n == name {
				return nil
			}
		}
		return &apiError{403, "E_RUNTIME_ON_DEMAND_DISABLED", fmt.Sprintf("Nimbus runtime '%s' is not preinstalled and on-demand runtime installs are disabled by sandbox profile '%s'", name, c.profile)}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
