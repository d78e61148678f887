package sandboxcli

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/config"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// HTTPTimeoutHint says how to change the HTTP timeout.
const HTTPTimeoutHint = "if the Worker is just slow, raise NIMBUS_HTTP_TIMEOUT (or http_timeout in the config file), e.g. 2m; 0 disables it"

// ParseHTTPTimeout reads the HTTP timeout setting (NIMBUS_HTTP_TIMEOUT or
// the config's http_timeout): a Go duration ("45s", "2m") or a number of
// seconds ("45", "2.5"). "" is the default; "0" disables the timeouts,
// which the client library expresses as a negative value.
func ParseHTTPTimeout(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return sc.DefaultHTTPTimeout, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, perr := strconv.ParseFloat(v, 64)
		if perr != nil || math.IsNaN(secs) || math.IsInf(secs, 0) || secs > math.MaxInt64/float64(time.Second) {
			return 0, badTimeout(v)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	switch {
	case d < 0:
		return 0, badTimeout(v)
	case d == 0:
		return -1, nil
	}
	return d, nil
}

func badTimeout(v string) error {
	return clierr.New(exitcode.Config, "E_CONFIG_INVALID",
		"HTTP timeout "+strconv.Quote(v)+" must be a duration such as 30s or 2m, or a number of seconds",
		"fix NIMBUS_HTTP_TIMEOUT (or http_timeout in the config file); 0 disables the timeout")
}

// HTTPTimeout resolves the HTTP timeout from the environment and config
// (NIMBUS_HTTP_TIMEOUT, then http_timeout or http-timeout in a file).
func HTTPTimeout(cfg *config.Config) (time.Duration, error) {
	v := cfg.GetString("http_timeout")
	if v == "" {
		v = cfg.GetString("http-timeout")
	}
	return ParseHTTPTimeout(v)
}
