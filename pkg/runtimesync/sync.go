package runtimesync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-sh/nimbus/internal/observe"
	"github.com/nimbus-sh/nimbus/pkg/npmregistry"
	"github.com/nimbus-sh/nimbus/pkg/provision"
)

// DefaultParallel is how many uploads (and downloads) run at once.
const DefaultParallel = 4

// Syncer publishes runtimes from a registry into a bucket.
type Syncer struct {
	// Registry is where the runtime packages are fetched from, usually
	// an *npmregistry.Client; required.
	Registry Registry
	// Bucket is where the runtimes are published, usually an R2Bucket;
	// required.
	Bucket Bucket
	// Cache holds verified tarballs between syncs, so a rerun downloads
	// nothing it already has; required, with a Dir (staging files go
	// there too).
	Cache *Cache
	// Observer receives progress; nil means none.
	Observer Observer
	// Parallel bounds concurrent uploads and downloads; 0 means
	// DefaultParallel.
	Parallel int
}

// Options say what to sync.
type Options struct {
	// Runtimes are name[@version] requests; empty means DefaultRuntimes.
	Runtimes []string
	// DryRun resolves, downloads and verifies, then reports what would be
	// uploaded without any write request.
	DryRun bool
	// Packuments are documents this run already fetched from the
	// Registry (CheckNames'): they are used as they are, and only the
	// other packages' are fetched.
	Packuments Packuments
}

// Totals count objects and bytes.
type Totals struct {
	// Objects is how many objects were counted.
	Objects int
	// Bytes is their total size in bytes.
	Bytes int64
}

func (t *Totals) add(n int64) { t.Objects++; t.Bytes += n }

// CacheSkip is why a sync did not evict cached tarballs: a later sync
// that can take the cache lock does.
type CacheSkip string

const (
	// CacheBusy: another sync sharing the cache held its lock (it was
	// reading tarballs eviction might have removed).
	CacheBusy CacheSkip = "busy"
	// CacheLockUnavailable: the cache lock file could not be opened or
	// locked, or the platform has no file locks.
	CacheLockUnavailable CacheSkip = "lock-unavailable"
)

// RuntimeResult describes one synced runtime.
type RuntimeResult struct {
	// Specs are the requests that resolved to this runtime.
	Specs []string
	// Name is the runtime's name, as its manifest gives it.
	Name string
	// Version is the runtime's manifest version (the catalog's version
	// key).
	Version string
	// Package is the npm package it came from, such as
	// @nimbus-sh/runtime-cpython.
	Package string
	// NPMVersion is the npm version of that package, which may differ
	// from Version.
	NPMVersion string
	// License is the manifest's license; empty when it has none.
	License string
	// ManifestKey is the bucket key of the runtime's manifest.json.
	ManifestKey string
	// ManifestSHA256 is the lowercase hex SHA-256 of the manifest, as the
	// catalog records it.
	ManifestSHA256 string
	// SizeBytes is the sum of the runtime's distinct blob sizes, in
	// bytes.
	SizeBytes int64
	// Blobs is how many distinct blobs the runtime has, uploaded or
	// already present.
	Blobs int
	// BlobsUploaded counts blobs uploaded (or, in a dry run, to upload).
	BlobsUploaded int
	// Cached says the tarball was not downloaded.
	Cached bool
}

// Result is what a sync did (or, in a dry run, would do).
type Result struct {
	// Bucket is the name of the bucket synced into.
	Bucket string
	// Requested are the runtime requests as given.
	Requested []string
	// Runtimes describe each runtime synced, one per distinct runtime
	// even when several requests resolved to it.
	Runtimes []RuntimeResult
	// CatalogSHA256 is the digest of the published catalog, the value of
	// NIMBUS_RUNTIME_CATALOG_SHA256.
	CatalogSHA256 string
	// PreviousSHA256 is the digest of catalog/v1.json before the sync, ""
	// when there was none.
	PreviousSHA256 string
	// Uploaded counts the objects written (blobs, manifests, catalogs);
	// Skipped those the bucket already held with the same content.
	Uploaded, Skipped Totals
	// Downloaded counts tarballs fetched from the registry (not cached).
	Downloaded Totals
	// CacheFreed counts the cached tarballs a sync removed once it had
	// published (Objects) and the bytes that freed, with their manifest
	// records: those of each runtime beyond the Cache's Keep most recently
	// used. A dry run removes nothing, nor does a sync while another one
	// sharing the cache is reading it (CacheSkipped).
	CacheFreed Totals
	// CacheSkipped says why a sync that published did not evict at all
	// (CacheBusy, CacheLockUnavailable), so that a cache that keeps
	// growing is explained; "" when eviction ran, and in a dry run.
	CacheSkipped CacheSkip
	// Planned lists, in a dry run, every object that would be written.
	Planned []Object
	// DryRun reports that nothing was written; the counts say what would
	// have been.
	DryRun bool
	// BucketMissing is set in a dry run against a bucket that does not
	// exist yet (everything would be uploaded).
	BucketMissing bool
	// Warnings are the messages also sent as EventWarning, for callers
	// without an Observer.
	Warnings []string
}

