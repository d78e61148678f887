package provision

import (
	"errors"
	"slices"
	"strings"

	"github.com/nimbus-sh/nimbus/pkg/scaffold"
	"github.com/nimbus-sh/nimbus/pkg/wranglerfile"
)

// Inputs are the user's naming choices, as upstream's flags express them.
type Inputs struct {
	// Name is --name; it may be empty when the wrangler config has a name.
	Name string
	// BucketPrefix is --bucket-prefix (default: the Worker name).
	BucketPrefix string
	// RuntimeBucket is --runtime-bucket (default: the shared runtime bucket).
	RuntimeBucket string
	// WranglerConfig is the content of the project's wrangler.jsonc, nil
	// when there is none.
	WranglerConfig []byte
	// WranglerPath is the wrangler config's path, used only to name it in
	// messages.
	WranglerPath string
	// Env is the wrangler environment (--env) whose configuration is
	// deployed: env.<Env> resolved as wrangler does (wranglerfile.File.
	// Environment). "" is the top level.
	Env string
}

// Naming is what Inputs resolve to.
type Naming struct {
	// Worker is the Worker (script) name: --name, else the wrangler
	// config's name; the two must agree when both are given.
	Worker string
	// Buckets are the R2 buckets the Worker binds: the wrangler config's
	// r2_buckets when it has any, else those the config builder derives
	// from the bucket prefix.
	Buckets []Bucket
	// RuntimeBucket is the bucket runtimes are published into: the
	// wrangler config's runtime cache binding when it has r2_buckets, else
	// --runtime-bucket, else the builder's shared runtime bucket. It is ""
	// when the config binds buckets but no runtime cache and no flag names
	// one.
	RuntimeBucket string
	// AccountID is the account_id already in the wrangler config, if any.
	AccountID string
}

// WranglerEnvironment returns the part of the parsed wrangler config at
// path (nil: there is none) that 'wrangler deploy --env env' deploys, as
// wranglerfile.File.Environment resolves it; "" is the top level. setup,
// runtime sync, runtime list and doctor read a config through it, so that
// --env means the same in all of them. An environment the file does not
// define, or --env without a file, is a usage error (exit 64).
func WranglerEnvironment(file *wranglerfile.File, path, env string) (*wranglerfile.File, error) {
	if env == "" {
		return file, nil
	}
	if file == nil {
		return nil, &Error{Kind: KindUsage, Code: CodeWranglerConfig,
			Message: "--env " + env + " needs a wrangler config that defines it",
			Hint:    "run in the project directory (with wrangler.jsonc)"}
	}
	e, err := file.Environment(env)
	if err != nil {
		return nil, &Error{Kind: KindUsage, Code: CodeWranglerConfig, Err: err,
			Message: path + ": --env " + env + ": " + err.Error(),
			Hint:    "name an environment the file defines under \"env\" (wrangler's [env.<name>]), or drop --env for the top level"}
	}
	return e, nil
}

// ResolveNaming derives the Worker and bucket names with the same builder
// nimbus init uses. When a wrangler config exists, its name and r2_buckets
// are what will be deployed, so they win; flags that contradict the file are
// refused rather than silently creating buckets the Worker never binds.
func ResolveNaming(in Inputs) (*Naming, error) {
	var file *wranglerfile.File
	if in.WranglerConfig != nil {
		f, err := wranglerfile.Parse(in.WranglerConfig)
		if err != nil {
			return nil, &Error{Kind: KindData, Code: CodeWranglerConfig, Err: err,
				Message: in.WranglerPath + ": " + err.Error(), Hint: "fix the file (JSONC with a top-level object) or pass --config PATH"}
		}
		file = f
	}
	file, err := WranglerEnvironment(file, in.WranglerPath, in.Env)
	if err != nil {
		if e, ok := err.(*Error); ok && in.WranglerConfig == nil {
			e.Hint += " or pass --config FILE"
		}
		return nil, err
	}
	name := in.Name
	if file != nil && file.Name != "" {
		if name == "" {
			name = file.Name
		} else if name != file.Name {
			where := in.WranglerPath
			if in.Env != "" {
				where += " (environment " + in.Env + ")"
			}
			return nil, &Error{Kind: KindUsage, Code: CodeInvalidPlan,
				Message: "--name " + quote(name) + " does not match name " + quote(file.Name) + " in " + where,
				Hint:    "drop --name, or change name in " + in.WranglerPath + " so setup and deploy agree"}
		}
	}
	if name == "" {
		return nil, &Error{Kind: KindUsage, Code: CodeWorkerName, Message: "--name <worker-name> required",
			Hint: "pass --name, or run in a project whose wrangler.jsonc has a name (or pass --config)"}
	}
	opts := scaffold.WranglerOptions{Name: name, R2BucketPrefix: in.BucketPrefix}
	if in.RuntimeBucket != "" {
		opts.RuntimeCache = scaffold.RuntimeCache{Mode: scaffold.RuntimeCacheBYOA, Bucket: in.RuntimeBucket}
	}
	built, err := scaffold.BuildWranglerConfig(opts)
	if err == nil {
		err = built.ValidateNames()
	}
	if err != nil {
		e := &Error{Kind: KindUsage, Code: CodeInvalidPlan, Message: err.Error(), Err: err}
		var se *scaffold.Error
		if errors.As(err, &se) {
			e.Message, e.Hint = se.Message, se.Hint
			switch se.Code {
			case scaffold.CodeInvalidBucketName:
				e.Code = CodeBucketName
			case scaffold.CodeInvalidWorkerName, scaffold.CodeNameRequired:
				e.Code = CodeWorkerName
			}
		}
		return nil, e
	}
	n := &Naming{Worker: name}
	for _, b := range built.R2Buckets {
		n.Buckets = append(n.Buckets, Bucket{Binding: b.Binding, Name: b.BucketName})
	}
	n.RuntimeBucket = built.RuntimeBucket()
	if file == nil {
		return n, nil
	}
	n.AccountID = file.AccountID
	if len(file.R2Buckets) == 0 {
		return n, nil
	}
	var fromFile []Bucket
	runtime := ""
	for _, b := range file.R2Buckets {
		if err := ValidateBucketName(b.BucketName); err != nil {
			e, _ := AsError(err)
			e.Message = in.WranglerPath + ": binding " + b.Binding + ": " + e.Message
			return nil, e
		}
		fromFile = append(fromFile, Bucket{Binding: b.Binding, Name: b.BucketName})
		if b.Binding == scaffold.BindingRuntimeCache {
			runtime = b.BucketName
		}
	}
	if (in.BucketPrefix != "" || in.RuntimeBucket != "") && !slices.Equal(bucketNames(fromFile), bucketNames(n.Buckets)) {
		return nil, &Error{Kind: KindUsage, Code: CodeInvalidPlan,
			Message: in.WranglerPath + " binds buckets " + strings.Join(bucketNames(fromFile), ", ") +
				" but the flags give " + strings.Join(bucketNames(n.Buckets), ", "),
			Hint: "edit r2_buckets in " + in.WranglerPath + ", or drop --bucket-prefix/--runtime-bucket so setup creates what the Worker binds"}
	}
	n.Buckets = fromFile
	if runtime == "" && in.RuntimeBucket != "" {
		runtime = in.RuntimeBucket
	}
	n.RuntimeBucket = runtime
	return n, nil
}

func bucketNames(bs []Bucket) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Name
	}
	return out
}
