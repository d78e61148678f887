package provision

import (
	"context"
	"net/http"

	"github.com/cloudflare/cloudflare-go/v6/workers"
)

// WorkerSecretNames lists the names of the secrets bound to a deployed
// Worker (never their values). A Worker that is not deployed yet gives an
// *Error with CodeWorkerMissing.
func (c *Client) WorkerSecretNames(ctx context.Context, accountID, worker string) ([]string, error) {
	var q workers.ScriptSecretListParams
	q.AccountID.Value, q.AccountID.Present = accountID, true
	page, err := c.secrets.List(ctx, worker, q)
	if err != nil {
		if f, ok := isClientRejection(err); ok && (f.has(10007) || f.status == http.StatusNotFound) {
			return nil, workerMissing(err, worker)
		}
		return nil, classify(err, operation{what: "list secrets of Worker " + quote(worker), permission: PermScriptsRead})
	}
	var names []string
	for _, s := range page.Result {
		names = append(names, s.Name)
	}
	return names, nil
}
