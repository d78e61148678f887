package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// DefaultReleaseURL is GitHub's latest-release endpoint for nimbus.
const DefaultReleaseURL = "https://api.github.com/repos/nimbus-sh/nimbus/releases/latest"

// checkVersion compares the binary with the latest release. Being offline
// (or rate-limited) is not a problem of the setup: the check skips.
func (d *Doctor) checkVersion(ctx context.Context) Check {
	const name = "version"
	if d.ReleaseURL == "" {
		return skip(name, "nimbus "+d.Version+"; the release check is turned off")
	}
	latest, url, err := d.latestRelease(ctx)
	if err != nil {
		return skip(name, "nimbus "+d.Version+"; could not check the latest release ("+err.Error()+")")
	}
	cur, ok := parseVersion(d.Version)
	if !ok {
		return skip(name, fmt.Sprintf("nimbus %s is a development build; the latest release is %s", d.Version, latest))
	}
	lv, ok := parseVersion(latest)
	if !ok {
		return skip(name, fmt.Sprintf("nimbus %s; the release endpoint answered an unreadable version %q", d.Version, latest))
	}
	if compareVersions(cur, lv) >= 0 {
		return pass(name, fmt.Sprintf("nimbus %s is up to date (latest release %s)", d.Version, latest))
	}
	hint := "download it from " + url
	if url == "" {
		hint = "download the latest release"
	}
	return warn(name, fmt.Sprintf("nimbus %s is older than the latest release %s", d.Version, latest), hint+", or: go install github.com/nimbus-sh/nimbus@latest")
}

func (d *Doctor) latestRelease(ctx context.Context) (tag, url string, err error) {
	ctx, cancel := d.withTimeout(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.ReleaseURL, nil)
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("User-Agent", "nimbus-doctor")
	resp, err := d.HTTPClient.Do(req)
	if err != nil {
		return "", "", shortNetError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var rel struct {
		TagName string `json:"tag_name"`
		HTMLURL string `json:"html_url"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&rel); err != nil || rel.TagName == "" {
		return "", "", fmt.Errorf("no tag_name in the answer")
	}
	if !strings.HasPrefix(rel.HTMLURL, "https://") {
		rel.HTMLURL = ""
	}
	return rel.TagName, rel.HTMLURL, nil
}

// version is a parsed semantic version; pre is empty for a release.
type version struct {
	nums [3]int
	pre  string
}

// parseVersion reads v1.2.3, 1.2.3 and 1.2.3-rc.1 (build metadata after +
// is ignored). Pseudo-versions and "(devel)" are not releases.
func parseVersion(s string) (version, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	s, _, _ = strings.Cut(s, "+")
	core, pre, _ := strings.Cut(s, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return version{}, false
	}
	var v version
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || (len(p) > 1 && p[0] == '0') {
			return version{}, false
		}
		v.nums[i] = n
	}
	// A Go pseudo-version (v0.0.0-20260101120000-abcdef123456) is a build
	// from a commit, not a release.
	if f := strings.Split(pre, "."); len(pre) > 14 && len(f[len(f)-1]) >= 12 && strings.Count(pre, "-") >= 1 {
		return version{}, false
	}
	v.pre = pre
	return v, true
}

// compareVersions orders versions as semver does (a pre-release sorts
// before its release).
func compareVersions(a, b version) int {
	for i := range a.nums {
		if a.nums[i] != b.nums[i] {
			if a.nums[i] < b.nums[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	return comparePre(a.pre, b.pre)
}

func comparePre(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		an, aerr := strconv.Atoi(as[i])
		bn, berr := strconv.Atoi(bs[i])
		switch {
		case aerr == nil && berr == nil:
			if an != bn {
				if an < bn {
					return -1
				}
				return 1
			}
		case aerr == nil:
			return -1
		case berr == nil:
			return 1
		default:
			if c := strings.Compare(as[i], bs[i]); c != 0 {
				return c
			}
		}
	}
	switch {
	case len(as) < len(bs):
		return -1
	case len(as) > len(bs):
		return 1
	}
	return 0
}
