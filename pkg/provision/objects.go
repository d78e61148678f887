package provision

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ObjectInfo is what Cloudflare answers to an R2 object PUT.
type ObjectInfo struct {
	Key      string `json:"key"`
	Size     int64  `json:"size"`
	ETag     string `json:"etag"`
	Uploaded string `json:"uploaded"`
}

// maxObjectGet bounds GetObject; runtime manifests and catalogs are small.
const maxObjectGet = 64 << 20

func objectPath(accountID, bucket, key string) (string, error) {
	if !validAccountID(accountID) {
		return "", &Error{Kind: KindUsage, Code: CodeAccountInvalid, Message: "invalid account id " + quote(accountID)}
	}
	if err := ValidateBucketName(bucket); err != nil {
		return "", err
	}
	if key == "" || strings.HasPrefix(key, "/") || len(key) > 1024 {
		return "", &Error{Kind: KindUsage, Code: CodeInvalidPlan, Message: "invalid R2 object key " + quote(key)}
	}
	segs := strings.Split(key, "/")
	for i, s := range segs {
		if s == "" || s == "." || s == ".." {
			return "", &Error{Kind: KindUsage, Code: CodeInvalidPlan, Message: "invalid R2 object key " + quote(key)}
		}
		segs[i] = url.PathEscape(s)
	}
	return "accounts/" + accountID + "/r2/buckets/" + bucket + "/objects/" + strings.Join(segs, "/"), nil
}

// PutObject uploads body as key through the REST objects path that wrangler's
// `r2 object put --remote` uses; cloudflare-go v6 has no call for it.
func (c *Client) PutObject(ctx context.Context, accountID, bucket, key string, body []byte, contentType string) (*ObjectInfo, error) {
	p, err := objectPath(accountID, bucket, key)
	if err != nil {
		return nil, err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	op := operation{what: "upload R2 object " + quote(bucket+"/"+key), permission: "Workers R2 Storage Write"}
	res, err := c.do(ctx, http.MethodPut, p, body, contentType)
	if err != nil {
		return nil, classify(err, op)
	}
	var info ObjectInfo
	if err := decodeEnvelope(res, &info); err != nil {
		return nil, classify(err, op)
	}
	return &info, nil
}

// GetObject downloads key. The answer is the raw object, not an envelope. A
// missing key returns found=false and no error.
func (c *Client) GetObject(ctx context.Context, accountID, bucket, key string) (data []byte, found bool, err error) {
	p, err := objectPath(accountID, bucket, key)
	if err != nil {
		return nil, false, err
	}
	op := operation{what: "download R2 object " + quote(bucket+"/"+key), permission: "Workers R2 Storage Read"}
	res, err := c.do(ctx, http.MethodGet, p, nil, "")
	if err != nil {
		if f, ok := asAPIFailure(err); ok && f.status == http.StatusNotFound && !f.has(10006) {
			return nil, false, nil
		}
		return nil, false, classify(err, op)
	}
	defer res.Body.Close()
	data, err = io.ReadAll(io.LimitReader(res.Body, maxObjectGet+1))
	if err != nil {
		return nil, false, classify(err, op)
	}
	if len(data) > maxObjectGet {
		return nil, false, &Error{Kind: KindData, Code: CodeAPI, Message: op.what + ": object larger than 64 MiB"}
	}
	return data, true, nil
}
