package runtimecli

import (
	"github.com/nimbus-sh/nimbus/pkg/runtimesync"
)

type totalsJSON struct {
	Objects int   `json:"objects"`
	Bytes   int64 `json:"bytes"`
}

type downloadsJSON struct {
	Tarballs int   `json:"tarballs"`
	Bytes    int64 `json:"bytes"`
}

// cacheFreedJSON is downloadsJSON with, when the sync did not evict at
// all, why (runtimesync.CacheBusy, runtimesync.CacheLockUnavailable).
type cacheFreedJSON struct {
	Tarballs int                   `json:"tarballs"`
	Bytes    int64                 `json:"bytes"`
	Skipped  runtimesync.CacheSkip `json:"skipped,omitempty"`
}

// ConfigJSON reports what --write-config did to wrangler.jsonc.
type ConfigJSON struct {
	Path   string `json:"path"`
	Status string `json:"status"`
}

type plannedJSON struct {
	Objects int                  `json:"objects"`
	Bytes   int64                `json:"bytes"`
	Keys    []runtimesync.Object `json:"keys"`
}

// syncJSON keeps upstream's keys first, in upstream's order.
type syncJSON struct {
	OK             bool           `json:"ok"`
	Bucket         string         `json:"bucket"`
	Runtimes       []string       `json:"runtimes"`
	CatalogSHA256  string         `json:"catalogSha256"`
	Uploaded       totalsJSON     `json:"uploaded"`
	Skipped        totalsJSON     `json:"skipped"`
	Downloaded     downloadsJSON  `json:"downloaded"`
	CacheFreed     cacheFreedJSON `json:"cacheFreed"`
	PreviousSHA256 string         `json:"previousSha256,omitempty"`
	Config         *ConfigJSON    `json:"config,omitempty"`
	DryRun         bool           `json:"dryRun,omitempty"`
	Planned        *plannedJSON   `json:"planned,omitempty"`
	Warnings       []string       `json:"warnings,omitempty"`
}

// SyncJSON is upstream's result, {ok, bucket, runtimes, catalogSha256},
// with nimbus's counts and, when they apply, the config edit, the dry-run
// plan and warnings; print it with Factory.PrintJSON.
func SyncJSON(res *runtimesync.Result, cfg *ConfigJSON) any {
	out := syncJSON{
		OK: true, Bucket: res.Bucket, Runtimes: res.Requested, CatalogSHA256: res.CatalogSHA256,
		Uploaded:       totalsJSON{res.Uploaded.Objects, res.Uploaded.Bytes},
		Skipped:        totalsJSON{res.Skipped.Objects, res.Skipped.Bytes},
		Downloaded:     downloadsJSON{res.Downloaded.Objects, res.Downloaded.Bytes},
		CacheFreed:     cacheFreedJSON{res.CacheFreed.Objects, res.CacheFreed.Bytes, res.CacheSkipped},
		PreviousSHA256: res.PreviousSHA256, Config: cfg, DryRun: res.DryRun, Warnings: res.Warnings,
	}
	if out.Runtimes == nil {
		out.Runtimes = []string{}
	}
	if res.DryRun {
		p := &plannedJSON{Keys: res.Planned}
		if p.Keys == nil {
			p.Keys = []runtimesync.Object{}
		}
		for _, o := range res.Planned {
			p.Objects++
			p.Bytes += o.Size
		}
		out.Planned = p
	}
	return out
}
