package sandbox

import (
	"github.com/spf13/cobra"

	"github.com/nimbus-sh/nimbus/cmd/internal/localdev"
	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient"
)

// localState is --local: an in-process local backend instead of a Worker.
type localState struct {
	enabled bool
	inproc  *localdev.InProcess
}

// addLocal registers --local on the group.
func (o *common) addLocal(group *cobra.Command) {
	group.PersistentFlags().BoolVar(&o.lo.enabled, "local", false, "use an in-process local backend (no Worker, no account; data in NIMBUS_DEV_DATA, else nimbus/dev in the user cache dir)")
}

// closeLocalAfter makes c close the in-process backend when it returns,
// killing what it left running.
func (o *common) closeLocalAfter(c *cobra.Command) {
	run, runE := c.Run, c.RunE
	if run == nil && runE == nil {
		return
	}
	c.Run = nil
	c.RunE = func(cmd *cobra.Command, args []string) error {
		defer o.closeLocal()
		if runE == nil {
			run(cmd, args)
			return nil
		}
		return runE(cmd, args)
	}
}

// localClient builds a client of the in-process backend; its tokens carry
// scopes, tenant and subject as --tenant/--sub (default tenant "local") so
// `nimbus dev` reaches the same sandboxes.
func (o *common) localClient(cmd *cobra.Command, scopes []string) (*sandboxclient.Client, *settings, error) {
	for _, fl := range []string{"endpoint", "token-file", "base-path"} {
		if cmd.Flags().Changed(fl) {
			return nil, nil, clierr.Usagef("--local and --%s cannot be combined", fl).WithHint("--local runs the sandbox backend inside nimbus; drop --" + fl)
		}
	}
	cfg, err := o.f.LoadConfig()
	if err != nil {
		return nil, nil, err
	}
	for key, flag := range map[string]string{"profile": "profile", "tenant": "tenant", "subject": "sub", "write_limit": "write-limit"} {
		if fl := cmd.Flags().Lookup(flag); fl != nil {
			if err := cfg.BindFlag(key, fl); err != nil {
				return nil, nil, err
			}
		}
	}
	if err := o.parseWriteLimit(cfg); err != nil {
		return nil, nil, err
	}
	data, err := localdev.DataDir(o.f.Getenv)
	if err != nil {
		return nil, nil, err
	}
	if o.lo.inproc == nil {
		iso, err := localdev.ParseIsolation(o.f.Getenv(localdev.IsolationEnv), localdev.IsolationEnv)
		if err != nil {
			return nil, nil, err
		}
		p, err := localdev.NewInProcess(localdev.InProcessOptions{
			DataDir: data, Getenv: o.f.Getenv, Now: o.f.Now,
			Tenant: cfg.GetString("tenant"), Subject: cfg.GetString("subject"),
			Isolation: iso, WriteLimit: o.writeLimitBytes,
		})
		if err != nil {
			return nil, nil, err
		}
		o.lo.inproc = p
	}
	c, err := o.lo.inproc.Client(scopes)
	if err != nil {
		return nil, nil, sandboxcli.Error(err)
	}
	return c, &settings{endpoint: localdev.Endpoint, profile: cfg.GetString("profile")}, nil
}

func (o *common) closeLocal() {
	if o.lo.inproc != nil {
		_ = o.lo.inproc.Close()
		o.lo.inproc = nil
	}
}
