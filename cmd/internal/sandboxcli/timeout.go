package sandboxcli

import (
	"time"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/config"
	"github.com/nimbus-sh/nimbus/internal/duration"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// HTTPTimeoutHint says how to change the HTTP timeout.
const HTTPTimeoutHint = "if the Worker is just slow, raise NIMBUS_HTTP_TIMEOUT (or http_timeout in the config file), e.g. 2m; 0 disables it"

// HTTPTimeout resolves the HTTP timeout (NIMBUS_HTTP_TIMEOUT, then
// http_timeout, also spelled http-timeout, in a config file) with the one
// duration parser: seconds ("45", "2.5") or a duration ("2m", "1d"). Unset
// is the client's default; 0 disables the timeouts, which the client
// library expresses as a negative value. A bad value is a configuration
// error (78) naming where it came from.
func HTTPTimeout(cfg *config.Config) (time.Duration, error) {
	d, ok, err := cfg.GetDuration("http_timeout", duration.Limits{AllowZero: true})
	switch {
	case err != nil:
		return 0, clierr.Wrap(err, exitcode.Config, "E_CONFIG_INVALID", err.Error(),
			"fix NIMBUS_HTTP_TIMEOUT (or http_timeout in the config file): "+duration.Hint+"; 0 disables the timeout")
	case !ok:
		return sc.DefaultHTTPTimeout, nil
	case d == 0:
		return -1, nil
	}
	return d, nil
}
