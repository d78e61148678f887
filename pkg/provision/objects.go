package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-sh/nimbus/internal/stall"
)

// ObjectInfo describes an R2 object as the REST API reports it.
type ObjectInfo struct {
	// Key is the object's key in its bucket.
	Key string
	// Size is the object's size in bytes (sent as a string or a number;
	// both are accepted).
	Size int64
	// ETag is the object's entity tag as R2 reports it.
	ETag string
	// Uploaded is the upload time as Cloudflare sends it ("uploaded", or
	// "last_modified" in answers without it), unparsed; empty when
	// neither is sent.
	Uploaded string
}

// UnmarshalJSON decodes leniently: Cloudflare sends an object's size as a
// string in some answers and as a number in others.
func (o *ObjectInfo) UnmarshalJSON(b []byte) error {
	var raw struct {
		Key          string          `json:"key"`
		Size         json.RawMessage `json:"size"`
		ETag         string          `json:"etag"`
		Uploaded     string          `json:"uploaded"`
		LastModified string          `json:"last_modified"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	size, err := lenientInt(raw.Size)
	if err != nil {
		return fmt.Errorf("object %q: size: %w", raw.Key, err)
	}
	*o = ObjectInfo{Key: raw.Key, Size: size, ETag: raw.ETag, Uploaded: raw.Uploaded}
	if o.Uploaded == "" {
		o.Uploaded = raw.LastModified
	}
	return nil
}

// lenientInt reads a non-negative integer given as a JSON number or a
// string holding one; absent or null is 0.
func lenientInt(b json.RawMessage) (int64, error) {
	s := strings.TrimSpace(string(b))
	if s == "" || s == "null" {
		return 0, nil
	}
	if s[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return 0, err
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a size: %s", b)
	}
	return n, nil
}

// lenientBool reads true/false given as JSON booleans or strings.
func lenientBool(b json.RawMessage) bool {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	return s == "true"
}

// Body is an upload body that can be opened again, so a failed attempt can
// be retried without holding the bytes in memory.
type Body interface {
	// Size is the exact length of the body.
	Size() int64
	// Open returns a fresh reader positioned at the start.
	Open() (io.ReadCloser, error)
}

type bytesBody []byte

func (b bytesBody) Size() int64                  { return int64(len(b)) }
func (b bytesBody) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }

// BytesBody returns data as a Body.
func BytesBody(data []byte) Body { return bytesBody(data) }

// maxObjectGet bounds GetObject; runtime manifests and catalogs are small.
const maxObjectGet = 64 << 20

// MaxObjectPut is the REST API's limit for one object (about 300 MiB).
const MaxObjectPut = 300 << 20

// DefaultStallTimeout is the period over which an object upload must keep
// stall.MinRate's pace (120 KiB a minute); a large object on a slow link is
// fine as long as it moves at that pace. A peer that takes a byte now and
// then would otherwise hold the upload forever: it is never silent for a
// whole period.
const DefaultStallTimeout = 60 * time.Second

func bucketPath(accountID, bucket string) (string, error) {
	if !validAccountID(accountID) {
		return "", invalidAccountID(accountID)
	}
	if err := ValidateBucketName(bucket); err != nil {
		return "", err
	}
	return "accounts/" + accountID + "/r2/buckets/" + bucket, nil
}

func objectPath(accountID, bucket, key string) (string, error) {
	base, err := bucketPath(accountID, bucket)
	if err != nil {
		return "", err
	}
	if err := ValidateObjectKey(key); err != nil {
		return "", err
	}
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return base + "/objects/" + strings.Join(segs, "/"), nil
}

// ValidateObjectKey refuses keys the REST path cannot carry unambiguously:
// empty, absolute, with empty, "." or ".." segments, or over 1024 bytes.
func ValidateObjectKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || len(key) > 1024 {
		return &Error{Kind: KindUsage, Code: CodeInvalidPlan, Message: "invalid R2 object key " + quote(key)}
	}
	for _, s := range strings.Split(key, "/") {
		if s == "" || s == "." || s == ".." {
			return &Error{Kind: KindUsage, Code: CodeInvalidPlan, Message: "invalid R2 object key " + quote(key)}
		}
	}
	return nil
}

// PutObject uploads body as key through the REST objects path that wrangler's
// `r2 object put --remote` uses; cloudflare-go v6 has no call for it.
func (c *Client) PutObject(ctx context.Context, accountID, bucket, key string, body []byte, contentType string) (*ObjectInfo, error) {
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	return c.PutObjectFrom(ctx, accountID, bucket, key, BytesBody(body), contentType)
}

// PutObjectFrom uploads a Body, streaming it: nothing larger than a read
// buffer is held in memory, and a retry reopens the body. An empty
// contentType sends none, so the object is stored without one. The upload
// has no overall deadline; it fails when less than 120 KiB moves in a
// minute (2 KiB/s over each ClientOptions.StallTimeout).
func (c *Client) PutObjectFrom(ctx context.Context, accountID, bucket, key string, body Body, contentType string) (*ObjectInfo, error) {
	p, err := objectPath(accountID, bucket, key)
	if err != nil {
		return nil, err
	}
	op := operation{what: "upload R2 object " + quote(bucket+"/"+key), permission: PermR2Write}
	if body.Size() > MaxObjectPut {
		return nil, &Error{Kind: KindUsage, Code: CodeInvalidPlan, Message: fmt.Sprintf("%s: %d bytes is over the %d-byte object limit of the Cloudflare API", op.what, body.Size(), MaxObjectPut)}
	}
	sctx, wd := stall.NewRate(ctx, c.stallTimeout, stall.MinBytes(c.stallTimeout, stall.MinRate))
	defer wd.Stop()
	u, err := c.base.Parse(p)
	if err != nil {
		return nil, err
	}
	open := func() (io.ReadCloser, error) {
		rc, err := body.Open()
		if err != nil {
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{wd.Reader(rc), rc}, nil
	}
	rc, err := open()
	if err != nil {
		return nil, &Error{Kind: KindInternal, Code: CodeAPI, Message: op.what + ": " + err.Error(), Err: err}
	}
	req, err := http.NewRequestWithContext(sctx, http.MethodPut, u.String(), rc)
	if err != nil {
		rc.Close()
		return nil, err
	}
	req.ContentLength = body.Size()
	req.GetBody = open
	if body.Size() == 0 {
		req.Body, req.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := c.retry.middleware(req, c.transfer.Do)
	if err != nil {
		return nil, classify(wd.Err(err), op)
	}
	if res.StatusCode >= 300 {
		defer res.Body.Close()
		return nil, classify(decodeFailure(res), op)
	}
	var info ObjectInfo
	if err := decodeEnvelope(res, &info); err != nil {
		return nil, classify(err, op)
	}
	return &info, nil
}

// GetObject downloads key. The answer is the raw object, not an envelope. A
// missing key returns found=false and no error; a missing bucket is an
// error (Cloudflare code 10006).
func (c *Client) GetObject(ctx context.Context, accountID, bucket, key string) (data []byte, found bool, err error) {
	p, err := objectPath(accountID, bucket, key)
	if err != nil {
		return nil, false, err
	}
	op := operation{what: "download R2 object " + quote(bucket+"/"+key), permission: PermR2Read}
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

// listPage is the per_page nimbus asks for, the API's maximum.
const listPage = 1000

// maxListPages bounds a listing so a server that never stops paging cannot
// keep a sync busy forever (a million objects).
const maxListPages = 1000

// ListObjects calls fn for every object whose key starts with prefix,
// following the listing's cursor until it is no longer truncated.
func (c *Client) ListObjects(ctx context.Context, accountID, bucket, prefix string, fn func(ObjectInfo) error) error {
	base, err := bucketPath(accountID, bucket)
	if err != nil {
		return err
	}
	op := operation{what: "list R2 objects " + quote(bucket+"/"+prefix+"*"), permission: PermR2Read}
	cursor := ""
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page >= maxListPages {
			return &Error{Kind: KindInternal, Code: CodeAPI, Message: op.what + ": the listing did not end after " + strconv.Itoa(maxListPages) + " pages"}
		}
		q := url.Values{}
		q.Set("per_page", strconv.Itoa(listPage))
		if prefix != "" {
			q.Set("prefix", prefix)
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		res, err := c.do(ctx, http.MethodGet, base+"/objects?"+q.Encode(), nil, "")
		if err != nil {
			return classify(err, op)
		}
		objs, info, err := decodeList(res)
		if err != nil {
			return classify(err, op)
		}
		for _, o := range objs {
			if !strings.HasPrefix(o.Key, prefix) {
				return &Error{Kind: KindInternal, Code: CodeAPI, Message: op.what + ": the listing returned " + quote(o.Key) + ", outside the prefix"}
			}
			if err := fn(o); err != nil {
				return err
			}
		}
		truncated := info.truncated
		if !info.hasTruncated {
			// An answer without is_truncated pages while it gives a cursor.
			truncated = info.cursor != "" && len(objs) > 0
		}
		if !truncated {
			return nil
		}
		if info.cursor == "" || seen[info.cursor] {
			return &Error{Kind: KindInternal, Code: CodeAPI, Message: op.what + ": the listing is truncated but gives no new cursor"}
		}
		seen[info.cursor] = true
		cursor = info.cursor
	}
}

type listInfo struct {
	cursor       string
	truncated    bool
	hasTruncated bool
}

func decodeList(res *http.Response) ([]ObjectInfo, listInfo, error) {
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxEnvelopeBody))
	if err != nil {
		return nil, listInfo{}, err
	}
	var env struct {
		envelope
		ResultInfo struct {
			Cursor    json.RawMessage `json:"cursor"`
			Truncated json.RawMessage `json:"is_truncated"`
		} `json:"result_info"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, listInfo{}, fmt.Errorf("cloudflare: malformed listing: %w", err)
	}
	if !env.Success {
		f := apiFailure{status: res.StatusCode}
		for _, e := range env.Errors {
			f.codes = append(f.codes, e.Code)
			f.messages = append(f.messages, e.Message)
		}
		return nil, listInfo{}, &envelopeError{failure: f}
	}
	// The objects arrive as the result array, or inside {"objects": [...]}.
	var objs []ObjectInfo
	if err := json.Unmarshal(env.Result, &objs); err != nil {
		var wrapped struct {
			Objects []ObjectInfo `json:"objects"`
		}
		if werr := json.Unmarshal(env.Result, &wrapped); werr != nil {
			return nil, listInfo{}, fmt.Errorf("cloudflare: malformed listing: %w", errors.Join(err, werr))
		}
		objs = wrapped.Objects
	}
	info := listInfo{}
	_ = json.Unmarshal(env.ResultInfo.Cursor, &info.cursor)
	if len(env.ResultInfo.Truncated) > 0 && string(env.ResultInfo.Truncated) != "null" {
		info.hasTruncated = true
		info.truncated = lenientBool(env.ResultInfo.Truncated)
	}
	return objs, info, nil
}
