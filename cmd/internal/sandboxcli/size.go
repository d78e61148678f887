package sandboxcli

import (
	"strconv"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/config"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
)

// ParseSize reads a byte count: a number with an optional unit, binary
// (K, KiB, M, MiB, G, GiB) or decimal (kB, MB, GB), case-insensitive except
// that "kB"/"MB"/"GB" are decimal and "K"/"M"/"G" binary, as ls and du use
// them.
func ParseSize(flag, s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	n, err := strconv.ParseInt(num, 10, 64)
	mult := int64(0)
	switch strings.ToLower(unit) {
	case "", "b":
		mult = 1
	case "k", "kib":
		mult = 1 << 10
	case "m", "mib":
		mult = 1 << 20
	case "g", "gib":
		mult = 1 << 30
	case "kb":
		mult = 1000
	case "mb":
		mult = 1000 * 1000
	case "gb":
		mult = 1000 * 1000 * 1000
	}
	if err != nil || mult == 0 || n <= 0 || n > (1<<62)/mult {
		return 0, clierr.Usagef("%s %q: expected a size such as 20MiB, 4M or 1048576", flag, s)
	}
	return n * mult, nil
}

// WriteLimit reads write_limit (--write-limit when the command binds it,
// NIMBUS_WRITE_LIMIT, write_limit: in a config file) from cfg: 0 when it
// is not set, which the client takes as its default. A bad --write-limit
// is a usage error (64); a bad variable or config key is a configuration
// error (78) naming where it came from, as for http_timeout.
func WriteLimit(cfg *config.Config) (int64, error) {
	v := cfg.GetString("write_limit")
	if v == "" {
		return 0, nil
	}
	n, err := ParseSize("--write-limit", v)
	if err == nil && n < 4<<10 {
		err = clierr.Usagef("--write-limit %s: at least 4KiB", v)
	}
	if err != nil && !cfg.FromFlag("write_limit") {
		return 0, clierr.New(exitcode.Config, "E_CONFIG_INVALID", cfg.Invalid("write_limit", "expected a size of at least 4KiB such as 20MiB, 4M or 1048576").Error(),
			"fix NIMBUS_WRITE_LIMIT (or write_limit in the config file), or unset it for the default 20MiB")
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}
