package token

// LegacyPublicPrefix is the Durable Object name prefix used when a Worker
// runs without auth (no secret, or legacy/public mode).
const LegacyPublicPrefix = "legacy:public:_"

// DOInstanceName returns "<tn>:<sub>", or "<tn>:_" when subject is empty.
func DOInstanceName(tenant, subject string) string {
	if subject == "" {
		subject = "_"
	}
	return tenant + ":" + subject
}

// SessionDOName is the name of the Durable Object that holds session id
// for the verified caller: "<tn>:<sub or _>:<id>". Because every id
// component excludes ':', the name cannot be forged across tenants.
func SessionDOName(v *Verified, id string) string { return v.DOInstanceName + ":" + id }

// SandboxDOName is the name of the Durable Object behind the remote
// sandbox API for sandbox id; it has the same shape as SessionDOName.
func SandboxDOName(v *Verified, id string) string { return v.DOInstanceName + ":" + id }

// LegacyPublicDOName is the Durable Object name of id in legacy/public mode.
func LegacyPublicDOName(id string) string { return LegacyPublicPrefix + ":" + id }
