package sandboxcli

import (
	"strconv"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/clierr"
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
