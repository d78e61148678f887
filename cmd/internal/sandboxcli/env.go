package sandboxcli

import (
	"errors"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/job"
)

// EnvFileError is the usage error of an --env-file ParseEnvFile refuses,
// as the flag's other errors are (exit 64; sandbox run makes it 125).
func EnvFileError(err error) error {
	var fe *job.EnvFileError
	if !errors.As(err, &fe) {
		return err
	}
	e := clierr.Usagef("--env-file %s", fe.Error())
	if fe.Line > 0 {
		e = e.WithHint("each line is KEY=VALUE (quotes allowed), a comment (#) or blank")
	}
	return e
}

// ParseEnv turns --env values into the exec environment. "K=V" sets K to V;
// a bare "K" forwards the local value of K, so secrets never appear on the
// command line. Forwarding an unset or empty variable is an error: sending
// an empty secret silently would break the remote command in a confusing
// way.
func ParseEnv(specs []string, getenv func(string) string) (map[string]string, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	env := make(map[string]string, len(specs))
	for _, s := range specs {
		k, v, hasValue := strings.Cut(s, "=")
		if k == "" {
			// Quoted as given would put the value (maybe a secret) in the
			// error; `--env ""` alone does not say which --env it was.
			what := `""`
			if hasValue {
				what = `"=…"`
			}
			return nil, clierr.Usagef("--env %s: no variable name", what).WithHint("use --env NAME=VALUE, or --env NAME to forward a local variable")
		}
		if !job.ValidEnvName(k) {
			return nil, clierr.Usagef("--env %q: the name must match [A-Za-z_][A-Za-z0-9_]*", k).WithHint("use --env NAME=VALUE, or --env NAME to forward a local variable")
		}
		if !hasValue {
			v = getenv(k)
			if v == "" {
				return nil, clierr.Usagef("--env %s: %s is not set in the local environment", k, k).WithHint("export " + k + " first, or pass --env " + k + "=VALUE")
			}
		}
		env[k] = v
	}
	return env, nil
}
