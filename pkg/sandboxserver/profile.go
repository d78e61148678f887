package sandboxserver

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Runtimes is a profile's runtime policy (profile.runtimes).
type Runtimes struct {
	// Preinstall is the ready op's list; it overrides the client's.
	Preinstall []string
	// OnDemand nil means installs are allowed by policy.
	OnDemand *bool
	// Allow nil means every runtime is allowed.
	Allow []string
}

// Profile is a server-side sandbox profile.
type Profile struct {
	// Root is the default cwd when the request names none.
	Root string
	// Runtimes is the runtime policy; nil allows everything.
	Runtimes *Runtimes
}

// Runtime policy actions for Call.Policy.
const (
	// PolicyUse is running code in a runtime the sandbox already has
	// (runCode); only the allow list applies.
	PolicyUse = "use"
	// PolicyPreinstall is installing a runtime for the ready op; only the
	// allow list applies.
	PolicyPreinstall = "preinstall"
	// PolicyOnDemand is installing a runtime when a call asks for it
	// (installRuntime, ensureRuntimes, runCode with install "ifMissing"):
	// besides the allow list, a profile with onDemand false refuses it
	// unless the runtime is on its preinstall list.
	PolicyOnDemand = "onDemand"
)

// Policy applies the call's profile runtime policy to spec
// ("name[@version]") for action PolicyUse, PolicyPreinstall or
// PolicyOnDemand; refusals are 403 with upstream's codes and wording.
func (c *Call) Policy(spec, action string) *Error {
	name, _, _ := strings.Cut(spec, "@")
	rt := c.Profile.Runtimes
	if rt == nil {
		return nil
	}
	if rt.Allow != nil && !slices.Contains(rt.Allow, name) {
		return NewError(http.StatusForbidden, "E_RUNTIME_NOT_ALLOWED", fmt.Sprintf("Nimbus runtime '%s' is not allowed by sandbox profile '%s'", name, c.ProfileName))
	}
	if action == PolicyOnDemand && rt.OnDemand != nil && !*rt.OnDemand {
		for _, p := range rt.Preinstall {
			if n, _, _ := strings.Cut(p, "@"); n == name {
				return nil
			}
		}
		return NewError(http.StatusForbidden, "E_RUNTIME_ON_DEMAND_DISABLED", fmt.Sprintf("Nimbus runtime '%s' is not preinstalled and on-demand runtime installs are disabled by sandbox profile '%s'", name, c.ProfileName))
	}
	return nil
}

// Preinstalls returns the runtimes the ready op installs: the profile's
// preinstall list when it has one (it overrides the client's), else the
// strings of the client's {preinstall}; each must pass the preinstall
// policy. The list is the caller's to keep.
func (c *Call) Preinstalls() ([]string, *Error) {
	pre := []string{}
	if c.Profile.Runtimes != nil && c.Profile.Runtimes.Preinstall != nil {
		pre = append(pre, c.Profile.Runtimes.Preinstall...)
	} else if l, ok := c.Obj(0)["preinstall"].([]any); ok {
		for _, x := range l {
			if s, ok := x.(string); ok {
				pre = append(pre, s)
			}
		}
	}
	for _, p := range pre {
		if err := c.Policy(p, PolicyPreinstall); err != nil {
			return nil, err
		}
	}
	return pre, nil
}
