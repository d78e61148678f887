package provision

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// The two Workers endpoints setup needs are called through the envelope
// helper (envelope.go) instead of cloudflare-go's workers package: that
// package registers hundreds of union types at start-up, a cost every
// nimbus command paid (53 KB allocated, about 0.15 ms) for two requests
// only `setup cloudflare` sends.

// workersSubdomain returns the account's workers.dev subdomain:
// GET /accounts/{id}/workers/subdomain.
func (c *Client) workersSubdomain(ctx context.Context, accountID string) (string, error) {
	res, err := c.do(ctx, http.MethodGet, "accounts/"+url.PathEscape(accountID)+"/workers/subdomain", nil, "")
	if err != nil {
		return "", err
	}
	var out struct {
		Subdomain string `json:"subdomain"`
	}
	if err := decodeEnvelope(res, &out); err != nil {
		return "", err
	}
	return out.Subdomain, nil
}

func secretsPath(accountID, worker string) string {
	return "accounts/" + url.PathEscape(accountID) + "/workers/scripts/" + url.PathEscape(worker) + "/secrets"
}

// workerSecretNames lists the secret names of a Worker, which fails with
// 10007 when the Worker does not exist:
// GET /accounts/{id}/workers/scripts/{name}/secrets.
func (c *Client) workerSecretNames(ctx context.Context, accountID, worker string) ([]string, error) {
	res, err := c.do(ctx, http.MethodGet, secretsPath(accountID, worker), nil, "")
	if err != nil {
		return nil, err
	}
	var list []struct {
		Name string `json:"name"`
	}
	if err := decodeEnvelope(res, &list); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(list))
	for _, s := range list {
		names = append(names, s.Name)
	}
	return names, nil
}

// WorkerSecretNames lists the names of the secrets bound to a deployed
// Worker (never their values). A Worker that is not deployed yet gives an
// *Error with CodeWorkerMissing.
func (c *Client) WorkerSecretNames(ctx context.Context, accountID, worker string) ([]string, error) {
	names, err := c.workerSecretNames(ctx, accountID, worker)
	if err != nil {
		if f, ok := isClientRejection(err); ok && (f.has(10007) || f.status == http.StatusNotFound) {
			return nil, workerMissing(err, worker)
		}
		return nil, classify(err, operation{what: "list secrets of Worker " + quote(worker), permission: PermScriptsRead})
	}
	return names, nil
}

// putWorkerSecret sets a secret_text binding on a Worker:
// PUT /accounts/{id}/workers/scripts/{name}/secrets.
func (c *Client) putWorkerSecret(ctx context.Context, accountID, worker, name, value string) error {
	body, err := json.Marshal(struct {
		Name string `json:"name"`
		Text string `json:"text"`
		Type string `json:"type"`
	}{name, value, "secret_text"})
	if err != nil {
		return err
	}
	res, err := c.do(ctx, http.MethodPut, secretsPath(accountID, worker), body, "application/json")
	if err != nil {
		return err
	}
	return decodeEnvelope(res, nil)
}
