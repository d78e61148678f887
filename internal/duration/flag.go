package duration

import (
	"time"

	"github.com/spf13/pflag"
)

// Value is a pflag.Value for a duration flag: it parses with Parse, checks
// its Limits, and shows its default with Format.
type Value struct {
	d      *time.Duration
	limits Limits
}

// Var defines a duration flag on fs whose value is stored in p.
func Var(fs *pflag.FlagSet, p *time.Duration, name string, def time.Duration, l Limits, usage string) {
	*p = def
	fs.Var(&Value{d: p, limits: l}, name, usage)
}

// Set parses s; pflag quotes s and the flag name in its error.
func (v *Value) Set(s string) error {
	d, err := v.limits.Parse(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

// String returns the current value as Format writes it.
func (v *Value) String() string { return Format(*v.d) }

// Type names the value in help ("--timeout duration").
func (v *Value) Type() string { return "duration" }
