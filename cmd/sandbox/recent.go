package sandbox

import (
	"errors"
	"slices"

	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
)

// touch notes that the command opened sandbox id at o.site.
func (o *common) touch(id string) {
	if o.site != nil && !slices.Contains(o.touched, id) {
		o.touched = append(o.touched, id)
	}
}

// rememberAfter makes c, once it has run, record the sandboxes it opened
// on a Worker in the file of recently used sandboxes (recentids), which
// is what shell completion may ask a Worker about: a request creates the
// sandbox it names, so completion asks only about sandboxes that exist.
// A command records them when it succeeded, or when it failed only with
// the remote command's exit status (exec, run-code, logs -f): either way
// the Worker answered for the sandbox, which exists now. destroy removes
// the id instead. run is left out: it destroys its sandbox, unless
// --keep, and kept ones are in the cleanup ledger, which completion reads
// too; a run that destroyed its sandbox forgets it (runJob). The file is a convenience: failing to write it is silent.
func (o *common) rememberAfter(c *cobra.Command) {
	runE := c.RunE
	if runE == nil || c.Name() == "run" {
		return
	}
	c.RunE = func(cmd *cobra.Command, args []string) error {
		err := runE(cmd, args)
		var ce *clierr.Error
		if o.site == nil || len(o.touched) == 0 || (err != nil && !(errors.As(err, &ce) && ce.Silent())) {
			return err
		}
		if cmd.Name() == "destroy" {
			sandboxcli.ForgetSandbox(o.f, *o.site, o.touched...)
		} else {
			sandboxcli.RememberSandbox(o.f, *o.site, o.touched...)
		}
		return err
	}
}
