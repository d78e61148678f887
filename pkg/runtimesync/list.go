package runtimesync

import (
	"context"
	"fmt"

	"github.com/nimbus-sh/nimbus/pkg/provision"
)

// Listing is a catalog read back from a bucket.
type Listing struct {
	// Bucket is the name of the bucket read.
	Bucket string
	// Key is the object read: catalog/v1.json, or the pinned catalog.
	Key string
	// SHA256 is the digest of the bytes read.
	SHA256 string
	// Rows are the catalog's runtimes at their default versions.
	Rows []Row
	// Pin is the digest asked for ("" for the latest catalog).
	Pin string
	// Current is the digest of catalog/v1.json, "" when the bucket has none.
	Current string
}

// List reads and validates the bucket's catalog: with a pin, the catalog
// stored under that digest (whose bytes must hash to it, as the Worker
// checks); otherwise catalog/v1.json.
func List(ctx context.Context, b Bucket, pin string) (*Listing, error) {
	l := &Listing{Bucket: b.Name(), Key: CatalogKey, Pin: pin}
	current, found, err := b.Get(ctx, CatalogKey)
	if err != nil {
		if pe, ok := provision.AsError(err); ok && pe.CloudflareCode == 10006 {
			return nil, missingBucketError(b.Name())
		}
		return nil, err
	}
	if found {
		l.Current = Digest(current)
	}
	data := current
	if pin != "" {
		if !ValidDigest(pin) {
			return nil, &Error{Kind: KindUsage, Code: CodeCatalogPin, Message: fmt.Sprintf("invalid catalog digest %q", pin),
				Hint: "a pin is the 64 lowercase hex digits `nimbus runtime sync` prints"}
		}
		l.Key = PinKey(pin)
		if l.Current == pin {
			data = current
		} else if data, found, err = b.Get(ctx, l.Key); err != nil {
			return nil, err
		}
		if !found {
			return nil, &Error{Kind: KindConfig, Code: CodeCatalogPin,
				Message: fmt.Sprintf("bucket %q has no catalog %s: a Worker pinned to it cannot install runtimes", b.Name(), pin),
				Hint:    "run `nimbus runtime sync --write-config` and redeploy, or pass --bucket for the bucket the Worker binds"}
		}
		if got := Digest(data); got != pin {
			return nil, &Error{Kind: KindData, Code: CodeCatalogPin,
				Message: fmt.Sprintf("%s/%s hashes to %s, not to the pinned %s: the Worker refuses it", b.Name(), l.Key, got, pin),
				Hint:    "republish with `nimbus runtime sync --write-config` and redeploy"}
		}
	} else if !found {
		exists, err := b.Exists(ctx)
		if err != nil {
			return nil, err
		}
		if !exists {
			return nil, missingBucketError(b.Name())
		}
		return nil, &Error{Kind: KindConfig, Code: CodeCatalogPin,
			Message: fmt.Sprintf("bucket %q has no runtime catalog yet", b.Name()),
			Hint:    "publish one with `nimbus runtime sync`"}
	}
	cat, err := ParseCatalog(data)
	if err != nil {
		e, _ := AsError(err)
		e.Message = b.Name() + "/" + l.Key + ": " + e.Message
		return nil, e
	}
	l.SHA256 = Digest(data)
	l.Rows = cat.Rows()
	return l, nil
}

func missingBucketError(name string) *Error {
	return &Error{Kind: KindConfig, Code: CodeBucketMissing,
		Message: fmt.Sprintf("R2 bucket %q does not exist", name),
		Hint:    "create it with `nimbus setup cloudflare`, or pass --bucket NAME"}
}