type target struct {
	specs      []string
	name       string
	pkg        string
	npmVersion string
	// manifestVersion is the version the request named, when it named the
	// manifest's rather than npm's.
	manifestVersion string
	tarball         string
	integrity       npmregistry.Integrity
}

type prepared struct {
	t        *target
	m        *Manifest
	staged   map[string]string // blob key -> staged file
	cached   bool
	download int64
}

type run struct {
	s    *Syncer
	obs  Observer
	opts Options
	res  *Result
	par  int
	mu   sync.Mutex
}

func (r *run) warn(msg string) {
	r.mu.Lock()
	r.res.Warnings = append(r.res.Warnings, msg)
	r.mu.Unlock()
	r.obs.Observe(Event{Kind: EventWarning, Message: msg})
}

// Sync resolves, verifies and publishes the requested runtimes, then the
// catalog. Every request is resolved before anything is downloaded, and
// every package is verified before anything is uploaded: a bad package
// means nothing is uploaded at all. Interrupted, it leaves the published
// catalog as it was; a rerun uploads only what is still missing. Once it
// has published it evicts the cached tarballs no longer used (Cache.Keep,
// Result.CacheFreed).
func (s *Syncer) Sync(ctx context.Context, opts Options) (*Result, error) {
	if s.Registry == nil || s.Bucket == nil || s.Cache == nil || s.Cache.Dir == "" {
		return nil, errors.New("runtimesync: Syncer needs a Registry, a Bucket and a Cache")
	}
	r := &run{s: s, obs: observe.OrNop(s.Observer), opts: opts, par: s.Parallel,
		res: &Result{Bucket: s.Bucket.Name(), DryRun: opts.DryRun}}
	if r.par <= 0 {
		r.par = DefaultParallel
	}
	specs := opts.Runtimes
	if len(specs) == 0 {
		specs = DefaultRuntimes
	}
	var reqs []Request
	for _, sp := range specs {
		req, err := ParseRequest(sp)
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, req)
		r.res.Requested = append(r.res.Requested, req.Spec)
	}
	targets, err := r.resolve(ctx, reqs)
	if err != nil {
		return nil, err
	}
	cat, before, err := r.readCatalog(ctx)
	if err != nil {
		return nil, err
	}
	present, err := r.listBlobs(ctx, targets)
	if err != nil {
		return nil, err
	}
	s.Cache.removeStaleTemps(time.Now().Add(-staleStaging))
	stageDir := ""
	if !opts.DryRun {
		if stageDir, err = newStageDir(s.Cache.Dir); err != nil {
			return nil, err
		}
		defer os.RemoveAll(stageDir)
	}
	// Held shared while the cache is read, so that no other sync's
	// eviction removes a tarball this one is about to read. A cache where
	// the lock file cannot be created (read-only, as a dry run may read
	// it) is read without: no eviction can take the lock there either.
	unlock, err := lockCacheShared(ctx, s.Cache.Dir)
	if e, ok := AsError(err); ok && e.Kind == KindInterrupted {
		return nil, err
	} else if err != nil {
		unlock = func() {}
	}
	defer unlock()
	preps, err := r.prepareAll(ctx, targets, present, stageDir)
	unlock() // the tarballs are read; uploads read the staged blobs
	if err != nil {
		return nil, err
	}
	res, err := r.publish(ctx, preps, present, cat, before)
	if err != nil || opts.DryRun {
		return res, err
	}
	inUse := map[string]bool{}
	for _, t := range targets {
		inUse[t.integrity.Name()] = true
	}
	res.CacheFreed, res.CacheSkipped = s.Cache.evict(inUse)
	return res, nil
}

