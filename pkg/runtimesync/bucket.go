package runtimesync

import (
	"context"
	"io"

	"github.com/nimbus-sh/nimbus/pkg/npmregistry"
	"github.com/nimbus-sh/nimbus/pkg/provision"
)

// Object is one listed (or planned) object.
type Object struct {
	// Key is the object's key in the bucket.
	Key string `json:"key"`
	// Size is the object's size in bytes.
	Size int64 `json:"size"`
}

// Bucket is the R2 bucket runtimes are published into.
type Bucket interface {
	// Name is the bucket's name, for messages and results.
	Name() string
	// Exists reports whether the bucket exists.
	Exists(ctx context.Context) (bool, error)
	// Get returns an object; found is false when the key does not exist.
	Get(ctx context.Context, key string) (data []byte, found bool, err error)
	// List calls fn for every object whose key starts with prefix.
	List(ctx context.Context, prefix string, fn func(Object) error) error
	// Put uploads body as key; an empty contentType stores none.
	Put(ctx context.Context, key string, body provision.Body, contentType string) error
}

// Registry is the npm registry the runtime packages come from.
type Registry interface {
	// Packument returns the registry's document for the package name,
	// with its versions and their tarball URLs and integrity.
	Packument(ctx context.Context, name string) (*npmregistry.Packument, error)
	// Download streams the tarball at url into w, failing unless its bytes
	// match integ (what was written is unusable until it returns nil), and
	// returns its size in bytes; progress, when non-nil, gets the bytes so
	// far and the announced total (-1 when unknown). *npmregistry.Client
	// implements it.
	Download(ctx context.Context, url string, integ npmregistry.Integrity, w io.Writer, progress func(done, total int64)) (int64, error)
}

// R2Bucket is a Bucket reached through the Cloudflare API, with the client's
// credentials, base URL, retry policy and error classification.
func R2Bucket(c *provision.Client, accountID, name string) Bucket {
	return &r2Bucket{c: c, account: accountID, name: name}
}

type r2Bucket struct {
	c       *provision.Client
	account string
	name    string
}

func (b *r2Bucket) Name() string { return b.name }

func (b *r2Bucket) Exists(ctx context.Context) (bool, error) {
	return b.c.BucketExists(ctx, b.account, b.name)
}

func (b *r2Bucket) Get(ctx context.Context, key string) ([]byte, bool, error) {
	return b.c.GetObject(ctx, b.account, b.name, key)
}

func (b *r2Bucket) List(ctx context.Context, prefix string, fn func(Object) error) error {
	return b.c.ListObjects(ctx, b.account, b.name, prefix, func(o provision.ObjectInfo) error {
		return fn(Object{Key: o.Key, Size: o.Size})
	})
}

func (b *r2Bucket) Put(ctx context.Context, key string, body provision.Body, contentType string) error {
	_, err := b.c.PutObjectFrom(ctx, b.account, b.name, key, body, contentType)
	return err
}
