package cmdutil

import (
	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/internal/clierr"
)

// NoArgs rejects positional arguments with a usage error (exit 64).
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return clierr.Usagef("unexpected argument %q; this command takes no positional arguments", args[0]).
			WithHint("run '" + cmd.CommandPath() + " --help' for usage")
	}
	return nil
}

// MaximumArgs rejects more than n positional arguments.
func MaximumArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return clierr.Usagef("too many arguments: expected at most %d, got %d", n, len(args)).
				WithHint("run '" + cmd.CommandPath() + " --help' for usage")
		}
		return nil
	}
}

// ExactArgs requires exactly n positional arguments, naming them in the error.
func ExactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return clierr.Usagef("expected %s, got %d argument(s)", names, len(args)).
				WithHint("run '" + cmd.CommandPath() + " --help' for usage")
		}
		return nil
	}
}

// RangeArgs requires between min and max positional arguments.
func RangeArgs(min, max int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || len(args) > max {
			return clierr.Usagef("expected %s, got %d argument(s)", names, len(args)).
				WithHint("run '" + cmd.CommandPath() + " --help' for usage")
		}
		return nil
	}
}