// resolve turns requests into packages and versions, one packument per
// package, and merges requests that name the same package version.
func (r *run) resolve(ctx context.Context, reqs []Request) ([]*target, error) {
	packuments := map[string]*npmregistry.Packument{}
	errs := map[string]error{}
	var names []string
	for _, q := range reqs {
		if _, ok := packuments[q.Name]; ok {
			continue
		}
		if p := r.opts.Packuments[q.Name]; p != nil {
			packuments[q.Name] = p
			continue
		}
		packuments[q.Name] = nil
		names = append(names, q.Name)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	sem := make(chan struct{}, r.par)
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			p, err := r.s.Registry.Packument(ctx, PackagePrefix+name)
			mu.Lock()
			defer mu.Unlock()
			packuments[name], errs[name] = p, err
		}()
	}
	wg.Wait()
	var out []*target
	byKey := map[string]*target{}
	for _, q := range reqs {
		pkg := PackagePrefix + q.Name
		if err := errs[q.Name]; err != nil {
			if e := notPublished(q, err); e != nil {
				return nil, e
			}
			return nil, registryError(err)
		}
		p := packuments[q.Name]
		// The registry writes these keys; one that is no version (a
		// control or bidi character, a path) is not installable, and
		// would otherwise reach the terminal and the messages.
		var published []string
		for v := range p.Versions {
			if validVersion(v) {
				published = append(published, v)
			}
		}
		nv, mv, err := pickVersion(q, published)
		if err != nil {
			return nil, err
		}
		if t, ok := byKey[pkg+"@"+nv]; ok {
			t.specs = append(t.specs, q.Spec)
			if mv != "" {
				t.manifestVersion = mv
			}
			continue
		}
		dist := p.Versions[nv].Dist
		integ, err := npmregistry.ParseIntegrity(dist.Integrity)
		if err != nil {
			return nil, &Error{Kind: KindData, Code: CodeIntegrity, Err: err,
				Message: fmt.Sprintf("%s@%s: the registry lists no usable integrity (%q), so the tarball cannot be verified", pkg, nv, dist.Integrity),
				Hint:    "nothing was downloaded; check npm's registry setting (a mirror that drops dist.integrity?)"}
		}
		t := &target{specs: []string{q.Spec}, name: q.Name, pkg: pkg, npmVersion: nv, manifestVersion: mv, tarball: dist.Tarball, integrity: integ}
		byKey[pkg+"@"+nv] = t
		out = append(out, t)
		r.obs.Observe(Event{Kind: EventResolved, Runtime: q.Name, Package: pkg, Version: nv})
	}
	return out, nil
}

func registryError(err error) error {
	ne, ok := npmregistry.AsError(err)
	if !ok {
		return err
	}
	e := &Error{Kind: KindUnavailable, Code: CodeRegistry, Message: ne.Message, Hint: ne.Hint, Err: err}
	switch ne.Kind {
	case npmregistry.KindIntegrity:
		e.Kind, e.Code = KindData, CodeIntegrity
	case npmregistry.KindInvalid:
		// Not a registry's answer, or one a rerun gets again: the
		// registry setting needs fixing (npmregistry's own 78).
		e.Kind, e.Code = KindConfig, CodeRegistryInvalid
	case npmregistry.KindInterrupted:
		e.Kind, e.Code = KindInterrupted, CodeInterrupted
	}
	return e
}

// readCatalog reads catalog/v1.json. A missing one is a fresh catalog only
// once the bucket is confirmed to exist; any other failure stops the sync
// before anything is uploaded.
func (r *run) readCatalog(ctx context.Context) (*Catalog, []byte, error) {
	b := r.s.Bucket
	data, found, err := b.Get(ctx, CatalogKey)
	if err != nil {
		if pe, ok := provision.AsError(err); ok && pe.CloudflareCode == 10006 {
			return r.missingBucket()
		}
		return nil, nil, err
	}
	if found {
		cat, err := ParseCatalog(data)
		if err != nil {
			e, _ := AsError(err)
			e.Message = b.Name() + "/" + CatalogKey + ": " + e.Message
			return nil, nil, e
		}
		r.res.PreviousSHA256 = Digest(data)
		return cat, data, nil
	}
	exists, err := b.Exists(ctx)
	if err != nil {
		return nil, nil, err
	}
	if !exists {
		return r.missingBucket()
	}
	return NewCatalog(), nil, nil
}

