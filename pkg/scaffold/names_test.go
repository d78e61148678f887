package scaffold

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestValidateWorkerName(t *testing.T) {
	for name, ok := range map[string]bool{
		"a": true, "my-worker": true, "w0rk3r": true, strings.Repeat("a", 63): true,
		"": false, strings.Repeat("a", 64): false, "My-Worker": false, "my_worker": false,
		"-worker": false, "worker-": false, "my.worker": false, "wörker": false, "a b": false,
	} {
		err := ValidateWorkerName(name)
		if (err == nil) != ok {
			t.Errorf("%q: got %v, want ok=%v", name, err, ok)
		}
		var se *Error
		if err != nil && (!errors.As(err, &se) || se.Flag != "--name" || se.Hint == "") {
			t.Errorf("%q: error must carry flag and hint: %#v", name, err)
		}
	}
}

func TestValidateBucketName(t *testing.T) {
	for name, ok := range map[string]bool{
		"abc": true, "a-b": true, "0-9": true, strings.Repeat("a", 63): true,
		"ab": false, strings.Repeat("a", 64): false, "-ab": false, "ab-": false, "a_b": false, "A-b": false, "a.b": false,
	} {
		if err := ValidateBucketName(name); (err == nil) != ok {
			t.Errorf("%q: got %v, want ok=%v", name, err, ok)
		}
	}
}

func TestValidatePackageName(t *testing.T) {
	for name, ok := range map[string]bool{
		"my-worker": true, "my_worker": true, "my.worker": true, "a": true, "x123": true, strings.Repeat("a", 214): true,
		"": false, strings.Repeat("a", 215): false, ".hidden": false, "_private": false, "MyWorker": false,
		"my worker": false, "node_modules": false, "favicon.ico": false, "http": false, "fs": false,
		"a~b": false, "a(b)": false, "a!": false, "a*": false, "a'b": false, "é": false, "@scope": false,
	} {
		err := ValidatePackageName(name)
		if (err == nil) != ok {
			t.Errorf("%q: got %v, want ok=%v", name, err, ok)
		}
		var se *Error
		if err != nil && (!errors.As(err, &se) || se.Code != CodeInvalidPackageName || se.Hint == "") {
			t.Errorf("%q: bad error %#v", name, err)
		}
	}
	if err := ValidatePackageName("MyWorker"); !strings.Contains(err.Error(), "uppercase") {
		t.Errorf("uppercase should be named: %v", err)
	}
}

var (
	workerNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	bucketNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	packageRE    = regexp.MustCompile(`^[a-z0-9-][a-z0-9._-]{0,213}$`)
)

// checkNameError asserts the shape every validator error must have: a typed
// error with the expected code and a one-line message (inputs are quoted with
// %q, so control characters never reach the terminal raw).
func checkNameError(t *testing.T, err error, code string) {
	t.Helper()
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("untyped error %v", err)
	}
	if se.Code != code && se.Code != CodeNameRequired {
		t.Fatalf("code %s, want %s", se.Code, code)
	}
	if se.Message == "" || strings.ContainsAny(se.Message, "\n\r") {
		t.Fatalf("bad message %q", se.Message)
	}
}

func FuzzValidateWorkerName(f *testing.F) {
	for _, s := range []string{"my-worker", "", "-a", "A", strings.Repeat("a", 64), "a\nb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateWorkerName(name)
		if want := workerNameRE.MatchString(name); (err == nil) != want {
			t.Fatalf("%q: validator says %v, regexp says %v", name, err, want)
		}
		if err != nil {
			checkNameError(t, err, CodeInvalidWorkerName)
		}
	})
}

func FuzzValidateBucketName(f *testing.F) {
	for _, s := range []string{"abc", "ab", "a-", strings.Repeat("b", 63), "a_b", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateBucketName(name)
		if want := bucketNameRE.MatchString(name); (err == nil) != want {
			t.Fatalf("%q: validator says %v, regexp says %v", name, err, want)
		}
		if err != nil {
			checkNameError(t, err, CodeInvalidBucketName)
		}
	})
}

func FuzzValidatePackageName(f *testing.F) {
	for _, s := range []string{"my-app", ".x", "_x", "UPPER", "http", "a~b", "", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidatePackageName(name)
		want := packageRE.MatchString(name) && !slices.Contains(npmReserved, name)
		if (err == nil) != want {
			t.Fatalf("%q: validator says %v, reference says %v", name, err, want)
		}
		if err != nil {
			checkNameError(t, err, CodeInvalidPackageName)
		}
	})
}

// FuzzBuildWranglerConfig feeds arbitrary names and prefixes through the
// builder and the name checks: they must never panic, and whatever passes
// ValidateNames must only contain valid bucket names.
func FuzzBuildWranglerConfig(f *testing.F) {
	f.Add("my-worker", "", "", false)
	f.Add("a", "team", "rb", true)
	f.Add(strings.Repeat("x", 44), "", "", true)
	f.Fuzz(func(t *testing.T, name, prefix, runtimeBucket string, byoa bool) {
		opts := WranglerOptions{Name: name, R2BucketPrefix: prefix, RuntimeCache: RuntimeCache{Bucket: runtimeBucket}}
		if byoa {
			opts.RuntimeCache.Mode = RuntimeCacheBYOA
		}
		cfg, err := BuildWranglerConfig(opts)
		if err != nil {
			checkNameError(t, err, CodeNameRequired)
			return
		}
		if cfg.ValidateNames() != nil {
			return
		}
		if !workerNameRE.MatchString(cfg.Name) {
			t.Fatalf("invalid worker name accepted: %q", cfg.Name)
		}
		for _, b := range cfg.BucketNames() {
			if !bucketNameRE.MatchString(b) {
				t.Fatalf("invalid bucket accepted: %q", b)
			}
		}
		if _, err := cfg.JSON(); err != nil {
			t.Fatal(err)
		}
	})
}

var versionRangeRE = regexp.MustCompile(`^[0-9A-Za-z.^~<>=*|+ _-]{1,64}$`)

// FuzzOptionStrings checks the hand-written check of the --nimbus-version
// range against the regular expression it replaces (the catalog digest's
// is hexdigest's FuzzIsSHA256).
func FuzzOptionStrings(f *testing.F) {
	f.Add(testSHA)
	f.Add("^0.2.0")
	f.Add(">=1.0.0 <2 || latest")
	f.Add(`"quoted"`)
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isVersionRange(s), versionRangeRE.MatchString(s); got != want {
			t.Fatalf("isVersionRange(%q) = %v, regexp says %v", s, got, want)
		}
	})
}