func (r *run) missingBucket() (*Catalog, []byte, error) {
	if r.opts.DryRun {
		r.res.BucketMissing = true
		return NewCatalog(), nil, nil
	}
	name := r.s.Bucket.Name()
	return nil, nil, &Error{Kind: KindConfig, Code: CodeBucketMissing,
		Message: fmt.Sprintf("R2 bucket %q does not exist", name),
		Hint:    "create it with `nimbus setup cloudflare` (it creates the runtime bucket the Worker binds), or pass --bucket NAME"}
}

// listBlobs lists what the bucket holds under each runtime's blob prefix.
func (r *run) listBlobs(ctx context.Context, targets []*target) (map[string]int64, error) {
	present := map[string]int64{}
	if r.res.BucketMissing {
		return present, nil
	}
	done := map[string]bool{}
	for _, t := range targets {
		if done[t.name] {
			continue
		}
		done[t.name] = true
		err := r.s.Bucket.List(ctx, "blobs/"+t.name+"-", func(o Object) error {
			present[o.Key] = o.Size
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return present, nil
}

// needs reports whether the bucket lacks the blob (or holds it with a
// different size, which only a damaged upload could leave).
func needs(present map[string]int64, key string, size int64) bool {
	got, ok := present[key]
	return !ok || got != size
}

func (r *run) prepareAll(ctx context.Context, targets []*target, present map[string]int64, stageDir string) ([]*prepared, error) {
	preps := make([]*prepared, len(targets))
	errs := make([]error, len(targets))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, min(r.par, 3))
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			preps[i], errs[i] = r.prepare(ctx, t, present, stageDir)
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	// Report the first failure in request order, preferring a real one over
	// the cancellations it caused in the others.
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		if e, ok := AsError(err); !ok || e.Kind != KindInterrupted {
			return preps, err
		}
	}
	return preps, first
}

// prepare verifies one package and stages the blobs the bucket lacks.
func (r *run) prepare(ctx context.Context, t *target, present map[string]int64, stageDir string) (*prepared, error) {
	cache := r.s.Cache
	label := t.pkg + "@" + t.npmVersion
	if m := cache.verifiedManifest(t.integrity); m != nil {
		missing := false
		for _, b := range m.Blobs {
			missing = missing || needs(present, b.Key, b.Size)
		}
		if !missing || r.opts.DryRun {
			if err := t.check(m); err != nil {
				return nil, err
			}
			cache.markUsed(t.integrity)
			r.obs.Observe(Event{Kind: EventVerified, Runtime: t.name, Package: t.pkg, Version: t.npmVersion, Cached: true})
			return &prepared{t: t, m: m, cached: true}, nil
		}
	}
	// A download that broke off starts again from byte 0; the tarball is
	// announced once and only bytes beyond those reported count, so the
	// bar's total and bytes stay those of one tarball.
	started := false
	var reported int64
	path, n, err := cache.tarball(ctx, r.s.Registry, t.tarball, t.integrity, func(done, total int64) {
		if !started {
			started = true
			r.obs.Observe(Event{Kind: EventDownloadStart, Runtime: t.name, Package: t.pkg, Version: t.npmVersion, Total: total})
		}
		if d := done - reported; d > 0 {
			r.obs.Observe(Event{Kind: EventDownloadBytes, Runtime: t.name, Bytes: d})
			reported = done
		}
	})
	if err != nil {
		if e, ok := registryError(err).(*Error); ok {
			e.Message = strings.TrimSpace(e.Message)
			if e.Code == CodeIntegrity {
				e.Message = label + ": " + e.Message
			}
			return nil, e
		}
		return nil, err
	}
	var stage func(string, int64) bool
	if stageDir != "" {
		stage = func(key string, size int64) bool { return needs(present, key, size) }
	}
	sc, err := scanTarball(ctx, path, stageDir, stage)
	if err != nil {
		if e, ok := AsError(err); ok && e.Code == CodePackageInvalid {
			e.Message = label + ": " + e.Message
		}
		return nil, err
	}
	m, err := ParseManifest(sc.manifest)
	if err != nil {
		e, _ := AsError(err)
		e.Message = label + ": " + e.Message
		return nil, e
	}
	if err := checkBlobs(label, m, sc); err != nil {
		return nil, err
	}
	if err := t.check(m); err != nil {
		return nil, err
	}
	cache.recordManifest(t.integrity, m.Raw)
	cache.markUsed(t.integrity)
	p := &prepared{t: t, m: m, staged: map[string]string{}, cached: n == 0, download: n}
	for k, b := range sc.blobs {
		if b.staged != "" {
			p.staged[k] = b.staged
		}
	}
	r.obs.Observe(Event{Kind: EventVerified, Runtime: t.name, Package: t.pkg, Version: t.npmVersion, Cached: n == 0})
	return p, nil
}

// check compares the manifest with what was asked for.
func (t *target) check(m *Manifest) error {
	if m.Name != t.name || (t.manifestVersion != "" && m.Version != t.manifestVersion) {
		want := t.name
		if t.manifestVersion != "" {
			want += "@" + t.manifestVersion
		}
		return &Error{Kind: KindData, Code: CodeManifestMismatch,
			Message: fmt.Sprintf("%s@%s holds runtime %s@%s, not %s", t.pkg, t.npmVersion, m.Name, m.Version, want),
			Hint:    "nothing was uploaded; ask for the runtime by its npm version, or report the package to its publisher"}
	}
	return nil
}

type upload struct {
	key         string
	size        int64
	body        provision.Body
	contentType string
}

// publish uploads what the bucket lacks in reader order (blobs, manifests,
// the pinned catalog, catalog/v1.json) and fills the result.
func (r *run) publish(ctx context.Context, preps []*prepared, present map[string]int64, cat *Catalog, before []byte) (*Result, error) {
	res := r.res
	var blobs []upload
	var manifests []upload
	for _, p := range preps {
		rr := RuntimeResult{Specs: p.t.specs, Name: p.m.Name, Version: p.m.Version, Package: p.t.pkg, NPMVersion: p.t.npmVersion,
			License: p.m.License, ManifestKey: p.m.Key(), ManifestSHA256: p.m.SHA256, SizeBytes: p.m.SizeBytes(),
			Blobs: len(p.m.Blobs), Cached: p.cached}
		if !p.cached {
			res.Downloaded.add(p.download)
		}
		for _, b := range p.m.Blobs {
			if !needs(present, b.Key, b.Size) {
				res.Skipped.add(b.Size)
				continue
			}
			rr.BlobsUploaded++
			u := upload{key: b.Key, size: b.Size}
			if !r.opts.DryRun {
				path, ok := p.staged[b.Key]
				if !ok {
					return nil, &Error{Kind: KindInternal, Code: CodeInternal, Message: "blob " + b.Key + " was not staged"}
				}
				u.body = fileBody{path: path, size: b.Size}
			}
			blobs = append(blobs, u)
		}
		res.Runtimes = append(res.Runtimes, rr)
		same, err := r.sameObject(ctx, p.m.Key(), p.m.Raw)
		if err != nil {
			return nil, err
		}
		if same {
			res.Skipped.add(int64(len(p.m.Raw)))
		} else {
			manifests = append(manifests, upload{key: p.m.Key(), size: int64(len(p.m.Raw)), body: provision.BytesBody(p.m.Raw), contentType: "application/json"})
		}
		cat.Set(p.m.Name, p.m.Version, CatalogEntry{Manifest: p.m.Key(), ManifestSHA256: p.m.SHA256, SizeBytes: p.m.SizeBytes(), License: p.m.License})
	}
	data := cat.Bytes()
	// Packages choose what the catalog copies (a license of any length):
	// a catalog this sync, `runtime list` and the next sync could not read
	// back must not replace a readable one.
	if _, err := ParseCatalog(data); err != nil {
		e, _ := AsError(err)
		return nil, &Error{Kind: KindData, Code: CodeCatalogInvalid, Err: err,
			Message: "the merged catalog cannot be published: " + e.Message,
			Hint:    "a package's manifest carries an oversized field (its license?); nothing was uploaded"}
	}
	digest := Digest(data)
	res.CatalogSHA256 = digest
	var catalogs []upload
	same, err := r.sameObject(ctx, PinKey(digest), data)
	if err != nil {
		return nil, err
	}
	if same {
		res.Skipped.add(int64(len(data)))
	} else {
		catalogs = append(catalogs, upload{key: PinKey(digest), size: int64(len(data)), body: provision.BytesBody(data), contentType: "application/json"})
	}
	if before != nil && bytes.Equal(before, data) {
		res.Skipped.add(int64(len(data)))
	} else {
		catalogs = append(catalogs, upload{key: CatalogKey, size: int64(len(data)), body: provision.BytesBody(data), contentType: "application/json"})
	}
	if r.opts.DryRun {
		for _, group := range [][]upload{blobs, manifests, catalogs} {
			for _, u := range group {
				res.Planned = append(res.Planned, Object{Key: u.key, Size: u.size})
			}
		}
		return res, nil
	}
	if err := r.uploadAll(ctx, blobs); err != nil {
		return nil, err
	}
	for _, u := range manifests {
		if err := r.put(ctx, u); err != nil {
			return nil, err
		}
	}
	if len(catalogs) > 0 {
		// Another sync sharing the cache publishes its catalog first;
		// the re-read then sees it.
		unlock, err := lockPublish(ctx, r.s.Cache.Dir, func() {
			r.obs.Observe(Event{Kind: EventWaiting, Message: "another sync using this cache is publishing its catalog; waiting for it"})
		})
		if err != nil {
			return nil, err
		}
		defer unlock()
		if err := r.checkConcurrentWrite(ctx, cat, before); err != nil {
			return nil, err
		}
		for _, u := range catalogs {
			if err := r.put(ctx, u); err != nil {
				return nil, err
			}
		}
	}
	r.obs.Observe(Event{Kind: EventPublished, Message: digest})
	return res, nil
}

// sameObject reports whether the bucket holds key with exactly data (small
// objects only: manifests and catalogs). A manifest that differs is
// replaced, with a warning: Workers pinned to a catalog that records the
// old one fail their check until redeployed with the new digest.
func (r *run) sameObject(ctx context.Context, key string, data []byte) (bool, error) {
	if r.res.BucketMissing {
		return false, nil
	}
	got, found, err := r.s.Bucket.Get(ctx, key)
	if err != nil {
		return false, err
	}
	if found && !bytes.Equal(got, data) && strings.HasPrefix(key, "manifests/") {
		r.warn(fmt.Sprintf("%s in the bucket differs from the package's and is replaced; Workers pinned to a catalog that lists the old one must be redeployed with the new digest", key))
	}
	return found && bytes.Equal(got, data), nil
}

// checkConcurrentWrite re-reads catalog/v1.json just before publishing. If
// another publisher changed it since the sync read it and the catalog about
// to be written would drop something it now lists, nothing is published.
func (r *run) checkConcurrentWrite(ctx context.Context, cat *Catalog, before []byte) error {
	now, found, err := r.s.Bucket.Get(ctx, CatalogKey)
	if err != nil {
		return err
	}
	if (!found && before == nil) || (found && bytes.Equal(now, before)) {
		return nil
	}
	if !found {
		return nil // deleted meanwhile: writing ours drops nothing listed now
	}
	current, err := ParseCatalog(now)
	if err != nil {
		e, _ := AsError(err)
		e.Message = r.s.Bucket.Name() + "/" + CatalogKey + " (changed during the sync): " + e.Message
		return e
	}
	if missing := cat.Missing(current); len(missing) > 0 {
		return &Error{Kind: KindConflict, Code: CodeCatalogConflict,
			Message: fmt.Sprintf("%s/%s changed during the sync, and publishing would drop %s from it; the catalog was not published",
				r.s.Bucket.Name(), CatalogKey, strings.Join(missing, ", ")),
			Hint: "another sync or publisher wrote the catalog meanwhile; rerun to merge with it (uploaded blobs are kept)"}
	}
	return nil
}

func (r *run) put(ctx context.Context, u upload) error {
	if err := r.s.Bucket.Put(ctx, u.key, u.body, u.contentType); err != nil {
		return err
	}
	r.mu.Lock()
	r.res.Uploaded.add(u.size)
	r.mu.Unlock()
	r.obs.Observe(Event{Kind: EventUploaded, Key: u.key, Bytes: u.size})
	return nil
}

// uploadAll uploads blobs with bounded parallelism; the first failure
// cancels the rest.
func (r *run) uploadAll(ctx context.Context, ups []upload) error {
	if len(ups) == 0 {
		return nil
	}
	var total int64
	for _, u := range ups {
		total += u.size
	}
	r.obs.Observe(Event{Kind: EventUploadStart, Objects: len(ups), Total: total})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan upload)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for i := 0; i < min(r.par, len(ups)); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				fb := u.body.(fileBody)
				fb.read = func(n int64) { r.obs.Observe(Event{Kind: EventUploadBytes, Key: u.key, Bytes: n}) }
				u.body = fb
				if err := r.put(ctx, u); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
feed:
	for _, u := range ups {
		select {
		case work <- u:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = interrupted(ctx.Err())
	}
	return first
}
